//! NTT host logic over [`Device`]: data is uploaded once, transformed by the bit-reversal
//! permutation and log2(n) radix-2 butterfly rounds against a twiddle table that stays
//! resident per size and direction (from 2 GROUP elements on, in a few local-memory passes
//! of many rounds each: every round in its own launch cost ~1 ms at 2^24 on an H200),
//! scaled (1/n, coset powers) by one fused pass, and only then downloaded. [`run`] with
//! two passes keeps the data on the device between the inverse and the coset transform of
//! a Groth16 quotient.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ark_bn254::Fr;
use ark_ff::{BigInt, FftField, Field, One, PrimeField, Zero};

use crate::convert::{bigint_words, download_fr, fr_words, FIELD_WORDS};
use crate::device::{count_u32, Arg, Device, Trace};
use crate::error::{GpuError, Result};

/// Resident tables keyed by (log n, inverse).
type Tables<B> = HashMap<(u32, bool), Arc<B>>;

/// The environment variable that picks the NTT passes' twiddle product: `auto` (the
/// default), `montgomery`, `shoup-first`, `shoup` or `shoup-radix4` ([`TwiddleProduct`]).
/// All are exact; which is fastest depends on the card (Shoup's trades multiplier cycles
/// for local-memory reads, the radix-4 passes trade resident warps for fewer barriers), so
/// `auto` times them on the device as the backend opens ([`Twiddles::for_device`]) and a
/// named one is for A/B runs and for pinning a choice.
pub const TWIDDLES_ENV: &str = "APPLIANCE_GPU_NTT_TWIDDLES";

/// The twiddle product of the local-memory NTT passes, and with Shoup's the passes' form
/// (`ntt_pass.h`, `ntt_radix4.h`, `Fr_ntt_strided`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TwiddleProduct {
    /// `Fr_ntt_first` and `Fr_ntt_strided`: Montgomery products, twiddles from the
    /// transform's table.
    #[default]
    Montgomery,
    /// `Fr_ntt_first_shoup`, then `Fr_ntt_strided`: Shoup's product in the first pass,
    /// with (w, w') pairs from a GROUP-pair table.
    ShoupFirst,
    /// `Fr_ntt_first_shoup`, then `Fr_ntt_sets_shoup`: Shoup's product in every pass but
    /// for one Montgomery product per element of the later passes.
    Shoup,
    /// The same products in `Fr_ntt_first_radix4` and `Fr_ntt_sets_radix4`: two rounds per
    /// local-memory exchange, four elements per thread (`ntt_radix4.h`). Passes of fewer
    /// than four rounds, and transforms of one work-group, run `Shoup`'s kernels.
    ShoupRadix4,
}

impl TwiddleProduct {
    pub const ALL: [Self; 4] = [
        Self::Montgomery,
        Self::ShoupFirst,
        Self::Shoup,
        Self::ShoupRadix4,
    ];

    /// The choice of [`TWIDDLES_ENV`]: `None` for `auto` (or unset), else the named
    /// product. An unknown value is an error, reported by every transform.
    pub fn from_env() -> std::result::Result<Option<Self>, String> {
        Self::parse(std::env::var_os(TWIDDLES_ENV).as_deref())
    }

    fn parse(value: Option<&std::ffi::OsStr>) -> std::result::Result<Option<Self>, String> {
        let Some(v) = value else { return Ok(None) };
        if v == "auto" {
            return Ok(None);
        }
        Self::ALL
            .into_iter()
            .find(|p| v == p.name())
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "{TWIDDLES_ENV}={v:?}: expected auto, montgomery, shoup-first, shoup or \
                     shoup-radix4"
                )
            })
    }

    /// The value of [`TWIDDLES_ENV`] that names this product.
    pub fn name(self) -> &'static str {
        match self {
            Self::Montgomery => "montgomery",
            Self::ShoupFirst => "shoup-first",
            Self::Shoup => "shoup",
            Self::ShoupRadix4 => "shoup-radix4",
        }
    }

    /// What a device's name says after it when this is not the default, so that figures
    /// name the variant they measured.
    pub fn label(self) -> &'static str {
        match self {
            Self::Montgomery => "",
            Self::ShoupFirst => " [Shoup first NTT pass]",
            Self::Shoup => " [Shoup NTT passes]",
            Self::ShoupRadix4 => " [Shoup radix-4 NTT passes]",
        }
    }
}

/// The size `auto` times the products at: at GROUP 256, a first pass of 9 rounds and
/// strided passes of 7 and 6, close to a 2^24 transform's 9, 8 and 7 (a 2^20 transform's
/// passes of 6 and 5 fill fewer warps per set), in ~1 ms per transform on an H100 and
/// 320 MiB of device memory (vector, work vector and an unfilled 2^21-entry table), all
/// freed afterwards.
pub const TIMING_LOG_N: u32 = 22;

