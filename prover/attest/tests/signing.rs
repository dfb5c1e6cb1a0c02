//! The enclave key, EIP-191 signatures, the signed-result encodings, uint256 parsing and
//! Kalypso's encrypted secrets (against Kalypso's own test vectors and round trips).

use prover_attest::key::{address_hex, eip191_message_digest, keccak256, recover_eip191};
use prover_attest::secrets::{
    aes_gcm_decrypt, decrypt_secrets, ecies_decrypt, ecies_encrypt, encrypt_secrets,
};
use prover_attest::signed::{
    invalid_input_hash, invalid_input_signature, open_tee_proof, tee_proof,
};
use prover_attest::{abi, EthKey, U256};

/// web3.js's documented `accounts.sign('Some data', key)` example.
const WEB3_KEY: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

#[test]
fn key_address_and_personal_sign_match_web3() {
    let key = EthKey::from_bytes(&hex::decode(WEB3_KEY).expect("hex")).expect("key");
    assert_eq!(
        address_hex(&key.address()),
        "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23"
    );
    assert_eq!(
        hex::encode(eip191_message_digest(b"Some data")),
        "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
    );
    let sig = key.sign_message(b"Some data").expect("sign");
    assert_eq!(
        hex::encode(sig),
        "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
    );
}

#[test]
fn eip191_over_a_hash_recovers_the_signer_and_nothing_else() {
    let key = EthKey::generate();
    let hash = keccak256(b"payload");
    let sig = key.sign_eip191(&hash).expect("sign");
    assert!(sig[64] == 27 || sig[64] == 28);
    assert_eq!(recover_eip191(&hash, &sig).expect("recover"), key.address());
    // Another hash recovers another address (or fails), never the signer.
    let other = keccak256(b"other");
    assert_ne!(recover_eip191(&other, &sig).ok(), Some(key.address()));
    // The malleated twin (n - s, flipped v) is refused.
    let n = hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        .expect("hex");
    let mut high = sig;
    let mut borrow = 0i32;
    for i in (0..32).rev() {
        let d = i32::from(n[i]) - i32::from(sig[32 + i]) - borrow;
        high[32 + i] = d.rem_euclid(256) as u8;
        borrow = i32::from(d < 0);
    }
    high[64] = if sig[64] == 27 { 28 } else { 27 };
    assert!(recover_eip191(&hash, &high).is_err());
    assert!(recover_eip191(&hash, &sig[..64]).is_err());
}

#[test]
fn abi_encoding_of_dynamic_bytes() {
    let enc = abi::encode_bytes(&[&[0x01], &[]]);
    let expected = [
        "0000000000000000000000000000000000000000000000000000000000000040",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "0000000000000000000000000000000000000000000000000000000000000001",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ]
    .concat();
    assert_eq!(hex::encode(&enc), expected);
    let enc = abi::encode_uint_bytes(&U256::from_u64(7).0, &[0xaa; 33]);
    assert_eq!(enc.len(), 32 * 3 + 64);
    assert_eq!(enc[31], 7);
    assert_eq!(enc[63], 0x40);
    assert_eq!(enc[95], 33);
    assert_eq!(&enc[96..129], &[0xaa; 33]);
    assert!(enc[129..].iter().all(|b| *b == 0));
    let parts = abi::decode_bytes(&abi::encode_bytes(&[b"abc", &[1; 64], b""]), 3).expect("decode");
    assert_eq!(parts, vec![b"abc".to_vec(), vec![1; 64], vec![]]);
    assert!(abi::decode_bytes(&enc[..40], 2).is_err());
}

#[test]
fn tee_proof_carries_a_signature_by_the_enclave_key() {
    let key = EthKey::generate();
    let inputs = vec![0x11; 64];
    let proof = vec![0x22; 256];
    let encoded = tee_proof(&key, &inputs, &proof).expect("sign");
    let opened = open_tee_proof(&encoded).expect("open");
    assert_eq!((&opened.inputs, &opened.proof), (&inputs, &proof));
    assert_eq!(opened.signer, key.address());
    let parts = abi::decode_bytes(&encoded, 3).expect("decode");
    assert_eq!(parts[2].len(), 65);
    let hash = keccak256(&abi::encode_bytes(&[&inputs, &proof]));
    assert_eq!(
        recover_eip191(&hash, &parts[2]).expect("recover"),
        key.address()
    );
    // Changing the proof breaks the binding.
    let forged = abi::encode_bytes(&[&inputs, &[0x23; 256], &parts[2]]);
    assert_ne!(
        open_tee_proof(&forged).ok().map(|r| r.signer),
        Some(key.address())
    );
}

#[test]
fn invalid_input_signature_covers_ask_id_and_prover_data() {
    let key = EthKey::generate();
    let ask = U256::parse("12345678901234567890").expect("u256");
    let sig = invalid_input_signature(&key, &ask.0, b"prover data").expect("sign");
    let hash = invalid_input_hash(&ask.0, b"prover data");
    assert_eq!(
        hash,
        keccak256(&abi::encode_uint_bytes(&ask.0, b"prover data"))
    );
    assert_eq!(recover_eip191(&hash, &sig).expect("recover"), key.address());
    let other = invalid_input_hash(&U256::from_u64(1).0, b"prover data");
    assert_ne!(recover_eip191(&other, &sig).ok(), Some(key.address()));
}

