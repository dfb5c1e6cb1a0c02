//! snarkjs JSON files: `proof.json`, `public.json`, `verification_key.json`.
//!
//! snarkjs writes them with `JSON.stringify(value, null, 1)` (its CLI with `bfj`, which only
//! differs for an empty `public.json`, see [`public_to_json`]): one-space indentation, no
//! trailing newline, affine points with a projective `"1"` coordinate, G2 coordinates as
//! `[c0, c1]`, numbers as decimal strings. We write the same bytes, and read strictly
//! (values must be canonical: below the modulus).

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use num_bigint::BigUint;
use serde::Serialize;
use serde_json::Value;

use crate::verifier::{Proof, VerifyingKey};
use crate::{Groth16Error, Result};

fn dec<F: PrimeField>(x: &F) -> String {
    BigUint::from_bytes_le(&x.into_bigint().to_bytes_le()).to_str_radix(10)
}

fn g1_json(p: &G1Affine) -> Vec<String> {
    match p.xy() {
        Some((x, y)) => vec![dec(&x), dec(&y), "1".into()],
        None => vec!["0".into(), "1".into(), "0".into()],
    }
}

fn g2_json(p: &G2Affine) -> Vec<Vec<String>> {
    let pair = |f: &Fq2| vec![dec(&f.c0), dec(&f.c1)];
    match p.xy() {
        Some((x, y)) => vec![pair(&x), pair(&y), vec!["1".into(), "0".into()]],
        None => vec![
            vec!["0".into(), "0".into()],
            vec!["1".into(), "0".into()],
            vec!["0".into(), "0".into()],
        ],
    }
}

/// Serialises like `JSON.stringify(v, null, 1)`.
fn snarkjs_json<T: Serialize>(v: &T) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serialising plain strings and vectors cannot fail.
    if v.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

#[derive(Serialize)]
struct ProofJson {
    pi_a: Vec<String>,
    pi_b: Vec<Vec<String>>,
    pi_c: Vec<String>,
    protocol: &'static str,
    curve: &'static str,
}

/// `proof.json` exactly as `snarkjs groth16 prove` writes it.
pub fn proof_to_json(proof: &Proof) -> String {
    snarkjs_json(&ProofJson {
        pi_a: g1_json(&proof.a),
        pi_b: g2_json(&proof.b),
        pi_c: g1_json(&proof.c),
        protocol: "groth16",
        curve: "bn128",
    })
}

/// `public.json` exactly as snarkjs writes it.
///
/// The snarkjs CLI writes with `bfj`, which matches `JSON.stringify(v, null, 1)` except for
/// an empty array: `"[\n]"`, not `"[]"`. That is what a circuit without public signals
/// (nPublic = 0) gets.
pub fn public_to_json(public: &[Fr]) -> String {
    if public.is_empty() {
        return "[\n]".into();
    }
    snarkjs_json(&public.iter().map(dec).collect::<Vec<_>>())
}

fn parse_dec<F: PrimeField>(v: &Value, what: &'static str) -> Result<F> {
    let bad = |reason: String| Groth16Error::InvalidJson { what, reason };
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        other => return Err(bad(format!("expected a decimal string, found {other}"))),
    };
    let n = BigUint::parse_bytes(s.trim().as_bytes(), 10)
        .ok_or_else(|| bad(format!("`{s}` is not a decimal number")))?;
    let big = <F::BigInt as TryFrom<BigUint>>::try_from(n)
        .map_err(|_| bad(format!("`{s}` is not below the field modulus")))?;
    F::from_bigint(big).ok_or_else(|| bad(format!("`{s}` is not below the field modulus")))
}

fn array<'a>(v: &'a Value, what: &'static str, len: usize) -> Result<&'a Vec<Value>> {
    match v {
        Value::Array(a) if a.len() == len => Ok(a),
        other => Err(Groth16Error::InvalidJson {
            what,
            reason: format!("expected an array of {len}, found {other}"),
        }),
    }
}

fn field<'a>(obj: &'a Value, key: &'static str) -> Result<&'a Value> {
    obj.get(key).ok_or(Groth16Error::InvalidJson {
        what: key,
        reason: "missing".into(),
    })
}

fn parse_g1(v: &Value, what: &'static str) -> Result<G1Affine> {
    let a = array(v, what, 3)?;
    let z: Fq = parse_dec(&a[2], what)?;
    if z == Fq::from(0u64) {
        return Ok(G1Affine::identity());
    }
    if z != Fq::from(1u64) {
        return Err(Groth16Error::InvalidJson {
            what,
            reason: "projective coordinate must be 1 (affine) or 0 (infinity)".into(),
        });
    }
    Ok(G1Affine::new_unchecked(
        parse_dec(&a[0], what)?,
        parse_dec(&a[1], what)?,
    ))
}

