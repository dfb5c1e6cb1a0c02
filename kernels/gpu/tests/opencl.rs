//! The OpenCL backend on whatever OpenCL device is present (PoCL's CPU device in CI):
//! field arithmetic against arkworks, then the whole conformance suite. Without any OpenCL
//! runtime these tests fail unless `APPLIANCE_SKIP_OPENCL=1` says the machine has none.
#![cfg(feature = "opencl")]

use std::time::Instant;

use ark_bn254::{Fq, Fq2, Fr};
use ark_ff::{Field, PrimeField, UniformRand, Zero};
use kernels_gpu::convert::DeviceField;
use kernels_gpu::opencl::OpenClDevice;
use kernels_gpu::source::OPENCL_GROUP;
use kernels_gpu::{Arg, Device, GpuBackend};
use kernels_testkit::{run_suite, SuiteOptions};

mod common;
use common::device;

/// Values that stress carries and reductions, then random ones.
fn samples<F: Field + UniformRand>(edge: &[F], count: usize) -> Vec<F> {
    let mut rng = ark_std::test_rng();
    let mut v = edge.to_vec();
    while v.len() < count {
        v.push(F::rand(&mut rng));
    }
    v
}

fn prime_edges<F: PrimeField>() -> Vec<F> {
    vec![
        F::zero(),
        F::one(),
        -F::one(),
        F::from(2u64),
        -F::from(2u64),
        F::from(u64::MAX),
        F::from_le_bytes_mod_order(&[0xff; 32]),
        F::from(2u64).inverse().unwrap_or(F::one()),
    ]
}

/// Runs `{name}_selftest` on every pair (a[i], b[rev i]) and compares with arkworks: the
/// product, sum, difference, square and one-reduction sum of products (field.h).
fn check_field<F: DeviceField + UniformRand>(dev: &OpenClDevice, name: &str, edge: &[F]) {
    let a = samples(edge, 256);
    let mut b = a.clone();
    b.reverse();
    let words = |v: &[F]| {
        let mut w = Vec::new();
        for x in v {
            x.push_words(&mut w);
        }
        w
    };
    let ab = dev.upload(&words(&a)).expect("upload a");
    let bb = dev.upload(&words(&b)).expect("upload b");
    let out = dev.alloc_zeroed(5 * a.len() * F::WORDS).expect("alloc");
    dev.launch(
        &format!("{name}_selftest"),
        a.len(),
        &[Arg::Buf(&ab), Arg::Buf(&bb), Arg::Buf(&out)],
    )
    .expect("launch");
    let mut got = vec![0u32; 5 * a.len() * F::WORDS];
    dev.download(&out, &mut got).expect("download");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let want = [
            *x * y,
            *x + y,
            *x - y,
            x.square(),
            *x * y + (*x - y) * (*x + y),
        ];
        for (k, w) in want.iter().enumerate() {
            let at = (5 * i + k) * F::WORDS;
            let g = F::from_words(&got[at..at + F::WORDS]).expect("reduced");
            assert_eq!(g, *w, "{name} op {k} on pair {i}: {x} , {y}");
        }
    }
}

#[test]
fn field_arithmetic_matches_arkworks() {
    let Some(dev) = device() else { return };
    check_field::<Fq>(&dev, "Fq", &prime_edges::<Fq>());
    check_field::<Fr>(&dev, "Fr", &prime_edges::<Fr>());
    let fq = prime_edges::<Fq>();
    let fq2: Vec<Fq2> = fq
        .iter()
        .flat_map(|&x| {
            [
                Fq2::new(x, Fq::zero()),
                Fq2::new(Fq::zero(), x),
                Fq2::new(x, -x),
            ]
        })
        .collect();
    check_field::<Fq2>(&dev, "Fq2", &fq2);
}

/// The NTT's Shoup twiddle product (`Fr_mul_twiddle`, ntt.h) with the host's pairs,
/// against arkworks, on edge values and random ones.
#[test]
fn twiddle_product_matches_arkworks() {
    let Some(dev) = device() else { return };
    let mut v = samples(&prime_edges::<Fr>(), 256);
    let mut w = v.clone();
    w.reverse();
    for (x, t) in kernels_gpu::ntt::shoup_short_quotient_pairs() {
        v.push(x);
        w.push(t);
    }
    let mut words = Vec::new();
    let mut table = Vec::new();
    for (x, t) in v.iter().zip(&w) {
        x.push_words(&mut words);
        let (plain, shoup) = kernels_gpu::ntt::shoup_pair(*t);
        table.extend_from_slice(&plain);
        table.extend_from_slice(&shoup);
    }
    let vb = dev.upload(&words).expect("upload v");
    let tb = dev.upload(&table).expect("upload twiddles");
    let out = dev.alloc_zeroed(words.len()).expect("alloc");
    dev.launch(
        "Fr_twiddle_selftest",
        v.len(),
        &[Arg::Buf(&vb), Arg::Buf(&tb), Arg::Buf(&out)],
    )
    .expect("launch");
    let mut got = vec![0u32; words.len()];
    dev.download(&out, &mut got).expect("download");
    for (i, (x, t)) in v.iter().zip(&w).enumerate() {
        let at = i * Fr::WORDS;
        let g = Fr::from_words(&got[at..at + Fr::WORDS]).expect("reduced");
        assert_eq!(g, *x * t, "pair {i}: {x} , {t}");
    }
}

