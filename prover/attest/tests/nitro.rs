//! The real AWS document verifies with exactly the fixture README's values; every tampered
//! copy, another root, a stale document, wrong PCRs, garbage and development documents
//! (unless allowed) are refused with a reason.

use std::collections::BTreeMap;

use coset::{CborSerializable, CoseSign1};
use prover_attest::nitro::{aws_root_der, image_id_kalypso};
use prover_attest::{verify, AttestError, Attester, DevAttester, VerifyOptions, DEV_MODULE_ID};
use sha2::{Digest, Sha256};

const AWS_BIN: &[u8] = include_bytes!("../testdata/aws.bin");
const TIMESTAMP_MS: u64 = 1734075478960;
const PCR0: &str = "189038eccf28a3a098949e402f3b3d86a876f4915c5b02d546abb5d8c507ceb1755b8192d8cfca66e8f226160ca4c7a6";
const PCR1: &str = "5d3938eb05288e20a981038b1861062ff4174884968a39aee5982b312894e60561883576cc7381d1a7d05b809936bd16";
const PCR2: &str = "6c3ef363c488a9a86faa63a44653fd806e645d4540b40540876f3b811fc1bceecf036a4703f07587c501ee45bb56a1aa";
const PUBLIC_KEY: &str = "e646f8b0071d5ba75931402522cc6a5c42a84a6fea238864e5ac9a0e12d83bd36d0c8109d3ca2b699fce8d082bf313f5d2ae249bb275b6b6e91e0fcd9262f4bb";
const IMAGE_ID_OYSTER: &str = "a6b0824d3c47f51542b3a18e6245c408490bef88ddc8d5e1bf8b95ec7eba1602";

