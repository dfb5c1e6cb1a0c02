use ark_bn254::{Bn254, Fr, G1Projective};
use ark_ec::VariableBaseMSM;
use ark_ff::{FftField, One, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use kernels_accel::{AccelError, Accelerator, MsmConfig, NttConfig};
use rand::rngs::StdRng;

use crate::inputs::{random_g1_bases, random_scalars};
use crate::{Report, SuiteOptions};

pub(crate) fn run(
    backend: &dyn Accelerator<Bn254>,
    options: &SuiteOptions,
    rng: &mut StdRng,
    report: &mut Report,
    progress: &mut dyn FnMut(&str),
) {
    let mut logs: Vec<u32> = vec![0, 1, 2, 3, 5, 10, 11, 13];
    logs.retain(|&l| l < options.max_log_ntt);
    logs.push(options.max_log_ntt);
    for log_n in logs {
        let n = 1usize << log_n;
        let input = random_scalars(n, rng);
        let mut check = |case: &str, outcome: Result<(), String>| {
            let name = format!("ntt n=2^{log_n} {case}");
            progress(&name);
            report.record(name, outcome);
        };
        check(
            "agrees with ark-poly",
            agrees_with_ark_poly(backend, &input),
        );
        check(
            "batch equals singles",
            batch_equals_singles(backend, &input),
        );
        check("zeros and ones", zeros_and_ones(backend, n));
        check(
            "quotient agrees with ark-poly",
            quotient_agrees_with_ark_poly(backend, &input),
        );
        if options.max_log_msm.is_some() {
            check(
                "quotient msm agrees with arkworks",
                quotient_msm_agrees_with_arkworks(backend, &input, rng),
            );
        }
    }
    let mut check = |case: &str, outcome: Result<(), String>| {
        let name = format!("ntt rejects {case}");
        progress(&name);
        report.record(name, outcome);
    };
    for n in [3usize, 31, 33, 1025] {
        let mut v = vec![Fr::one(); n];
        check(
            &format!("size {n}"),
            expect_err(
                kernels_accel::ntt(backend, &mut [&mut v], &NttConfig::forward()),
                |e| matches!(e, AccelError::NttSizeNotPowerOfTwo(m) if *m == n),
            ),
        );
    }
    let (mut a, mut b) = (vec![Fr::one(); 8], vec![Fr::one(); 16]);
    check(
        "batches of unequal lengths",
        expect_err(
            kernels_accel::ntt(backend, &mut [&mut a, &mut b], &NttConfig::forward()),
            |e| matches!(e, AccelError::LengthMismatch { .. }),
        ),
    );
    check(
        "a zero coset generator",
        expect_err(
            kernels_accel::ntt(
                backend,
                &mut [&mut a],
                &NttConfig::forward().with_coset(Fr::zero()),
            ),
            |e| matches!(e, AccelError::InvalidInput(_)),
        ),
    );
    let (mut a, mut b) = (vec![Fr::one(); 8], vec![Fr::one(); 16]);
    check(
        "a quotient of unequal lengths",
        expect_err(
            kernels_accel::coset_quotient(backend, &mut a, &mut b, Fr::from(5u64)),
            |e| matches!(e, AccelError::LengthMismatch { .. }),
        ),
    );
    let mut b = vec![Fr::one(); 8];
    check(
        "a quotient on a zero coset",
        expect_err(
            kernels_accel::coset_quotient(backend, &mut a, &mut b, Fr::zero()),
            |e| matches!(e, AccelError::InvalidInput(_)),
        ),
    );
    let bases = random_g1_bases(4, rng);
    let on_device =
        kernels_accel::load_bases::<G1Projective, _>(backend, &bases, &MsmConfig::default());
    let (mut a, mut b) = (vec![Fr::one(); 8], vec![Fr::one(); 8]);
    check(
        "a quotient msm of more scalars than bases",
        on_device.map_err(|e| e.to_string()).and_then(|on_device| {
            expect_err(
                kernels_accel::quotient_msm::<G1Projective, _>(
                    backend,
                    &on_device,
                    &mut a,
                    &mut b,
                    Fr::from(5u64),
                    &MsmConfig::default(),
                )
                .map(|_| ()),
                |e| matches!(e, AccelError::LengthMismatch { .. }),
            )
        }),
    );
    check(
        "sizes beyond the two-adicity",
        expect_err(
            kernels_accel::check_ntt_size::<Fr>(1 << (Fr::TWO_ADICITY + 1)),
            |e| matches!(e, AccelError::NttSizeTooLarge { .. }),
        ),
    );
}

fn expect_err(
    r: kernels_accel::Result<()>,
    ok: impl Fn(&AccelError) -> bool,
) -> Result<(), String> {
    match r {
        Err(e) if ok(&e) => Ok(()),
        Err(e) => Err(format!("wrong error: {e}")),
        Ok(()) => Err("accepted bad input".into()),
    }
}

fn run_one(
    backend: &dyn Accelerator<Bn254>,
    data: &[Fr],
    config: &NttConfig<Fr>,
) -> Result<Vec<Fr>, String> {
    let mut v = data.to_vec();
    kernels_accel::ntt(backend, &mut [&mut v], config).map_err(|e| e.to_string())?;
    Ok(v)
}

fn same(what: &str, got: &[Fr], want: &[Fr]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{what}: length {} vs {}", got.len(), want.len()));
    }
    match got.iter().zip(want).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(i) => Err(format!("{what}: first difference at index {i}")),
    }
}

