use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use ark_ec::{pairing::Pairing, CurveGroup};
use ark_ff::FftField;

use crate::{AccelError, MsmConfig, NttConfig, Result};

/// What a backend is running on, for logs, `/api/info`, and bench tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendInfo {
    /// Stable backend name: `cpu`, `cuda`, `opencl`, `fpga`.
    pub name: &'static str,
    /// Human-readable device, e.g. `2 rayon threads on x86_64` or the GPU's name.
    pub device: String,
    /// Device memory in bytes, where the backend can tell.
    pub memory_bytes: Option<u64>,
    /// Parallel compute units (CPU threads, GPU SMs / compute units).
    pub compute_units: usize,
}

impl BackendInfo {
    /// The CPU backend: no device apart from the host, so nothing to fall back from and no
    /// device to fault or to hang.
    pub fn is_cpu(&self) -> bool {
        self.name == crate::BackendKind::Cpu.name()
    }
}

/// Common to every backend.
pub trait Backend: Send + Sync {
    fn info(&self) -> BackendInfo;

    /// True when an accelerator backend is in fact running on the host CPU (an OpenCL CPU
    /// device such as PoCL): correct, but slower than the tuned CPU backend, so `auto`
    /// passes it over. Asking for the backend by name still opens it.
    fn runs_on_host_cpu(&self) -> bool {
        false
    }

    /// True when the backend computes outside the host's rayon pool (a GPU, an FPGA, an
    /// OpenCL runtime with threads of its own), so that a caller gains by running host
    /// work beside its operations: the Groth16 prover evaluates the quotient on the host
    /// while the device runs the witness MSMs. False for the CPU backend, whose operations
    /// already use every core.
    fn overlaps_host_work(&self) -> bool {
        true
    }
}

/// A set of MSM bases resident in one backend, created by [`crate::load_bases`].
///
/// The handle is opaque: each backend stores whatever form it computes with (device
/// buffers, precomputed endomorphism images, shifted copies) and downcasts it back with
/// [`Bases::resident`]. Cloning is cheap and shares the resident data.
pub struct Bases<G: CurveGroup> {
    backend: &'static str,
    len: usize,
    resident: Arc<dyn Any + Send + Sync>,
    _group: PhantomData<fn() -> G>,
}

impl<G: CurveGroup> Clone for Bases<G> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend,
            len: self.len,
            resident: Arc::clone(&self.resident),
            _group: PhantomData,
        }
    }
}

impl<G: CurveGroup> std::fmt::Debug for Bases<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bases")
            .field("backend", &self.backend)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<G: CurveGroup> Bases<G> {
    /// Wraps a backend's resident form of `len` bases.
    pub fn new<R: Any + Send + Sync>(backend: &'static str, len: usize, resident: R) -> Self {
        Self {
            backend,
            len,
            resident: Arc::new(resident),
            _group: PhantomData,
        }
    }

    /// Number of bases the caller loaded.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The backend that loaded these bases.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The backend's own resident form, or an error if these bases belong to another
    /// backend (or another group).
    pub fn resident<R: Any + Send + Sync>(&self, used_by: &'static str) -> Result<&R> {
        self.resident
            .downcast_ref::<R>()
            .ok_or(AccelError::ForeignBases {
                loaded_by: self.backend,
                used_by,
            })
    }
}

/// Scalars made ready once for several MSMs against different base sets, of either group
/// over the same scalar field: a Groth16 witness is multiplied by the A, B1, B2 and C
/// bases. Created by [`crate::prepare_scalars`]; a GPU backend uploads the scalars and
/// sorts their window digits once, the default keeps only the host slice. The host slice
/// stays reachable, so a backend can always fall back to a plain MSM.
pub struct PreparedScalars<'a, F> {
    scalars: &'a [F],
    backend: &'static str,
    resident: Option<Arc<dyn Any + Send + Sync>>,
}

impl<'a, F> PreparedScalars<'a, F> {
    /// Nothing prepared beyond the host slice.
    pub fn host(backend: &'static str, scalars: &'a [F]) -> Self {
        Self {
            scalars,
            backend,
            resident: None,
        }
    }

    /// The host slice plus a backend's prepared form of it.
    pub fn with_resident<R: Any + Send + Sync>(
        backend: &'static str,
        scalars: &'a [F],
        resident: R,
    ) -> Self {
        Self {
            scalars,
            backend,
            resident: Some(Arc::new(resident)),
        }
    }

    pub fn scalars(&self) -> &'a [F] {
        self.scalars
    }

    pub fn len(&self) -> usize {
        self.scalars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scalars.is_empty()
    }

    /// The backend that prepared these scalars.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The prepared form, if the backend made one of type `R`.
    pub fn resident<R: Any + Send + Sync>(&self) -> Option<&R> {
        self.resident.as_ref()?.downcast_ref::<R>()
    }
}

