//! Same-process comparisons: our backend against the reference everyone uses today
//! (arkworks `VariableBaseMSM`, ark-poly `Radix2EvaluationDomain`), interleaved run by run so
//! that machine noise hits both sides alike, with a check that both gave the same result.
//! `appliance bench` prints these rows; the criterion benches in `benches/` track our
//! kernels alone over a size range.

pub mod alloc_track;
mod compare;
pub mod prove;
pub mod serve;
pub mod synthetic;
mod timing;

pub use compare::{compare_msm, compare_ntt, MsmGroup, Row};
pub use timing::{cpu_time, median};
