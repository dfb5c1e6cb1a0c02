//! Circom witness generation in process: runs the circom-generated `circuit.wasm` under
//! wasmtime and speaks the same protocol as circom's `witness_calculator.js`, so the result is
//! byte-identical to `node generate_witness.js` (see the fixture tests).
//!
//! ```no_run
//! # fn main() -> Result<(), prover_witness::WitnessError> {
//! use prover_witness::{parse_inputs, WitnessCalculator};
//! let calc = WitnessCalculator::from_file("circuit_js/circuit.wasm")?; // compile once
//! let inputs = parse_inputs(r#"{"a": "3", "b": "11", "c": "7"}"#)?;
//! let witness = calc.calculate(&inputs)?; // witness[0] == 1, then public signals
//! let wtns = calc.calculate_wtns_bytes(&inputs)?; // the .wtns file snarkjs would write
//! # let _ = (witness, wtns); Ok(()) }
//! ```
//!
//! Bounds: each calculation runs in a fresh wasm instance with a fuel budget (a count of wasm
//! instructions, deterministic, so the same input always succeeds or always fails) and a
//! memory cap, see [`Limits`]. A hostile or broken wasm therefore ends in an error, never a
//! hang, an abort or unbounded host allocation.

mod error;
mod inputs;
mod wtns;

use std::path::Path;

use ark_bn254::Fr;
use ark_ff::PrimeField;
use wasmtime::{
    Caller, Config, Engine, Instance, InstancePre, Linker, Memory, Module, OptLevel,
    ResourceLimiter, Store, Trap, TypedFunc,
};

pub use error::{Result, WitnessError};
pub use inputs::{parse_inputs, Inputs};
pub use wtns::{read_wtns, write_wtns};

/// 32-bit words per BN254 field element in circom's shared memory.
const N32: usize = 8;

/// Longest single message read back through `getMessageChar`; a wasm that never sends the
/// terminating 0 would otherwise keep the host looping until the fuel runs out.
const MAX_MESSAGE_CHARS: usize = 16 * 1024;

/// Total bytes of error text and `log()` output kept per calculation.
const MAX_TEXT_BYTES: usize = 1 << 20;

/// Circom wasm has one small function table; anything beyond this is not circom.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Resource bounds for one witness calculation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wasm fuel (about one unit per wasm instruction) per calculation. The default, 2^38
    /// (about 2.7e11), stops a runaway wasm after roughly half a minute on a 2-core CI-class
    /// machine. Real circuits use far less: poseidon_chain_32 (16.5k constraints) 6.8e7,
    /// range_check (16.6k) 1.9e8, i.e. up to ~1.2e4 per constraint, so the default covers
    /// circuits up to about 20M constraints and [`Limits::for_constraints`] scales it for
    /// bigger ones. Fuel rather than a wall-clock epoch deadline because it is deterministic
    /// (the same input always succeeds or always fails) and needs no timer thread; it costs
    /// roughly 10-20% of the calculation time.
    pub fuel: u64,
    /// Cap on the wasm linear memory in bytes (default 4 GiB, all that 32-bit wasm can
    /// address, as node gives it). Also bounds the host-side witness buffer, since a
    /// circuit cannot report more witness values than fit in its memory.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 1 << 38,
            memory_bytes: 4 << 30,
        }
    }
}

impl Limits {
    /// The limits for a circuit of `constraints` constraints (a zkey's domain size will
    /// do): the default fuel, or 2^16 per constraint where that is more, at least 5x what
    /// the measured circuits use, so a big circuit is not stopped as a runaway one.
    pub fn for_constraints(constraints: u64) -> Self {
        let default = Self::default();
        Self {
            fuel: default.fuel.max(constraints.saturating_mul(1 << 16)),
            ..default
        }
    }
}

