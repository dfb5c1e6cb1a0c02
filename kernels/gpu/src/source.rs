//! The kernel source: one tree of C files (`src/cl/`) compiled as CUDA or OpenCL C, with
//! the field constants generated here from the arkworks types instead of typed by hand.

use ark_ff::{BigInteger, Field, PrimeField};
use sha2::{Digest, Sha256};

/// Which compiler will read the source. The text differs only in a leading comment: the
/// dialect itself is chosen by the compilers' own macros (`__CUDACC__`) in `common.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Cuda,
    OpenCl,
}

/// Threads per work-group (OpenCL) and per block (CUDA): the drivers launch with these and
/// the source's `GROUP` (local-memory NTT block size) is defined from them.
pub const OPENCL_GROUP: usize = 64;
pub const CUDA_GROUP: usize = 256;

/// 32-bit limbs per field element: BN254's Fq and Fr both fit in 256 bits.
pub const LIMBS: usize = 8;

const COMMON: &str = include_str!("cl/common.h");
const FIELD: &str = include_str!("cl/field.h");
const FQ2: &str = include_str!("cl/fq2.h");
const EC: &str = include_str!("cl/ec.h");
const MSM: &str = include_str!("cl/msm.h");
const NTT: &str = include_str!("cl/ntt.h");
const NTT_PASS: &str = include_str!("cl/ntt_pass.h");
const NTT_RADIX4: &str = include_str!("cl/ntt_radix4.h");
const DIGITS: &str = include_str!("cl/digits.h");
const SEGMENTS: &str = include_str!("cl/segments.h");

/// The environment variable that picks the Montgomery product's formulation (`field.h`):
/// `cios`, `nocarry` or, on CUDA only, `chains`. All are exact; which is faster is the
/// card's to say, so an A/B run needs no rebuild. Unset: `chains` on CUDA (1.6x faster MSM
/// on an H200, bench/NOTES.md section 21), `cios` on OpenCL (which cannot take PTX).
pub const FIELD_PRODUCT_ENV: &str = "APPLIANCE_GPU_FIELD_PRODUCT";

/// The formulations of the Montgomery product in `field.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldProduct {
    /// Coarsely integrated operand scanning with two extra words of carry.
    Cios,
    /// The product and the reduction in one loop with no extra word: valid when the
    /// modulus' top word is below 2^31 - 1, as both BN254 moduli's are.
    NoCarry,
    /// CIOS on PTX carry chains, one IMAD.WIDE.U32 per 32x32-bit product: CUDA only (PTX
    /// inline assembly), so OpenCL refuses it.
    Chains,
}

impl FieldProduct {
    /// The choice of [`FIELD_PRODUCT_ENV`] for kernels built for `dialect`: unset is
    /// [`Self::default_for`]; an unknown value, or `chains` for OpenCL, is an error. Read
    /// once, where a device builds its kernels, which then names the product (see
    /// [`Self::label`]).
    pub fn for_dialect(dialect: Dialect) -> crate::Result<Self> {
        let product = match std::env::var_os(FIELD_PRODUCT_ENV) {
            None => Self::default_for(dialect),
            Some(v) if v == "cios" => Self::Cios,
            Some(v) if v == "nocarry" => Self::NoCarry,
            Some(v) if v == "chains" => Self::Chains,
            Some(v) => {
                return Err(crate::GpuError::InvalidInput(format!(
                    "{FIELD_PRODUCT_ENV}={v:?}: expected cios, nocarry or chains"
                )))
            }
        };
        if product == Self::Chains && dialect == Dialect::OpenCl {
            return Err(crate::GpuError::InvalidInput(format!(
                "{FIELD_PRODUCT_ENV}=chains is PTX assembly for CUDA only: use cios or nocarry with OpenCL"
            )));
        }
        Ok(product)
    }

    /// The product used when [`FIELD_PRODUCT_ENV`] is unset: the fastest measured on a
    /// card for CUDA, the portable CIOS for OpenCL.
    pub fn default_for(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Cuda => Self::Chains,
            Dialect::OpenCl => Self::Cios,
        }
    }

    /// What a device's name says after it, so that every figure names its product (the
    /// defaults too: they change as cards are measured).
    pub fn label(self) -> &'static str {
        match self {
            Self::Cios => " [CIOS field product]",
            Self::NoCarry => " [no-carry field product]",
            Self::Chains => " [carry-chain field product]",
        }
    }
}

