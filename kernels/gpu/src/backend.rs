//! [`GpuBackend`]: the accel traits implemented once over any [`Device`].

use ark_bn254::Fr;
use ark_ec::short_weierstrass::{Affine, Projective};
use kernels_accel::{
    Backend, BackendInfo, Bases, Msm, MsmConfig, Ntt, NttConfig, NttDirection, Result,
};

use crate::convert::DeviceCurve;
use crate::device::Device;
use crate::msm::{self, ResidentBases};
use crate::ntt::{self, Twiddles};

/// A GPU backend: one compiled program on one device, plus resident NTT twiddles.
pub struct GpuBackend<D: Device> {
    dev: D,
    twiddles: Twiddles<D>,
}

impl<D: Device> GpuBackend<D> {
    pub fn new(dev: D) -> Self {
        Self {
            dev,
            twiddles: Twiddles::default(),
        }
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

impl<D: Device> Backend for GpuBackend<D> {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: self.dev.backend(),
            device: self.dev.device_name().to_string(),
            memory_bytes: self.dev.memory_bytes(),
            compute_units: self.dev.compute_units(),
        }
    }
}

impl<D: Device, P: DeviceCurve> Msm<Projective<P>> for GpuBackend<D> {
    fn load_bases_unchecked(
        &self,
        points: &[Affine<P>],
        _config: &MsmConfig,
    ) -> Result<Bases<Projective<P>>> {
        let resident = msm::load_bases::<D, P>(&self.dev, points)?;
        Ok(Bases::new(self.dev.backend(), points.len(), resident))
    }

    fn msm_unchecked(
        &self,
        bases: &Bases<Projective<P>>,
        scalars: &[Fr],
        config: &MsmConfig,
    ) -> Result<Projective<P>> {
        let resident = bases.resident::<ResidentBases<D, P>>(self.dev.backend())?;
        Ok(msm::msm(&self.dev, resident, scalars, config.window_bits)?)
    }
}

impl<D: Device> Ntt<Fr> for GpuBackend<D> {
    fn ntt_unchecked(&self, data: &mut [&mut [Fr]], config: &NttConfig<Fr>) -> Result<()> {
        let inverse = config.direction == NttDirection::Inverse;
        Ok(ntt::run(
            &self.dev,
            &self.twiddles,
            data,
            &[(inverse, config.coset_gen)],
        )?)
    }

    fn intt_then_coset_ntt_unchecked(&self, data: &mut [&mut [Fr]], coset_gen: Fr) -> Result<()> {
        Ok(ntt::run(
            &self.dev,
            &self.twiddles,
            data,
            &[(true, None), (false, Some(coset_gen))],
        )?)
    }
}
