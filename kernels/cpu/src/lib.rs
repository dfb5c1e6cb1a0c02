//! The tuned CPU backend. Always built: it serves machines without accelerators and is the
//! reference every other backend is compared against.

pub mod glv;
pub mod inverse;
pub mod msm;
pub mod ntt;
pub mod simd;
mod sync_ptr;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ff::FftField;
use kernels_accel::{
    AccelError, Backend, BackendInfo, Bases, Msm, MsmConfig, Ntt, NttConfig, NttDirection, Result,
};

pub use msm::CpuBases;
pub use ntt::NttPlan;

const NAME: &str = "cpu";

/// CPU backend running on its own rayon pool, so `--threads` is honoured without touching
/// the global pool other code may use.
pub struct CpuBackend {
    pool: rayon::ThreadPool,
    threads: usize,
    /// NTT plans by (field, log size): twiddles are computed once per size.
    plans: Mutex<HashMap<(TypeId, u32), Arc<dyn Any + Send + Sync>>>,
    /// Whether kernels take the AVX-512 IFMA path where they have one.
    simd: bool,
}

impl CpuBackend {
    /// `threads = 0` uses every core. Takes the IFMA path when [`simd::enabled`] says so.
    pub fn new(threads: usize) -> Result<Self> {
        Self::with_simd(threads, simd::enabled())
    }

    /// Like [`CpuBackend::new`], choosing the path explicitly so that tests can run both on
    /// one machine; `simd` is ignored on CPUs without IFMA.
    pub fn with_simd(threads: usize, simd: bool) -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("cpu-backend-{i}"))
            .build()
            .map_err(|e| AccelError::Device {
                backend: NAME,
                device: "host".into(),
                code: -1,
                message: format!("cannot start thread pool: {e}"),
            })?;
        let threads = pool.current_num_threads();
        Ok(Self {
            pool,
            threads,
            plans: Mutex::new(HashMap::new()),
            simd: simd && simd::available(),
        })
    }

    /// Whether this backend runs the IFMA kernels.
    pub fn uses_simd(&self) -> bool {
        self.simd
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on this backend's thread pool (benches run references there too, so both
    /// sides get the same threads).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }

    fn plan<F: FftField>(&self, n: usize) -> Arc<NttPlan<F>> {
        let key = (TypeId::of::<F>(), n.max(1).trailing_zeros());
        let cached = self
            .plans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .cloned();
        if let Some(plan) = cached.and_then(|p| p.downcast::<NttPlan<F>>().ok()) {
            return plan;
        }
        let plan = Arc::new(self.install(|| NttPlan::<F>::with_simd(n, self.simd)));
        self.plans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, plan.clone());
        plan
    }
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: NAME,
            device: format!(
                "{} rayon threads on {}{}",
                self.threads,
                std::env::consts::ARCH,
                if self.simd { " (avx512ifma)" } else { "" }
            ),
            memory_bytes: None,
            compute_units: self.threads,
        }
    }

    fn overlaps_host_work(&self) -> bool {
        false
    }
}

impl<P: GLVConfig> Msm<Projective<P>> for CpuBackend {
    fn load_bases_unchecked(
        &self,
        points: &[Affine<P>],
        _config: &MsmConfig,
    ) -> Result<Bases<Projective<P>>> {
        let resident = self.install(|| CpuBases::<P>::load(points));
        Ok(Bases::new(NAME, points.len(), resident))
    }

    fn msm_unchecked(
        &self,
        bases: &Bases<Projective<P>>,
        scalars: &[P::ScalarField],
        config: &MsmConfig,
    ) -> Result<Projective<P>> {
        let resident = bases.resident::<CpuBases<P>>(NAME)?;
        if let Some(c) = config.window_bits {
            if !(msm::MIN_WINDOW_BITS..=msm::MAX_WINDOW_BITS).contains(&c) {
                return Err(AccelError::InvalidInput(format!(
                    "window_bits {c} outside {}..={}",
                    msm::MIN_WINDOW_BITS,
                    msm::MAX_WINDOW_BITS
                )));
            }
        }
        Ok(self.install(|| msm::msm_with(resident, scalars, config.window_bits, self.simd)))
    }
}

impl<F: FftField> Ntt<F> for CpuBackend {
    fn ntt_unchecked(&self, data: &mut [&mut [F]], config: &NttConfig<F>) -> Result<()> {
        let n = data.first().map_or(0, |d| d.len());
        if n == 0 {
            return Ok(());
        }
        let plan = self.plan::<F>(n);
        let run = |v: &mut [F]| match config.direction {
            NttDirection::Forward => plan.forward(v, config.coset_gen),
            NttDirection::Inverse => plan.inverse(v, config.coset_gen),
        };
        self.install(|| {
            use rayon::prelude::*;
            // Small transforms have too little inner parallelism: spread the batch instead.
            if n < (1 << 14) && data.len() > 1 {
                data.par_iter_mut().for_each(|v| run(v));
            } else {
                data.iter_mut().for_each(|v| run(v));
            }
        });
        Ok(())
    }
}

/// Opens the CPU backend; the registry calls this for `cpu` and as `auto`'s last resort.
pub fn open(threads: usize) -> Result<Arc<CpuBackend>> {
    CpuBackend::new(threads).map(Arc::new)
}
