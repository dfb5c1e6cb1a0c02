//! MSM over a size range on the backend named by `BENCH_BACKEND` (default `cpu`).
//! `BENCH_LOG_SIZES=12,16,20` picks sizes, `BENCH_GROUPS=g1,g2` the groups,
//! `BENCH_THREADS=2` the thread count (0: all cores).

use ark_bn254::{G1Projective, G2Projective};
use ark_ec::CurveGroup;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kernels_accel::{Accelerator, Msm, MsmConfig};
use kernels_testkit::inputs::{random_bases, random_scalars};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn bench_group<G, A>(c: &mut Criterion, label: &str, backend: &A)
where
    G: CurveGroup<ScalarField = ark_bn254::Fr>,
    A: Msm<G> + ?Sized,
{
    let mut group = c.benchmark_group(format!("msm-{label}/{}", backend.info().name));
    group.sample_size(10);
    for log_n in env_list("BENCH_LOG_SIZES", "12,14,16") {
        let Ok(log_n) = log_n.parse::<u32>() else {
            panic!("BENCH_LOG_SIZES entry `{log_n}` is not a number");
        };
        let n = 1usize << log_n;
        let mut rng = StdRng::seed_from_u64(u64::from(log_n));
        let bases = random_bases::<G>(n, &mut rng);
        let scalars = random_scalars(n, &mut rng);
        let config = MsmConfig::default();
        let loaded = kernels_accel::load_bases::<G, _>(backend, &bases, &config)
            .unwrap_or_else(|e| panic!("load_bases failed: {e}"));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(log_n), &log_n, |b, _| {
            b.iter(|| kernels_accel::msm::<G, _>(backend, &loaded, &scalars, &config))
        });
    }
    group.finish();
}

fn msm(c: &mut Criterion) {
    let backend: std::sync::Arc<dyn Accelerator<ark_bn254::Bn254>> = appliance::bench_backend();
    for g in env_list("BENCH_GROUPS", "g1") {
        match g.as_str() {
            "g1" => bench_group::<G1Projective, _>(c, "g1", &*backend),
            "g2" => bench_group::<G2Projective, _>(c, "g2", &*backend),
            other => panic!("BENCH_GROUPS entry `{other}`: expected g1 or g2"),
        }
    }
}

criterion_group!(benches, msm);
criterion_main!(benches);
