//! The iden3 binary container shared by `.zkey`, `.wtns` and `.r1cs`: a 4-byte magic, a
//! u32 version, a u32 section count, then sections of (u32 id, u64 size, bytes). Every read
//! is bounds-checked so a truncated or hostile file gives an error, never a panic.

use std::collections::HashMap;

use ark_ff::PrimeField;

use crate::encoding::{modulus_bytes, N8};
use crate::{Groth16Error, Result};

pub(crate) struct BinFile<'a> {
    sections: HashMap<u32, &'a [u8]>,
    file: &'static str,
}

impl<'a> BinFile<'a> {
    pub(crate) fn parse(
        bytes: &'a [u8],
        file: &'static str,
        magic: &'static str,
        supported: &'static [u32],
        supported_text: &'static str,
    ) -> Result<Self> {
        let mut r = Reader::new(bytes, file, "file header".into());
        let found = r.bytes(4)?;
        if found != magic.as_bytes() {
            return Err(Groth16Error::BadMagic {
                file,
                expected: magic,
                found: String::from_utf8_lossy(found).into_owned(),
            });
        }
        let version = r.u32()?;
        if !supported.contains(&version) {
            return Err(Groth16Error::UnsupportedVersion {
                file,
                version,
                supported: supported_text,
            });
        }
        let count = r.u32()?;
        let mut sections = HashMap::new();
        for i in 0..count {
            r.what = format!("header of section #{i}");
            let id = r.u32()?;
            let size = r.u64()?;
            r.what = format!("section {id}");
            let data = r.bytes_u64(size)?;
            if sections.insert(id, data).is_some() {
                return Err(Groth16Error::DuplicateSection { file, section: id });
            }
        }
        Ok(Self { sections, file })
    }

    pub(crate) fn section(&self, id: u32) -> Result<&'a [u8]> {
        self.sections
            .get(&id)
            .copied()
            .ok_or(Groth16Error::MissingSection {
                file: self.file,
                section: id,
            })
    }

    pub(crate) fn reader(&self, id: u32) -> Result<Reader<'a>> {
        Ok(Reader::new(
            self.section(id)?,
            self.file,
            format!("section {id}"),
        ))
    }

    /// The section, which must be exactly `expected` bytes long.
    pub(crate) fn sized_section(&self, id: u32, expected: u64) -> Result<&'a [u8]> {
        let s = self.section(id)?;
        if s.len() as u64 != expected {
            return Err(Groth16Error::SectionSize {
                file: self.file,
                section: id,
                expected,
                got: s.len() as u64,
            });
        }
        Ok(s)
    }
}

/// Bounds-checked little-endian reader over one section.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    file: &'static str,
    what: String,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], file: &'static str, what: String) -> Self {
        Self {
            data,
            pos: 0,
            file,
            what,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        self.bytes_u64(n as u64)
    }

    fn bytes_u64(&mut self, n: u64) -> Result<&'a [u8]> {
        let available = self.remaining() as u64;
        if n > available {
            return Err(Groth16Error::Truncated {
                file: self.file,
                what: self.what.clone(),
                needed: n,
                available,
            });
        }
        let n = n as usize;
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a field header (u32 element size, then the prime) and checks it is `F`'s, as
    /// every iden3 file declares its field this way.
    pub(crate) fn expect_field<F: PrimeField>(&mut self, name: &str) -> Result<()> {
        let n8 = self.u32()? as usize;
        if n8 != N8 {
            return Err(Groth16Error::WrongCurve {
                file: self.file,
                what: format!("{name} element size {n8} bytes, BN254 has {N8}"),
            });
        }
        if self.bytes(n8)? != modulus_bytes::<F>().as_slice() {
            return Err(Groth16Error::WrongCurve {
                file: self.file,
                what: format!("{name} prime differs from BN254's"),
            });
        }
        Ok(())
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Builds an iden3 container (used by the `.wtns` writer and by tests that craft files).
pub(crate) fn write(magic: &str, version: u32, sections: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + sections.iter().map(|s| 12 + s.1.len()).sum::<usize>());
    out.extend_from_slice(magic.as_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (id, data) in sections {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let file = write("wtns", 2, &[(1, vec![1, 2, 3]), (2, vec![9; 10])]);
        let parsed = BinFile::parse(&file, "wtns", "wtns", &[2], "2").expect("parses");
        assert_eq!(parsed.section(1).expect("section 1"), &[1, 2, 3]);
        assert_eq!(parsed.section(2).expect("section 2").len(), 10);
        for cut in 0..file.len() {
            assert!(
                BinFile::parse(&file[..cut], "wtns", "wtns", &[2], "2").is_err(),
                "a file cut at {cut} bytes was accepted"
            );
        }
    }

    #[test]
    fn wrong_magic_version_and_duplicates() {
        let file = write("zkey", 1, &[]);
        assert!(matches!(
            BinFile::parse(&file, "wtns", "wtns", &[2], "2"),
            Err(Groth16Error::BadMagic { .. })
        ));
        let file = write("wtns", 7, &[]);
        assert!(matches!(
            BinFile::parse(&file, "wtns", "wtns", &[2], "2"),
            Err(Groth16Error::UnsupportedVersion { version: 7, .. })
        ));
        let file = write("wtns", 2, &[(1, vec![]), (1, vec![])]);
        assert!(matches!(
            BinFile::parse(&file, "wtns", "wtns", &[2], "2"),
            Err(Groth16Error::DuplicateSection { section: 1, .. })
        ));
    }
}
