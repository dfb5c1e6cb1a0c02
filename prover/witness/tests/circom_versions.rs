//! The runtime protocol of circom versions the fixtures do not cover, on stand-in modules
//! (the text format below): each has the imports and exports of that version's wasm, one
//! input signal and a witness [1, input].

use ark_bn254::Fr;
use prover_witness::WitnessCalculator;

/// A stand-in witness calculator of circom `major.minor.patch`: shared memory at 0, BN254's
/// prime at 64, the witness at 128 (one 32-byte value each). `extra` goes in as it is.
fn stand_in(version: (u32, u32, u32), imports: &str, exports: &str) -> Vec<u8> {
    let (major, minor, patch) = version;
    let text = format!(
        r#"(module
  (import "runtime" "exceptionHandler" (func (param i32)))
  (import "runtime" "printErrorMessage" (func))
  (import "runtime" "writeBufferMessage" (func))
  (import "runtime" "showSharedRWMemory" (func))
  {imports}
  (memory (export "memory") 1)
  (data (i32.const 64) "\01\00\00\f0\93\f5\e1\43\91\70\b9\79\48\e8\33\28\5d\58\81\81\b6\45\50\b8\29\a0\31\e1\72\4e\64\30")
  (data (i32.const 128) "\01")
  (func $copy (param $dst i32) (param $src i32)
    (i64.store (local.get $dst) (i64.load (local.get $src)))
    (i64.store offset=8 (local.get $dst) (i64.load offset=8 (local.get $src)))
    (i64.store offset=16 (local.get $dst) (i64.load offset=16 (local.get $src)))
    (i64.store offset=24 (local.get $dst) (i64.load offset=24 (local.get $src))))
  (func (export "getVersion") (result i32) (i32.const {major}))
  (func (export "getMinorVersion") (result i32) (i32.const {minor}))
  (func (export "getPatchVersion") (result i32) (i32.const {patch}))
  (func (export "getSharedRWMemoryStart") (result i32) (i32.const 0))
  (func (export "readSharedRWMemory") (param i32) (result i32)
    (i32.load (i32.shl (local.get 0) (i32.const 2))))
  (func (export "writeSharedRWMemory") (param i32 i32)
    (i32.store (i32.shl (local.get 0) (i32.const 2)) (local.get 1)))
  (func (export "getFieldNumLen32") (result i32) (i32.const 8))
  (func (export "getRawPrime") (call $copy (i32.const 0) (i32.const 64)))
  (func (export "getWitnessSize") (result i32) (i32.const 2))
  (func (export "setInputSignal") (param i32 i32 i32) (call $copy (i32.const 160) (i32.const 0)))
  (func (export "getWitness") (param i32)
    (call $copy (i32.const 0) (i32.add (i32.const 128) (i32.shl (local.get 0) (i32.const 5)))))
  {exports}
)"#
    );
    wat::parse_str(&text).expect("stand-in module")
}

fn witness_of(wasm: &[u8]) -> Vec<Fr> {
    let calc = WitnessCalculator::from_bytes(wasm).expect("loads");
    calc.calculate_json(r#"{"a": "5"}"#).expect("witness")
}

/// circom 2.2.0 imports `runtime.printDebug` (2.2.1 dropped it again).
#[test]
fn circom_2_2_0_wasm_with_its_print_debug_import_loads_and_computes() {
    let wasm = stand_in(
        (2, 2, 0),
        r#"(import "runtime" "printDebug" (func $debug (param i32)))"#,
        r#"(func (export "init") (param i32) (call $debug (i32.const 7)))
           (func (export "getInputSignalSize") (param i32 i32) (result i32) (i32.const 1))"#,
    );
    assert_eq!(witness_of(&wasm), [Fr::from(1u64), Fr::from(5u64)]);
}

/// circom 2.0.0 to 2.0.3 have no `getInputSignalSize`: the input goes in unchecked, as
/// their witness_calculator.js sets it.
#[test]
fn circom_2_0_3_wasm_without_the_input_size_query_loads_and_computes() {
    let wasm = stand_in((2, 0, 3), "", r#"(func (export "init") (param i32))"#);
    assert_eq!(witness_of(&wasm), [Fr::from(1u64), Fr::from(5u64)]);
}