/// A compiled circuit wasm, ready to compute any number of witnesses.
///
/// Compilation (the slow part, about a second for a few MB of wasm) happens once in the
/// constructor; every [`calculate`](Self::calculate) then instantiates the module afresh, so
/// no state leaks from one witness (or one failed witness) to the next, and one calculator can
/// be shared by threads (`&self`, `Send + Sync`).
pub struct WitnessCalculator {
    engine: Engine,
    pre: InstancePre<Host>,
    limits: Limits,
    version: (u32, u32, u32),
    witness_size: usize,
    input_size: Option<u64>,
    /// Whether witness values can be copied straight out of linear memory at
    /// `getSharedRWMemoryStart()` instead of one `readSharedRWMemory` call per 32-bit word,
    /// which is about a third of the run time for a 16k-wire circuit. Enabled only when the
    /// constructor saw both ways return the same prime.
    direct_shared: bool,
    /// Candidate input names from a `.sym` file, used only to name missing inputs.
    sym_names: Option<Vec<String>>,
}

impl std::fmt::Debug for WitnessCalculator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessCalculator")
            .field("circom_version", &self.version)
            .field("witness_size", &self.witness_size)
            .field("input_size", &self.input_size)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl WitnessCalculator {
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_file_with_limits(path, Limits::default())
    }

    /// [`Self::from_file`] with `limits` (such as [`Limits::for_constraints`]).
    pub fn from_file_with_limits(path: impl AsRef<Path>, limits: Limits) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| WitnessError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::with_limits(&bytes, limits)
    }

    pub fn from_bytes(wasm: &[u8]) -> Result<Self> {
        Self::with_limits(wasm, Limits::default())
    }

    /// Compiles `wasm` and checks, by running it once, that it is a circom 2 witness
    /// calculator over the BN254 scalar field, so that a wrong file fails here rather than on
    /// the first job.
    pub fn with_limits(wasm: &[u8], limits: Limits) -> Result<Self> {
        let mut config = Config::new();
        config.consume_fuel(true);
        config.cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&config)
            .map_err(|e| WitnessError::InvalidWasm(format!("engine setup: {e:#}")))?;
        let module =
            Module::new(&engine, wasm).map_err(|e| WitnessError::InvalidWasm(format!("{e:#}")))?;
        let mut linker: Linker<Host> = Linker::new(&engine);
        define_runtime(&mut linker)?;
        let pre = linker.instantiate_pre(&module).map_err(|e| {
            WitnessError::InvalidWasm(format!("{e:#} (not a circom 2 witness wasm?)"))
        })?;

        let mut calc = Self {
            engine,
            pre,
            limits,
            version: (0, 0, 0),
            witness_size: 0,
            input_size: None,
            direct_shared: false,
            sym_names: None,
        };
        let mut run = calc.start()?;
        let call = |run: &mut Run, name: &str| -> Result<i32> {
            let f = typed::<(), i32>(&run.instance, &mut run.store, name)?;
            f.call(&mut run.store, ()).map_err(|e| run.map_err(e, None))
        };
        let optional = |run: &mut Run, name: &str| -> Result<Option<i32>> {
            if run.instance.get_export(&mut run.store, name).is_none() {
                return Ok(None);
            }
            call(run, name).map(Some)
        };

        let major = call(&mut run, "getVersion")?;
        let minor = optional(&mut run, "getMinorVersion")?.unwrap_or(0);
        let patch = optional(&mut run, "getPatchVersion")?.unwrap_or(0);
        calc.version = (major as u32, minor as u32, patch as u32);
        if major < 2 {
            return Err(WitnessError::InvalidWasm(format!(
                "circom version {major} wasm; only the circom 2 protocol is supported"
            )));
        }

        let n32 = call(&mut run, "getFieldNumLen32")?;
        if !(1..=64).contains(&n32) {
            return Err(WitnessError::InvalidWasm(format!(
                "field element of {n32} 32-bit words"
            )));
        }
        let get_raw_prime = typed::<(), ()>(&run.instance, &mut run.store, "getRawPrime")?;
        get_raw_prime
            .call(&mut run.store, ())
            .map_err(|e| run.map_err(e, None))?;
        let mut prime_words = vec![0u32; n32 as usize];
        run.read_shared(&mut prime_words)?;
        let expected: Vec<u32> = Fr::MODULUS
            .0
            .iter()
            .flat_map(|l| [*l as u32, (*l >> 32) as u32])
            .collect();
        if prime_words != expected {
            return Err(WitnessError::WrongPrime {
                found: words_to_decimal(&prime_words),
            });
        }
        calc.direct_shared = match run.shared_view()? {
            Some((memory, start)) => {
                let mut bytes = [0u8; N32 * 4];
                memory.read(&run.store, start, &mut bytes).is_ok()
                    && bytes
                        .chunks_exact(4)
                        .zip(&prime_words)
                        .all(|(b, w)| b == w.to_le_bytes())
            }
            None => false,
        };

        let witness_size = call(&mut run, "getWitnessSize")?;
        let witness_size = usize::try_from(witness_size)
            .map_err(|_| WitnessError::InvalidWasm(format!("witness size {witness_size}")))?;
        // The wasm keeps every witness value in its own memory, so more than this is a lie that
        // would only make the host allocate.
        if witness_size.saturating_mul(N32 * 4) > limits.memory_bytes {
            return Err(WitnessError::InvalidWasm(format!(
                "claims {witness_size} witness values, more than fit in the {} byte memory limit",
                limits.memory_bytes
            )));
        }
        calc.witness_size = witness_size;
        calc.input_size = optional(&mut run, "getInputSize")?
            .map(|n| {
                u64::try_from(n).map_err(|_| WitnessError::InvalidWasm(format!("input size {n}")))
            })
            .transpose()?;
        // Fail now, not per job, if a protocol function is missing or mistyped.
        Exports::get(&mut run)?;
        Ok(calc)
    }

    /// Reads the circuit's `.sym` file (from `circom --sym`) so that a "missing inputs" error
    /// can name the signals: the wasm only knows hashes of input names.
    pub fn with_sym_file(self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| WitnessError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.with_sym(&text)
    }

    /// As [`with_sym_file`](Self::with_sym_file), from the file's text. Lines are
    /// `witness_index,signal_index,component_index,name`; main's own signals are `main.x` or
    /// `main.x[i]...`. Which of them are inputs is asked of the wasm when the error happens.
    pub fn with_sym(mut self, sym: &str) -> Result<Self> {
        let mut names: Vec<String> = Vec::new();
        for (n, line) in sym.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let name = line
                .splitn(4, ',')
                .nth(3)
                .ok_or_else(|| WitnessError::InvalidSym(format!("line {}: {line:?}", n + 1)))?;
            let Some(local) = name.strip_prefix("main.") else {
                continue;
            };
            let base = local.split('[').next().unwrap_or(local);
            // Signals of subcomponents (main.h[0].out) and bus fields are not inputs of main
            // that can be named by a plain key.
            if base.is_empty() || local[base.len()..].contains('.') || base.contains('.') {
                continue;
            }
            if !names.iter().any(|x| x == base) {
                names.push(base.to_string());
            }
        }
        self.sym_names = Some(names);
        Ok(self)
    }

    /// Circom compiler version that produced the wasm (major, minor, patch).
    pub fn circom_version(&self) -> (u32, u32, u32) {
        self.version
    }

    /// Number of witness values, including the leading constant 1.
    pub fn witness_size(&self) -> usize {
        self.witness_size
    }

    /// Number of input values the circuit expects (all signals, flattened), when the wasm
    /// reports it (circom >= 2.1).
    pub fn input_size(&self) -> Option<u64> {
        self.input_size
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Computes the full witness: `[1, public outputs, public inputs, private inputs, ...]`
    /// in circom's wire order, standard-form field elements.
    pub fn calculate(&self, inputs: &Inputs) -> Result<Vec<Fr>> {
        let mut run = self.start()?;
        let ex = Exports::get(&mut run)?;
        ex.init
            .call(&mut run.store, 0)
            .map_err(|e| run.map_err(e, None))?;

        let mut set: u64 = 0;
        for (name, values) in inputs.iter() {
            let h = fnv1a64(name);
            let (msb, lsb) = ((h >> 32) as u32 as i32, h as u32 as i32);
            if let Some(size_of) = &ex.get_input_signal_size {
                let size = size_of
                    .call(&mut run.store, (msb, lsb))
                    .map_err(|e| run.map_err(e, Some(name)))?;
                // circom 2.2.3 answers 0 for a name it does not have; witness_calculator.js
                // also guards against a negative answer.
                if size < 0 || (size == 0 && !values.is_empty()) {
                    return Err(WitnessError::UnknownSignal {
                        signal: name.to_string(),
                    });
                }
                if values.len() != size as usize {
                    return Err(WitnessError::WrongLength {
                        signal: name.to_string(),
                        expected: size as usize,
                        got: values.len(),
                    });
                }
            }
            for (i, v) in values.iter().enumerate() {
                let limbs = v.into_bigint().0;
                for (j, word) in limbs
                    .iter()
                    .flat_map(|l| [*l as u32, (*l >> 32) as u32])
                    .enumerate()
                {
                    ex.write_shared
                        .call(&mut run.store, (j as i32, word as i32))
                        .map_err(|e| run.map_err(e, Some(name)))?;
                }
                // The last input set runs the whole circuit, so assertion failures surface here.
                ex.set_input_signal
                    .call(&mut run.store, (msb, lsb, i as i32))
                    .map_err(|e| run.map_err(e, Some(name)))?;
                set += 1;
            }
        }
        if let Some(expected) = self.input_size {
            if set < expected {
                let missing = match &self.sym_names {
                    Some(names) => Some(self.missing_names(&mut run, &ex, names, inputs)?),
                    None => None,
                };
                return Err(WitnessError::MissingInputs {
                    set,
                    expected,
                    missing,
                });
            }
        }

        let direct = if self.direct_shared {
            run.shared_view()?
        } else {
            None
        };
        let mut witness = Vec::with_capacity(self.witness_size);
        let mut words = [0u32; N32];
        let mut bytes = [0u8; N32 * 4];
        for i in 0..self.witness_size {
            ex.get_witness
                .call(&mut run.store, i as i32)
                .map_err(|e| run.map_err(e, None))?;
            match direct {
                Some((memory, start)) => {
                    memory.read(&run.store, start, &mut bytes).map_err(|_| {
                        WitnessError::InvalidWasm("shared memory is out of bounds".into())
                    })?
                }
                None => {
                    run.read_shared_with(&ex.read_shared, &mut words)?;
                    for (c, w) in bytes.chunks_exact_mut(4).zip(words) {
                        c.copy_from_slice(&w.to_le_bytes());
                    }
                }
            }
            let value = wtns::fr_from_le_canonical(&bytes).ok_or_else(|| {
                WitnessError::InvalidWasm(format!("witness value {i} is not below the prime"))
            })?;
            witness.push(value);
        }
        Ok(witness)
    }

    /// Parses `json` with [`parse_inputs`] and computes the witness.
    pub fn calculate_json(&self, json: &str) -> Result<Vec<Fr>> {
        self.calculate(&parse_inputs(json)?)
    }

    /// The `.wtns` file that `generate_witness.js` would write for these inputs.
    pub fn calculate_wtns_bytes(&self, inputs: &Inputs) -> Result<Vec<u8>> {
        Ok(write_wtns(&self.calculate(inputs)?))
    }

    fn start(&self) -> Result<Run> {
        let host = Host {
            limiter: MemLimiter {
                limit: self.limits.memory_bytes,
                exceeded: false,
            },
            exception: None,
            error_text: String::new(),
            line: String::new(),
            log: Vec::new(),
            text_bytes: 0,
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|h| &mut h.limiter);
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| WitnessError::InvalidWasm(format!("fuel: {e:#}")))?;
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| map_err(&mut store, &self.limits, e, None))?;
        Ok(Run {
            store,
            instance,
            limits: self.limits,
        })
    }

    /// Inputs named by the `.sym` file that the wasm confirms are inputs and that were not
    /// given.
    fn missing_names(
        &self,
        run: &mut Run,
        ex: &Exports,
        names: &[String],
        inputs: &Inputs,
    ) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        for name in names {
            if inputs.get(name).is_some() {
                continue;
            }
            // Without the size query (before circom 2.0.4) every name not given counts.
            let size = match &ex.get_input_signal_size {
                Some(size_of) => {
                    let h = fnv1a64(name);
                    size_of
                        .call(&mut run.store, ((h >> 32) as u32 as i32, h as u32 as i32))
                        .map_err(|e| run.map_err(e, None))?
                }
                None => 1,
            };
            if size > 0 {
                missing.push(name.clone());
            }
        }
        Ok(missing)
    }
}