/// Timed rounds per product after the warm-up round; the best of each is kept.
const TIMING_ROUNDS: usize = 5;

/// How [`Twiddles::for_device`] chose its product: the best forward-transform time of
/// each product, or why timing was not possible.
#[derive(Clone, Debug, PartialEq)]
pub enum TwiddleTiming {
    Timed {
        log_n: u32,
        best_ms: Vec<(TwiddleProduct, f64)>,
        /// The whole timing's wall time: what it added to the backend's start.
        took_ms: f64,
    },
    Failed(String),
}

impl TwiddleTiming {
    /// The product with the lowest time; the default when timing failed.
    pub fn fastest(&self) -> TwiddleProduct {
        match self {
            Self::Timed { best_ms, .. } => best_ms
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or_else(TwiddleProduct::default, |b| b.0),
            Self::Failed(_) => TwiddleProduct::default(),
        }
    }

    /// One line for logs and card runs.
    pub fn summary(&self) -> String {
        match self {
            Self::Timed {
                log_n,
                best_ms,
                took_ms,
            } => {
                let times: Vec<String> = best_ms
                    .iter()
                    .map(|(p, ms)| format!("{} {ms:.3} ms", p.name()))
                    .collect();
                format!(
                    "NTT twiddle product timed at 2^{log_n}: {} -> {} (timing took {took_ms:.0} ms)",
                    times.join(", "),
                    self.fastest().name()
                )
            }
            Self::Failed(why) => format!(
                "NTT twiddle product not timed ({why}) -> {}",
                self.fastest().name()
            ),
        }
    }
}