/// Every variant of the NTT's passes (APPLIANCE_GPU_NTT_TWIDDLES: Montgomery, Shoup's in
/// the first pass, Shoup's in every pass, Shoup's radix-4 passes) gives ark-poly's
/// transforms: forward, inverse, coset and a quotient's inverse-then-coset pair, from one
/// work-group (2 GROUP elements) up to (2 GROUP)^2: a strided or sets pass of every k from 1
/// to log2(GROUP), then two of them. At OpenCL's GROUP and at CUDA's 256, the configuration
/// a card runs (a first pass of nine rounds, sets passes of up to eight) and CI cannot
/// otherwise execute.
#[test]
fn ntt_passes_give_ark_polys_transforms_at_each_group_size() {
    use kernels_gpu::ntt::{TwiddleProduct, Twiddles};

    let Some(dev) = device() else { return };
    let cuda_sized = cuda_sized_device();
    for dev in [&dev, &cuda_sized] {
        for product in TwiddleProduct::ALL {
            check_transforms(dev, &Twiddles::new(Ok(product)), product);
        }
    }

    fn check_transforms(
        dev: &OpenClDevice,
        twiddles: &Twiddles<OpenClDevice>,
        product: TwiddleProduct,
    ) {
        use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
        use kernels_gpu::convert::{download_fr, fr_words};
        use kernels_gpu::ntt::transforms;

        let mut rng = ark_std::test_rng();
        let g = Fr::from(7u64);
        let group = dev.group_size();
        let log_block = (2 * group).trailing_zeros();
        // At OpenCL's GROUP also 2^20, forward only: passes of 7, 5, 4 and 4 rounds, the
        // last from s = 16, where a set's index runs to 2^16 (a 2^24 transform's last pass
        // starts at s = 17).
        let far = (group <= 64).then_some(20);
        for log_n in (log_block..=2 * log_block).chain(far) {
            let n = 1usize << log_n;
            let mut input: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            input[0] = Fr::zero();
            input[n - 1] = -Fr::from(1u64);
            let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("domain");
            let coset = domain.get_coset(g).expect("coset");
            type Passes = Vec<(bool, Option<Fr>)>;
            let mut cases: Vec<(&str, Passes, Vec<Fr>)> =
                vec![("forward", vec![(false, None)], domain.fft(&input))];
            if Some(log_n) != far {
                cases.extend([
                    ("inverse", vec![(true, None)], domain.ifft(&input)),
                    ("coset forward", vec![(false, Some(g))], coset.fft(&input)),
                    (
                        "inverse then coset",
                        vec![(true, None), (false, Some(g))],
                        coset.fft(&domain.ifft(&input)),
                    ),
                ]);
            }
            for (name, passes, want) in cases {
                let buf = dev.upload(&fr_words(&input)).expect("upload");
                transforms(dev, twiddles, &buf, log_n, &passes).expect("transform");
                let mut got = vec![Fr::zero(); n];
                download_fr(dev, &buf, &mut got).expect("download");
                assert!(
                    got == want,
                    "GROUP {group} {product:?} 2^{log_n} {name}: differs from ark-poly"
                );
            }
        }
    }
}