/// 64-bit FNV-1a over UTF-16 code units, as `fnvHash` in witness_calculator.js (which hashes
/// `charCodeAt`); for the ASCII names circom produces this is the byte-wise hash.
fn fnv1a64(name: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for unit in name.encode_utf16() {
        h ^= u64::from(unit);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

fn words_to_decimal(words: &[u32]) -> String {
    // Only for error messages: schoolbook division by 10 over little-endian u32 words.
    let mut w: Vec<u32> = words.to_vec();
    let mut digits = Vec::new();
    while w.iter().any(|&x| x != 0) {
        let mut rem: u64 = 0;
        for x in w.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*x);
            *x = (cur / 10) as u32;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn typed<P, R>(instance: &Instance, store: &mut Store<Host>, name: &str) -> Result<TypedFunc<P, R>>
where
    P: wasmtime::WasmParams,
    R: wasmtime::WasmResults,
{
    instance
        .get_typed_func::<P, R>(store, name)
        .map_err(|e| WitnessError::InvalidWasm(format!("export `{name}`: {e:#}")))
}

/// The protocol functions every calculation uses, looked up once per instance.
struct Exports {
    init: TypedFunc<i32, ()>,
    /// Absent before circom 2.0.4: the wasm's own exceptions then catch unknown names
    /// and surplus values, as they do for witness_calculator.js of those versions.
    get_input_signal_size: Option<TypedFunc<(i32, i32), i32>>,
    set_input_signal: TypedFunc<(i32, i32, i32), ()>,
    write_shared: TypedFunc<(i32, i32), ()>,
    read_shared: TypedFunc<i32, i32>,
    get_witness: TypedFunc<i32, ()>,
}

impl Exports {
    fn get(run: &mut Run) -> Result<Self> {
        let (i, s) = (&run.instance, &mut run.store);
        Ok(Self {
            init: typed(i, s, "init")?,
            get_input_signal_size: match i.get_export(&mut *s, "getInputSignalSize") {
                Some(_) => Some(typed(i, s, "getInputSignalSize")?),
                None => None,
            },
            set_input_signal: typed(i, s, "setInputSignal")?,
            write_shared: typed(i, s, "writeSharedRWMemory")?,
            read_shared: typed(i, s, "readSharedRWMemory")?,
            get_witness: typed(i, s, "getWitness")?,
        })
    }
}

/// One instance and its store: the unit of isolation between calculations.
struct Run {
    store: Store<Host>,
    instance: Instance,
    limits: Limits,
}

impl Run {
    /// The exported memory and the shared-memory address, when the wasm exports both
    /// (circom >= 2.0.8 does).
    fn shared_view(&mut self) -> Result<Option<(Memory, usize)>> {
        let Some(memory) = self.instance.get_memory(&mut self.store, "memory") else {
            return Ok(None);
        };
        if self
            .instance
            .get_export(&mut self.store, "getSharedRWMemoryStart")
            .is_none()
        {
            return Ok(None);
        }
        let f = typed::<(), i32>(&self.instance, &mut self.store, "getSharedRWMemoryStart")?;
        let start = f
            .call(&mut self.store, ())
            .map_err(|e| self.map_err(e, None))?;
        Ok(Some((memory, start as u32 as usize)))
    }

    fn read_shared(&mut self, out: &mut [u32]) -> Result<()> {
        let f = typed::<i32, i32>(&self.instance, &mut self.store, "readSharedRWMemory")?;
        self.read_shared_with(&f, out)
    }

    fn read_shared_with(&mut self, f: &TypedFunc<i32, i32>, out: &mut [u32]) -> Result<()> {
        for (j, w) in out.iter_mut().enumerate() {
            *w = f
                .call(&mut self.store, j as i32)
                .map_err(|e| self.map_err(e, None))? as u32;
        }
        Ok(())
    }

    fn map_err(&mut self, err: wasmtime::Error, signal: Option<&str>) -> WitnessError {
        map_err(&mut self.store, &self.limits, err, signal)
    }
}

/// Turns a failed wasm call into the most specific error: a circom exception raised through
/// `exceptionHandler`, the memory cap, the fuel bound, or a plain trap.
fn map_err(
    store: &mut Store<Host>,
    limits: &Limits,
    err: wasmtime::Error,
    signal: Option<&str>,
) -> WitnessError {
    let host = store.data_mut();
    if let Some(code) = host.exception.take() {
        let message = std::mem::take(&mut host.error_text);
        let mut log = std::mem::take(&mut host.log);
        if !host.line.is_empty() {
            log.push(std::mem::take(&mut host.line));
        }
        return match code {
            1 => WitnessError::UnknownSignal {
                signal: signal.unwrap_or("?").to_string(),
            },
            4 => WitnessError::AssertFailed { message, log },
            _ => WitnessError::CircuitException {
                code,
                description: exception_description(code),
                signal: signal.map(str::to_string),
                message,
            },
        };
    }
    if host.limiter.exceeded {
        return WitnessError::OutOfMemory {
            limit_bytes: limits.memory_bytes,
        };
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => WitnessError::FuelExhausted { limit: limits.fuel },
        _ => WitnessError::Trap(format!("{err:#}")),
    }
}

/// Texts of witness_calculator.js's `exceptionHandler`.
fn exception_description(code: i32) -> &'static str {
    match code {
        1 => "signal not found",
        2 => "too many signals set",
        3 => "signal already set",
        4 => "assert failed",
        5 => "not enough memory",
        6 => "input signal array access exceeds the size",
        7 => "out of bounds array access",
        _ => "unknown error",
    }
}

/// Per-instance host state behind the `runtime.*` imports.
struct Host {
    limiter: MemLimiter,
    /// Code passed to `exceptionHandler`; the trap that follows is then a circom error.
    exception: Option<i32>,
    /// `printErrorMessage` text (errStr in the JS).
    error_text: String,
    /// `writeBufferMessage` line being assembled (msgStr in the JS) and finished lines.
    line: String,
    log: Vec<String>,
    text_bytes: usize,
}

impl Host {
    /// Keeps at most MAX_TEXT_BYTES of messages so a chatty wasm cannot grow host memory.
    fn budget(&mut self, n: usize) -> bool {
        if self.text_bytes + n > MAX_TEXT_BYTES {
            return false;
        }
        self.text_bytes += n;
        true
    }
}

struct MemLimiter {
    limit: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            // Trap instead of letting memory.grow return -1: circom does not check it and would
            // fail later with a confusing out-of-bounds access.
            self.exceeded = true;
            return Err(wasmtime::Error::msg("wasm memory limit exceeded"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Reads a 0-terminated message through `getMessageChar`, as `getMessage()` in the JS.
fn read_message(caller: &mut Caller<'_, Host>) -> wasmtime::Result<String> {
    let f = caller
        .get_export("getMessageChar")
        .and_then(|e| e.into_func())
        .ok_or_else(|| wasmtime::Error::msg("wasm has no getMessageChar export"))?
        .typed::<(), i32>(&*caller)?;
    let mut msg = String::new();
    for _ in 0..MAX_MESSAGE_CHARS {
        let c = f.call(&mut *caller, ())?;
        if c == 0 {
            return Ok(msg);
        }
        // String.fromCharCode takes the low 16 bits as a UTF-16 unit.
        msg.push(char::from_u32(c as u32 & 0xFFFF).unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    msg.push_str("...");
    Ok(msg)
}

fn define_runtime(linker: &mut Linker<Host>) -> Result<()> {
    let wrap_err = |e: wasmtime::Error| WitnessError::InvalidWasm(format!("linker: {e:#}"));
    linker
        .func_wrap(
            "runtime",
            "exceptionHandler",
            |mut caller: Caller<'_, Host>, code: i32| -> wasmtime::Result<()> {
                caller.data_mut().exception = Some(code);
                // JS throws here, abandoning the wasm call; a host error does the same.
                Err(wasmtime::Error::msg(format!(
                    "circom exception {code}: {}",
                    exception_description(code)
                )))
            },
        )
        .map_err(wrap_err)?;
    linker
        .func_wrap(
            "runtime",
            "printErrorMessage",
            |mut caller: Caller<'_, Host>| -> wasmtime::Result<()> {
                let msg = read_message(&mut caller)?;
                let host = caller.data_mut();
                if host.budget(msg.len() + 1) {
                    host.error_text.push_str(&msg);
                    host.error_text.push('\n');
                }
                Ok(())
            },
        )
        .map_err(wrap_err)?;
    linker
        .func_wrap(
            "runtime",
            "writeBufferMessage",
            |mut caller: Caller<'_, Host>| -> wasmtime::Result<()> {
                let msg = read_message(&mut caller)?;
                let host = caller.data_mut();
                // circom's log() ends every call with "\n": that is when JS prints the line.
                if msg == "\n" {
                    let line = std::mem::take(&mut host.line);
                    if host.budget(line.len()) {
                        host.log.push(line);
                    }
                } else if host.budget(msg.len() + 1) {
                    if !host.line.is_empty() {
                        host.line.push(' ');
                    }
                    host.line.push_str(&msg);
                }
                Ok(())
            },
        )
        .map_err(wrap_err)?;
    linker
        .func_wrap(
            "runtime",
            "showSharedRWMemory",
            |mut caller: Caller<'_, Host>| -> wasmtime::Result<()> {
                // log() of a field element: the value sits in shared memory.
                let read = caller
                    .get_export("readSharedRWMemory")
                    .and_then(|e| e.into_func())
                    .ok_or_else(|| wasmtime::Error::msg("wasm has no readSharedRWMemory"))?
                    .typed::<i32, i32>(&caller)?;
                let mut words = [0u32; N32];
                for (j, w) in words.iter_mut().enumerate() {
                    *w = read.call(&mut caller, j as i32)? as u32;
                }
                let text = words_to_decimal(&words);
                let host = caller.data_mut();
                if host.budget(text.len() + 1) {
                    if !host.line.is_empty() {
                        host.line.push(' ');
                    }
                    host.line.push_str(&text);
                }
                Ok(())
            },
        )
        .map_err(wrap_err)?;
    // circom 2.2.0's wasm imports it (and never calls it with anything to show); 2.2.1
    // dropped it again.
    linker
        .func_wrap(
            "runtime",
            "printDebug",
            |_: Caller<'_, Host>, _value: i32| {},
        )
        .map_err(wrap_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuel_grows_with_the_circuit_past_the_default() {
        assert_eq!(Limits::for_constraints(16_500), Limits::default());
        assert_eq!(Limits::for_constraints(1 << 22), Limits::default());
        let big = Limits::for_constraints(1 << 25);
        assert_eq!(big.fuel, 1 << 41);
        assert_eq!(big.memory_bytes, Limits::default().memory_bytes);
        assert_eq!(Limits::for_constraints(u64::MAX).fuel, u64::MAX);
    }

    #[test]
    fn fnv_matches_witness_calculator_js() {
        // fnvHash("main") etc. computed with witness_calculator.js's fnvHash.
        assert_eq!(fnv1a64(""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64("a"), 0xaf63dc4c8601ec8c);
    }

    /// The word-by-word `readSharedRWMemory` path is the fallback for wasms without
    /// `getSharedRWMemoryStart`; it must give the same witness as the direct copy.
    #[test]
    fn protocol_readout_matches_direct_readout() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/groth16/range_check");
        let mut calc = WitnessCalculator::from_file(dir.join("circuit_js/circuit.wasm"))
            .expect("fixture wasm");
        assert!(
            calc.direct_shared,
            "circom 2.2.3 exports getSharedRWMemoryStart"
        );
        let json = std::fs::read_to_string(dir.join("input.json")).expect("fixture input");
        let direct = calc.calculate_json(&json).expect("witness");
        calc.direct_shared = false;
        let protocol = calc.calculate_json(&json).expect("witness");
        assert_eq!(direct, protocol);
        let reference = std::fs::read(dir.join("witness.wtns")).expect("fixture wtns");
        assert_eq!(write_wtns(&protocol), reference);
    }

    #[test]
    fn decimal_of_words() {
        assert_eq!(words_to_decimal(&[0, 0]), "0");
        assert_eq!(words_to_decimal(&[0, 1]), "4294967296");
        let p: Vec<u32> = Fr::MODULUS
            .0
            .iter()
            .flat_map(|l| [*l as u32, (*l >> 32) as u32])
            .collect();
        assert_eq!(words_to_decimal(&p), Fr::MODULUS.to_string());
    }
}
