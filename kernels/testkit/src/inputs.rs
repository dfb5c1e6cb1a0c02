//! Random inputs for checks and benches, made fast enough for 2^20 bases.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::CurveGroup;
use ark_ff::UniformRand;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// Uniform random scalars.
pub fn random_scalars(n: usize, rng: &mut impl Rng) -> Vec<Fr> {
    let seeds: Vec<u64> = (0..n.div_ceil(4096)).map(|_| rng.gen()).collect();
    seeds
        .into_par_iter()
        .enumerate()
        .flat_map_iter(|(chunk, seed)| {
            let mut rng = StdRng::seed_from_u64(seed);
            let len = (n - chunk * 4096).min(4096);
            (0..len)
                .map(move |_| Fr::rand(&mut rng))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Distinct random points: each chunk starts at a uniformly random point and walks by
/// random steps from a small table, which is ~100x cheaper than a scalar multiplication
/// per point and still gives distinct points with overwhelming probability.
pub fn random_bases<G: CurveGroup>(n: usize, rng: &mut impl Rng) -> Vec<G::Affine> {
    const CHUNK: usize = 4096;
    let steps: Vec<G::Affine> =
        G::normalize_batch(&(0..64).map(|_| G::rand(rng)).collect::<Vec<_>>());
    let seeds: Vec<u64> = (0..n.div_ceil(CHUNK)).map(|_| rng.gen()).collect();
    let points: Vec<G> = seeds
        .into_par_iter()
        .enumerate()
        .flat_map_iter(|(chunk, seed)| {
            let mut rng = StdRng::seed_from_u64(seed);
            let len = (n - chunk * CHUNK).min(CHUNK);
            let mut p = G::rand(&mut rng);
            let steps = &steps;
            (0..len)
                .map(move |_| {
                    p += steps[rng.gen_range(0..steps.len())];
                    p
                })
                .collect::<Vec<_>>()
        })
        .collect();
    G::normalize_batch(&points)
}

pub fn random_g1_bases(n: usize, rng: &mut impl Rng) -> Vec<G1Affine> {
    random_bases::<G1Projective>(n, rng)
}

pub fn random_g2_bases(n: usize, rng: &mut impl Rng) -> Vec<G2Affine> {
    random_bases::<G2Projective>(n, rng)
}