/// Times a forward transform of 2^`log_n` zeros with each product: one warm-up round (it
/// uploads the Shoup tables), then `rounds` rounds alternating the products, so that a
/// clock or temperature drift spreads over all of them. The vector and tables are freed
/// after.
///
/// The transform's main table is left unfilled: the passes choose their paths by index
/// alone and reduce with selects, so a product's time does not depend on the twiddles'
/// values, and building and uploading the 2^(`log_n` - 1) true powers was most of what
/// the timing added to a backend's start (bench/NOTES.md 32). Its results are discarded.
pub fn time_products<D: Device>(dev: &D, log_n: u32, rounds: usize) -> Result<TwiddleTiming> {
    let started = std::time::Instant::now();
    let tables = Twiddles::new(Ok(TwiddleProduct::default()));
    let unfilled = dev.alloc_uninit((1usize << log_n) / 2 * FIELD_WORDS)?;
    lock(dev, &tables.tables)?.insert((log_n, false), Arc::new(unfilled));
    let words = (1usize << log_n) * FIELD_WORDS;
    let buf = dev.alloc_zeroed(words)?;
    let mut best_ms = TwiddleProduct::ALL.map(|p| (p, f64::INFINITY));
    for round in 0..=rounds {
        for (product, best) in best_ms.iter_mut() {
            dev.finish()?;
            let start = std::time::Instant::now();
            self::rounds(dev, &tables, *product, &buf, log_n, false, &mut None)?;
            dev.finish()?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            if round > 0 {
                *best = best.min(ms);
            }
        }
    }
    Ok(TwiddleTiming::Timed {
        log_n,
        best_ms: best_ms.to_vec(),
        took_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// Twiddle tables (omega^k for k < n/2) resident on the device, per (log n, inverse),
/// and, for the Shoup passes, their (w, w') tables per direction.
pub struct Twiddles<D: Device> {
    product: std::result::Result<TwiddleProduct, String>,
    timing: Option<TwiddleTiming>,
    tables: Mutex<Tables<D::Buffer>>,
    shoup_tables: Mutex<HashMap<bool, Arc<D::Buffer>>>,
}

impl<D: Device> Twiddles<D> {
    /// Tables for transforms whose passes use `product` (an `Err` is reported by every
    /// transform: see [`TwiddleProduct::from_env`]).
    pub fn new(product: std::result::Result<TwiddleProduct, String>) -> Self {
        Self {
            product,
            timing: None,
            tables: Mutex::new(HashMap::new()),
            shoup_tables: Mutex::new(HashMap::new()),
        }
    }

    /// Tables for `dev`'s transforms with the product `choice` names ([`TwiddleProduct::from_env`]).
    /// `None` (auto) times the products at 2^[`TIMING_LOG_N`] on a GPU or accelerator card
    /// and takes the fastest; on a CPU OpenCL device, whose NTT speed nobody relies on,
    /// and where timing fails (no memory for it), it takes the default.
    pub fn for_device(
        dev: &D,
        choice: std::result::Result<Option<TwiddleProduct>, String>,
    ) -> Self {
        Self::for_device_timed_at(dev, choice, TIMING_LOG_N)
    }

    /// [`Twiddles::for_device`], timing at 2^`log_n` (tests time small sizes).
    pub fn for_device_timed_at(
        dev: &D,
        choice: std::result::Result<Option<TwiddleProduct>, String>,
        log_n: u32,
    ) -> Self {
        match choice {
            Ok(None) if dev.is_accelerator() => {
                let timing = time_products(dev, log_n, TIMING_ROUNDS)
                    .unwrap_or_else(|e| TwiddleTiming::Failed(e.to_string()));
                let mut twiddles = Self::new(Ok(timing.fastest()));
                twiddles.timing = Some(timing);
                twiddles
            }
            Ok(choice) => Self::new(Ok(choice.unwrap_or_default())),
            Err(e) => Self::new(Err(e)),
        }
    }

    /// The twiddle product these tables serve.
    pub fn product(&self) -> Result<TwiddleProduct> {
        self.product.clone().map_err(GpuError::InvalidInput)
    }

    /// How `auto` chose the product, when it timed (or tried to).
    pub fn timing(&self) -> Option<&TwiddleTiming> {
        self.timing.as_ref()
    }

    fn get(&self, dev: &D, log_n: u32, inverse: bool) -> Result<Arc<D::Buffer>> {
        let mut tables = lock(dev, &self.tables)?;
        if let Some(t) = tables.get(&(log_n, inverse)) {
            return Ok(Arc::clone(t));
        }
        let powers = twiddle_powers(log_n, inverse, (1usize << log_n) / 2)?;
        let buf = Arc::new(dev.upload(&fr_words(&powers))?);
        tables.insert((log_n, inverse), Arc::clone(&buf));
        Ok(buf)
    }

    /// The Shoup passes' table: the GROUP powers of a 2 GROUP-th root of unity (the same
    /// for every n), plain, then their Shoup multipliers ([`shoup_pair`]).
    fn get_shoup(&self, dev: &D, inverse: bool) -> Result<Arc<D::Buffer>> {
        let mut tables = lock(dev, &self.shoup_tables)?;
        if let Some(t) = tables.get(&inverse) {
            return Ok(Arc::clone(t));
        }
        let group = dev.group_size();
        let powers = twiddle_powers((2 * group).trailing_zeros(), inverse, group)?;
        let pairs: Vec<_> = powers.iter().map(|w| shoup_pair(*w)).collect();
        let mut words = Vec::with_capacity(2 * FIELD_WORDS * group);
        words.extend(pairs.iter().flat_map(|(plain, _)| plain.iter()));
        words.extend(pairs.iter().flat_map(|(_, shoup)| shoup.iter()));
        let buf = Arc::new(dev.upload(&words)?);
        tables.insert(inverse, Arc::clone(&buf));
        Ok(buf)
    }
}

fn lock<'a, D: Device, T>(dev: &D, m: &'a Mutex<T>) -> Result<std::sync::MutexGuard<'a, T>> {
    m.lock().map_err(|_| {
        GpuError::poisoned(
            dev.backend(),
            dev.device_name(),
            "twiddle cache lock (poisoned)",
        )
    })
}

/// omega^k for k < `count`, omega the 2^log_n-th root of unity (or its inverse).
fn twiddle_powers(log_n: u32, inverse: bool, count: usize) -> Result<Vec<Fr>> {
    let n = 1u64 << log_n;
    let omega = Fr::get_root_of_unity(n)
        .ok_or_else(|| GpuError::InvalidInput(format!("no root of unity of order {n}")))?;
    let omega = if inverse {
        omega.inverse().unwrap_or(omega)
    } else {
        omega
    };
    Ok(powers(Fr::one(), omega, count))
}

/// start, start step, start step^2, ...: `len` of them, in one chunk per core. A transform's
/// table is n/2 sequential products otherwise: at 2^22 ~70 ms of one core, at 2^24 ~0.3 s,
/// before the first transform of that size.
fn powers(start: Fr, step: Fr, len: usize) -> Vec<Fr> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    powers_in_chunks(start, step, len, len.div_ceil(cores).max(1 << 12))
}

