//! iden3 `.wtns` v2, as written by circom's `witness_calculator.js` (`calculateWTNSBin`).
//!
//! Layout: `"wtns"`, u32 version 2, u32 section count 2; each section is u32 id, u64 byte
//! length, body. Section 1: u32 n8, the prime (n8 bytes LE), u32 witness count. Section 2: the
//! values, n8 bytes each, little-endian, standard (not Montgomery) form. Everything is
//! little-endian.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

use crate::error::{Result, WitnessError};

/// Bytes per BN254 field element.
pub(crate) const N8: usize = 32;

/// Serialises a witness exactly as snarkjs does, so the file can be fed to snarkjs or
/// rapidsnark and compared byte for byte with theirs.
pub fn write_wtns(witness: &[Fr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 12 + 8 + N8 + 12 + N8 * witness.len());
    out.extend_from_slice(b"wtns");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&2u32.to_le_bytes());

    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&((8 + N8) as u64).to_le_bytes());
    out.extend_from_slice(&(N8 as u32).to_le_bytes());
    out.extend_from_slice(&Fr::MODULUS.to_bytes_le());
    out.extend_from_slice(&(witness.len() as u32).to_le_bytes());

    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&((N8 * witness.len()) as u64).to_le_bytes());
    for w in witness {
        out.extend_from_slice(&w.into_bigint().to_bytes_le());
    }
    out
}

fn bad(msg: impl Into<String>) -> WitnessError {
    WitnessError::InvalidWtns(msg.into())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| bad(format!("truncated at byte {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let lo = self.u32()? as u64;
        let hi = self.u32()? as u64;
        Ok(lo | (hi << 32))
    }
}

/// Reads a BN254 `.wtns` (any section order, unknown sections skipped), refusing other primes
/// and values that are not reduced, since the prover would otherwise silently compute garbage.
pub fn read_wtns(bytes: &[u8]) -> Result<Vec<Fr>> {
    let mut r = Reader { buf: bytes, pos: 0 };
    if r.take(4)? != b"wtns" {
        return Err(bad("missing \"wtns\" magic"));
    }
    let version = r.u32()?;
    if version != 2 {
        return Err(bad(format!("version {version}, expected 2")));
    }
    let nsections = r.u32()?;
    let mut header: Option<u32> = None;
    let mut values: Option<&[u8]> = None;
    for _ in 0..nsections {
        let id = r.u32()?;
        let len = usize::try_from(r.u64()?).map_err(|_| bad("section too large"))?;
        let body = r.take(len)?;
        match id {
            1 => {
                let mut h = Reader { buf: body, pos: 0 };
                let n8 = h.u32()? as usize;
                if n8 != N8 {
                    return Err(bad(format!("n8 = {n8}, expected {N8} (BN254)")));
                }
                if h.take(N8)? != Fr::MODULUS.to_bytes_le().as_slice() {
                    return Err(bad("prime is not the BN254 scalar field"));
                }
                header = Some(h.u32()?);
            }
            2 => values = Some(body),
            _ => {}
        }
    }
    let count = header.ok_or_else(|| bad("no header section"))? as usize;
    let values = values.ok_or_else(|| bad("no values section"))?;
    if values.len() != count * N8 {
        return Err(bad(format!(
            "values section holds {} bytes, header says {count} values of {N8} bytes",
            values.len()
        )));
    }
    values
        .chunks_exact(N8)
        .enumerate()
        .map(|(i, c)| {
            fr_from_le_canonical(c).ok_or_else(|| bad(format!("value {i} is not below p")))
        })
        .collect()
}

/// Refuses values >= p instead of reducing them: an unreduced value means the producer is
/// broken, and reducing would hide it.
pub(crate) fn fr_from_le_canonical(bytes: &[u8]) -> Option<Fr> {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(b);
    }
    Fr::from_bigint(ark_ff::BigInt(limbs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_size() {
        let w: Vec<Fr> = (0u64..7).map(|i| Fr::from(i) - Fr::from(3u64)).collect();
        let bytes = write_wtns(&w);
        assert_eq!(bytes.len(), 76 + 32 * 7);
        assert_eq!(read_wtns(&bytes).unwrap(), w);
    }

    #[test]
    fn refuses_corrupt_files() {
        let bytes = write_wtns(&[Fr::from(1u64), Fr::from(2u64)]);
        assert!(read_wtns(&bytes[..bytes.len() - 1]).is_err());
        let mut bad_magic = bytes.clone();
        bad_magic[0] = b'x';
        assert!(read_wtns(&bad_magic).is_err());
        let mut unreduced = bytes.clone();
        let n = unreduced.len();
        unreduced[n - 32..].copy_from_slice(&[0xff; 32]);
        assert!(read_wtns(&unreduced).is_err());
        assert!(read_wtns(b"").is_err());
    }
}
