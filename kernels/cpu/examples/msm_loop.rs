//! Runs one G1 MSM size in a loop, for profilers: `msm_loop LOG_N ITERS [WINDOW_BITS]`.
use ark_ec::{short_weierstrass::Projective, CurveGroup};
use ark_ff::UniformRand;
use kernels_cpu::msm::{msm, CpuBases};

fn main() {
    let mut args = std::env::args().skip(1);
    let log_n: u32 = args.next().and_then(|v| v.parse().ok()).unwrap_or(16);
    let iters: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(20);
    let forced_c: Option<u32> = args.next().and_then(|v| v.parse().ok());
    let mut rng = ark_std::test_rng();
    let n = 1usize << log_n;
    let pts: Vec<ark_bn254::G1Affine> = (0..n)
        .map(|_| Projective::<ark_bn254::g1::Config>::rand(&mut rng).into_affine())
        .collect();
    let sc: Vec<ark_bn254::Fr> = (0..n).map(|_| ark_bn254::Fr::rand(&mut rng)).collect();
    let bases = CpuBases::load(&pts);
    let t = std::time::Instant::now();
    for _ in 0..iters {
        let _ = std::hint::black_box(msm(&bases, &sc, forced_c));
    }
    println!(
        "{:.2} ms per MSM",
        t.elapsed().as_secs_f64() * 1e3 / iters as f64
    );
}
