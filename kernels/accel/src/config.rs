use ark_ff::FftField;

/// Knobs for an MSM. `Default` lets every backend pick from the input size, which is what
/// callers want unless they are tuning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MsmConfig {
    /// Pippenger window width in bits. `None` (default): chosen by the backend's cost model
    /// from the number of points and threads.
    pub window_bits: Option<u32>,
    /// Precompute factor for resident bases (`2^(k*window)`-shifted copies kept on the
    /// device). Default 1: no extra copies, so resident memory stays equal to the bases.
    pub precompute_factor: Option<u32>,
}

/// Which way an NTT goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NttDirection {
    /// Coefficients to evaluations (default).
    #[default]
    Forward,
    /// Evaluations to coefficients, scaled by `1/n`.
    Inverse,
}

/// One NTT request. Input and output are both in natural order, like ark-poly's
/// `Radix2EvaluationDomain::fft`/`ifft`, so results are directly comparable with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NttConfig<F: FftField> {
    pub direction: NttDirection,
    /// Coset generator `g`. `None` (default): the subgroup itself.
    /// Forward with `Some(g)`: evaluates on `g * <w>` (coefficients are scaled by `g^i`
    /// first). Inverse with `Some(g)`: interpolates from `g * <w>` (the result is scaled by
    /// `g^-i` after the inverse transform). Matches ark-poly's `get_coset(g)` domain.
    pub coset_gen: Option<F>,
}

impl<F: FftField> NttConfig<F> {
    pub fn forward() -> Self {
        Self::default()
    }

    pub fn inverse() -> Self {
        Self {
            direction: NttDirection::Inverse,
            coset_gen: None,
        }
    }

    pub fn with_coset(mut self, g: F) -> Self {
        self.coset_gen = Some(g);
        self
    }
}