/// [`powers`] in chunks of `chunk`, each started from its own power of `step` on a thread of
/// its own (one chunk: on this thread).
fn powers_in_chunks(start: Fr, step: Fr, len: usize, chunk: usize) -> Vec<Fr> {
    let fill = |first: usize, part: &mut [Fr]| {
        let mut x = start * step.pow([first as u64]);
        for y in part {
            *y = x;
            x *= step;
        }
    };
    let mut out = vec![Fr::zero(); len];
    if len <= chunk {
        fill(0, &mut out);
        return out;
    }
    std::thread::scope(|scope| {
        for (c, part) in out.chunks_mut(chunk).enumerate() {
            scope.spawn(move || fill(c * chunk, part));
        }
    });
    out
}

/// `(w, floor(w 2^256 / p))` as 32-bit limbs, little endian, `w` in plain form: the
/// operands of Shoup's product (`Fr_mul_twiddle`, ntt.h). The Montgomery representation
/// M = w 2^256 mod p gives the quotient without a division: w 2^256 = floor(w 2^256 / p) p
/// + M, so floor(w 2^256 / p) = -M p^-1 modulo 2^256 (it is below 2^256 because w < p).
pub fn shoup_pair(w: Fr) -> ([u32; FIELD_WORDS], [u32; FIELD_WORDS]) {
    let shoup = mul_low(&w.0 .0, &neg_inverse_of_modulus());
    (bigint_words(&w.into_bigint()), bigint_words(&BigInt(shoup)))
}

/// `(v, w)` pairs for tests of `Fr_mul_twiddle`, `v` given by its Montgomery
/// representation as the device holds it, on which the twiddle product's truncated
/// quotient is one short of floor(v w' / 2^256) (unit test below), a case that random
/// operands hit about once in 2^29. Found by solving v w' = t modulo 2^256 for small t.
pub fn shoup_short_quotient_pairs() -> Vec<(Fr, Fr)> {
    let v = Fr::new_unchecked(BigInt([
        0x415fb8cbaa4f9466,
        0xbf331db9f2e679aa,
        0x3b66cc83b4896511,
        0x0d6210b8499e2981,
    ]));
    let w = Fr::from_bigint(BigInt([
        0xf06d3fef701966a1,
        0x8d88348a7eed8d14,
        0x587fd2803bab6c39,
        0x2b517c8f3b1a11df,
    ]));
    w.map(|w| vec![(v, w)]).unwrap_or_default()
}

/// -p^-1 modulo 2^256 for Fr's modulus p, by Newton's iteration x <- x (2 - p x), which
/// doubles the correct low bits (p p = 1 modulo 8: three bits to start).
fn neg_inverse_of_modulus() -> [u64; 4] {
    let p = Fr::MODULUS.0;
    let mut x = p;
    for _ in 0..7 {
        // 2 - p x = !(p x) + 3 modulo 2^256.
        let mut two_minus = mul_low(&p, &x).map(|l| !l);
        add_small(&mut two_minus, 3);
        x = mul_low(&x, &two_minus);
    }
    let mut neg = x.map(|l| !l);
    add_small(&mut neg, 1);
    neg
}

/// a b modulo 2^256.
fn mul_low(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut r = [0u64; 4];
    for i in 0..4 {
        let mut carry = 0u128;
        for j in 0..4 - i {
            let t = r[i + j] as u128 + a[i] as u128 * b[j] as u128 + carry;
            r[i + j] = t as u64;
            carry = t >> 64;
        }
    }
    r
}

fn add_small(a: &mut [u64; 4], v: u64) {
    let mut carry = v;
    for limb in a.iter_mut() {
        let (s, c) = limb.overflowing_add(carry);
        *limb = s;
        carry = c as u64;
    }
}

/// One transform of the `n = 2^log_n` scalars in `buf`, in place on the device.
/// Forward: evaluations on `coset * <omega>` (coset 1: the subgroup). Inverse: the
/// coefficients, scaled by 1/n and by coset^-i.
pub fn transform<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    buf: &D::Buffer,
    log_n: u32,
    inverse: bool,
    coset: Option<Fr>,
) -> Result<()> {
    transforms(dev, twiddles, buf, log_n, &[(inverse, coset)])
}