/// `auto` (APPLIANCE_GPU_NTT_TWIDDLES unset): on a GPU (here PoCL posing as one) every
/// product is timed and the fastest taken; a named product, or a CPU device, is not timed;
/// a device without the memory to time falls back to the default and says why. The
/// transforms with the product taken still give ark-poly's.
#[test]
fn auto_times_every_twiddle_product_on_a_gpu_and_takes_the_fastest() {
    use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
    use kernels_gpu::convert::{download_fr, fr_words};
    use kernels_gpu::ntt::{transform, TwiddleProduct, TwiddleTiming, Twiddles};

    let Some(dev) = device() else { return };
    let shared = std::sync::Arc::new(dev);
    let log_n = (2 * shared.group_size()).trailing_zeros() + 2;
    let gpu = Limited {
        accelerator: true,
        ..Limited::new(shared.clone(), usize::MAX, 4)
    };

    let timed = Twiddles::for_device_timed_at(&gpu, Ok(None), log_n);
    let Some(TwiddleTiming::Timed {
        log_n: at, best_ms, ..
    }) = timed.timing()
    else {
        panic!("not timed: {:?}", timed.timing());
    };
    assert_eq!(*at, log_n);
    let products: Vec<_> = best_ms.iter().map(|t| t.0).collect();
    assert_eq!(products, TwiddleProduct::ALL);
    assert!(
        best_ms.iter().all(|t| t.1.is_finite() && t.1 > 0.0),
        "{best_ms:?}"
    );
    let least = best_ms.iter().map(|t| t.1).fold(f64::INFINITY, f64::min);
    let taken = timed.product().expect("product");
    assert_eq!(
        best_ms.iter().find(|t| t.0 == taken).map(|t| t.1),
        Some(least)
    );

    let n = 1usize << log_n;
    let mut rng = ark_std::test_rng();
    let input: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
    let buf = gpu.upload(&fr_words(&input)).expect("upload");
    transform(&gpu, &timed, &buf, log_n, false, None).expect("transform");
    let mut got = vec![Fr::zero(); n];
    download_fr(&gpu, &buf, &mut got).expect("download");
    let domain = Radix2EvaluationDomain::<Fr>::new(n).expect("domain");
    assert!(
        got == domain.fft(&input),
        "{taken:?}: differs from ark-poly"
    );

    let named = Twiddles::for_device_timed_at(&gpu, Ok(Some(TwiddleProduct::Shoup)), log_n);
    assert_eq!(
        (named.product().ok(), named.timing()),
        (Some(TwiddleProduct::Shoup), None)
    );
    let cpu = Twiddles::for_device_timed_at(shared.as_ref(), Ok(None), log_n);
    assert_eq!(
        (cpu.product().ok(), cpu.timing()),
        (Some(TwiddleProduct::Montgomery), None)
    );

    // No room for the timing's vector (`Limited` refuses each allocation over its size).
    let small = Limited {
        accelerator: true,
        ..Limited::new(shared, n * 8 - 1, 4)
    };
    let untimed = Twiddles::for_device_timed_at(&small, Ok(None), log_n);
    match untimed.timing() {
        Some(TwiddleTiming::Failed(why)) => assert!(why.contains("out of"), "{why}"),
        other => panic!("expected a failed timing, got {other:?}"),
    }
    assert_eq!(untimed.product().ok(), Some(TwiddleProduct::Montgomery));
    assert!(small.refusals.load(std::sync::atomic::Ordering::Relaxed) > 0);
}

/// The source as OpenCL C 1.1, the most some devices offer (Mesa's Clover), where
/// functions cannot be `static`: it builds, and its field arithmetic still agrees.
#[test]
fn the_kernels_build_and_agree_as_opencl_c_1_1() {
    if device().is_none() {
        return;
    }
    let dev = OpenClDevice::open_with(0, false, "-cl-std=CL1.1", OPENCL_GROUP)
        .unwrap_or_else(|e| panic!("OpenCL C 1.1 build: {e}"));
    check_field::<Fr>(&dev, "Fr", &prime_edges::<Fr>());
}

/// The device prefix sum behind the MSM's bucket layout, against the host's, around every
/// block boundary (one, two and three levels of block sums) and with wrapping totals.
#[test]
fn device_prefix_sums_match_the_host() {
    use kernels_gpu::segments::{exclusive_scan, SCAN_ITEMS};
    use rand::{Rng, SeedableRng};

    let Some(dev) = device() else { return };
    let block = dev.group_size() * SCAN_ITEMS;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for n in [
        0,
        1,
        2,
        31,
        block - 1,
        block,
        block + 1,
        3 * block + 5,
        block * block + 3,
    ] {
        // Mostly small counts, some zeros and a few huge ones so that the sums wrap.
        let words: Vec<u32> = (0..n)
            .map(|i| match i % 97 {
                0 => u32::MAX - 3,
                k if k % 5 == 0 => 0,
                _ => rng.gen_range(0..100),
            })
            .collect();
        let mut want = Vec::with_capacity(n);
        let mut total = 0u32;
        for &w in &words {
            want.push(total);
            total = total.wrapping_add(w);
        }
        let input = dev.upload(&words).expect("upload");
        let out = dev.alloc_zeroed(n.max(1)).expect("alloc");
        assert_eq!(
            exclusive_scan(&dev, &input, &out, n).expect("scan"),
            total,
            "n = {n}"
        );
        let mut got = vec![0u32; n];
        dev.download(&out, &mut got).expect("download");
        assert_eq!(got, want, "out of place, n = {n}");
        assert_eq!(
            exclusive_scan(&dev, &input, &input, n).expect("scan"),
            total
        );
        dev.download(&input, &mut got).expect("download");
        assert_eq!(got, want, "in place, n = {n}");
    }
}

