//! The hardware layer's contract: every backend (CPU, CUDA, OpenCL, FPGA) implements
//! [`Accelerator`], and everything above (the Groth16 prover, the server, the benches) only
//! ever talks to that trait. Callers use the checked free functions [`msm`], [`msm_batch`]
//! and [`ntt`]; backends implement the `*_unchecked` methods and may assume the checks held.

mod config;
mod error;
mod registry;
mod traits;

pub use config::{MsmConfig, NttConfig, NttDirection};
pub use error::AccelError;
pub use registry::{BackendKind, BackendRegistry, Opener, Selection};
pub use traits::{Accelerator, Backend, BackendInfo, Bases, Msm, Ntt, PreparedScalars};

use ark_ec::CurveGroup;
use ark_ff::FftField;

/// Result type of the hardware layer.
pub type Result<T> = std::result::Result<T, AccelError>;

/// Uploads `points` once so that later MSMs against them skip the transfer and any
/// per-base precomputation. A Groth16 proving key is reused by every job of a circuit.
pub fn load_bases<G: CurveGroup, A: Msm<G> + ?Sized>(
    backend: &A,
    points: &[G::Affine],
    config: &MsmConfig,
) -> Result<Bases<G>> {
    backend.load_bases_unchecked(points, config)
}

/// `sum_i scalars[i] * bases[i]`, with `scalars.len()` allowed to be shorter than the
/// loaded bases (the tail is treated as zero scalars), never longer.
pub fn msm<G: CurveGroup, A: Msm<G> + ?Sized>(
    backend: &A,
    bases: &Bases<G>,
    scalars: &[G::ScalarField],
    config: &MsmConfig,
) -> Result<G> {
    check_msm_lengths(bases, scalars.len())?;
    check_owner(backend.info().name, bases)?;
    backend.msm_unchecked(bases, scalars, config)
}

/// Several scalar vectors against one base set; one result per vector.
pub fn msm_batch<G: CurveGroup, A: Msm<G> + ?Sized>(
    backend: &A,
    bases: &Bases<G>,
    scalars: &[&[G::ScalarField]],
    config: &MsmConfig,
) -> Result<Vec<G>> {
    for s in scalars {
        check_msm_lengths(bases, s.len())?;
    }
    check_owner(backend.info().name, bases)?;
    backend.msm_batch_unchecked(bases, scalars, config)
}

/// Prepares `scalars` once for several [`msm_prepared`] calls against different bases
/// (of either group over the scalar field): on a GPU, one upload and one sort of the
/// window digits instead of one per MSM.
pub fn prepare_scalars<'a, G: CurveGroup, A: Msm<G> + ?Sized>(
    backend: &A,
    scalars: &'a [G::ScalarField],
    config: &MsmConfig,
) -> Result<PreparedScalars<'a, G::ScalarField>> {
    backend.prepare_scalars_unchecked(scalars, config)
}

/// [`msm`] of scalars made ready by [`prepare_scalars`] on the same backend.
pub fn msm_prepared<G: CurveGroup, A: Msm<G> + ?Sized>(
    backend: &A,
    bases: &Bases<G>,
    scalars: &PreparedScalars<'_, G::ScalarField>,
    config: &MsmConfig,
) -> Result<G> {
    check_msm_lengths(bases, scalars.len())?;
    let name = backend.info().name;
    check_owner(name, bases)?;
    if scalars.backend() != name {
        return Err(AccelError::ForeignScalars {
            prepared_by: scalars.backend(),
            used_by: name,
        });
    }
    backend.msm_prepared_unchecked(bases, scalars, config)
}

/// In-place NTT of every vector in `data` (all the same power-of-two length).
pub fn ntt<F: FftField, A: Ntt<F> + ?Sized>(
    backend: &A,
    data: &mut [&mut [F]],
    config: &NttConfig<F>,
) -> Result<()> {
    if !check_ntt_batch(data, config.coset_gen)? {
        return Ok(());
    }
    backend.ntt_unchecked(data, config)
}

/// The inverse NTT of every vector in `data`, then its forward NTT on the coset
/// `coset_gen * <w>` (a Groth16 quotient's pair of transforms), in one call so that a
/// device backend keeps the data resident between the two.
pub fn intt_then_coset_ntt<F: FftField, A: Ntt<F> + ?Sized>(
    backend: &A,
    data: &mut [&mut [F]],
    coset_gen: F,
) -> Result<()> {
    if !check_ntt_batch(data, Some(coset_gen))? {
        return Ok(());
    }
    backend.intt_then_coset_ntt_unchecked(data, coset_gen)
}