/// The transforms `passes` ((inverse?, coset), as in [`transform`]) of `buf`, one after
/// the other, in place. The scaling that ends an inverse transform (1/n, coset^-i) and the
/// one that starts a coset transform (coset^i) are both a[i] *= c g^i, so where they meet,
/// as in a Groth16 quotient's inverse-then-coset pair, they run as one pass: each costs two
/// products per element, at 2^24 about four rounds' worth of a transform's products.
pub fn transforms<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    buf: &D::Buffer,
    log_n: u32,
    passes: &[(bool, Option<Fr>)],
) -> Result<()> {
    if log_n == 0 {
        return Ok(());
    }
    let mut trace = Trace::start(|| {
        let names: Vec<&str> = passes
            .iter()
            .map(|&(inverse, coset)| match (inverse, coset.is_some()) {
                (false, false) => "forward",
                (false, true) => "coset forward",
                (true, false) => "inverse",
                (true, true) => "coset inverse",
            })
            .collect();
        format!("ntt 2^{log_n} {}", names.join(" + "))
    });
    let product = twiddles.product()?;
    // The scaling (c, g) not yet applied.
    let mut pending: Option<(Fr, Fr)> = None;
    for &(inverse, coset) in passes {
        // Checked before the data changes.
        let ends_with = if inverse {
            let n_inv = Fr::from(1u64 << log_n)
                .inverse()
                .ok_or_else(|| GpuError::InvalidInput("n has no inverse".into()))?;
            let g_inv = match coset {
                Some(g) => g
                    .inverse()
                    .ok_or_else(|| GpuError::InvalidInput("coset generator is zero".into()))?,
                None => Fr::one(),
            };
            Some((n_inv, g_inv))
        } else {
            None
        };
        if let (false, Some(g)) = (inverse, coset) {
            let (c0, g0) = pending.unwrap_or((Fr::one(), Fr::one()));
            pending = Some((c0, g0 * g));
        }
        if let Some((c, g)) = pending.take() {
            scale(dev, buf, log_n, c, g)?;
            Trace::mark(dev, &mut trace, "scale")?;
        }
        rounds(dev, twiddles, product, buf, log_n, inverse, &mut trace)?;
        pending = ends_with;
    }
    if let Some((c, g)) = pending {
        scale(dev, buf, log_n, c, g)?;
        Trace::mark(dev, &mut trace, "scale")?;
    }
    Ok(())
}

/// The unscaled transform of `buf` (`log_n >= 1`): the bit-reversal permutation and the
/// log_n butterfly rounds with omega (or omega^-1 for `inverse`), with `product` (not the
/// tables' own, so that [`time_products`] can run each on one set of tables).
fn rounds<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    product: TwiddleProduct,
    buf: &D::Buffer,
    log_n: u32,
    inverse: bool,
    trace: &mut Option<Trace>,
) -> Result<()> {
    let n = 1usize << log_n;
    let table = twiddles.get(dev, log_n, inverse)?;
    Trace::mark(dev, trace, "twiddles")?;
    let group = dev.group_size();
    let log_block = (2 * group).trailing_zeros();
    if n < 2 * group {
        // Small sizes: the permutation, then one launch per round.
        dev.launch("Fr_bit_reverse", n, &[Arg::Buf(buf), Arg::U32(log_n)])?;
        let mut m = 1usize;
        while m < n {
            dev.launch(
                "Fr_butterfly",
                n / 2,
                &[
                    Arg::Buf(buf),
                    Arg::Buf(&table),
                    Arg::U32(count_u32(m)?),
                    Arg::U32(count_u32(n / (2 * m))?),
                ],
            )?;
            m *= 2;
        }
        Trace::mark(dev, trace, "rounds")?;
    } else {
        // The permutation gathers from `buf` into a second vector, every pass but the last
        // works in place there, and the last writes back to `buf`. Exactly 2 GROUP elements
        // are one work-group, which may gather in place. The first pass writes every element
        // of the second vector, so it is not zeroed first.
        let tmp = if n > 2 * group {
            Some(dev.alloc_uninit(n * FIELD_WORDS)?)
        } else {
            None
        };
        let work = tmp.as_ref().unwrap_or(buf);
        let shoup = match product {
            TwiddleProduct::Montgomery => None,
            TwiddleProduct::ShoupFirst | TwiddleProduct::Shoup | TwiddleProduct::ShoupRadix4 => {
                Some(twiddles.get_shoup(dev, inverse)?)
            }
        };
        // The radix-4 passes take four elements per thread, two sub-blocks of 2 GROUP per
        // work-group, and at least four rounds.
        let radix4 = product == TwiddleProduct::ShoupRadix4 && n >= 4 * group;
        let (first, first_table, first_threads) = match &shoup {
            None => ("Fr_ntt_first", &table, n / 2),
            Some(pairs) if radix4 => ("Fr_ntt_first_radix4", pairs, n / 4),
            Some(pairs) => ("Fr_ntt_first_shoup", pairs, n / 2),
        };
        dev.launch(
            first,
            first_threads,
            &[
                Arg::Buf(buf),
                Arg::Buf(work),
                Arg::Buf(first_table),
                Arg::U32(log_n),
            ],
        )?;
        Trace::mark(dev, trace, "first pass")?;
        let mut s = log_block;
        for k in strided_passes(log_n, log_block) {
            let dst = if s + k == log_n { buf } else { work };
            let mut args = vec![Arg::Buf(work), Arg::Buf(dst), Arg::Buf(&table)];
            // The sets passes take the Shoup pairs after the table.
            let (kernel, threads) = match &shoup {
                Some(pairs) if product != TwiddleProduct::ShoupFirst => {
                    args.push(Arg::Buf(pairs.as_ref()));
                    if radix4 && k >= 4 {
                        ("Fr_ntt_sets_radix4", n / 4)
                    } else {
                        ("Fr_ntt_sets_shoup", n / 2)
                    }
                }
                _ => ("Fr_ntt_strided", n / 2),
            };
            args.extend([Arg::U32(log_n), Arg::U32(s), Arg::U32(k)]);
            dev.launch(kernel, threads, &args)?;
            s += k;
            Trace::mark(dev, trace, "strided pass")?;
        }
    }
    Ok(())
}

