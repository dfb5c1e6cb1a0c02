//! AVX-512 IFMA kernels, used when the CPU has them and the operator has not opted out.
//!
//! Why a separate path rather than a faster scalar multiplication: on the CPUs we deploy on,
//! a 4x64-bit Montgomery product is bound by the throughput of 64-bit `mulx`, and a
//! hand-written CIOS gets no further than ark-ff. IFMA does eight 52-bit multiply-adds per
//! instruction, so eight independent products in radix 2^52 cost far fewer cycles than
//! eight scalar ones. The scalar path stays as the fallback and gives bit-identical results
//! (both produce canonical ark Montgomery representations).

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
pub(crate) mod field;
#[cfg(target_arch = "x86_64")]
mod msm;
#[cfg(target_arch = "x86_64")]
mod ntt;

#[cfg(target_arch = "x86_64")]
pub(crate) use msm::{flush_g1, flush_g2, FlushScratch};
#[cfg(target_arch = "x86_64")]
pub(crate) use ntt::NttTables;

/// Environment variable that forces the scalar path (any value but empty or `0`), so both
/// paths can be exercised and compared on one machine.
pub const DISABLE_ENV: &str = "APPLIANCE_NO_SIMD";

/// Whether this CPU can run the IFMA kernels.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512ifma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether new plans use the IFMA kernels: available and not disabled by [`DISABLE_ENV`].
/// Read once, so that every plan of a process takes the same path.
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        let disabled = std::env::var_os(DISABLE_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        available() && !disabled
    })
}

/// Stand-in on targets without IFMA: uninhabited, so every use is statically dead.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) enum NttTables {}

#[cfg(not(target_arch = "x86_64"))]
impl NttTables {
    pub(crate) fn new(_n: usize) -> Option<Self> {
        None
    }

    pub(crate) fn dif(&self, _data: &mut [ark_bn254::Fr]) {
        match *self {}
    }

    pub(crate) fn scale_by_powers(
        &self,
        _data: &mut [ark_bn254::Fr],
        _start: ark_bn254::Fr,
        _g: ark_bn254::Fr,
    ) {
        match *self {}
    }
}

/// Stand-in on targets without IFMA.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Default)]
pub(crate) struct FlushScratch;

/// Stand-in on targets without IFMA: always declines, so the scalar flush runs.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn flush_g1(
    _buckets: &mut [ark_bn254::G1Affine],
    _bucket_of: &[u32],
    _points: &[ark_bn254::G1Affine],
    _scratch: &mut FlushScratch,
) -> bool {
    false
}

/// Stand-in on targets without IFMA: always declines, so the scalar flush runs.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn flush_g2(
    _buckets: &mut [ark_bn254::G2Affine],
    _bucket_of: &[u32],
    _points: &[ark_bn254::G2Affine],
    _scratch: &mut FlushScratch,
) -> bool {
    false
}