/// The complete kernel source for `dialect`, with the field product `product`.
pub fn kernel_source(dialect: Dialect, product: FieldProduct) -> String {
    let group = match dialect {
        Dialect::Cuda => CUDA_GROUP,
        Dialect::OpenCl => OPENCL_GROUP,
    };
    kernel_source_for_group(dialect, product, group)
}

/// [`kernel_source`] for work-groups of `group` threads (a power of two, 64 or more) instead
/// of the dialect's own: the tests build the OpenCL source with CUDA's 256, so that the
/// index arithmetic the CUDA build runs with also runs on a CPU device.
pub fn kernel_source_for_group(dialect: Dialect, product: FieldProduct, group: usize) -> String {
    let mut s = String::new();
    s.push_str(match dialect {
        Dialect::Cuda => "// appliance GPU kernels, CUDA flavour\n",
        Dialect::OpenCl => "// appliance GPU kernels, OpenCL C flavour\n",
    });
    s.push_str(COMMON);
    match product {
        FieldProduct::Cios => {}
        FieldProduct::NoCarry => s.push_str("#define MUL_NOCARRY 1\n"),
        FieldProduct::Chains => s.push_str("#define MUL_CHAINS 1\n"),
    }
    let log_2group = group.trailing_zeros() + 1;
    s.push_str(&format!(
        "#define LIMBS {LIMBS}\n#define GROUP {group}\n#define LOG_2GROUP {log_2group}\n#define SCAN_ITEMS {}\n",
        crate::segments::SCAN_ITEMS
    ));
    s.push_str(&field_constants::<ark_bn254::Fq>("Fq"));
    s.push_str(&field_constants::<ark_bn254::Fr>("Fr"));
    s.push_str(&FIELD.replace("FIELD", "Fq"));
    s.push_str(&FIELD.replace("FIELD", "Fr"));
    s.push_str(FQ2);
    // The products the point formulas use (ec.h): inlined for G1, called for G2.
    s.push_str(
        "#define Fq_mul_ec Fq_mul_inline\n#define Fq_sqr_ec Fq_sqr_inline\n#define Fq_mul_sum_ec Fq_mul_sum_inline\n",
    );
    s.push_str(
        "#define Fq2_mul_ec Fq2_mul\n#define Fq2_sqr_ec Fq2_sqr\n#define Fq2_mul_sum_ec Fq2_mul_sum\n",
    );
    for (point, field) in [("G1", "Fq"), ("G2", "Fq2")] {
        let instantiate = |t: &str| t.replace("POINT", point).replace("FIELD", field);
        s.push_str(&instantiate(EC));
        s.push_str(&instantiate(MSM));
    }
    s.push_str(NTT);
    // The passes with local-memory twiddles (ntt_pass.h): the first pass with each twiddle
    // product, and the sets pass with Shoup's.
    for (name, sets, shoup, blocks) in [
        ("Fr_ntt_first", 0, 0, "NTT_BLOCKS"),
        ("Fr_ntt_first_shoup", 0, 1, "NTT_SHOUP_BLOCKS"),
        ("Fr_ntt_sets_shoup", 1, 1, "NTT_SHOUP_BLOCKS"),
    ] {
        s.push_str(&format!(
            "#define PASS_NAME {name}\n#define PASS_SETS {sets}\n#define PASS_SHOUP {shoup}\n#define PASS_BLOCKS {blocks}\n"
        ));
        s.push_str(NTT_PASS);
        s.push_str("#undef PASS_NAME\n#undef PASS_SETS\n#undef PASS_SHOUP\n#undef PASS_BLOCKS\n");
    }
    // The same Shoup passes with two rounds per local-memory exchange (ntt_radix4.h).
    for (name, sets) in [("Fr_ntt_first_radix4", 0), ("Fr_ntt_sets_radix4", 1)] {
        s.push_str(&format!("#define R4_NAME {name}\n#define R4_SETS {sets}\n"));
        s.push_str(NTT_RADIX4);
        s.push_str("#undef R4_NAME\n#undef R4_SETS\n");
    }
    s.push_str(DIGITS);
    s.push_str(SEGMENTS);
    s
}