/// Rounds per `Fr_ntt_strided` pass for the rounds after the first `log_block`: as few
/// passes as allow at most `log_block - 1` rounds each (so every work-group reads runs of at
/// least two neighbours), with the rounds spread evenly over them.
fn strided_passes(log_n: u32, log_block: u32) -> Vec<u32> {
    let rounds = log_n.saturating_sub(log_block);
    let max_k = log_block.saturating_sub(1).max(1);
    let passes = rounds.div_ceil(max_k);
    (0..passes)
        .map(|p| rounds / passes + u32::from(p < rounds % passes))
        .collect()
}

/// a[i] *= c * g^i, through the tables of [`scale_tables`].
fn scale<D: Device>(dev: &D, buf: &D::Buffer, log_n: u32, c: Fr, g: Fr) -> Result<()> {
    let (k, lo, hi) = scale_tables(log_n, c, g);
    let lo = dev.upload(&fr_words(&lo))?;
    let hi = dev.upload(&fr_words(&hi))?;
    dev.launch(
        "Fr_scale",
        1 << log_n,
        &[Arg::Buf(buf), Arg::Buf(&lo), Arg::Buf(&hi), Arg::U32(k)],
    )
}

/// `(k, lo, hi)` with `lo[j] = g^j` for `j < 2^k` and `hi[j] = c * g^(j 2^k)` for
/// `j < 2^(log_n - k)`, so that `c * g^i = lo[i mod 2^k] * hi[i >> k]`: about 2 sqrt(n)
/// host products and uploads instead of a power per element on the device.
fn scale_tables(log_n: u32, c: Fr, g: Fr) -> (u32, Vec<Fr>, Vec<Fr>) {
    let k = log_n.div_ceil(2);
    let lo = powers(Fr::one(), g, 1 << k);
    let g_k = g.pow([1u64 << k]);
    let hi = powers(c, g_k, 1 << (log_n - k));
    (k, lo, hi)
}

/// Uploads each vector, applies `passes` (inverse?, coset) in order on the device, and
/// downloads the result.
pub fn run<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    data: &mut [&mut [Fr]],
    passes: &[(bool, Option<Fr>)],
) -> Result<()> {
    for v in data.iter_mut() {
        let n = v.len();
        if n <= 1 {
            continue;
        }
        let log_n = n.trailing_zeros();
        let buf = dev.upload(&fr_words(v))?;
        transforms(dev, twiddles, &buf, log_n, passes)?;
        download_in_place(dev, &buf, v)?;
    }
    Ok(())
}

/// A Groth16 quotient's numerator on the coset (`Ntt::coset_quotient_unchecked`) with the
/// three vectors on the device: `a` and `b` go up, `c = a ∘ b` is made there, all three
/// take the inverse and coset transforms, and only `a · b - c` comes back, into `a`. `b`
/// is not touched. Vectors of fewer than 2 elements are the caller's.
pub fn coset_quotient<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    a: &mut [Fr],
    b: &[Fr],
    coset: Fr,
) -> Result<()> {
    let h = quotient_on_device(dev, twiddles, a, b, coset)?;
    download_in_place(dev, &h, a)
}

