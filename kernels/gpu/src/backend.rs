//! [`GpuBackend`]: the accel traits implemented once over any [`Device`].

use ark_bn254::Fr;
use ark_ec::short_weierstrass::{Affine, Projective};
use kernels_accel::{
    Backend, BackendInfo, Bases, Msm, MsmConfig, Ntt, NttConfig, NttDirection, PreparedScalars,
    Result,
};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::convert::DeviceCurve;
use crate::device::Device;
use crate::error::GpuError;
use crate::msm::{self, ResidentBases, SortedScalars};
use crate::ntt::{self, TwiddleProduct, Twiddles};

/// A GPU backend: one compiled program on one device, plus resident NTT twiddles.
pub struct GpuBackend<D: Device> {
    dev: D,
    /// Tells this backend's resident data from another's of the same kind (a second GPU, a
    /// second context): the backend names alone are equal, the device buffers are not.
    id: u64,
    twiddles: Twiddles<D>,
    /// The CPU backend that takes over an NTT the device has no memory for; opened on first
    /// need.
    cpu: OnceLock<kernels_cpu::CpuBackend>,
}

impl<D: Device> GpuBackend<D> {
    /// The backend on `dev`. On a GPU, unless [`ntt::TWIDDLES_ENV`] names one, this times
    /// the NTT's twiddle products (27 ms on an H100) and says on stderr which it took.
    pub fn new(dev: D) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let twiddles = Twiddles::for_device(&dev, TwiddleProduct::from_env());
        if let Some(timing) = twiddles.timing() {
            eprintln!(
                "{} {}: {}",
                dev.backend(),
                dev.device_name(),
                timing.summary()
            );
        }
        Self {
            dev,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            twiddles,
            cpu: OnceLock::new(),
        }
    }

    fn cpu(&self) -> Result<&kernels_cpu::CpuBackend> {
        if let Some(c) = self.cpu.get() {
            return Ok(c);
        }
        let c = kernels_cpu::CpuBackend::new(0)?;
        Ok(self.cpu.get_or_init(|| c))
    }

    /// Runs `passes` on each vector on the device; a vector the device has no memory for
    /// is transformed by the CPU backend instead (the host copy is only overwritten after
    /// a successful download, so the fall-back starts from the original data).
    fn ntt_passes(&self, data: &mut [&mut [Fr]], passes: &[(bool, Option<Fr>)]) -> Result<()> {
        for v in data.iter_mut() {
            let mut one: [&mut [Fr]; 1] = [&mut **v];
            match ntt::run(&self.dev, &self.twiddles, &mut one, passes) {
                Ok(()) => {}
                Err(GpuError::OutOfMemory { .. }) => {
                    let cpu = self.cpu()?;
                    for &(inverse, coset) in passes {
                        let config = NttConfig {
                            direction: if inverse {
                                NttDirection::Inverse
                            } else {
                                NttDirection::Forward
                            },
                            coset_gen: coset,
                        };
                        cpu.ntt_unchecked(&mut one, &config)?;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    /// True for GPUs and accelerator cards; false for CPU OpenCL devices (PoCL), which
    /// `auto` should not prefer over the tuned CPU backend.
    pub fn is_accelerator(&self) -> bool {
        self.dev.is_accelerator()
    }
}

/// Resident data with the id of the backend that made it.
struct Owned<T> {
    owner: u64,
    data: T,
}

impl<D: Device> GpuBackend<D> {
    fn own<T>(&self, data: T) -> Owned<T> {
        Owned {
            owner: self.id,
            data,
        }
    }

    /// The resident bases, if this backend loaded them.
    fn bases<'a, P: DeviceCurve>(
        &self,
        bases: &'a Bases<Projective<P>>,
    ) -> Result<&'a ResidentBases<D, P>> {
        let name = self.dev.backend();
        let owned = bases.resident::<Owned<ResidentBases<D, P>>>(name)?;
        if owned.owner != self.id {
            return Err(kernels_accel::AccelError::InvalidInput(format!(
                "bases were loaded on another {name} device or context than {}",
                self.dev.device_name()
            )));
        }
        Ok(&owned.data)
    }
}

impl<D: Device> Backend for GpuBackend<D> {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: self.dev.backend(),
            device: format!(
                "{}{}",
                self.dev.device_name(),
                self.twiddles.product().map_or("", TwiddleProduct::label)
            ),
            memory_bytes: self.dev.memory_bytes(),
            compute_units: self.dev.compute_units(),
        }
    }

    fn runs_on_host_cpu(&self) -> bool {
        !self.dev.is_accelerator()
    }
}

