//! Times module compilation and witness calculation for circuit fixture folders, so the numbers
//! can be compared with `node circuit_js/generate_witness.js` on the same machine.
//!
//! `cargo run --release -p prover-witness --example witness_timing -- DIR [DIR...] [--runs N]`
//! where each DIR holds `circuit_js/circuit.wasm` and `input.json`.

use std::time::{Duration, Instant};

use prover_witness::{parse_inputs, WitnessCalculator, WitnessError};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), WitnessError> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 9;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(runs)
            .max(1);
        args.drain(i..(i + 2).min(args.len()));
    }
    for dir in &args {
        let dir = std::path::Path::new(dir);
        let wasm_path = dir.join("circuit_js/circuit.wasm");
        let json =
            std::fs::read_to_string(dir.join("input.json")).map_err(|source| WitnessError::Io {
                path: dir.join("input.json"),
                source,
            })?;
        let t = Instant::now();
        let calc = WitnessCalculator::from_file(&wasm_path)?;
        let compile = t.elapsed();
        let mut parse = Vec::new();
        let mut calculate = Vec::new();
        let mut wtns = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let inputs = parse_inputs(&json)?;
            parse.push(t.elapsed());
            let t = Instant::now();
            let w = calc.calculate(&inputs)?;
            calculate.push(t.elapsed());
            let t = Instant::now();
            let bytes = prover_witness::write_wtns(&w);
            wtns.push(t.elapsed());
            std::hint::black_box(bytes);
        }
        println!(
            "{}: witness {} values; compile {:.1} ms; median of {runs}: parse {:.2} ms, calculate {:.2} ms, write wtns {:.2} ms",
            dir.display(),
            calc.witness_size(),
            ms(compile),
            ms(median(parse)),
            ms(median(calculate)),
            ms(median(wtns)),
        );
    }
    Ok(())
}