/// SHA-256 of the source and the compiler options: the key of compiled-kernel caches.
pub fn cache_key(source: &str, options: &str) -> String {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update([0u8]);
    h.update(options.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `#define`s for the field's modulus, its Montgomery one (R mod p) and
/// -p^-1 mod 2^32, all derived from `F`'s arkworks definition.
fn field_constants<F: PrimeField>(name: &str) -> String {
    let modulus = limbs32(&F::MODULUS.to_bytes_le());
    // The internal (Montgomery) representation of one is R mod p.
    let one_mont = limbs32(&montgomery_repr(F::ONE));
    let inv = neg_inverse_mod_2_32(modulus[0]);
    // p - 2, the exponent of Fermat inversion.
    let mut p_minus_2 = F::MODULUS;
    p_minus_2.sub_with_borrow(&F::BigInt::from(2u64));
    let mut s = format!(
        "#define {name}_P_LIMBS {{{}}}\n#define {name}_ONE_LIMBS {{{}}}\n#define {name}_INV 0x{inv:08x}u\n#define {name}_PM2_LIMBS {{{}}}\n",
        hex_list(&modulus),
        hex_list(&one_mont),
        hex_list(&limbs32(&p_minus_2.to_bytes_le()))
    );
    if let Some(shift) = neg_low_limb_shift(modulus[0]) {
        s.push_str(&format!("#define {name}_NP0_SHIFT {shift}\n"));
    }
    s
}

/// s when -p mod 2^32 is 2^s - 1 (BN254's Fr: p = 0x..f0000001, s = 28): a product by that
/// word is a shift and a subtraction. The twiddle product (ntt.h) is written for Fr with
/// this property, and its source stops with an `#error` without it.
fn neg_low_limb_shift(p0: u32) -> Option<u32> {
    let np0 = p0.wrapping_neg();
    let shift = 32 - np0.leading_zeros();
    (np0 != 0 && shift < 32 && np0 == (1u32 << shift) - 1).then_some(shift)
}

/// The bytes of `x`'s Montgomery representation, little endian: what arkworks stores and
/// what the device computes with.
fn montgomery_repr<F: PrimeField>(x: F) -> Vec<u8> {
    // x * R as an integer is the Montgomery form of x; `into_bigint` undoes one factor R,
    // so x's representation is into_bigint(x * R) where R = 2^256 mod p. Computing it this
    // way keeps us on the public API.
    let r = F::from_le_bytes_mod_order(&{
        let mut b = vec![0u8; 33];
        b[32] = 1;
        b
    });
    (x * r).into_bigint().to_bytes_le()
}

/// Little-endian bytes to `LIMBS` 32-bit limbs (zero padded).
pub(crate) fn limbs32(bytes: &[u8]) -> [u32; LIMBS] {
    let mut out = [0u32; LIMBS];
    for (i, chunk) in bytes.chunks(4).take(LIMBS).enumerate() {
        let mut w = [0u8; 4];
        w[..chunk.len()].copy_from_slice(chunk);
        out[i] = u32::from_le_bytes(w);
    }
    out
}

fn hex_list(limbs: &[u32]) -> String {
    limbs
        .iter()
        .map(|l| format!("0x{l:08x}u"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// -p^-1 mod 2^32 by Newton's iteration (each step doubles the correct low bits).
fn neg_inverse_mod_2_32(p0: u32) -> u32 {
    let mut inv: u32 = 1;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(p0.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

/// Keeps `Field` in use for the doc links above without a warning in some feature sets.
#[allow(dead_code)]
fn _assert_field<F: Field>() {}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::MontConfig;

    #[test]
    fn generated_constants_match_arkworks_montgomery_parameters() {
        let fq_inv = <ark_bn254::FqConfig as MontConfig<4>>::INV as u32;
        let p = limbs32(&ark_bn254::Fq::MODULUS.to_bytes_le());
        assert_eq!(neg_inverse_mod_2_32(p[0]), fq_inv);
        let r = <ark_bn254::FqConfig as MontConfig<4>>::R.to_bytes_le();
        assert_eq!(montgomery_repr(ark_bn254::Fq::ONE), r);
        let fr_r = <ark_bn254::FrConfig as MontConfig<4>>::R.to_bytes_le();
        assert_eq!(montgomery_repr(ark_bn254::Fr::ONE), fr_r);
    }

    #[test]
    fn low_limb_shift_only_where_minus_p_ends_in_a_power_of_two_minus_one() {
        let fr = limbs32(&ark_bn254::Fr::MODULUS.to_bytes_le());
        assert_eq!(neg_low_limb_shift(fr[0]), Some(28));
        assert!(kernel_source(Dialect::OpenCl, FieldProduct::Cios)
            .contains("#define Fr_NP0_SHIFT 28\n"));
        let fq = limbs32(&ark_bn254::Fq::MODULUS.to_bytes_le());
        assert_eq!(neg_low_limb_shift(fq[0]), None);
        assert_eq!(neg_low_limb_shift(1), None);
        assert_eq!(neg_low_limb_shift(0xffff_ffff), Some(1));
        assert_eq!(neg_low_limb_shift(0x8000_0001), Some(31));
    }

    #[test]
    fn source_instantiates_every_template() {
        let s = kernel_source(Dialect::OpenCl, FieldProduct::Cios);
        for name in [
            "G1_sum_chunks",
            "G2_sum_points",
            "G2_reduce_buckets",
            "G2_sum_groups",
            "Fr_butterfly",
            "Fr_ntt_first",
            "Fr_ntt_first_shoup",
            "Fr_ntt_sets_shoup",
            "Fr_ntt_first_radix4",
            "Fr_ntt_sets_radix4",
            "Fr_twiddle_selftest",
            "Fq_selftest",
            "Fr_selftest",
            "Fq2_selftest",
            "msm_digits",
            "msm_scatter",
            "msm_carry_runs",
            "scan_blocks",
            "layout_segments",
        ] {
            assert!(s.contains(name), "missing {name}");
        }
        assert!(!s.contains("POINT") && !s.contains("FIELD"));
        assert_ne!(cache_key(&s, "a"), cache_key(&s, "b"));
        let no_carry = kernel_source(Dialect::OpenCl, FieldProduct::NoCarry);
        assert!(no_carry.contains("#define MUL_NOCARRY") && !s.contains("#define MUL_NOCARRY"));
        assert_ne!(cache_key(&s, ""), cache_key(&no_carry, ""));
        let chains = kernel_source(Dialect::Cuda, FieldProduct::Chains);
        assert!(chains.contains("#define MUL_CHAINS") && !s.contains("#define MUL_CHAINS"));
        assert_ne!(cache_key(&chains, ""), cache_key(&no_carry, ""));
    }

    /// `// ...` and `/* ... */` comments removed, so that the scan below reads code only.
    fn without_comments(src: &str) -> String {
        let mut out = String::with_capacity(src.len());
        let mut rest = src;
        while let Some(i) = rest.find('/') {
            out.push_str(&rest[..i]);
            let after = &rest[i..];
            if after.starts_with("//") {
                rest = after.find('\n').map_or("", |e| &after[e..]);
            } else if after.starts_with("/*") {
                rest = after.find("*/").map_or("", |e| &after[e + 2..]);
            } else {
                out.push('/');
                rest = &after[1..];
            }
        }
        out.push_str(rest);
        out
    }

    fn is_ident(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '_'
    }

    /// The arguments a macro of the kernels writes besides its first. Macros are not
    /// expanded, so the scan reads their calls: it takes every macro's first argument as
    /// written (the `CHAIN_*` outputs are), which only over-reports for the others.
    fn macro_writes(macro_name: &str) -> &'static [usize] {
        match macro_name {
            "SH_GET" => &[2],
            "REG_BUTTERFLY" => &[1],
            _ => &[],
        }
    }

    /// Whether a macro call in `body` has `name` as an argument it writes: the first
    /// argument of any upper-case macro, and those of [`macro_writes`].
    fn macro_writes_to(body: &str, name: &str) -> bool {
        let mut from = 0;
        while let Some(open) = body[from..].find('(').map(|i| i + from) {
            from = open + 1;
            let callee = body[..open]
                .rsplit(|c: char| !is_ident(c))
                .next()
                .unwrap_or("");
            let is_macro = callee.len() > 1
                && callee
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !is_macro {
                continue;
            }
            let (mut depth, mut args, mut start) = (0i32, Vec::new(), open + 1);
            for (i, c) in body[open..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 1 => {
                        args.push(&body[start..open + i]);
                        break;
                    }
                    ')' => depth -= 1,
                    ',' if depth == 1 => {
                        args.push(&body[start..open + i]);
                        start = open + i + 1;
                    }
                    _ => {}
                }
            }
            for &k in std::iter::once(&0).chain(macro_writes(callee)) {
                let arg = args
                    .get(k)
                    .map_or("", |a| a.trim_start_matches(['(', '&', ' ']));
                if arg.starts_with(name) && !arg[name.len()..].starts_with(is_ident) {
                    return true;
                }
            }
        }
        false
    }

    /// Whether `body` assigns to `name` or to a part of it (`name.x =`, `(name).v[i] +=`,
    /// `++name`), takes its address, or hands it to a macro that writes it.
    fn assigns_to(body: &str, name: &str) -> bool {
        if macro_writes_to(body, name) {
            return true;
        }
        let b = body.as_bytes();
        let mut from = 0;
        while let Some(at) = body[from..].find(name).map(|i| i + from) {
            from = at + name.len();
            let whole = !body[..at].ends_with(is_ident)
                && !body[..at].ends_with('.')
                && !body[from..].starts_with(is_ident);
            if !whole {
                continue;
            }
            // `(name)`, as the macros write their arguments, reads as `name`.
            let mut before = body[..at].trim_end();
            if let (Some(inner), true) = (before.strip_suffix('('), body[from..].starts_with(')')) {
                before = inner.trim_end();
                from += 1;
            }
            if before.ends_with("++")
                || before.ends_with("--")
                || before.ends_with('&') && !before.ends_with("&&")
            {
                return true;
            }
            // Skip `.member` and `[index]` accessors, then look at the operator.
            let mut i = from;
            loop {
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < b.len() && b[i] == b'.' {
                    i += 1;
                    while i < b.len() && is_ident(b[i] as char) {
                        i += 1;
                    }
                } else if i < b.len() && b[i] == b'[' {
                    let mut depth = 0;
                    while i < b.len() {
                        depth += match b[i] {
                            b'[' => 1,
                            b']' => -1,
                            _ => 0,
                        };
                        i += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                } else {
                    break;
                }
            }
            let op = &body[i..];
            let assigns = [
                "+=", "-=", "*=", "/=", "|=", "&=", "^=", "<<=", ">>=", "++", "--",
            ]
            .iter()
            .any(|o| op.starts_with(o))
                || op.starts_with('=') && !op.starts_with("==");
            if assigns {
                return true;
            }
        }
        false
    }

    /// The number of function definitions read, and those that assign to a struct
    /// parameter (passed by value), as `name(param)`. Mesa's rusticl (22.3) passes structs
    /// by reference without the copy C requires, so such an assignment changes the caller's
    /// variable there (fq2.h). CI runs the NTT and field kernels on rusticl, but not the
    /// MSMs (llvmpipe takes minutes per MSM kernel): this scan covers every function of
    /// both dialects.
    fn parameter_assignments(src: &str) -> (usize, Vec<String>) {
        const SCALARS: [&str; 6] = ["u32", "u64", "int", "bool", "uint", "ulong"];
        let src = without_comments(src);
        let mut found = Vec::new();
        let mut functions = 0;
        let mut offset = 0;
        for line in src.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let head = line.trim_start();
            if !["DEVICE", "KERNEL"].iter().any(|k| head.starts_with(k)) {
                continue;
            }
            let rest = &src[start..];
            let (Some(open), Some(brace), Some(semi)) =
                (rest.find('('), rest.find('{'), rest.find(';'))
            else {
                continue;
            };
            if semi < brace || open > brace {
                continue; // a declaration or a macro, not a definition
            }
            let name = rest[..open]
                .split_whitespace()
                .last()
                .unwrap_or("")
                .to_string();
            let Some(close) = rest[..brace].rfind(')') else {
                continue;
            };
            let mut depth = 0usize;
            let mut end = brace;
            for (i, c) in rest[brace..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = brace + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let body = &rest[brace + 1..end];
            functions += 1;
            for param in rest[open + 1..close].split(',') {
                let words: Vec<&str> = param.split_whitespace().collect();
                let [.., ty, var] = words[..] else { continue };
                if param.contains('*') || SCALARS.contains(&ty) {
                    continue;
                }
                if assigns_to(body, var) {
                    found.push(format!("{name}({var})"));
                }
            }
        }
        (functions, found)
    }

    #[test]
    fn no_function_assigns_to_a_struct_parameter() {
        for (dialect, product) in [
            (Dialect::OpenCl, FieldProduct::Cios),
            (Dialect::OpenCl, FieldProduct::NoCarry),
            (Dialect::Cuda, FieldProduct::Chains),
        ] {
            let (functions, found) = parameter_assignments(&kernel_source(dialect, product));
            assert!(found.is_empty(), "{dialect:?} {product:?}: {found:?}");
            assert!(functions > 100, "only {functions} functions read");
        }
        // The scan finds what it looks for.
        let bad = "DEVICE Fq2 f(Fq2 a, u32 k) {\n    a.c0.v[k] = 0;\n    return a;\n}\n\
                   DEVICE Fq g(Fq a, Fq b) { b = a; return b; }\n\
                   DEVICE Fq h(Fq a) { Fq r = a; r.v[0] += 1; return r; }\n\
                   KERNEL void k(GLOBAL Fq *x, Fq y) { if (y.v[0] == 1) x[0] = y; }\n";
        assert_eq!(
            parameter_assignments(bad),
            (4, vec!["f(a)".into(), "g(b)".into()])
        );
        let worse = "DEVICE void p(Fq a) { ++a.v[0]; }\n\
                     DEVICE void q(Fq a) { Fq_sub_raw(&a, a, a); }\n\
                     DEVICE void r(Fq a) { (a).v[1] = 0; }\n\
                     DEVICE void s(Fq a, Fq b) { SH_GET(sh, 3, b); }\n\
                     DEVICE void t(Fr a, Fr b) { REG_BUTTERFLY(x, b, 1); }\n\
                     DEVICE void u(Fq a, Fq b) { CHAIN_ADD8(a.v, b.v, b.v, c); }\n\
                     DEVICE void v(Fq a, Fq b) { SH_SET(sh, 0, a); CHAIN_ADD8(r.v, a.v, b.v, c); }\n";
        let (_, found) = parameter_assignments(worse);
        assert_eq!(found, ["p(a)", "q(a)", "r(a)", "s(b)", "t(b)", "u(a)"]);
    }

    /// CUDA defaults to the product measured fastest on a card; OpenCL cannot take PTX.
    #[test]
    fn defaults_are_chains_on_cuda_and_cios_on_opencl() {
        assert_eq!(
            FieldProduct::default_for(Dialect::Cuda),
            FieldProduct::Chains
        );
        assert_eq!(
            FieldProduct::default_for(Dialect::OpenCl),
            FieldProduct::Cios
        );
    }

    /// The no-carry product keeps no word above the top one: its last carry must fit in
    /// 32 bits, which holds when the modulus' top word is below 2^31 - 1.
    #[test]
    fn both_moduli_allow_the_no_carry_product() {
        for top in [
            limbs32(&ark_bn254::Fq::MODULUS.to_bytes_le())[LIMBS - 1],
            limbs32(&ark_bn254::Fr::MODULUS.to_bytes_le())[LIMBS - 1],
        ] {
            assert!(top < 0x7fff_ffff, "{top:#x}");
        }
    }
}
