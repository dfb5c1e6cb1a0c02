//! On-chain encodings: `snarkjs zkey export soliditycalldata` text, and the ABI bytes Kalypso
//! markets exchange (proof = abi.encode(uint[2] a, uint[2][2] b, uint[2] c), which is the
//! same 256 bytes as abi.encode(uint256[8]); public inputs = abi.encode(uint[N]), a static
//! array with no offset or length word).

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField, Zero};

use crate::verifier::Proof;
use crate::{Groth16Error, Result};

/// Order of the two Fq2 components of G2 coordinates in ABI proofs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum G2Order {
    /// Imaginary part first (`x.c1, x.c0`), as snarkjs's Solidity verifier and calldata
    /// expect: the EVM pairing precompile's order. The default.
    #[default]
    ImaginaryFirst,
    /// Real part first (`x.c0, x.c1`), as some market verifiers read it (Kalypso's zkBob
    /// transfer verifier).
    RealFirst,
}

/// Proof length in ABI form.
pub const PROOF_ABI_BYTES: usize = 8 * 32;

fn word<F: PrimeField>(x: &F) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_be());
    out
}

fn g1_words(p: &G1Affine) -> [Fq; 2] {
    p.xy().map_or([Fq::zero(); 2], |(x, y)| [x, y])
}

fn g2_words(p: &G2Affine, order: G2Order) -> [Fq; 4] {
    let (x, y) = p.xy().unwrap_or((Fq2::zero(), Fq2::zero()));
    match order {
        G2Order::ImaginaryFirst => [x.c1, x.c0, y.c1, y.c0],
        G2Order::RealFirst => [x.c0, x.c1, y.c0, y.c1],
    }
}

fn proof_words(proof: &Proof, order: G2Order) -> [Fq; 8] {
    let [ax, ay] = g1_words(&proof.a);
    let [b0, b1, b2, b3] = g2_words(&proof.b, order);
    let [cx, cy] = g1_words(&proof.c);
    [ax, ay, b0, b1, b2, b3, cx, cy]
}

/// `abi.encode(uint[2] a, uint[2][2] b, uint[2] c)`: 256 bytes. The point at infinity
/// encodes as zeros, as the EVM precompiles expect.
pub fn proof_to_abi(proof: &Proof, order: G2Order) -> Vec<u8> {
    proof_words(proof, order).iter().flat_map(word).collect()
}

fn fq_from_word(w: &[u8], what: &str) -> Result<Fq> {
    let x = Fq::from_be_bytes_mod_order(w);
    if word(&x) != w {
        return Err(Groth16Error::AbiValue {
            what: what.to_string(),
        });
    }
    Ok(x)
}

/// Inverse of [`proof_to_abi`]. Curve membership is checked by the verifier.
pub fn proof_from_abi(bytes: &[u8], order: G2Order) -> Result<Proof> {
    if bytes.len() != PROOF_ABI_BYTES {
        return Err(Groth16Error::AbiLength {
            what: "ABI proof",
            expected: PROOF_ABI_BYTES,
            got: bytes.len(),
        });
    }
    let w: Vec<Fq> = bytes
        .chunks_exact(32)
        .enumerate()
        .map(|(i, c)| fq_from_word(c, &format!("proof word {i}")))
        .collect::<Result<_>>()?;
    let g1 = |x: Fq, y: Fq| {
        if x.is_zero() && y.is_zero() {
            G1Affine::identity()
        } else {
            G1Affine::new_unchecked(x, y)
        }
    };
    let (x, y) = match order {
        G2Order::ImaginaryFirst => (Fq2::new(w[3], w[2]), Fq2::new(w[5], w[4])),
        G2Order::RealFirst => (Fq2::new(w[2], w[3]), Fq2::new(w[4], w[5])),
    };
    let b = if x.is_zero() && y.is_zero() {
        G2Affine::identity()
    } else {
        G2Affine::new_unchecked(x, y)
    };
    Ok(Proof {
        a: g1(w[0], w[1]),
        b,
        c: g1(w[6], w[7]),
    })
}

/// `abi.encode(uint[N])` of the public signals: N big-endian words, nothing else.
pub fn public_to_abi(public: &[Fr]) -> Vec<u8> {
    public.iter().flat_map(word).collect()
}

/// Inverse of [`public_to_abi`], for a circuit with `n` public signals. Each word must be a
/// canonical scalar (a value at or above the modulus would be silently reduced otherwise,
/// letting two different byte strings prove the same statement).
pub fn public_from_abi(bytes: &[u8], n: usize) -> Result<Vec<Fr>> {
    if bytes.len() != 32 * n {
        return Err(Groth16Error::AbiLength {
            what: "ABI public inputs (abi.encode(uint[N]))",
            expected: 32 * n,
            got: bytes.len(),
        });
    }
    bytes
        .chunks_exact(32)
        .enumerate()
        .map(|(i, c)| {
            let x = Fr::from_be_bytes_mod_order(c);
            if word(&x) != c {
                return Err(Groth16Error::AbiValue {
                    what: format!("public input {i}"),
                });
            }
            Ok(x)
        })
        .collect()
}

fn hex_word<F: PrimeField>(x: &F) -> String {
    let w = word(x);
    let mut s = String::with_capacity(68);
    s.push_str("\"0x");
    for b in w {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

/// The text `snarkjs zkey export soliditycalldata public.json proof.json` prints (without
/// its trailing newline): `[a],[[b],[b]],[c],[public]` with quoted hex words, G2 imaginary
/// first.
pub fn solidity_calldata(proof: &Proof, public: &[Fr]) -> String {
    let w = proof_words(proof, G2Order::ImaginaryFirst);
    let h: Vec<String> = w.iter().map(hex_word).collect();
    let inputs: Vec<String> = public.iter().map(hex_word).collect();
    format!(
        "[{}, {}],[[{}, {}],[{}, {}]],[{}, {}],[{}]",
        h[0],
        h[1],
        h[2],
        h[3],
        h[4],
        h[5],
        h[6],
        h[7],
        inputs.join(",")
    )
}