fn agrees_with_ark_poly(backend: &dyn Accelerator<Bn254>, input: &[Fr]) -> Result<(), String> {
    let n = input.len();
    let domain = Radix2EvaluationDomain::<Fr>::new(n).ok_or("ark-poly has no such domain")?;
    let g = Fr::GENERATOR;
    let coset = domain.get_coset(g).ok_or("ark-poly has no such coset")?;

    let fwd = run_one(backend, input, &NttConfig::forward())?;
    same("forward", &fwd, &domain.fft(input))?;
    let inv = run_one(backend, input, &NttConfig::inverse())?;
    same("inverse", &inv, &domain.ifft(input))?;
    same(
        "round trip",
        &run_one(backend, &fwd, &NttConfig::inverse())?,
        input,
    )?;

    let cfwd = run_one(backend, input, &NttConfig::forward().with_coset(g))?;
    same("coset forward", &cfwd, &coset.fft(input))?;
    let cinv = run_one(backend, input, &NttConfig::inverse().with_coset(g))?;
    same("coset inverse", &cinv, &coset.ifft(input))?;
    same(
        "coset round trip",
        &run_one(backend, &cfwd, &NttConfig::inverse().with_coset(g))?,
        input,
    )?;

    // The pair in one call (a device backend scales once between the two: 1/n and g^i).
    let mut pair = input.to_vec();
    kernels_accel::intt_then_coset_ntt(backend, &mut [&mut pair], g).map_err(|e| e.to_string())?;
    same("inverse then coset", &pair, &coset.fft(&domain.ifft(input)))
}

/// The Groth16 quotient's numerator (`coset_quotient`) on the odd coset the prover uses,
/// against ark-poly: with c = a ∘ b, each vector interpolated and evaluated on the coset,
/// then a·b - c. The second vector holds zeros, ones and -1 beside random values.
fn quotient_agrees_with_ark_poly(
    backend: &dyn Accelerator<Bn254>,
    input: &[Fr],
) -> Result<(), String> {
    let (other, g, want) = reference_quotient(input)?;
    let (mut a, mut b) = (input.to_vec(), other);
    kernels_accel::coset_quotient(backend, &mut a, &mut b, g).map_err(|e| e.to_string())?;
    same("quotient", &a, &want)
}