/// [`Ntt::coset_quotient_unchecked`] after checking the lengths, the size and the coset.
pub fn coset_quotient<F: FftField, A: Ntt<F> + ?Sized>(
    backend: &A,
    a: &mut [F],
    b: &mut [F],
    coset_gen: F,
) -> Result<()> {
    if a.len() != b.len() {
        return Err(AccelError::LengthMismatch {
            what: "quotient vectors",
            expected: a.len(),
            got: b.len(),
        });
    }
    if !check_ntt_batch(&[&mut *a], Some(coset_gen))? {
        return Ok(());
    }
    backend.coset_quotient_unchecked(a, b, coset_gen)
}

/// `sum h[i] * bases[i]` for the quotient `h` of [`coset_quotient`]: what a Groth16 proof
/// needs of it, in one call so that a device backend multiplies `h` where it made it
/// ([`Msm::quotient_msm_unchecked`]). Otherwise the two steps, and `a` then holds `h`
/// (`b`, as after [`coset_quotient`], is unspecified).
pub fn quotient_msm<G: CurveGroup, A: Msm<G> + Ntt<G::ScalarField> + ?Sized>(
    backend: &A,
    bases: &Bases<G>,
    a: &mut [G::ScalarField],
    b: &mut [G::ScalarField],
    coset_gen: G::ScalarField,
    config: &MsmConfig,
) -> Result<G> {
    if a.len() != b.len() {
        return Err(AccelError::LengthMismatch {
            what: "quotient vectors",
            expected: a.len(),
            got: b.len(),
        });
    }
    check_msm_lengths(bases, a.len())?;
    check_owner(Backend::info(backend).name, bases)?;
    if !check_ntt_batch(&[&mut *a], Some(coset_gen))? {
        return Ok(G::zero());
    }
    if let Some(sum) = backend.quotient_msm_unchecked(bases, a, b, coset_gen, config)? {
        return Ok(sum);
    }
    backend.coset_quotient_unchecked(a, b, coset_gen)?;
    backend.msm_unchecked(bases, a, config)
}

/// [`Ntt::coset_quotient_unchecked`] with the pointwise products on the host's cores and
/// the transforms through `backend`: the trait's default, and a device backend's fallback.
pub fn coset_quotient_on_host<F: FftField, A: Ntt<F> + ?Sized>(
    backend: &A,
    a: &mut [F],
    b: &mut [F],
    coset_gen: F,
) -> Result<()> {
    use rayon::prelude::*;
    let mut c: Vec<F> = a.par_iter().zip(&*b).map(|(x, y)| *x * y).collect();
    backend.intt_then_coset_ntt_unchecked(&mut [&mut *a, &mut *b, &mut c], coset_gen)?;
    // In place: a fourth vector would be a Groth16 proof's largest transient.
    a.par_iter_mut()
        .zip(&*b)
        .zip(&c)
        .for_each(|((x, y), z)| *x = *x * y - z);
    Ok(())
}

/// Checks an NTT batch; `Ok(false)` when it is empty (nothing to do).
fn check_ntt_batch<F: FftField>(data: &[&mut [F]], coset_gen: Option<F>) -> Result<bool> {
    let Some(first) = data.first() else {
        return Ok(false);
    };
    let n = first.len();
    check_ntt_size::<F>(n)?;
    if let Some(other) = data.iter().find(|d| d.len() != n) {
        return Err(AccelError::LengthMismatch {
            what: "NTT batch vectors",
            expected: n,
            got: other.len(),
        });
    }
    if coset_gen.is_some_and(|g| g.is_zero()) {
        return Err(AccelError::InvalidInput(
            "coset generator must be non-zero".into(),
        ));
    }
    Ok(true)
}

/// Checks that `n` is a size the field's NTT supports: a power of two (0 and 1 included, as
/// no-ops) not above `2^TWO_ADICITY`.
pub fn check_ntt_size<F: FftField>(n: usize) -> Result<()> {
    if n > 1 && !n.is_power_of_two() {
        return Err(AccelError::NttSizeNotPowerOfTwo(n));
    }
    let log_n = n.max(1).trailing_zeros();
    if log_n > F::TWO_ADICITY {
        return Err(AccelError::NttSizeTooLarge {
            log_n,
            two_adicity: F::TWO_ADICITY,
        });
    }
    Ok(())
}

fn check_msm_lengths<G: CurveGroup>(bases: &Bases<G>, scalars: usize) -> Result<()> {
    if scalars > bases.len() {
        return Err(AccelError::LengthMismatch {
            what: "MSM scalars vs loaded bases",
            expected: bases.len(),
            got: scalars,
        });
    }
    Ok(())
}

fn check_owner<G: CurveGroup>(backend: &'static str, bases: &Bases<G>) -> Result<()> {
    if bases.backend() != backend {
        return Err(AccelError::ForeignBases {
            loaded_by: bases.backend(),
            used_by: backend,
        });
    }
    Ok(())
}
