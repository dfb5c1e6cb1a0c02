//! Input JSON to field elements, with the semantics of circom's `witness_calculator.js`.
//!
//! snarkjs first "qualifies" the JSON (nested objects become dotted names, arrays of objects
//! become `name[i].field`), then flattens each remaining array in row-major order and converts
//! every leaf with JavaScript's `BigInt(x) % p`. Matching that exactly matters: a client that
//! tested its inputs with snarkjs must get the same witness, or the same refusal, here.

use std::collections::HashMap;

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use serde_json::{Number, Value};

use crate::error::{Result, WitnessError};

/// Largest integer that a JSON number keeps exactly in JavaScript (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Deeper nesting than this is refused rather than recursed into, so that a hand-built
/// `serde_json::Value` cannot overflow the stack.
const MAX_DEPTH: usize = 256;

/// Input signals by (qualified) name, each with its values flattened row-major.
///
/// Kept in the order they were given, as JavaScript keeps object keys: errors are reported
/// in snarkjs's order, and of two spellings of one signal (`"a.b"` and `"a": {"b"}`) the
/// later one wins, as it does there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    signals: Vec<(String, Vec<Fr>)>,
    /// Position of each name in `signals`: bus inputs can produce thousands of names.
    index: HashMap<String, usize>,
}

impl Inputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Same as [`parse_inputs`].
    pub fn from_json(json: &str) -> Result<Self> {
        parse_inputs(json)
    }

    /// Converts an already parsed JSON object. Numbers are subject to the exactness rule of
    /// [`parse_inputs`].
    pub fn from_value(value: &Value) -> Result<Self> {
        let Value::Object(map) = value else {
            return Err(WitnessError::InvalidJson(
                "the top level must be an object mapping signal names to values".into(),
            ));
        };
        let mut inputs = Inputs::new();
        for (key, v) in map {
            qualify(key, v, &mut inputs, 0)?;
        }
        Ok(inputs)
    }

    /// Sets a signal's values (flattened row-major), replacing any earlier ones, as a repeated
    /// key does in snarkjs.
    pub fn insert(&mut self, name: impl Into<String>, values: Vec<Fr>) {
        let name = name.into();
        match self.index.get(&name) {
            Some(&i) => self.signals[i].1 = values,
            None => {
                self.index.insert(name.clone(), self.signals.len());
                self.signals.push((name, values));
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&[Fr]> {
        self.index.get(name).map(|&i| self.signals[i].1.as_slice())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Fr])> {
        self.signals.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Number of signal names (not of values).
    pub fn len(&self) -> usize {
        self.signals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signals.is_empty()
    }
}

/// Parses an input JSON the way circom's `witness_calculator.js` does.
///
/// Accepted leaves, as JavaScript's `BigInt()` accepts them: integers as JSON numbers; strings
/// holding a decimal integer with optional sign, or `0x`/`0o`/`0b` prefixed hex/octal/binary
/// (no sign), surrounding whitespace ignored, the empty string meaning 0; `true`/`false` as 1/0.
/// Negative values are reduced mod p into `p - |x|`, large ones mod p. Nested arrays are
/// flattened row-major; nested objects qualify names as `a.b`, arrays of objects as `a[0].b`.
/// Arrays whose leaves mix JSON types are refused, as snarkjs refuses them.
///
/// JSON numbers are read as JavaScript reads them: as the nearest double, whose exact integer
/// value `BigInt` then takes (`1e18`, `2^64` written out, are exact doubles and accepted).
/// One deliberate difference: an integer literal of up to 64 bits that is not a double
/// (beyond 2^53, e.g. 2^53 + 1) is refused with a hint to quote it, because snarkjs silently
/// rounds it and would compute a witness for a different value than the one written. (Longer
/// literals reach this crate already rounded, as they reach snarkjs.) So any witness this
/// crate returns is the one snarkjs returns for the same file.
pub fn parse_inputs(json: &str) -> Result<Inputs> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| WitnessError::InvalidJson(e.to_string()))?;
    Inputs::from_value(&value)
}

/// JavaScript's `typeof` classes that snarkjs compares when it checks arrays.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JsType {
    Number,
    String,
    Boolean,
    Object,
}

fn js_type(v: &Value) -> JsType {
    match v {
        Value::Number(_) => JsType::Number,
        Value::String(_) => JsType::String,
        Value::Bool(_) => JsType::Boolean,
        // typeof null == "object" in JavaScript.
        Value::Null | Value::Object(_) | Value::Array(_) => JsType::Object,
    }
}