impl<D: Device, P: DeviceCurve> Msm<Projective<P>> for GpuBackend<D> {
    fn load_bases_unchecked(
        &self,
        points: &[Affine<P>],
        config: &MsmConfig,
    ) -> Result<Bases<Projective<P>>> {
        let resident = msm::load_bases::<D, P>(
            &self.dev,
            points,
            config.window_bits,
            config.precompute_factor,
        )?;
        Ok(Bases::new(
            self.dev.backend(),
            points.len(),
            self.own(resident),
        ))
    }

    fn msm_unchecked(
        &self,
        bases: &Bases<Projective<P>>,
        scalars: &[Fr],
        config: &MsmConfig,
    ) -> Result<Projective<P>> {
        let resident = self.bases(bases)?;
        Ok(msm::msm(&self.dev, resident, scalars, config.window_bits)?)
    }

    /// One upload and one digit sort for every base set the scalars meet. A device out of
    /// memory for the sort prepares nothing: each MSM then runs (and splits) on its own.
    fn prepare_scalars_unchecked<'a>(
        &self,
        scalars: &'a [Fr],
        config: &MsmConfig,
    ) -> Result<PreparedScalars<'a, Fr>> {
        let name = self.dev.backend();
        match msm::sort_scalars(&self.dev, scalars, config.window_bits) {
            Ok(Some(sorted)) => Ok(PreparedScalars::with_resident(
                name,
                scalars,
                self.own(sorted),
            )),
            Ok(None) | Err(GpuError::OutOfMemory { .. }) => {
                Ok(PreparedScalars::host(name, scalars))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The shared sort where the bases allow it (no precomputed copies, the same window,
    /// sorted on this device), else a plain MSM of the host scalars; out of memory on the
    /// shared path falls back the same way, to the MSM that splits.
    fn msm_prepared_unchecked(
        &self,
        bases: &Bases<Projective<P>>,
        scalars: &PreparedScalars<'_, Fr>,
        config: &MsmConfig,
    ) -> Result<Projective<P>> {
        let resident = self.bases(bases)?;
        // Scalars sorted by another device of the same kind are multiplied from the host.
        let sorted = scalars
            .resident::<Owned<SortedScalars<D::Buffer>>>()
            .filter(|s| s.owner == self.id);
        if let Some(Owned { data: sorted, .. }) = sorted {
            match msm::msm_sorted(&self.dev, resident, sorted, config.window_bits) {
                Ok(Some(sum)) => return Ok(sum),
                Ok(None) | Err(GpuError::OutOfMemory { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(msm::msm(
            &self.dev,
            resident,
            scalars.scalars(),
            config.window_bits,
        )?)
    }

    /// The quotient made on the device (`ntt::quotient_on_device`) is multiplied there:
    /// its download and the MSM's upload of the same n scalars are skipped. Out of device
    /// memory anywhere, or too many scalars for one sort: `None`, and the caller's two
    /// steps chunk and fall back as they do on their own.
    fn quotient_msm_unchecked(
        &self,
        bases: &Bases<Projective<P>>,
        a: &[Fr],
        b: &[Fr],
        coset_gen: Fr,
        config: &MsmConfig,
    ) -> Result<Option<Projective<P>>> {
        let resident = self.bases(bases)?;
        let window = config.window_bits;
        if a.len() < 2 || !resident.fits_one_sort(a.len(), window) {
            return Ok(None);
        }
        let sum = ntt::quotient_on_device(&self.dev, &self.twiddles, a, b, coset_gen)
            .map(|h| msm::DeviceScalars::new(h, a.len()))
            .and_then(|h| msm::msm_device_scalars(&self.dev, resident, &h, window));
        match sum {
            Ok(sum) => Ok(Some(sum)),
            Err(GpuError::OutOfMemory { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl<D: Device> Ntt<Fr> for GpuBackend<D> {
    fn ntt_unchecked(&self, data: &mut [&mut [Fr]], config: &NttConfig<Fr>) -> Result<()> {
        let inverse = config.direction == NttDirection::Inverse;
        self.ntt_passes(data, &[(inverse, config.coset_gen)])
    }

    fn intt_then_coset_ntt_unchecked(&self, data: &mut [&mut [Fr]], coset_gen: Fr) -> Result<()> {
        self.ntt_passes(data, &[(true, None), (false, Some(coset_gen))])
    }

    /// On the device; with too little device memory for three vectors, the products on
    /// the host and each vector's transforms wherever it fits (`ntt_passes`). `a` is only
    /// written by a successful download, so the fallback starts from the original data.
    fn coset_quotient_unchecked(&self, a: &mut [Fr], b: &mut [Fr], coset_gen: Fr) -> Result<()> {
        if a.len() >= 2 {
            match ntt::coset_quotient(&self.dev, &self.twiddles, a, b, coset_gen) {
                Ok(()) => return Ok(()),
                Err(GpuError::OutOfMemory { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        kernels_accel::coset_quotient_on_host(self, a, b, coset_gen)
    }
}
