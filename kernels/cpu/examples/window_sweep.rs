//! Times G1/G2 MSMs with forced window sizes (the plan's choice marked), for cost-model tuning.
use ark_ec::{
    scalar_mul::glv::GLVConfig,
    short_weierstrass::{Affine, Projective},
    CurveGroup,
};
use ark_ff::UniformRand;
use kernels_cpu::msm::{msm_with, plan_with, CostWeights, CpuBases};
use std::time::Instant;

fn sweep<P: GLVConfig<ScalarField = ark_bn254::Fr>>(name: &str, log_n: u32, cs: &[u32])
where
    Projective<P>: ark_ec::VariableBaseMSM<MulBase = Affine<P>, ScalarField = ark_bn254::Fr>,
{
    let simd = std::env::var("APPLIANCE_NO_SIMD").is_err();
    let mut rng = ark_std::test_rng();
    let n = 1usize << log_n;
    let pts: Vec<Affine<P>> = (0..n)
        .map(|_| Projective::<P>::rand(&mut rng).into_affine())
        .collect();
    let sc: Vec<ark_bn254::Fr> = (0..n).map(|_| ark_bn254::Fr::rand(&mut rng)).collect();
    let bases = CpuBases::load(&pts);
    let chosen = plan_with(
        2 * n,
        // The widest GLV half of random BN254 scalars (G1 and G2 alike).
        127,
        rayon::current_num_threads(),
        None,
        &CostWeights::for_curve::<P>(simd),
    );
    let mut line = format!(
        "{name} 2^{log_n} chosen c={} chunks={}:",
        chosen.window_bits, chosen.chunks
    );
    let expected = <Projective<P> as ark_ec::VariableBaseMSM>::msm_unchecked(&pts, &sc);
    for &c in cs {
        // A fast window that gives a wrong sum is no tuning result.
        assert_eq!(
            msm_with(&bases, &sc, Some(c), simd),
            expected,
            "c={c} disagrees"
        );
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let _ = std::hint::black_box(msm_with(&bases, &sc, Some(c), simd));
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        line += &format!(" c{c}={best:.1}");
    }
    println!("{line}");
}

/// `window_sweep g1|g2 [LOG_SIZES]`, e.g. `window_sweep g1 16,18`: every window from 9 to 16.
fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(
            std::env::var("THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2),
        )
        .build_global()
        .unwrap();
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_default();
    let sizes: Vec<u32> = args
        .next()
        .unwrap_or_else(|| "13,14,15".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let lo = std::env::var("SWEEP_MIN_C")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let cs: Vec<u32> = (lo..=16).collect();
    for &log_n in &sizes {
        if which.contains("g1") {
            sweep::<ark_bn254::g1::Config>("g1", log_n, &cs);
        }
        if which.contains("g2") {
            sweep::<ark_bn254::g2::Config>("g2", log_n, &cs);
        }
    }
}
