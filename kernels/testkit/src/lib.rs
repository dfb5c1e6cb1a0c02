//! Conformance checks every backend must pass, against references nobody in this project
//! wrote (arkworks' MSM, ark-poly's FFT) or that are too simple to get wrong (naive
//! double-and-add sums). The same suite runs in CI on every compiled backend and at boot as
//! `appliance selftest`.

pub mod inputs;
mod msm_checks;
mod ntt_checks;

use std::fmt;

use ark_bn254::Bn254;
use kernels_accel::Accelerator;
use rand::rngs::StdRng;
use rand::SeedableRng;

pub use inputs::{random_g1_bases, random_g2_bases, random_scalars};

/// How much of the suite to run.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// Largest G1 MSM size, as log2 (the sizes 0, 1, 2, 31, 33, 1025 always run). `None`
    /// leaves every MSM out (G1, G2, prepared scalars and the quotient's MSM), for a device
    /// whose compiler takes too long over the MSM kernels (Mesa's llvmpipe spends minutes
    /// on each).
    pub max_log_msm: Option<u32>,
    /// Largest G2 MSM size, as log2 (G2 is ~3x slower; keep it smaller).
    pub max_log_msm_g2: u32,
    /// Largest NTT size, as log2.
    pub max_log_ntt: u32,
    /// Seed of every random input, printed so that a failure can be replayed.
    pub seed: u64,
}

impl Default for SuiteOptions {
    fn default() -> Self {
        Self {
            max_log_msm: Some(16),
            max_log_msm_g2: 11,
            max_log_ntt: 16,
            seed: 0x5eed,
        }
    }
}

/// Outcome of one named check.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub detail: String,
}

/// Outcome of the whole suite.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub backend: String,
    pub device: String,
    pub seed: u64,
    pub checks: Vec<CheckResult>,
}

impl Report {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.passed)
    }

    pub(crate) fn record(&mut self, name: impl Into<String>, outcome: Result<(), String>) {
        let (passed, detail) = match outcome {
            Ok(()) => (true, String::new()),
            Err(e) => (false, e),
        };
        self.checks.push(CheckResult {
            name: name.into(),
            passed,
            detail,
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            if c.passed {
                writeln!(f, "  ok    {}", c.name)?;
            } else {
                writeln!(f, "  FAIL  {}: {}", c.name, c.detail)?;
            }
        }
        let failed = self.failures().count();
        write!(
            f,
            "{} passed, {} failed (backend {}, {}, seed {:#x})",
            self.checks.len() - failed,
            failed,
            self.backend,
            self.device,
            self.seed
        )
    }
}

/// Runs every check against `backend`. `progress` is told each check's name as it starts,
/// so a long run shows where it is.
pub fn run_suite(
    backend: &dyn Accelerator<Bn254>,
    options: &SuiteOptions,
    progress: &mut dyn FnMut(&str),
) -> Report {
    let info = backend.info();
    let mut report = Report {
        backend: info.name.to_string(),
        device: info.device,
        seed: options.seed,
        checks: Vec::new(),
    };
    let mut rng = StdRng::seed_from_u64(options.seed);
    msm_checks::run(backend, options, &mut rng, &mut report, progress);
    ntt_checks::run(backend, options, &mut rng, &mut report, progress);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu_backend_passes_the_whole_suite_with(simd: bool) {
        let cpu = kernels_cpu::CpuBackend::with_simd(0, simd).expect("cpu backend");
        let report = run_suite(&cpu, &SuiteOptions::default(), &mut |_| {});
        assert!(report.passed(), "{report}");
        assert!(
            report.checks.len() > 40,
            "suite ran too few checks: {report}"
        );
    }

    #[test]
    fn cpu_backend_passes_the_whole_suite() {
        cpu_backend_passes_the_whole_suite_with(true);
    }

    /// The scalar fallback, which machines without AVX-512 IFMA run.
    #[test]
    fn cpu_backend_scalar_path_passes_the_whole_suite() {
        cpu_backend_passes_the_whole_suite_with(false);
    }

    #[test]
    fn a_wrong_backend_fails_the_suite() {
        let wrong = broken::OffByOne(kernels_cpu::CpuBackend::new(1).expect("cpu backend"));
        let options = SuiteOptions {
            max_log_msm: Some(10),
            max_log_msm_g2: 6,
            max_log_ntt: 10,
            seed: 1,
        };
        let report = run_suite(&wrong, &options, &mut |_| {});
        assert!(!report.passed());
        assert!(report.failures().any(|c| c.name.starts_with("msm g1")));
        assert!(report.failures().any(|c| c.name.starts_with("ntt")));
    }

    /// A deliberately wrong backend: proves the suite can fail.
    mod broken {
        use ark_bn254::{g1, g2};
        use ark_bn254::{G1Projective, G2Projective};
        use ark_ec::short_weierstrass::Projective;
        use ark_ec::{AffineRepr, CurveGroup};
        use ark_ff::FftField;
        use kernels_accel::{Backend, BackendInfo, Bases, Msm, MsmConfig, Ntt, NttConfig, Result};
        use kernels_cpu::CpuBackend;

        pub struct OffByOne(pub CpuBackend);

        impl Backend for OffByOne {
            fn info(&self) -> BackendInfo {
                self.0.info()
            }
        }

        impl Msm<Projective<g1::Config>> for OffByOne {
            fn load_bases_unchecked(
                &self,
                p: &[<G1Projective as CurveGroup>::Affine],
                c: &MsmConfig,
            ) -> Result<Bases<G1Projective>> {
                self.0.load_bases_unchecked(p, c)
            }
            fn msm_unchecked(
                &self,
                b: &Bases<G1Projective>,
                s: &[ark_bn254::Fr],
                c: &MsmConfig,
            ) -> Result<G1Projective> {
                let r = self.0.msm_unchecked(b, s, c)?;
                Ok(r + ark_bn254::G1Affine::generator())
            }
        }

        impl Msm<Projective<g2::Config>> for OffByOne {
            fn load_bases_unchecked(
                &self,
                p: &[<G2Projective as CurveGroup>::Affine],
                c: &MsmConfig,
            ) -> Result<Bases<G2Projective>> {
                self.0.load_bases_unchecked(p, c)
            }
            fn msm_unchecked(
                &self,
                b: &Bases<G2Projective>,
                s: &[ark_bn254::Fr],
                c: &MsmConfig,
            ) -> Result<G2Projective> {
                self.0.msm_unchecked(b, s, c)
            }
        }

        impl<F: FftField> Ntt<F> for OffByOne {
            fn ntt_unchecked(&self, data: &mut [&mut [F]], c: &NttConfig<F>) -> Result<()> {
                self.0.ntt_unchecked(data, c)?;
                for v in data.iter_mut() {
                    if let Some(x) = v.first_mut() {
                        *x += F::one();
                    }
                }
                Ok(())
            }
        }
    }
}