fn parse_fq2(v: &Value, what: &'static str) -> Result<Fq2> {
    let a = array(v, what, 2)?;
    Ok(Fq2::new(parse_dec(&a[0], what)?, parse_dec(&a[1], what)?))
}

fn parse_g2(v: &Value, what: &'static str) -> Result<G2Affine> {
    let a = array(v, what, 3)?;
    let z = parse_fq2(&a[2], what)?;
    if z == Fq2::from(0u64) {
        return Ok(G2Affine::identity());
    }
    if z != Fq2::from(1u64) {
        return Err(Groth16Error::InvalidJson {
            what,
            reason: "projective coordinate must be [1, 0] (affine) or [0, 0] (infinity)".into(),
        });
    }
    Ok(G2Affine::new_unchecked(
        parse_fq2(&a[0], what)?,
        parse_fq2(&a[1], what)?,
    ))
}

fn parse_value(text: &str, what: &'static str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Groth16Error::InvalidJson {
        what,
        reason: e.to_string(),
    })
}

/// Reads a snarkjs `proof.json`. Points are checked on the curve by [`crate::verify`].
pub fn proof_from_json(text: &str) -> Result<Proof> {
    let v = parse_value(text, "proof.json")?;
    Ok(Proof {
        a: parse_g1(field(&v, "pi_a")?, "pi_a")?,
        b: parse_g2(field(&v, "pi_b")?, "pi_b")?,
        c: parse_g1(field(&v, "pi_c")?, "pi_c")?,
    })
}

/// Reads a snarkjs `public.json`.
pub fn public_from_json(text: &str) -> Result<Vec<Fr>> {
    let v = parse_value(text, "public.json")?;
    match v {
        Value::Array(items) => items
            .iter()
            .map(|x| parse_dec(x, "public signal"))
            .collect(),
        other => Err(Groth16Error::InvalidJson {
            what: "public.json",
            reason: format!("expected an array of decimal strings, found {other}"),
        }),
    }
}

/// Reads a snarkjs `verification_key.json` (Groth16, bn128).
pub fn verifying_key_from_json(text: &str) -> Result<VerifyingKey> {
    let v = parse_value(text, "verification_key.json")?;
    let protocol = field(&v, "protocol")?;
    if protocol != "groth16" {
        return Err(Groth16Error::InvalidJson {
            what: "protocol",
            reason: format!("{protocol} is not groth16"),
        });
    }
    if let Some(curve) = v.get("curve") {
        if curve != "bn128" && curve != "bn254" {
            return Err(Groth16Error::InvalidJson {
                what: "curve",
                reason: format!("{curve} is not bn128"),
            });
        }
    }
    let ic = match field(&v, "IC")? {
        Value::Array(points) => points
            .iter()
            .map(|p| parse_g1(p, "IC"))
            .collect::<Result<Vec<_>>>()?,
        other => {
            return Err(Groth16Error::InvalidJson {
                what: "IC",
                reason: format!("expected an array of points, found {other}"),
            })
        }
    };
    if ic.is_empty() {
        return Err(Groth16Error::InvalidJson {
            what: "IC",
            reason: "empty".into(),
        });
    }
    if let Some(n) = v.get("nPublic").and_then(Value::as_u64) {
        if n as usize + 1 != ic.len() {
            return Err(Groth16Error::InvalidJson {
                what: "nPublic",
                reason: format!("{n} but IC has {} points", ic.len()),
            });
        }
    }
    let vk = VerifyingKey {
        alpha1: parse_g1(field(&v, "vk_alpha_1")?, "vk_alpha_1")?,
        beta2: parse_g2(field(&v, "vk_beta_2")?, "vk_beta_2")?,
        gamma2: parse_g2(field(&v, "vk_gamma_2")?, "vk_gamma_2")?,
        delta2: parse_g2(field(&v, "vk_delta_2")?, "vk_delta_2")?,
        ic,
    };
    let points_ok = vk.alpha1.is_on_curve()
        && [vk.beta2, vk.gamma2, vk.delta2]
            .iter()
            .all(|p| p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve())
        && vk.ic.iter().all(|p| p.is_zero() || p.is_on_curve());
    if !points_ok {
        return Err(Groth16Error::InvalidJson {
            what: "verification_key.json",
            reason: "a key point is not on its curve".into(),
        });
    }
    Ok(vk)
}
