//! The few Solidity ABI encodings signed results need: `abi.encode` of dynamic `bytes`
//! arguments (head of offsets, then each length-prefixed, zero-padded tail) and of
//! `(uint256, bytes)`.

use crate::AttestError;

fn padded_len(n: usize) -> usize {
    n.div_ceil(32) * 32
}

fn word(n: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(n as u64).to_be_bytes());
    w
}

/// Encodes static 32-byte words followed by dynamic `bytes` arguments, in that order.
fn encode(statics: &[[u8; 32]], dynamics: &[&[u8]]) -> Vec<u8> {
    let head_len = 32 * (statics.len() + dynamics.len());
    let mut head = Vec::with_capacity(head_len);
    let mut tail = Vec::new();
    for s in statics {
        head.extend_from_slice(s);
    }
    for d in dynamics {
        head.extend_from_slice(&word(head_len + tail.len()));
        tail.extend_from_slice(&word(d.len()));
        tail.extend_from_slice(d);
        tail.resize(tail.len() + padded_len(d.len()) - d.len(), 0);
    }
    head.extend_from_slice(&tail);
    head
}

/// `abi.encode(bytes a, bytes b, ...)`.
pub fn encode_bytes(args: &[&[u8]]) -> Vec<u8> {
    encode(&[], args)
}

/// `abi.encode(uint256 x, bytes b)`, `x` big-endian.
pub fn encode_uint_bytes(x: &[u8; 32], b: &[u8]) -> Vec<u8> {
    encode(&[*x], &[b])
}

fn read_word(data: &[u8], at: usize) -> Result<usize, AttestError> {
    let w = data
        .get(
            at..at
                .checked_add(32)
                .ok_or_else(|| AttestError::Encoding("offset overflow".into()))?,
        )
        .ok_or_else(|| AttestError::Encoding(format!("truncated at byte {at}")))?;
    if w[..24].iter().any(|b| *b != 0) {
        return Err(AttestError::Encoding(format!("word at {at} is too large")));
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&w[24..]);
    usize::try_from(u64::from_be_bytes(n))
        .map_err(|_| AttestError::Encoding(format!("word at {at} is too large")))
}

/// Decodes `abi.encode` of `n` dynamic `bytes` arguments.
pub fn decode_bytes(data: &[u8], n: usize) -> Result<Vec<Vec<u8>>, AttestError> {
    (0..n)
        .map(|i| {
            let offset = read_word(data, 32 * i)?;
            let len = read_word(data, offset)?;
            let start = offset + 32;
            let end = start
                .checked_add(len)
                .ok_or_else(|| AttestError::Encoding("length overflow".into()))?;
            data.get(start..end)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| AttestError::Encoding(format!("argument {i} is truncated")))
        })
        .collect()
}