fn depth_error(prefix: &str) -> WitnessError {
    WitnessError::InvalidJson(format!(
        "input `{prefix}` is nested more than {MAX_DEPTH} levels deep"
    ))
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>, prefix: &str, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(depth_error(prefix));
    }
    match v {
        Value::Array(items) => {
            for item in items {
                flatten(item, out, prefix, depth + 1)?;
            }
        }
        leaf => out.push(leaf),
    }
    Ok(())
}

/// `qualify_input` of witness_calculator.js.
fn qualify(prefix: &str, v: &Value, inputs: &mut Inputs, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(depth_error(prefix));
    }
    match v {
        Value::Array(_) => {
            let mut flat = Vec::new();
            flatten(v, &mut flat, prefix, depth)?;
            let Some(first) = flat.first() else {
                inputs.insert(prefix, Vec::new());
                return Ok(());
            };
            let t = js_type(first);
            if flat.iter().any(|x| js_type(x) != t) {
                return Err(WitnessError::MixedTypes {
                    signal: prefix.to_string(),
                });
            }
            if t == JsType::Object {
                qualify_list(prefix, v, inputs, depth)
            } else {
                let values = flat
                    .iter()
                    .map(|leaf| leaf_to_fr(prefix, leaf))
                    .collect::<Result<Vec<_>>>()?;
                inputs.insert(prefix, values);
                Ok(())
            }
        }
        Value::Object(map) => {
            for (k, sub) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                qualify(&name, sub, inputs, depth + 1)?;
            }
            Ok(())
        }
        leaf => {
            let value = leaf_to_fr(prefix, leaf)?;
            inputs.insert(prefix, vec![value]);
            Ok(())
        }
    }
}

/// `qualify_input_list` of witness_calculator.js: arrays of objects (buses) get indexed names.
fn qualify_list(prefix: &str, v: &Value, inputs: &mut Inputs, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(depth_error(prefix));
    }
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                qualify_list(&format!("{prefix}[{i}]"), item, inputs, depth + 1)?;
            }
            Ok(())
        }
        other => qualify(prefix, other, inputs, depth + 1),
    }
}

fn invalid(signal: &str, leaf: &Value, reason: impl Into<String>) -> WitnessError {
    let mut value = leaf.to_string();
    if value.len() > 80 {
        let cut = (0..=80)
            .rev()
            .find(|&i| value.is_char_boundary(i))
            .unwrap_or(0);
        value.truncate(cut);
        value.push_str("...");
    }
    WitnessError::InvalidValue {
        signal: signal.to_string(),
        value,
        reason: reason.into(),
    }
}

/// `BigInt(leaf) % p`, normalised into [0, p).
fn leaf_to_fr(signal: &str, leaf: &Value) -> Result<Fr> {
    match leaf {
        Value::Bool(b) => Ok(if *b { Fr::ONE } else { Fr::ZERO }),
        Value::Number(n) => number_to_fr(n).map_err(|reason| invalid(signal, leaf, reason)),
        Value::String(s) => string_to_fr(s).map_err(|reason| invalid(signal, leaf, reason)),
        Value::Null => Err(invalid(signal, leaf, "null is not a number")),
        Value::Array(_) | Value::Object(_) => Err(invalid(signal, leaf, "not a number")),
    }
}

const INEXACT: &str = "this JSON number is beyond 2^53 and would be rounded by JavaScript \
                       (snarkjs would use a different value); write it as a decimal string";

fn number_to_fr(n: &Number) -> std::result::Result<Fr, &'static str> {
    if let Some(u) = n.as_u64() {
        // JSON.parse keeps the literal exactly iff it is a double; `u as f64` rounds to the
        // nearest double, and 2^64 itself would saturate back to u64::MAX, hence the bound.
        let d = u as f64;
        if u > MAX_SAFE_INTEGER && (d >= 18_446_744_073_709_551_616.0 || d as u64 != u) {
            return Err(INEXACT);
        }
        return Ok(Fr::from(u));
    }
    if let Some(i) = n.as_i64() {
        let mag = i.unsigned_abs();
        let d = mag as f64;
        if mag > MAX_SAFE_INTEGER && d as u64 != mag {
            return Err(INEXACT);
        }
        return Ok(-Fr::from(mag));
    }
    // serde_json gives f64 for fractions, exponents and integers beyond 64 bits.
    let Some(f) = n.as_f64() else {
        return Err("not a number");
    };
    if !f.is_finite() {
        return Err("not a finite number");
    }
    if f.fract() != 0.0 {
        return Err("not an integer (BigInt refuses fractions)");
    }
    let mag = exact_integer(f.abs());
    Ok(if f < 0.0 { -mag } else { mag })
}

