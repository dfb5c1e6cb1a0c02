//! uint256 values as they arrive in JSON (ask ids, market ids): a JSON number, a decimal
//! string or a `0x` hex string, kept as 32 big-endian bytes.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::AttestError;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct U256(pub [u8; 32]);

impl U256 {
    pub fn from_u64(x: u64) -> Self {
        let mut b = [0u8; 32];
        b[24..].copy_from_slice(&x.to_be_bytes());
        Self(b)
    }

    /// The value without leading zero bytes (zero is empty): Kalypso's AAD form of a
    /// market id.
    pub fn minimal_be(&self) -> &[u8] {
        let first = self.0.iter().position(|b| *b != 0).unwrap_or(32);
        &self.0[first..]
    }

    pub fn parse(s: &str) -> Result<Self, AttestError> {
        let bad = |why: &str| AttestError::Encoding(format!("uint256 `{s}`: {why}"));
        let s = s.trim();
        if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            if h.is_empty() || h.len() > 64 {
                return Err(bad("1 to 64 hex digits expected"));
            }
            let padded = format!("{h:0>64}");
            let bytes = hex::decode(padded).map_err(|_| bad("not hex"))?;
            let mut out = [0u8; 32];
            out.copy_from_slice(&bytes);
            return Ok(Self(out));
        }
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad("not a decimal or 0x-hex number"));
        }
        let mut out = [0u8; 32];
        for digit in s.bytes().map(|c| u32::from(c - b'0')) {
            // out = out * 10 + digit, with overflow out of the top byte refused.
            let mut carry = digit;
            for byte in out.iter_mut().rev() {
                let v = u32::from(*byte) * 10 + carry;
                *byte = (v & 0xff) as u8;
                carry = v >> 8;
            }
            if carry != 0 {
                return Err(bad("larger than 2^256 - 1"));
            }
        }
        Ok(Self(out))
    }
}

impl<'de> Deserialize<'de> for U256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = U256;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a uint256 as a JSON number, decimal string or 0x-hex string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<U256, E> {
                Ok(U256::from_u64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<U256, E> {
                u64::try_from(v)
                    .map(U256::from_u64)
                    .map_err(|_| E::custom("negative uint256"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<U256, E> {
                U256::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}
