//! Prints the shape of a fixture's MSM inputs (sizes, zero points, scalar widths).
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let pk = prover_groth16::ProvingKey::read(format!("{dir}/circuit_final.zkey")).unwrap();
    let w = prover_groth16::read_wtns(format!("{dir}/witness.wtns")).unwrap();
    let bits = |s: &ark_bn254::Fr| s.into_bigint().num_bits();
    let neg1 = |s: &ark_bn254::Fr| (-*s).into_bigint().num_bits();
    println!(
        "n_vars {} domain {} n_public {}",
        w.len(),
        pk.header.domain_size,
        pk.header.n_public
    );
    let mut hist = [0usize; 5];
    for s in &w {
        let b = bits(s).min(neg1(s));
        let k = match b {
            0 => 0,
            1 => 1,
            2..=64 => 2,
            65..=128 => 3,
            _ => 4,
        };
        hist[k] += 1;
    }
    println!(
        "witness |s| bits: zero {} one {} <=64 {} <=128 {} full {}",
        hist[0], hist[1], hist[2], hist[3], hist[4]
    );
    let z = |v: &[ark_bn254::G1Affine]| v.iter().filter(|p| p.is_zero()).count();
    println!(
        "a {} (zero {}) b1 {} (zero {}) b2 {} (zero {}) c {} (zero {}) h {} (zero {})",
        pk.a.len(),
        z(&pk.a),
        pk.b1.len(),
        z(&pk.b1),
        pk.b2.len(),
        pk.b2.iter().filter(|p| p.is_zero()).count(),
        pk.c.len(),
        z(&pk.c),
        pk.h.len(),
        z(&pk.h)
    );
    println!("coefs a {} b {}", pk.coefs_a.len(), pk.coefs_b.len());
}