fn hexb(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

#[test]
fn fixture_and_pinned_root_are_the_published_ones() {
    assert_eq!(AWS_BIN.len(), 4535);
    assert_eq!(
        hex::encode(Sha256::digest(AWS_BIN)),
        "f7db70c9196856abd6c8c8bf7f1fc6cd3ab5dd6575bb5d3aa14bc21b2d6404fa"
    );
    let root = aws_root_der().expect("root");
    assert_eq!(
        hex::encode(Sha256::digest(&root)),
        "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    );
}

#[test]
fn the_real_document_verifies_with_the_readme_values() {
    let a = verify(AWS_BIN, &VerifyOptions::default()).expect("verifies");
    assert_eq!(a.timestamp_ms, TIMESTAMP_MS);
    assert_eq!(a.timestamp_ms, 0x0000_0193_bef3_f3b0);
    assert_eq!(a.pcrs.get(&0), Some(&hexb(PCR0)));
    assert_eq!(a.pcrs.get(&1), Some(&hexb(PCR1)));
    assert_eq!(a.pcrs.get(&2), Some(&hexb(PCR2)));
    assert_eq!(a.pcrs.get(&16), None);
    assert_eq!(a.public_key, Some(hexb(PUBLIC_KEY)));
    assert_eq!(a.public_key.as_ref().map(Vec::len), Some(64));
    assert!(matches!(a.user_data.as_deref(), None | Some([])));
    assert_eq!(hex::encode(a.image_id_oyster), IMAGE_ID_OYSTER);
    let mut pcrs = BTreeMap::new();
    for (i, p) in [PCR0, PCR1, PCR2].iter().enumerate() {
        pcrs.insert(i as u16, hexb(p));
    }
    let mut concat = Vec::new();
    for p in [PCR0, PCR1, PCR2] {
        concat.extend(hexb(p));
    }
    let keccak: [u8; 32] = sha3::Keccak256::digest(&concat).into();
    assert_eq!(a.image_id_kalypso, keccak);
    assert_eq!(image_id_kalypso(&pcrs), keccak);
    assert!(a.hardware);
    assert_eq!(a.digest, "SHA384");
    assert!(a.module_id.starts_with('i'), "{}", a.module_id);

    // Tag 18 (tagged COSE_Sign1) is accepted too, in either CBOR form of the tag.
    for tag in [&[0xd2u8][..], &[0xd8, 0x12]] {
        let tagged = [tag, AWS_BIN].concat();
        assert_eq!(
            verify(&tagged, &VerifyOptions::default()).expect("tagged"),
            a
        );
    }
    // Every certificate's notAfter is a whole second: the document is checked at second
    // resolution (the leaf of this document expires hours after it, so it is the
    // resolution, not the value, that this pins: see the unit test in nitro.rs).
}

#[test]
fn age_and_pcr_expectations() {
    let at = |now: u64, max: u64| VerifyOptions {
        now_ms: Some(now),
        max_age_ms: Some(max),
        ..Default::default()
    };
    assert!(verify(AWS_BIN, &at(TIMESTAMP_MS + 1000, 5000)).is_ok());
    match verify(AWS_BIN, &at(TIMESTAMP_MS + 10_000, 5000)) {
        Err(AttestError::TooOld {
            age_ms: 10_000,
            max_age_ms: 5000,
        }) => {}
        other => panic!("expected TooOld, got {other:?}"),
    }
    assert!(matches!(
        verify(AWS_BIN, &at(TIMESTAMP_MS - 3_600_000, 5000)),
        Err(AttestError::FromTheFuture { .. })
    ));
    let mut good = VerifyOptions::default();
    good.expected_pcrs.insert(0, hexb(PCR0));
    good.expected_pcrs.insert(2, hexb(PCR2));
    assert!(verify(AWS_BIN, &good).is_ok());
    let mut bad = VerifyOptions::default();
    bad.expected_pcrs.insert(1, hexb(PCR0));
    assert!(matches!(
        verify(AWS_BIN, &bad),
        Err(AttestError::PcrMismatch { index: 1, .. })
    ));
    let mut absent = VerifyOptions::default();
    absent.expected_pcrs.insert(16, vec![0; 48]);
    assert!(matches!(
        verify(AWS_BIN, &absent),
        Err(AttestError::PcrMismatch { index: 16, .. })
    ));
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("region present")
}

fn flipped(at: usize) -> Vec<u8> {
    let mut d = AWS_BIN.to_vec();
    d[at] ^= 0x01;
    d
}

fn assert_refused(doc: &[u8], what: &str) {
    match verify(doc, &VerifyOptions::default()) {
        Ok(_) => panic!("{what}: a tampered document verified"),
        Err(e) => assert!(!e.to_string().is_empty(), "{what}: no reason"),
    }
}

#[test]
fn every_tampered_copy_is_refused() {
    let sign1 = CoseSign1::from_slice(AWS_BIN).expect("parses");
    // Signature: the last 96 bytes.
    for at in [AWS_BIN.len() - 96, AWS_BIN.len() - 50, AWS_BIN.len() - 1] {
        let d = flipped(at);
        assert!(
            matches!(
                verify(&d, &VerifyOptions::default()),
                Err(AttestError::DocumentSignature)
            ),
            "signature byte {at}"
        );
    }
    // Payload: bytes spread over it (module id, timestamp, PCRs, public key ...).
    let payload = sign1.payload.clone().expect("payload");
    let start = find(AWS_BIN, &payload);
    for k in 0..64 {
        let at = start + k * (payload.len() - 1) / 63;
        assert_refused(&flipped(at), &format!("payload byte {at}"));
    }
    // Each certificate (leaf and every cabundle entry), at several places: the body the
    // issuer signed, the key, the signature.
    let value: ciborium::Value = ciborium::from_reader(&payload[..]).expect("cbor");
    let map = value.as_map().expect("map");
    let get = |name: &str| {
        map.iter()
            .find(|(k, _)| k.as_text() == Some(name))
            .map(|(_, v)| v.clone())
            .expect("field")
    };
    let mut certs = vec![get("certificate").into_bytes().expect("bytes")];
    for c in get("cabundle").into_array().expect("array") {
        certs.push(c.into_bytes().expect("bytes"));
    }
    assert!(certs.len() >= 4, "leaf + root + intermediates");
    for (i, cert) in certs.iter().enumerate() {
        let start = find(AWS_BIN, cert);
        for at in [
            start + 20,
            start + cert.len() / 3,
            start + cert.len() / 2,
            start + cert.len() - 30,
            start + cert.len() - 2,
        ] {
            assert_refused(&flipped(at), &format!("certificate {i} byte {at}"));
        }
    }
}

#[test]
fn another_root_is_refused() {
    let dev = DevAttester::generate().expect("dev");
    let options = VerifyOptions {
        root_der: Some(dev.root_der().to_vec()),
        ..Default::default()
    };
    assert!(matches!(
        verify(AWS_BIN, &options),
        Err(AttestError::WrongRoot)
    ));
    // Even with development documents allowed: an AWS-looking document on the wrong root
    // is not a development document.
    let options = VerifyOptions {
        allow_dev: true,
        ..options
    };
    assert!(matches!(
        verify(AWS_BIN, &options),
        Err(AttestError::WrongRoot)
    ));
}

#[test]
fn garbage_and_truncations_are_errors_not_panics() {
    assert!(matches!(
        verify(&[], &VerifyOptions::default()),
        Err(AttestError::Malformed(_))
    ));
    for len in (0..AWS_BIN.len()).step_by(7) {
        assert!(
            verify(&AWS_BIN[..len], &VerifyOptions::default()).is_err(),
            "len {len}"
        );
    }
    let mut seed = 0x1234_5678_u64;
    for n in 0..200 {
        let doc: Vec<u8> = (0..(n * 13 % 700))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        assert!(verify(&doc, &VerifyOptions::default()).is_err());
    }
    assert!(verify(&vec![0x84; 100_000], &VerifyOptions::default()).is_err());
}

/// Re-signs the fixture's envelope with other protected headers (the signature then fails,
/// but the header checks must say why first).
fn with_protected(header: coset::Header) -> Vec<u8> {
    let mut sign1 = CoseSign1::from_slice(AWS_BIN).expect("parses");
    sign1.protected = coset::ProtectedHeader {
        original_data: None,
        header,
    };
    sign1.to_vec().expect("encodes")
}

#[test]
fn wrong_algorithms_and_unknown_critical_headers_are_refused() {
    use coset::{iana, HeaderBuilder};
    let es256 = with_protected(
        HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES256)
            .build(),
    );
    assert!(matches!(
        verify(&es256, &VerifyOptions::default()),
        Err(AttestError::Algorithm(_))
    ));
    let none = with_protected(HeaderBuilder::new().build());
    assert!(matches!(
        verify(&none, &VerifyOptions::default()),
        Err(AttestError::Algorithm(_))
    ));
    let crit = with_protected(
        HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES384)
            .add_critical(iana::HeaderParameter::CounterSignature)
            .build(),
    );
    assert!(matches!(
        verify(&crit, &VerifyOptions::default()),
        Err(AttestError::CriticalHeader(_))
    ));
}