/// `quotient_msm` (the H MSM of a proof: on a GPU, the quotient multiplied where it was
/// made) against arkworks' MSM of ark-poly's quotient, with one base more than scalars.
fn quotient_msm_agrees_with_arkworks(
    backend: &dyn Accelerator<Bn254>,
    input: &[Fr],
    rng: &mut StdRng,
) -> Result<(), String> {
    let (other, g, want) = reference_quotient(input)?;
    let bases = random_g1_bases(input.len() + 1, rng);
    let want = G1Projective::msm(&bases[..input.len()], &want).map_err(|e| format!("{e:?}"))?;
    let config = MsmConfig::default();
    let on_device = kernels_accel::load_bases::<G1Projective, _>(backend, &bases, &config)
        .map_err(|e| e.to_string())?;
    let (mut a, mut b) = (input.to_vec(), other);
    let got = kernels_accel::quotient_msm(backend, &on_device, &mut a, &mut b, g, &config)
        .map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!("quotient msm {got} != arkworks {want}"));
    }
    Ok(())
}

/// The second vector, the odd coset's generator and ark-poly's quotient for
/// [`quotient_agrees_with_ark_poly`].
fn reference_quotient(input: &[Fr]) -> Result<(Vec<Fr>, Fr, Vec<Fr>), String> {
    let n = input.len();
    let domain = Radix2EvaluationDomain::<Fr>::new(n).ok_or("ark-poly has no such domain")?;
    let g = Fr::get_root_of_unity(2 * n as u64).ok_or("no 2n-th root of unity")?;
    let coset = domain.get_coset(g).ok_or("ark-poly has no such coset")?;
    let edges = [Fr::zero(), Fr::one(), -Fr::one()];
    let other: Vec<Fr> = input
        .iter()
        .rev()
        .enumerate()
        .map(|(i, x)| edges.get(i).copied().unwrap_or(*x + Fr::one()))
        .collect();
    let on_coset = |v: &[Fr]| coset.fft(&domain.ifft(v));
    let c: Vec<Fr> = input.iter().zip(&other).map(|(x, y)| *x * y).collect();
    let (ea, eb, ec) = (on_coset(input), on_coset(&other), on_coset(&c));
    let want: Vec<Fr> = (0..n).map(|i| ea[i] * eb[i] - ec[i]).collect();
    Ok((other, g, want))
}

fn batch_equals_singles(backend: &dyn Accelerator<Bn254>, input: &[Fr]) -> Result<(), String> {
    let vectors: Vec<Vec<Fr>> = (0..3)
        .map(|k| input.iter().map(|x| *x + Fr::from(k as u64)).collect())
        .collect();
    let config = NttConfig::forward().with_coset(Fr::from(5u64));
    let singles: Vec<Vec<Fr>> = vectors
        .iter()
        .map(|v| run_one(backend, v, &config))
        .collect::<Result<_, _>>()?;
    let mut batch = vectors.clone();
    let mut refs: Vec<&mut [Fr]> = batch.iter_mut().map(|v| v.as_mut_slice()).collect();
    kernels_accel::ntt(backend, &mut refs, &config).map_err(|e| e.to_string())?;
    for (i, (b, s)) in batch.iter().zip(&singles).enumerate() {
        same(&format!("batch vector {i}"), b, s)?;
    }
    Ok(())
}

fn zeros_and_ones(backend: &dyn Accelerator<Bn254>, n: usize) -> Result<(), String> {
    let zeros = vec![Fr::zero(); n];
    same(
        "zeros",
        &run_one(backend, &zeros, &NttConfig::forward())?,
        &zeros,
    )?;
    // The constant polynomial 1 evaluates to 1 everywhere; the all-ones vector transforms
    // to (n, 0, 0, ...).
    let mut one = vec![Fr::zero(); n];
    if let Some(x) = one.first_mut() {
        *x = Fr::one();
    }
    same(
        "delta",
        &run_one(backend, &one, &NttConfig::forward())?,
        &vec![Fr::one(); n],
    )?;
    let mut spike = vec![Fr::zero(); n];
    if let Some(x) = spike.first_mut() {
        *x = Fr::from(n as u64);
    }
    same(
        "ones",
        &run_one(backend, &vec![Fr::one(); n], &NttConfig::forward())?,
        &spike,
    )
}
