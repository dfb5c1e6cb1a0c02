//! Groth16 verification: `e(A, B) = e(alpha, beta) · e(IC(x), gamma) · e(C, delta)`,
//! checked as one multi-pairing.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::Zero;

use crate::{Groth16Error, Result};

/// The verifier's part of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey {
    pub alpha1: G1Affine,
    pub beta2: G2Affine,
    pub gamma2: G2Affine,
    pub delta2: G2Affine,
    /// One point for the constant signal, then one per public signal.
    pub ic: Vec<G1Affine>,
}

impl VerifyingKey {
    pub fn n_public(&self) -> usize {
        self.ic.len().saturating_sub(1)
    }
}

/// A Groth16 proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proof {
    pub a: G1Affine,
    pub b: G2Affine,
    pub c: G1Affine,
}

impl Proof {
    /// Points on their curves and in the right subgroups (only G2 has a cofactor on BN254).
    /// Proofs from the network are untrusted: an off-curve point would otherwise feed the
    /// pairing garbage.
    pub fn is_well_formed(&self) -> bool {
        let on = |ok: bool, zero: bool| zero || ok;
        on(self.a.is_on_curve(), self.a.is_zero())
            && on(
                self.b.is_on_curve() && self.b.is_in_correct_subgroup_assuming_on_curve(),
                self.b.is_zero(),
            )
            && on(self.c.is_on_curve(), self.c.is_zero())
    }
}

/// `Ok(true)` when the proof is valid for these public signals, `Ok(false)` when it is not,
/// an error when the inputs do not even fit the key.
pub fn verify(vk: &VerifyingKey, public: &[Fr], proof: &Proof) -> Result<bool> {
    if public.len() != vk.n_public() {
        return Err(Groth16Error::PublicInputCount {
            expected: vk.n_public(),
            got: public.len(),
        });
    }
    if !proof.is_well_formed() {
        return Ok(false);
    }
    let acc: G1Projective =
        G1Projective::from(vk.ic[0]) + G1Projective::msm_unchecked(&vk.ic[1..], public);
    let lhs = Bn254::multi_pairing(
        [
            (-proof.a.into_group()).into_affine(),
            vk.alpha1,
            acc.into_affine(),
            proof.c,
        ],
        [proof.b, vk.beta2, vk.gamma2, vk.delta2],
    );
    Ok(lhs.is_zero())
}