/// The conformance suite, sized for PoCL on two cores (`GPU_SUITE_MAX_LOG` overrides).
#[test]
fn opencl_backend_passes_the_conformance_suite() {
    let Some(dev) = device() else { return };
    let max_log = std::env::var("GPU_SUITE_MAX_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    // GPU_SUITE_MSM=0 leaves the MSMs out, for an OpenCL compiler that takes minutes over
    // each MSM kernel (Mesa's rusticl on llvmpipe, which test-all.sh runs as a second one).
    let msm = std::env::var("GPU_SUITE_MSM").map_or(true, |v| v != "0");
    assert_suite_passes(
        dev,
        &SuiteOptions {
            max_log_msm: msm.then_some(max_log),
            max_log_msm_g2: 10,
            max_log_ntt: max_log,
            seed: 0x0c1,
        },
    );
}

/// The conformance suite again with the OpenCL source built for CUDA's work-group size
/// (256): the MSM's window and scan kernels, the NTT's passes and the quotient with the
/// index arithmetic a card runs, up to 2^12 (2^10 for G2).
#[test]
fn opencl_backend_at_cudas_group_size_passes_the_conformance_suite() {
    if device().is_none() {
        return;
    }
    assert_suite_passes(
        cuda_sized_device(),
        &SuiteOptions {
            max_log_msm: Some(12),
            max_log_msm_g2: 10,
            max_log_ntt: 12,
            seed: 0x256,
        },
    );
}

/// The PoCL device with the source built for CUDA's work-group size.
fn cuda_sized_device() -> OpenClDevice {
    OpenClDevice::open_with(0, false, "", kernels_gpu::source::CUDA_GROUP)
        .unwrap_or_else(|e| panic!("OpenCL build with CUDA's work-group size: {e}"))
}

/// Runs the suite on `dev`'s backend, printing each check's start, and asserts it passed.
fn assert_suite_passes(dev: OpenClDevice, options: &SuiteOptions) {
    let backend = GpuBackend::new(dev);
    let start = Instant::now();
    let report = run_suite(&backend, options, &mut |name| {
        eprintln!("  [{:>7.1}s] {name}", start.elapsed().as_secs_f64());
    });
    eprintln!("{report}");
    assert!(report.passed(), "{report}");
    assert!(report.checks.len() > 40, "too few checks: {report}");
}

/// The PoCL device made to look like another: it refuses allocations above `max_words`,
/// as a GPU with little memory would, and reports `compute_units`, which sizes the MSM's
/// per-thread work.
struct Limited {
    inner: std::sync::Arc<OpenClDevice>,
    max_words: usize,
    compute_units: usize,
    refusals: std::sync::atomic::AtomicUsize,
    /// Poses as a GPU, so that `auto` times the NTT's twiddle products.
    accelerator: bool,
}

impl Limited {
    fn new(inner: std::sync::Arc<OpenClDevice>, max_words: usize, compute_units: usize) -> Self {
        Self {
            inner,
            max_words,
            compute_units,
            refusals: Default::default(),
            accelerator: false,
        }
    }

    fn check(&self, words: usize) -> kernels_gpu::Result<()> {
        if words > self.max_words {
            self.refusals
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(kernels_gpu::GpuError::OutOfMemory {
                backend: "opencl",
                device: "limited".into(),
                needed: words as u64 * 4,
                call: "clCreateBuffer",
                code: -4,
            });
        }
        Ok(())
    }
}

impl Device for Limited {
    type Buffer = <OpenClDevice as Device>::Buffer;
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn device_name(&self) -> &str {
        self.inner.device_name()
    }
    fn memory_bytes(&self) -> Option<u64> {
        Some(self.max_words as u64 * 4)
    }
    fn compute_units(&self) -> usize {
        self.compute_units
    }
    fn is_accelerator(&self) -> bool {
        self.accelerator
    }
    fn group_size(&self) -> usize {
        self.inner.group_size()
    }
    fn upload(&self, data: &[u32]) -> kernels_gpu::Result<Self::Buffer> {
        self.check(data.len())?;
        self.inner.upload(data)
    }
    fn alloc_zeroed(&self, words: usize) -> kernels_gpu::Result<Self::Buffer> {
        self.check(words)?;
        self.inner.alloc_zeroed(words)
    }
    fn alloc_uninit(&self, words: usize) -> kernels_gpu::Result<Self::Buffer> {
        self.check(words)?;
        self.inner.alloc_uninit(words)
    }
    fn download(&self, buf: &Self::Buffer, out: &mut [u32]) -> kernels_gpu::Result<()> {
        self.inner.download(buf, out)
    }
    fn write(&self, buf: &mut Self::Buffer, data: &[u32]) -> kernels_gpu::Result<()> {
        self.inner.write(buf, data)
    }
    fn launch(
        &self,
        kernel: &str,
        threads: usize,
        args: &[Arg<'_, Self::Buffer>],
    ) -> kernels_gpu::Result<()> {
        self.inner.launch(kernel, threads, args)
    }
    fn finish(&self) -> kernels_gpu::Result<()> {
        self.inner.finish()
    }
}

#[test]
fn out_of_device_memory_chunks_the_msm_and_moves_the_ntt_to_the_cpu() {
    use ark_bn254::{G1Affine, G1Projective};
    use ark_ec::VariableBaseMSM;
    use kernels_accel::{MsmConfig, NttConfig};
    use std::sync::atomic::Ordering;

    let Some(dev) = device() else { return };
    // 2^13 G1 bases take 131072 words and fit; the full MSM's bucket array (24 windows x
    // 1024 buckets x 32 words) does not, its halves' do. The limits below are sized for
    // a device of 2 compute units, whatever the real one has: the bucket sums' carries
    // take 2 x 1024 x 32 words per unit (with rusticl's 8 units they alone exceed 150000).
    let compute_units = 2;
    let backend = GpuBackend::new(Limited::new(
        std::sync::Arc::new(dev),
        500_000,
        compute_units,
    ));
    let n = 1 << 13;
    let mut rng = ark_std::test_rng();
    let bases: Vec<G1Affine> = kernels_testkit::random_g1_bases(n, &mut rng);
    let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
    let loaded =
        kernels_accel::load_bases::<G1Projective, _>(&backend, &bases, &MsmConfig::default())
            .expect("bases fit");
    let got = kernels_accel::msm(&backend, &loaded, &scalars, &MsmConfig::default())
        .expect("chunked msm");
    let want = G1Projective::msm(&bases, &scalars).expect("reference msm");
    assert_eq!(got, want);
    let after_msm = backend.device().refusals.load(Ordering::Relaxed);
    assert!(after_msm > 0, "the MSM never hit the limit");

    // Prepared scalars: the sort fits, the bucket array of the shared path does not, so
    // the MSM falls back to the chunked one.
    let config = MsmConfig::default();
    let prepared = kernels_accel::prepare_scalars::<G1Projective, _>(&backend, &scalars, &config)
        .expect("prepares");
    let got = kernels_accel::msm_prepared::<G1Projective, _>(&backend, &loaded, &prepared, &config)
        .expect("falls back to the chunked msm");
    assert_eq!(got, want);
    // With less memory the sort itself does not fit (its digits are 2^13 x 26 words):
    // nothing is prepared and the MSM still runs.
    let tight = GpuBackend::new(Limited::new(
        std::sync::Arc::clone(&backend.device().inner),
        150_000,
        compute_units,
    ));
    let loaded =
        kernels_accel::load_bases::<G1Projective, _>(&tight, &bases, &config).expect("bases fit");
    let prepared = kernels_accel::prepare_scalars::<G1Projective, _>(&tight, &scalars, &config)
        .expect("prepares nothing, without an error");
    assert_eq!(
        tight.device().refusals.load(Ordering::Relaxed),
        1,
        "the sort hit the limit"
    );
    let got = kernels_accel::msm_prepared::<G1Projective, _>(&tight, &loaded, &prepared, &config)
        .expect("chunked msm");
    assert_eq!(got, want);

    // 2^16 scalars are 524288 words: over the limit, so the NTT runs on the CPU.
    let mut data: Vec<Fr> = (0..1 << 16).map(|_| Fr::rand(&mut rng)).collect();
    let mut want = data.clone();
    let domain =
        <ark_poly::Radix2EvaluationDomain<Fr> as ark_poly::EvaluationDomain<Fr>>::new(data.len())
            .expect("domain");
    ark_poly::EvaluationDomain::fft_in_place(&domain, &mut want);
    kernels_accel::ntt(&backend, &mut [&mut data[..]], &NttConfig::forward()).expect("ntt");
    assert_eq!(data, want);
    let after_ntt = backend.device().refusals.load(Ordering::Relaxed);
    assert!(after_ntt > after_msm);

    // A quotient of such vectors: the device one is refused at its first upload, and the
    // fallback (products on the host, transforms on the CPU) gives the CPU backend's.
    use ark_ff::FftField;
    let mut a: Vec<Fr> = (0..1 << 16).map(|_| Fr::rand(&mut rng)).collect();
    let mut b: Vec<Fr> = (0..1 << 16).map(|_| Fr::rand(&mut rng)).collect();
    let (mut want_a, mut want_b) = (a.clone(), b.clone());
    let coset = Fr::get_root_of_unity(1 << 17).expect("a 2^17-th root of unity");
    kernels_accel::coset_quotient(&backend, &mut a, &mut b, coset).expect("quotient");
    let cpu = kernels_cpu::CpuBackend::new(0).expect("cpu backend");
    kernels_accel::coset_quotient(&cpu, &mut want_a, &mut want_b, coset).expect("cpu quotient");
    assert_eq!(a, want_a);
    let after_quotient = backend.device().refusals.load(Ordering::Relaxed);
    assert!(after_quotient > after_ntt);

    // The H MSM of a 2^13 quotient: the device makes the quotient, but its MSM's bucket
    // array does not fit, so the quotient and the chunked MSM run as two steps.
    let mut a: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
    let mut b: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
    let (mut want_a, mut want_b) = (a.clone(), b.clone());
    let coset = Fr::get_root_of_unity(2 * n as u64).expect("a 2^14-th root of unity");
    let loaded =
        kernels_accel::load_bases::<G1Projective, _>(&backend, &bases, &config).expect("bases");
    let got = kernels_accel::quotient_msm(&backend, &loaded, &mut a, &mut b, coset, &config)
        .expect("quotient msm in two steps");
    let on_cpu = kernels_accel::load_bases::<G1Projective, _>(&cpu, &bases, &config).expect("cpu");
    let want = kernels_accel::quotient_msm(&cpu, &on_cpu, &mut want_a, &mut want_b, coset, &config)
        .expect("cpu quotient msm");
    assert_eq!(got, want);
    assert!(backend.device().refusals.load(Ordering::Relaxed) > after_quotient);
}

/// The bucket sums give every thread an equal slice of the sorted entries; how many
/// depends on the device's size. Every slice length, from 1 (every bucket straddles
/// slices) to the maximum, must give arkworks' result, with a bucket holding most of the
/// points (scalars equal to 1), zero and -1 scalars, and infinity and duplicated bases.
/// The device's size also sets the buckets per thread of the reduction (8; 9, with a
/// short last segment; 32) and so the groups of the window sums (57 sums per window end in
/// a group of one).
#[test]
fn bucket_sums_agree_for_every_slice_length() {
    use ark_bn254::{G1Affine, G1Projective};
    use ark_ec::{AffineRepr, VariableBaseMSM};
    use kernels_accel::MsmConfig;
    use rand::{Rng, SeedableRng};

    let Some(dev) = device() else { return };
    let shared = std::sync::Arc::new(dev);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let n = 5000;
    let mut bases: Vec<G1Affine> = kernels_testkit::random_g1_bases(n, &mut rng);
    bases[7] = G1Affine::zero();
    bases[8] = bases[9];
    let scalars: Vec<Fr> = (0..n)
        .map(|i| match rng.gen_range(0..10) {
            0..=3 => Fr::from(1u64),
            4 => Fr::zero(),
            5 => -Fr::from(1u64),
            _ => Fr::from(i as u64) * Fr::rand(&mut rng),
        })
        .collect();
    let want = G1Projective::msm(&bases, &scalars).expect("reference msm");
    // n = 5000 with the default 10-bit window makes about 66,000 sorted entries: these
    // device sizes give slices of 1, 2, 3, 5, 11 and the maximum 64 entries per thread.
    for compute_units in [1000, 40, 25, 14, 6, 1] {
        let backend = GpuBackend::new(Limited::new(shared.clone(), usize::MAX, compute_units));
        let loaded =
            kernels_accel::load_bases::<G1Projective, _>(&backend, &bases, &MsmConfig::default())
                .expect("bases");
        let got =
            kernels_accel::msm(&backend, &loaded, &scalars, &MsmConfig::default()).expect("msm");
        assert_eq!(got, want, "{compute_units} compute units");
    }
}

/// Scalars uploaded once give the same MSM as host scalars, fewer scalars than bases
/// included, and can be reused.
#[test]
fn device_resident_scalars_give_the_host_msm() {
    use ark_bn254::{G1Affine, G1Projective};
    use ark_ec::VariableBaseMSM;
    use kernels_gpu::msm::{load_bases, msm, msm_device_scalars, upload_scalars};

    let Some(dev) = device() else { return };
    let mut rng = ark_std::test_rng();
    let bases: Vec<G1Affine> = kernels_testkit::random_g1_bases(1500, &mut rng);
    let resident = load_bases::<_, ark_bn254::g1::Config>(&dev, &bases, None, None).expect("bases");
    for n in [0, 1, 1000, 1500] {
        let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        let want = G1Projective::msm(&bases[..n], &scalars).expect("reference msm");
        let on_device = upload_scalars(&dev, &scalars).expect("upload");
        for window in [None, Some(7)] {
            let got = msm_device_scalars(&dev, &resident, &on_device, window).expect("msm");
            assert_eq!(got, want, "n = {n}, window {window:?}");
        }
        assert_eq!(
            msm(&dev, &resident, &scalars, None).expect("host msm"),
            want
        );
    }
}

/// Scalars sorted once serve several base sets, of both groups, and stay intact for the
/// next one (the bucket sums rewrite a copy of the runs); bases with precomputed copies or
/// another window width are refused (`None`), so the backend sorts for them.
#[test]
fn sorted_scalars_serve_several_base_sets_unchanged() {
    use ark_bn254::{G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::{AffineRepr, VariableBaseMSM};
    use kernels_gpu::msm::{load_bases, msm_sorted, sort_scalars};

    let Some(dev) = device() else { return };
    let mut rng = ark_std::test_rng();
    let mut g1a: Vec<G1Affine> = kernels_testkit::random_g1_bases(1100, &mut rng);
    g1a[3] = G1Affine::zero();
    let g1b: Vec<G1Affine> = kernels_testkit::random_g1_bases(1100, &mut rng);
    let g2: Vec<G2Affine> = kernels_testkit::random_g2_bases(1100, &mut rng);
    let a = load_bases::<_, ark_bn254::g1::Config>(&dev, &g1a, None, None).expect("bases");
    let b = load_bases::<_, ark_bn254::g1::Config>(&dev, &g1b, None, None).expect("bases");
    let c = load_bases::<_, ark_bn254::g2::Config>(&dev, &g2, None, None).expect("bases");
    let copies = load_bases::<_, ark_bn254::g1::Config>(&dev, &g1a, None, Some(2)).expect("bases");
    for n in [0, 1, 33, 1025] {
        // Mostly 0 and 1, as in a circom witness, with -1 and random values.
        let scalars: Vec<Fr> = (0..n)
            .map(|i| match i % 5 {
                0 | 1 => Fr::from((i % 2) as u64),
                2 => -Fr::from(1u64),
                _ => Fr::rand(&mut rng),
            })
            .collect();
        let sorted = sort_scalars(&dev, &scalars, None)
            .expect("sort")
            .expect("fits");
        let want_a = G1Projective::msm(&g1a[..n], &scalars).expect("reference");
        let want_b = G1Projective::msm(&g1b[..n], &scalars).expect("reference");
        let want_c = G2Projective::msm(&g2[..n], &scalars).expect("reference");
        for round in 0..2 {
            let got = msm_sorted(&dev, &a, &sorted, None).expect("msm");
            assert_eq!(got, Some(want_a), "n = {n}, A, round {round}");
            let got = msm_sorted(&dev, &b, &sorted, None).expect("msm");
            assert_eq!(got, Some(want_b), "n = {n}, B, round {round}");
            let got = msm_sorted(&dev, &c, &sorted, None).expect("msm");
            assert_eq!(got, Some(want_c), "n = {n}, G2, round {round}");
        }
        let other = if sorted.window() == 7 { 8 } else { 7 };
        assert!(msm_sorted(&dev, &a, &sorted, Some(other))
            .expect("runs")
            .is_none());
        assert!(msm_sorted(&dev, &copies, &sorted, None)
            .expect("runs")
            .is_none());
    }
}

/// Two backends of the same kind (here the same OpenCL device opened twice: two contexts)
/// do not take each other's resident data for their own: another's bases are an error,
/// another's sorted scalars are multiplied from the host copy, with the right sum.
#[test]
fn resident_data_of_another_context_is_not_used() {
    use ark_bn254::G1Projective;
    use ark_ec::VariableBaseMSM;
    use kernels_accel::{AccelError, MsmConfig};

    let (Some(one), Some(two)) = (device(), device()) else {
        return;
    };
    let (one, two) = (GpuBackend::new(one), GpuBackend::new(two));
    let mut rng = ark_std::test_rng();
    let bases = kernels_testkit::random_g1_bases(300, &mut rng);
    let scalars: Vec<Fr> = (0..300).map(|_| Fr::rand(&mut rng)).collect();
    let want = G1Projective::msm(&bases, &scalars).expect("reference");
    let config = MsmConfig::default();
    let on_one =
        kernels_accel::load_bases::<G1Projective, _>(&one, &bases, &config).expect("loads");
    let on_two =
        kernels_accel::load_bases::<G1Projective, _>(&two, &bases, &config).expect("loads");
    let err = kernels_accel::msm::<G1Projective, _>(&two, &on_one, &scalars, &config)
        .expect_err("bases of another context");
    assert!(matches!(err, AccelError::InvalidInput(_)), "{err}");
    assert!(err.to_string().contains("another opencl device"), "{err}");
    let prepared = kernels_accel::prepare_scalars::<G1Projective, _>(&one, &scalars, &config)
        .expect("prepares");
    let got = kernels_accel::msm_prepared::<G1Projective, _>(&two, &on_two, &prepared, &config)
        .expect("falls back to the host scalars");
    assert_eq!(got, want);
}

/// Precomputed shifted bases (`MsmConfig::precompute_factor`) give arkworks' results for
/// G1 and G2, with points at infinity among the bases and 0 / 1 / -1 among the scalars.
#[test]
fn precomputed_shifted_bases_give_the_same_msm() {
    use ark_bn254::{G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::{AffineRepr, VariableBaseMSM};
    use kernels_accel::MsmConfig;

    let Some(dev) = device() else { return };
    let backend = GpuBackend::new(dev);
    let mut rng = ark_std::test_rng();
    let n = 700;
    let mut scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
    scalars[..3].copy_from_slice(&[Fr::zero(), Fr::from(1u64), -Fr::from(1u64)]);
    let mut g1: Vec<G1Affine> = kernels_testkit::random_g1_bases(n, &mut rng);
    g1[5] = G1Affine::zero();
    let mut g2: Vec<G2Affine> = kernels_testkit::random_g2_bases(n, &mut rng);
    g2[6] = G2Affine::zero();
    let want1 = G1Projective::msm(&g1, &scalars).expect("g1 reference");
    let want2 = G2Projective::msm(&g2, &scalars).expect("g2 reference");
    for (factor, window) in [(2, None), (3, Some(7)), (4, Some(13)), (100, Some(5))] {
        let config = MsmConfig {
            window_bits: window,
            precompute_factor: Some(factor),
        };
        let b1 =
            kernels_accel::load_bases::<G1Projective, _>(&backend, &g1, &config).expect("g1 bases");
        let got =
            kernels_accel::msm(&backend, &b1, &scalars, &MsmConfig::default()).expect("g1 msm");
        assert_eq!(got, want1, "G1, factor {factor}, window {window:?}");
        // Fewer scalars than bases: the tail counts as zero.
        let short = kernels_accel::msm(&backend, &b1, &scalars[..100], &config).expect("short");
        let want_short = G1Projective::msm(&g1[..100], &scalars[..100]).expect("reference");
        assert_eq!(short, want_short, "G1 short, factor {factor}");
        let b2 =
            kernels_accel::load_bases::<G2Projective, _>(&backend, &g2, &config).expect("g2 bases");
        let got = kernels_accel::msm(&backend, &b2, &scalars, &config).expect("g2 msm");
        assert_eq!(got, want2, "G2, factor {factor}, window {window:?}");
    }
}

/// The widths above 16 bits that large MSMs take by default (17 from 2^21 points, 20 at
/// 2^24: `window_bits`) give arkworks' result; the testkit's forced widths stop at 16,
/// where the CPU backend's stop.
#[test]
fn window_widths_of_large_msms_give_the_same_msm() {
    use ark_bn254::{G1Affine, G1Projective};
    use ark_ec::{AffineRepr, VariableBaseMSM};
    use kernels_accel::MsmConfig;

    let Some(dev) = device() else { return };
    let backend = GpuBackend::new(dev);
    let mut rng = ark_std::test_rng();
    let n = 300;
    let mut scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
    scalars[..3].copy_from_slice(&[Fr::zero(), Fr::from(1u64), -Fr::from(1u64)]);
    let mut bases: Vec<G1Affine> = kernels_testkit::random_g1_bases(n, &mut rng);
    bases[5] = G1Affine::zero();
    bases[6] = bases[7];
    let want = G1Projective::msm(&bases, &scalars).expect("reference");
    for window in [17, 20] {
        let config = MsmConfig {
            window_bits: Some(window),
            precompute_factor: None,
        };
        let loaded =
            kernels_accel::load_bases::<G1Projective, _>(&backend, &bases, &config).expect("bases");
        let got = kernels_accel::msm(&backend, &loaded, &scalars, &config).expect("msm");
        assert_eq!(got, want, "window {window}");
    }
}

/// `auto` asks for accelerators only: a CPU device is refused by name (before its kernel
/// build), a GPU is opened as usual.
#[test]
fn accelerators_only_refuses_a_cpu_device_before_building() {
    let Some(dev) = device() else { return };
    match OpenClDevice::open(0, true) {
        Ok(accel) => assert!(accel.is_accelerator() && dev.is_accelerator()),
        Err(e) => {
            assert!(!dev.is_accelerator());
            assert!(e.to_string().contains("only a CPU device"), "{e}");
        }
    }
}