#[test]
fn development_documents_are_refused_unless_allowed() {
    let dev = DevAttester::generate().expect("dev");
    assert!(!dev.is_hardware());
    let key = [7u8; 64];
    let doc = dev.attest(&key, b"build", Some(b"nonce")).expect("doc");
    assert!(matches!(
        verify(&doc, &VerifyOptions::default()),
        Err(AttestError::Development)
    ));
    let allow = VerifyOptions {
        allow_dev: true,
        ..Default::default()
    };
    let a = verify(&doc, &allow).expect("allowed");
    assert_eq!(a.module_id, DEV_MODULE_ID);
    assert!(!a.hardware);
    assert_eq!(a.public_key.as_deref(), Some(&key[..]));
    assert_eq!(a.user_data.as_deref(), Some(&b"build"[..]));
    assert_eq!(a.nonce.as_deref(), Some(&b"nonce"[..]));
    assert_eq!(a.pcrs.get(&0), Some(&vec![0u8; 48]));
    // A tampered development document fails like a hardware one.
    let mut t = doc.clone();
    let n = t.len();
    t[n - 10] ^= 1;
    assert!(matches!(
        verify(&t, &allow),
        Err(AttestError::DocumentSignature)
    ));
    // Another process's chain: the leaf does not chain to this root.
    let other = DevAttester::generate().expect("dev");
    let pinned = VerifyOptions {
        root_der: Some(other.root_der().to_vec()),
        allow_dev: true,
        ..Default::default()
    };
    assert!(
        verify(&doc, &pinned).is_ok(),
        "dev documents carry their own chain"
    );
    // Their PCRs prove nothing: a verifier that expects some gets an error, not a match.
    let mut pcrs = allow.clone();
    pcrs.expected_pcrs.insert(0, vec![0u8; 48]);
    assert!(matches!(
        verify(&doc, &pcrs),
        Err(AttestError::DevelopmentPcrs)
    ));
    // Age checks apply to development documents too.
    let old = dev.attest_at(1_000, &key, b"", None).expect("doc");
    let aged = VerifyOptions {
        allow_dev: true,
        max_age_ms: Some(60_000),
        ..Default::default()
    };
    assert!(verify(&old, &aged).is_err());
}

/// What a document may carry is checked where it is made: the development attester makes
/// nothing our verifier would refuse, and says why instead.
#[test]
fn documents_are_only_made_within_the_specifications_bounds() {
    let dev = DevAttester::generate().expect("dev");
    let allow = VerifyOptions {
        allow_dev: true,
        ..Default::default()
    };
    let doc = dev
        .attest(&[7u8; 1024], &[1u8; 512], Some(&[2u8; 512]))
        .expect("at the bounds");
    let a = verify(&doc, &allow).expect("verifies");
    assert_eq!(a.user_data.map(|u| u.len()), Some(512));
    for (key, user_data, nonce) in [
        (&[][..], &[0u8; 32][..], None),
        (&[7u8; 1025][..], &[0u8; 32][..], None),
        (&[7u8; 64][..], &[0u8; 513][..], None),
        (&[7u8; 64][..], &[0u8; 32][..], Some(&[0u8; 513][..])),
    ] {
        let err = dev
            .attest(key, user_data, nonce)
            .expect_err("beyond a bound");
        assert!(err.to_string().contains("bytes"), "{err}");
    }
}