/// Multi-scalar multiplication over one group.
pub trait Msm<G: CurveGroup>: Backend {
    /// Makes `points` resident. Points at infinity and duplicates are allowed.
    fn load_bases_unchecked(&self, points: &[G::Affine], config: &MsmConfig) -> Result<Bases<G>>;

    /// `sum scalars[i] * bases[i]`; `scalars.len() <= bases.len()` and the bases belong to
    /// this backend (checked by [`crate::msm`]).
    fn msm_unchecked(
        &self,
        bases: &Bases<G>,
        scalars: &[G::ScalarField],
        config: &MsmConfig,
    ) -> Result<G>;

    /// Several scalar vectors against one base set. The default runs them one by one;
    /// backends that can share work across the batch override it.
    fn msm_batch_unchecked(
        &self,
        bases: &Bases<G>,
        scalars: &[&[G::ScalarField]],
        config: &MsmConfig,
    ) -> Result<Vec<G>> {
        scalars
            .iter()
            .map(|s| self.msm_unchecked(bases, s, config))
            .collect()
    }

    /// Prepares `scalars` for several [`Msm::msm_prepared_unchecked`] calls, against
    /// bases of this group or of another group over the same field. The default prepares
    /// nothing.
    fn prepare_scalars_unchecked<'a>(
        &self,
        scalars: &'a [G::ScalarField],
        _config: &MsmConfig,
    ) -> Result<PreparedScalars<'a, G::ScalarField>> {
        Ok(PreparedScalars::host(self.info().name, scalars))
    }

    /// [`Msm::msm_unchecked`] of prepared scalars (prepared by this backend, no more of
    /// them than bases: checked by [`crate::msm_prepared`]). The default multiplies the
    /// host slice.
    fn msm_prepared_unchecked(
        &self,
        bases: &Bases<G>,
        scalars: &PreparedScalars<'_, G::ScalarField>,
        config: &MsmConfig,
    ) -> Result<G> {
        self.msm_unchecked(bases, scalars.scalars(), config)
    }

    /// `sum h[i] * bases[i]` for the Groth16 quotient `h` that
    /// [`Ntt::coset_quotient_unchecked`] makes of `a` and `b`, where the backend can make
    /// `h` and multiply it without `h` leaving it: a GPU keeps it on the device, two
    /// transfers of the whole vector fewer. `None` (the default): not offered here or not
    /// possible now (out of device memory); [`crate::quotient_msm`] then runs the two steps.
    /// `a` and `b` are only read. Their lengths are equal, a power of two within the
    /// field's two-adicity and at most the bases' (checked by [`crate::quotient_msm`]).
    fn quotient_msm_unchecked(
        &self,
        _bases: &Bases<G>,
        _a: &[G::ScalarField],
        _b: &[G::ScalarField],
        _coset_gen: G::ScalarField,
        _config: &MsmConfig,
    ) -> Result<Option<G>> {
        Ok(None)
    }
}

/// Number-theoretic transforms over one field.
pub trait Ntt<F: FftField>: Backend {
    /// Transforms every vector in `data` in place. All vectors have the same length, a
    /// power of two within the field's two-adicity (checked by [`crate::ntt`]).
    fn ntt_unchecked(&self, data: &mut [&mut [F]], config: &NttConfig<F>) -> Result<()>;

    /// An inverse NTT followed by a forward NTT on the coset `coset_gen * <w>`: the pair a
    /// Groth16 quotient needs. The default runs the two transforms one after the other; a
    /// GPU backend overrides it to keep the data on the device between them.
    fn intt_then_coset_ntt_unchecked(&self, data: &mut [&mut [F]], coset_gen: F) -> Result<()> {
        self.ntt_unchecked(data, &NttConfig::inverse())?;
        self.ntt_unchecked(data, &NttConfig::forward().with_coset(coset_gen))
    }

    /// A Groth16 quotient's numerator on the coset `coset_gen * <w>`: with `c = a ∘ b`,
    /// each of `a`, `b` and `c` goes through an inverse NTT and a forward NTT on the coset,
    /// and `a` receives `a · b - c` pointwise; what `b` holds afterwards is unspecified.
    /// Both have the same length (checked by [`crate::coset_quotient`]). The default is
    /// [`crate::coset_quotient_on_host`]; a GPU backend keeps the three vectors on the
    /// device, so that two go up and one comes back instead of three each way.
    fn coset_quotient_unchecked(&self, a: &mut [F], b: &mut [F], coset_gen: F) -> Result<()> {
        crate::coset_quotient_on_host(self, a, b, coset_gen)
    }
}

/// Everything a Groth16 prover over pairing `E` needs from a device.
pub trait Accelerator<E: Pairing>: Msm<E::G1> + Msm<E::G2> + Ntt<E::ScalarField> {}

impl<E: Pairing, T> Accelerator<E> for T where T: Msm<E::G1> + Msm<E::G2> + Ntt<E::ScalarField> {}