/// [`coset_quotient`] without the download: the quotient stays in the returned device
/// buffer (for the H MSM, `GpuBackend::quotient_msm_unchecked`).
pub fn quotient_on_device<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    a: &[Fr],
    b: &[Fr],
    coset: Fr,
) -> Result<D::Buffer> {
    let n = a.len();
    if n < 2 || b.len() != n {
        return Err(GpuError::InvalidInput(format!(
            "quotient of vectors of {n} and {} elements",
            b.len()
        )));
    }
    let log_n = n.trailing_zeros();
    let buf_a = dev.upload(&fr_words(a))?;
    let buf_b = dev.upload(&fr_words(b))?;
    let buf_c = dev.alloc_uninit(n * FIELD_WORDS)?;
    dev.launch(
        "Fr_product",
        n,
        &[Arg::Buf(&buf_c), Arg::Buf(&buf_a), Arg::Buf(&buf_b)],
    )?;
    for buf in [&buf_a, &buf_b, &buf_c] {
        transforms(
            dev,
            twiddles,
            buf,
            log_n,
            &[(true, None), (false, Some(coset))],
        )?;
    }
    dev.launch(
        "Fr_product_sub",
        n,
        &[Arg::Buf(&buf_a), Arg::Buf(&buf_b), Arg::Buf(&buf_c)],
    )?;
    Ok(buf_a)
}

