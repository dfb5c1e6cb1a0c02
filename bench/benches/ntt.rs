//! Forward NTT over a size range on the backend named by `BENCH_BACKEND` (default `cpu`).
//! `BENCH_LOG_SIZES=16,18,20` picks sizes, `BENCH_THREADS=2` the thread count.

use ark_bn254::Fr;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kernels_accel::NttConfig;
use kernels_testkit::inputs::random_scalars;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn ntt(c: &mut Criterion) {
    let backend = appliance::bench_backend();
    let mut group = c.benchmark_group(format!("ntt/{}", backend.info().name));
    group.sample_size(10);
    let sizes = std::env::var("BENCH_LOG_SIZES").unwrap_or_else(|_| "12,16,18".into());
    for log_n in sizes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Ok(log_n) = log_n.parse::<u32>() else {
            panic!("BENCH_LOG_SIZES entry `{log_n}` is not a number");
        };
        let n = 1usize << log_n;
        let input = random_scalars(n, &mut StdRng::seed_from_u64(u64::from(log_n)));
        let mut data = input.clone();
        let config = NttConfig::<Fr>::forward();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(log_n), &log_n, |b, _| {
            b.iter(|| kernels_accel::ntt(&*backend, &mut [&mut data], &config))
        });
    }
    group.finish();
}

criterion_group!(benches, ntt);
criterion_main!(benches);