#[test]
fn uint256_forms() {
    assert_eq!(
        U256::parse("1234567890").expect("dec").minimal_be(),
        &[0x49, 0x96, 0x02, 0xd2]
    );
    assert_eq!(
        U256::parse("0x499602d2").expect("hex"),
        U256::from_u64(1234567890)
    );
    assert_eq!(U256::parse("0").expect("zero").minimal_be(), &[] as &[u8]);
    let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    assert_eq!(U256::parse(max).expect("max").0, [0xff; 32]);
    assert!(U256::parse(
        "115792089237316195423570985008687907853269984665640564039457584007913129639936"
    )
    .is_err());
    assert!(U256::parse("-1").is_err());
    assert!(U256::parse("12a").is_err());
    assert!(U256::parse("0x").is_err());
    let j: U256 = serde_json::from_str("42").expect("number");
    assert_eq!(j, U256::from_u64(42));
    let j: U256 = serde_json::from_str("\"0x2a\"").expect("hex string");
    assert_eq!(j, U256::from_u64(42));
    let j: U256 = serde_json::from_str("\"42\"").expect("decimal string");
    assert_eq!(j, U256::from_u64(42));
    assert!(serde_json::from_str::<U256>("-1").is_err());
    assert!(serde_json::from_str::<U256>("[1]").is_err());
}

/// kalypso-unified `helper/src/secret_inputs_helpers.rs` tests: an ECIES ciphertext made by
/// the `ecies` crate, and an AES-GCM one with market id 1234567890 as AAD.
#[test]
fn kalypso_test_vectors_decrypt() {
    let key = EthKey::from_bytes(
        &hex::decode("ca9cbf143a43e422a307b03ec61a82ce99c053290c3053655d0ad69e863a18c4")
            .expect("hex"),
    )
    .expect("key");
    let acl = hex::decode("0438f743cfbb1f980640ccdbe156f84ebccbf7eb10423e5b7a29ef0efc1d41e5bfa2484e95cf6d819c7778d06cb9ea0461ea3fa0d9119fc41f6fe80e66e9feb37fa08d9cd5524956bd7b718d6ffb9f74636336daa6590a05d1063ee24f1d6db0cc78c84e5337f3cbd4a865a90ea1e047a0e2ae5beeb2576c00e4cae8363d051b71").expect("hex");
    let aes_key = ecies_decrypt(&key, &acl).expect("ecies");
    assert_eq!(
        hex::encode(aes_key.as_slice()),
        "0000111100001111000011110000111100001111000011110000111100001111"
    );
    let data = hex::decode("c80bbd5590cac0d3ee6a1586473539242711d3fcd1f9ea871e9efdbe07896081c37b5124e0dcc6c50bcb0d46f798f5f0bf4d31310fd7b5508277b041ced1f6ae4c1a6eeb").expect("hex");
    let market = U256::from_u64(1234567890);
    let plain = aes_gcm_decrypt(&aes_key, &data, market.minimal_be()).expect("aes");
    assert_eq!(
        plain.as_slice(),
        b"this is the data that we wish to encrypt"
    );
    assert!(aes_gcm_decrypt(&aes_key, &data, U256::from_u64(1).minimal_be()).is_err());
    let mut tampered = acl.clone();
    tampered[100] ^= 1;
    assert!(ecies_decrypt(&key, &tampered).is_err());
    assert!(ecies_decrypt(&EthKey::generate(), &acl).is_err());
}

#[test]
fn encrypted_secrets_round_trip() {
    let key = EthKey::generate();
    let market = U256::parse("7").expect("u256");
    let secrets = br#"{"a":"3","b":"11"}"#;
    let (data, acl) =
        encrypt_secrets(&key.public_key(), secrets, market.minimal_be()).expect("encrypt");
    assert_eq!(acl.len(), 65 + 16 + 16 + 32);
    let plain = decrypt_secrets(&key, &data, &acl, market.minimal_be()).expect("decrypt");
    assert_eq!(plain.as_slice(), secrets);
    // Wrong market, wrong key, tampered data, truncations: refused, never a panic.
    assert!(decrypt_secrets(&key, &data, &acl, U256::from_u64(8).minimal_be()).is_err());
    assert!(decrypt_secrets(&EthKey::generate(), &data, &acl, market.minimal_be()).is_err());
    let mut bad = data.clone();
    bad[13] ^= 1;
    assert!(decrypt_secrets(&key, &bad, &acl, market.minimal_be()).is_err());
    for n in [0, 12, 27, data.len() - 1] {
        assert!(decrypt_secrets(&key, &data[..n], &acl, market.minimal_be()).is_err());
    }
    for n in [0, 64, 65, 96, acl.len() - 1] {
        assert!(decrypt_secrets(&key, &data, &acl[..n], market.minimal_be()).is_err());
    }
    // The ECIES layer alone, with a SEC1 receiver key as well.
    let sec1 = [&[4u8][..], &key.public_key()].concat();
    let wrapped = ecies_encrypt(&sec1, b"k").expect("ecies");
    assert_eq!(
        ecies_decrypt(&key, &wrapped).expect("ecies").as_slice(),
        b"k"
    );
}

#[test]
fn key_files_are_private_and_stable() {
    let dir = std::env::temp_dir().join(format!("attest-key-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("enclave.key");
    let (a, created) = EthKey::load_or_create(&path).expect("create");
    assert!(created);
    let (b, created) = EthKey::load_or_create(&path).expect("load");
    assert!(!created);
    assert_eq!(a.address(), b.address());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(dir.join("bad.key"), "zz").expect("write");
    assert!(EthKey::load(&dir.join("bad.key")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
