//! Times G1/G2 MSMs with forced window sizes (the plan's choice marked), for cost-model tuning.
use ark_ec::{
    scalar_mul::glv::GLVConfig,
    short_weierstrass::{Affine, Projective},
    CurveGroup,
};
use ark_ff::UniformRand;
use kernels_cpu::msm::{msm_with, plan_with, CostWeights, CpuBases};
use std::time::Instant;

fn sweep<P: GLVConfig<ScalarField = ark_bn254::Fr>>(name: &str, log_n: u32, cs: &[u32]) {
    let mut rng = ark_std::test_rng();
    let n = 1usize << log_n;
    let pts: Vec<Affine<P>> = (0..n)
        .map(|_| Projective::<P>::rand(&mut rng).into_affine())
        .collect();
    let sc: Vec<ark_bn254::Fr> = (0..n).map(|_| ark_bn254::Fr::rand(&mut rng)).collect();
    let bases = CpuBases::load(&pts);
    let chosen = plan_with(
        2 * n,
        128,
        rayon::current_num_threads(),
        None,
        &CostWeights::for_curve::<P>(true),
    );
    let mut line = format!(
        "{name} 2^{log_n} chosen c={} chunks={}:",
        chosen.window_bits, chosen.chunks
    );
    for &c in cs {
        let _ = msm_with(&bases, &sc, Some(c), true);
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let _ = std::hint::black_box(msm_with(&bases, &sc, Some(c), true));
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
        line += &format!(" c{c}={best:.1}");
    }
    println!("{line}");
}

fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .unwrap();
    let which = std::env::args().nth(1).unwrap_or_default();
    if which.contains("g1") {
        sweep::<ark_bn254::g1::Config>("g1", 13, &[11, 12, 13]);
        sweep::<ark_bn254::g1::Config>("g1", 14, &[11, 12, 13, 14]);
        sweep::<ark_bn254::g1::Config>("g1", 15, &[11, 12, 13, 14, 15]);
    }
    if which.contains("g2") {
        sweep::<ark_bn254::g2::Config>("g2", 13, &[9, 10, 11, 12, 13]);
        sweep::<ark_bn254::g2::Config>("g2", 14, &[10, 11, 12, 13, 14]);
    }
}