/// The exact value of an integral, finite, non-negative double (`BigInt(f)` in JavaScript),
/// reduced mod p: its 53-bit significand shifted by its exponent.
fn exact_integer(f: f64) -> Fr {
    if f < 9_007_199_254_740_992.0 {
        // Below 2^53 the cast is exact.
        return Fr::from(f as u64);
    }
    let bits = f.to_bits();
    let exponent = (bits >> 52) & 0x7ff;
    let significand = (bits & ((1 << 52) - 1)) | (1 << 52);
    // f = significand * 2^(exponent - 1075), and exponent > 1075 from 2^53 on.
    Fr::from(significand) * Fr::from(2u64).pow([exponent - 1075])
}

/// JavaScript's StrWhiteSpaceChar: WhiteSpace (including every Zs space) and LineTerminator.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{A}' | '\u{B}' | '\u{C}' | '\u{D}' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

/// ECMAScript StringToBigInt: optional sign only for decimal; `0x`/`0o`/`0b` prefixes; no
/// separators, fractions or exponents; empty (after trimming) means 0.
fn string_to_fr(s: &str) -> std::result::Result<Fr, &'static str> {
    const NOT_INTEGER: &str =
        "not an integer string (decimal with optional sign, or 0x/0o/0b prefixed)";
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return Ok(Fr::ZERO);
    }
    let b = t.as_bytes();
    let (radix, digits, negative) = match b {
        [b'0', b'x' | b'X', rest @ ..] => (16, rest, false),
        [b'0', b'o' | b'O', rest @ ..] => (8, rest, false),
        [b'0', b'b' | b'B', rest @ ..] => (2, rest, false),
        [b'-', rest @ ..] => (10, rest, true),
        [b'+', rest @ ..] => (10, rest, false),
        rest => (10, rest, false),
    };
    if digits.is_empty() {
        return Err(NOT_INTEGER);
    }
    // Horner's rule in the field: reducing at every step gives the same residue as reducing
    // the exact integer at the end, for any length.
    let base = Fr::from(radix as u64);
    let mut acc = Fr::ZERO;
    for &c in digits {
        let d = (c as char).to_digit(radix).ok_or(NOT_INTEGER)?;
        acc = acc * base + Fr::from(d as u64);
    }
    Ok(if negative { -acc } else { acc })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::PrimeField;

    fn one(json: &str) -> Result<Vec<Fr>> {
        let inputs = parse_inputs(&format!("{{\"x\": {json}}}"))?;
        Ok(inputs.get("x").map(|v| v.to_vec()).unwrap_or_default())
    }

    fn fr(s: &str) -> Fr {
        s.parse()
            .unwrap_or_else(|_| panic!("bad test constant {s}"))
    }

    #[test]
    fn leaf_forms_match_bigint() {
        assert_eq!(one("\"42\"").unwrap(), vec![fr("42")]);
        assert_eq!(one("42").unwrap(), vec![fr("42")]);
        assert_eq!(one("\"0x2A\"").unwrap(), vec![fr("42")]);
        assert_eq!(one("\"0o52\"").unwrap(), vec![fr("42")]);
        assert_eq!(one("\"0b101010\"").unwrap(), vec![fr("42")]);
        assert_eq!(one("\" \\n42\\t\"").unwrap(), vec![fr("42")]);
        assert_eq!(one("\"+42\"").unwrap(), vec![fr("42")]);
        assert_eq!(one("\"\"").unwrap(), vec![Fr::ZERO]);
        assert_eq!(one("true").unwrap(), vec![Fr::ONE]);
        assert_eq!(one("false").unwrap(), vec![Fr::ZERO]);
        assert_eq!(one("1e3").unwrap(), vec![fr("1000")]);
        assert_eq!(one("-1").unwrap(), vec![-Fr::ONE]);
        assert_eq!(one("\"-1\"").unwrap(), vec![-Fr::ONE]);
        // 2^60 is a double, so JavaScript keeps it exactly.
        assert_eq!(
            one("1152921504606846976").unwrap(),
            vec![fr("1152921504606846976")]
        );
    }

    #[test]
    fn reduces_mod_p() {
        let p = Fr::MODULUS.to_string();
        assert_eq!(one(&format!("\"{p}\"")).unwrap(), vec![Fr::ZERO]);
        let p_plus_5 = format!("{}5", &p[..p.len() - 1]); // p ends in 7: p - 2
        assert_eq!(one(&format!("\"{p_plus_5}\"")).unwrap(), vec![-fr("2")]);
        let huge = format!("\"{}\"", "9".repeat(200));
        assert!(one(&huge).is_ok());
    }

    #[test]
    fn refuses_what_bigint_refuses() {
        for bad in [
            "\"x\"",
            "\"1.5\"",
            "1.5",
            "\"1e3\"",
            "\"-0x5\"",
            "\"0x\"",
            "\"-\"",
            "\"1_000\"",
            "null",
            "\"12 34\"",
        ] {
            assert!(
                matches!(one(bad), Err(WitnessError::InvalidValue { .. })),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn refuses_inexact_numbers() {
        // 2^53 + 1 is not a double: snarkjs would silently use 2^53.
        assert!(matches!(
            one("9007199254740993"),
            Err(WitnessError::InvalidValue { .. })
        ));
        assert!(matches!(
            one("18446744073709551615"),
            Err(WitnessError::InvalidValue { .. })
        ));
    }

    #[test]
    fn large_numbers_that_are_doubles_take_their_exact_value() {
        // As JavaScript's BigInt(JSON.parse(x)): 1e18, 2^64, 2^70 and -2^60 are doubles.
        let two = Fr::from(2u64);
        for (json, want) in [
            ("1e18", Fr::from(1_000_000_000_000_000_000u64)),
            (
                "100000000000000000000",
                Fr::from(100_000_000_000_000_000_000u128),
            ),
            ("18446744073709551616", two.pow([64])),
            ("1180591620717411303424", two.pow([70])),
            ("-1152921504606846976", -two.pow([60])),
            // The exact integer of the double nearest 1.5e300, as Python's int(1.5e300) and
            // JavaScript's BigInt(1.5e300) print it.
            ("1.5e300", "1500000000000000078757140382806630373056702871662238732373781173267703686983362293679557062620671796065556665749325817265413784853040645863467188277180060474272580801389863705606745350692182135089053429852456199917621678558451461320111979114170213741868888183230085264257173504208294580298189100810240".parse::<Fr>().expect("decimal")),
        ] {
            assert_eq!(one(json).unwrap(), vec![want], "{json}");
        }
        // A literal beyond 64 bits reaches the parser as its nearest double, as it reaches
        // snarkjs: 2^64 + 1 is read as 2^64.
        assert_eq!(one("18446744073709551617").unwrap(), vec![two.pow([64])]);
    }

    #[test]
    fn flattens_and_qualifies_like_snarkjs() {
        let inputs = parse_inputs(
            r#"{"m": [[1, 2], [3, [4]]], "s": {"a": "5", "b": {"c": [6]}},
                "bus": [{"x": 1, "y": [2, 3]}, {"x": 4, "y": [5, 6]}], "e": []}"#,
        )
        .unwrap();
        let n = |v: &[u64]| v.iter().map(|&x| Fr::from(x)).collect::<Vec<_>>();
        assert_eq!(inputs.get("m").unwrap(), n(&[1, 2, 3, 4]));
        assert_eq!(inputs.get("s.a").unwrap(), n(&[5]));
        assert_eq!(inputs.get("s.b.c").unwrap(), n(&[6]));
        assert_eq!(inputs.get("bus[0].x").unwrap(), n(&[1]));
        assert_eq!(inputs.get("bus[1].y").unwrap(), n(&[5, 6]));
        assert_eq!(inputs.get("e").unwrap(), n(&[]));
        assert_eq!(inputs.len(), 8);
    }

    /// A nested and a dotted spelling of one signal: as in JavaScript, where object keys keep
    /// the order they were written in, the one written last wins.
    #[test]
    fn the_later_of_two_spellings_of_a_signal_wins() {
        let a_b = |json: &str| parse_inputs(json).unwrap().get("a.b").unwrap().to_vec();
        assert_eq!(a_b(r#"{"a.b": "2", "a": {"b": "1"}}"#), [Fr::from(1u64)]);
        assert_eq!(a_b(r#"{"a": {"b": "1"}, "a.b": "2"}"#), [Fr::from(2u64)]);
        let names: Vec<String> = parse_inputs(r#"{"z": 1, "a": {"b": 2}, "m": 3}"#)
            .unwrap()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(names, ["z", "a.b", "m"]);
    }

    #[test]
    fn refuses_mixed_arrays_and_bad_json() {
        assert!(matches!(
            parse_inputs(r#"{"a": ["1", 2]}"#),
            Err(WitnessError::MixedTypes { signal }) if signal == "a"
        ));
        assert!(matches!(
            parse_inputs("{\"a\": 1"),
            Err(WitnessError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_inputs("[1, 2]"),
            Err(WitnessError::InvalidJson(_))
        ));
    }

    #[test]
    fn deep_values_are_refused_not_overflowed() {
        let mut v = Value::from(1);
        for _ in 0..1_000 {
            v = Value::Array(vec![v]);
        }
        let mut top = serde_json::Map::new();
        top.insert("a".into(), v);
        assert!(Inputs::from_value(&Value::Object(top)).is_err());
    }
}