/// Downloads `buf` over `v`. A failure there must not look like "out of memory", which
/// sends the (now partly overwritten) vector to the CPU fallback.
fn download_in_place<D: Device>(dev: &D, buf: &D::Buffer, v: &mut [Fr]) -> Result<()> {
    download_fr(dev, buf, v).map_err(|e| match e {
        GpuError::OutOfMemory {
            backend,
            device,
            call,
            code,
            ..
        } => GpuError::Driver {
            backend,
            device,
            call,
            code,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::bigint_from_words;
    use ark_ff::UniformRand;

    #[test]
    fn strided_passes_cover_every_round_in_few_even_passes() {
        assert_eq!(strided_passes(24, 9), vec![8, 7]);
        assert_eq!(strided_passes(9, 9), Vec::<u32>::new());
        assert_eq!(strided_passes(10, 9), vec![1]);
        assert_eq!(strided_passes(20, 7), vec![5, 4, 4]);
        for log_block in 2..10 {
            for log_n in log_block..=28 {
                let ks = strided_passes(log_n, log_block);
                assert_eq!(ks.iter().sum::<u32>(), log_n - log_block);
                assert!(ks.iter().all(|&k| k >= 1 && k < log_block));
                let lo = ks.iter().min().copied().unwrap_or(0);
                assert!(ks.iter().all(|&k| k - lo <= 1), "{ks:?}");
            }
        }
    }

    /// w 2^256 = w' p + (w 2^256 mod p) exactly, with the remainder below p: w' is
    /// floor(w 2^256 / p). Checked on 512-bit integers built from the limbs.
    #[test]
    fn shoup_multipliers_are_the_quotients_of_w_times_2_to_the_256_by_p() {
        let mut rng = ark_std::test_rng();
        let mut samples = vec![Fr::from(0u64), Fr::one(), -Fr::one(), Fr::from(2u64)];
        samples.extend((0..200).map(|_| Fr::rand(&mut rng)));
        for w in samples {
            let (plain, shoup) = shoup_pair(w);
            let (plain, shoup) = (bigint_from_words(&plain).0, bigint_from_words(&shoup).0);
            assert_eq!(plain, w.into_bigint().0);
            // shoup p + M, as eight 64-bit words.
            let p = Fr::MODULUS.0;
            let mut sum = [0u64; 8];
            for i in 0..4 {
                let mut carry = 0u128;
                for j in 0..4 {
                    let t = sum[i + j] as u128 + shoup[i] as u128 * p[j] as u128 + carry;
                    sum[i + j] = t as u64;
                    carry = t >> 64;
                }
                sum[i + 4] = carry as u64;
            }
            let mut carry = 0u128;
            for (k, m) in w.0 .0.iter().enumerate() {
                let t = sum[k] as u128 + *m as u128 + carry;
                sum[k] = t as u64;
                carry = t >> 64;
            }
            for s in &mut sum[4..] {
                let t = *s as u128 + carry;
                *s = t as u64;
                carry = t >> 64;
            }
            assert_eq!(sum[..4], [0; 4], "{w}");
            assert_eq!(sum[4..], plain, "{w}");
        }
    }

    /// The pairs of [`shoup_short_quotient_pairs`] do make the device's truncated quotient
    /// (the limb products with i + j >= 7 and the high words of those with i + j = 6) one
    /// less than the exact one.
    #[test]
    fn short_quotient_pairs_are_short() {
        let pairs = shoup_short_quotient_pairs();
        assert!(!pairs.is_empty());
        for (v, w) in pairs {
            assert!(v.0 < Fr::MODULUS);
            let v32 = bigint_words(&v.0);
            let (_, ws) = shoup_pair(w);
            // The limb products' low and high words, each where it sits at word min or
            // above.
            let product = |min: usize| {
                let mut t = [0u64; 2 * FIELD_WORDS + 1];
                for i in 0..FIELD_WORDS {
                    for j in 0..FIELD_WORDS {
                        let x = v32[i] as u64 * ws[j] as u64;
                        if i + j >= min {
                            t[i + j] += x & 0xffff_ffff;
                        }
                        if i + j + 1 >= min {
                            t[i + j + 1] += x >> 32;
                        }
                    }
                }
                for k in 0..2 * FIELD_WORDS {
                    t[k + 1] += t[k] >> 32;
                    t[k] &= 0xffff_ffff;
                }
                t[FIELD_WORDS..2 * FIELD_WORDS].to_vec()
            };
            let (exact, truncated) = (product(0), product(FIELD_WORDS - 1));
            assert_ne!(exact, truncated);
            // truncated + 1 == exact, on the high halves' words.
            let mut plus_one = truncated.clone();
            for word in plus_one.iter_mut() {
                *word += 1;
                if *word <= 0xffff_ffff {
                    break;
                }
                *word = 0;
            }
            assert_eq!(plus_one, exact);
        }
    }

    #[test]
    fn twiddle_products_are_parsed_or_refused_by_name() {
        let parse = |v: Option<&str>| TwiddleProduct::parse(v.map(std::ffi::OsStr::new));
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some("auto")), Ok(None));
        assert_eq!(
            parse(Some("montgomery")),
            Ok(Some(TwiddleProduct::Montgomery))
        );
        assert_eq!(
            parse(Some("shoup-first")),
            Ok(Some(TwiddleProduct::ShoupFirst))
        );
        assert_eq!(parse(Some("shoup")), Ok(Some(TwiddleProduct::Shoup)));
        assert_eq!(
            parse(Some("shoup-radix4")),
            Ok(Some(TwiddleProduct::ShoupRadix4))
        );
        for bad in ["fast", "Shoup", ""] {
            let err = parse(Some(bad)).expect_err("unknown value");
            assert!(
                err.contains(TWIDDLES_ENV)
                    && err
                        .contains("expected auto, montgomery, shoup-first, shoup or shoup-radix4"),
                "{err}"
            );
        }
    }

    #[test]
    fn timing_picks_the_lowest_time_and_the_default_when_it_failed() {
        use TwiddleProduct::*;
        let timed = |ms: [f64; 4]| TwiddleTiming::Timed {
            log_n: 22,
            best_ms: TwiddleProduct::ALL.into_iter().zip(ms).collect(),
            took_ms: 23.4,
        };
        assert_eq!(timed([1.0, 0.9, 0.95, 0.96]).fastest(), ShoupFirst);
        assert_eq!(timed([1.0, 1.1, 0.95, 0.96]).fastest(), Shoup);
        assert_eq!(timed([0.8, 1.1, 0.95, 0.96]).fastest(), Montgomery);
        assert_eq!(timed([1.0, 1.1, 0.95, 0.94]).fastest(), ShoupRadix4);
        let failed = TwiddleTiming::Failed("out of memory".into());
        assert_eq!(failed.fastest(), Montgomery);
        assert_eq!(
            timed([1.0, 1.1, 0.95, 0.96]).summary(),
            "NTT twiddle product timed at 2^22: montgomery 1.000 ms, shoup-first 1.100 ms, \
             shoup 0.950 ms, shoup-radix4 0.960 ms -> shoup (timing took 23 ms)"
        );
        assert!(failed
            .summary()
            .contains("not timed (out of memory) -> montgomery"));
    }

    #[test]
    fn powers_in_chunks_equal_the_sequential_powers() {
        let mut rng = ark_std::test_rng();
        let (start, step) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        for len in [0usize, 1, 2, 7, 31, 33] {
            let want: Vec<Fr> = std::iter::successors(Some(start), |x| Some(*x * step))
                .take(len)
                .collect();
            for chunk in [1, 3, 8, 32, 64] {
                assert_eq!(
                    powers_in_chunks(start, step, len, chunk),
                    want,
                    "{len} in chunks of {chunk}"
                );
            }
            assert_eq!(powers(start, step, len), want, "{len}");
        }
    }

    #[test]
    fn scale_tables_give_c_times_g_to_the_i() {
        let mut rng = ark_std::test_rng();
        let (c, g) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        for log_n in 0..8u32 {
            let (k, lo, hi) = scale_tables(log_n, c, g);
            for i in 0..1usize << log_n {
                let want = c * g.pow([i as u64]);
                assert_eq!(
                    lo[i & ((1 << k) - 1)] * hi[i >> k],
                    want,
                    "2^{log_n}, i = {i}"
                );
            }
        }
    }
}
