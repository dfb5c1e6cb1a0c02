//! Compiles the CUDA flavour of the kernel source with NVRTC and assembles it with ptxas
//! for each target architecture, without any GPU: prints ptxas's resource report for every
//! kernel, fails on a compile error or on register spills in the hot G1 MSM and NTT
//! kernels, and only reports spills elsewhere (G2, unit-test kernels). It also runs the
//! PTX of the called field products, sums and differences (`Fq_mul`, `Fq_add_called`, ...)
//! through a small interpreter (`ptx.rs`) against arkworks, so that the CUDA flavour of
//! the field arithmetic, with its CUDA-only carry chains, is executed in CI too.
//!
//! `cargo run -p kernels-gpu --features cuda --example gpu-compile-check -- \
//!     --ptxas PATH [--arch sm_80,sm_90] [--out DIR]` (libnvrtc must be loadable, e.g. from
//! the nvidia-cuda-nvrtc-cu12 wheel through LD_LIBRARY_PATH).

mod ptx;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use ark_ff::{BigInteger, Field, UniformRand};
use kernels_gpu::cuda::compile_ptx;
use kernels_gpu::source::{Dialect, FieldProduct};
use rand::SeedableRng;

/// Random operand pairs per operation, field and architecture run through the interpreter
/// (besides every pair of the edge values).
const PRODUCTS: usize = 2000;

/// Kernels whose spills fail the check: the G1 MSM (with its digit, sort and layout
/// kernels) and NTT.
const HOT: [&str; 20] = [
    "msm_digits",
    "msm_scatter",
    "msm_carry_runs",
    "scan_blocks",
    "scan_add",
    "layout_count",
    "layout_segments",
    "Fr_ntt_first",
    "Fr_ntt_first_shoup",
    "Fr_ntt_sets_shoup",
    "Fr_ntt_first_radix4",
    "Fr_ntt_sets_radix4",
    "Fr_ntt_strided",
    "G1_sum_chunks",
    "G1_sum_points",
    "G1_reduce_buckets",
    "G1_sum_groups",
    "Fr_butterfly",
    "Fr_bit_reverse",
    "Fr_scale",
];

#[derive(Default, Debug)]
struct Usage {
    kernel: String,
    registers: u32,
    stack: u32,
    spill_stores: u32,
    spill_loads: u32,
}

fn number_before(line: &str, unit: &str) -> Option<u32> {
    let at = line.find(unit)?;
    line[..at].split_whitespace().last()?.parse().ok()
}

/// The last name of an Itanium-mangled nested name (`_ZN..6Fq_mulE..` -> `Fq_mul`); plain
/// names are returned as they are.
fn demangle(name: &str) -> String {
    let Some(mut rest) = name.strip_prefix("_ZN") else {
        return name.to_string();
    };
    let mut last = name;
    while let Some(digits) = rest.find(|c: char| !c.is_ascii_digit()).filter(|&d| d > 0) {
        let Ok(len) = rest[..digits].parse::<usize>() else {
            break;
        };
        let Some(ident) = rest.get(digits..digits + len) else {
            break;
        };
        last = ident;
        rest = &rest[digits + len..];
    }
    last.to_string()
}

/// Parses `ptxas -v` output into one record per kernel and per called (non-inlined)
/// function; a function called from several kernels is listed once.
fn parse(report: &str) -> Vec<Usage> {
    let mut out: Vec<Usage> = Vec::new();
    // Index of the record the next "stack frame" line belongs to.
    let mut target: Option<usize> = None;
    let mut entry: Option<usize> = None;
    for line in report.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            let name = rest.split('\'').next().unwrap_or("").to_string();
            out.push(Usage {
                kernel: name,
                ..Usage::default()
            });
            entry = Some(out.len() - 1);
            target = entry;
        } else if let Some(rest) = line.split("Function properties for ").nth(1) {
            let name = demangle(rest.trim());
            target = match entry {
                Some(e) if out[e].kernel == name => Some(e),
                _ => match out.iter().position(|u| u.kernel == name) {
                    Some(i) => Some(i),
                    None => {
                        out.push(Usage {
                            kernel: name,
                            ..Usage::default()
                        });
                        Some(out.len() - 1)
                    }
                },
            };
        } else if line.contains("stack frame") {
            if let Some(u) = target.and_then(|t| out.get_mut(t)) {
                u.stack = u
                    .stack
                    .max(number_before(line, "bytes stack frame").unwrap_or(0));
                u.spill_stores = u
                    .spill_stores
                    .max(number_before(line, "bytes spill stores").unwrap_or(0));
                u.spill_loads = u
                    .spill_loads
                    .max(number_before(line, "bytes spill loads").unwrap_or(0));
            }
        } else if line.contains("Used") && line.contains("registers") {
            if let Some(u) = entry.and_then(|e| out.get_mut(e)) {
                u.registers = number_before(line, "registers").unwrap_or(0);
            }
        }
    }
    out
}

/// Hot: the G1 MSM and NTT kernels and the G1/Fq/Fr functions they call.
fn is_hot(name: &str) -> bool {
    HOT.contains(&name) || ["G1_", "Fq_", "Fr_"].iter().any(|p| name.starts_with(p))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut archs = vec!["sm_80".to_string(), "sm_90".to_string()];
    let mut ptxas = PathBuf::from("ptxas");
    let mut out_dir = std::env::temp_dir().join("appliance-gpu-compile-check");
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--arch", Some(v)) => archs = v.split(',').map(str::to_string).collect(),
            ("--ptxas", Some(v)) => ptxas = PathBuf::from(v),
            ("--out", Some(v)) => out_dir = PathBuf::from(v),
            (other, _) => {
                eprintln!("unknown or incomplete argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("cannot create {}: {e}", out_dir.display());
        return ExitCode::from(2);
    }
    let product = match FieldProduct::for_dialect(Dialect::Cuda) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!("field product: {product:?}");
    let mut failed = false;
    for arch in &archs {
        let virt = arch.replace("sm_", "compute_");
        let ptx = match compile_ptx(&virt, product) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("FAIL {arch}: NVRTC: {e}");
                failed = true;
                continue;
            }
        };
        let ptx_path = out_dir.join(format!("kernels_{arch}.ptx"));
        if let Err(e) = std::fs::write(&ptx_path, &ptx) {
            eprintln!("cannot write {}: {e}", ptx_path.display());
            return ExitCode::from(2);
        }
        match check_products(&ptx) {
            Ok(n) => println!("== {arch}: Fq/Fr mul, add, sub, sqr, mul_sum and Fr's twiddle product of the PTX, interpreted: {n} results equal to arkworks"),
            Err(e) => {
                eprintln!("FAIL {arch}: {e}");
                failed = true;
            }
        }
        let cubin = out_dir.join(format!("kernels_{arch}.cubin"));
        let run = Command::new(&ptxas)
            .arg(format!("-arch={arch}"))
            .arg("-v")
            .arg(&ptx_path)
            .arg("-o")
            .arg(&cubin)
            .output();
        let run = match run {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cannot run {}: {e}", ptxas.display());
                return ExitCode::from(2);
            }
        };
        let report = String::from_utf8_lossy(&run.stderr);
        if !run.status.success() {
            eprintln!("FAIL {arch}: ptxas exited with {}:\n{report}", run.status);
            failed = true;
            continue;
        }
        let usage = parse(&report);
        let report_path = out_dir.join(format!("ptxas_{arch}.txt"));
        let _ = std::fs::write(&report_path, report.as_bytes());
        println!(
            "== {arch}: {} kernels and called functions (PTX {} bytes; raw report {})",
            usage.len(),
            ptx.len(),
            report_path.display()
        );
        println!(
            "{:<24} {:>9} {:>7} {:>12} {:>11}",
            "kernel", "registers", "stack", "spill stores", "spill loads"
        );
        for u in &usage {
            let hot = is_hot(&u.kernel) && !u.kernel.ends_with("selftest");
            let spills = u.spill_stores + u.spill_loads > 0;
            let verdict = match (spills, hot) {
                (true, true) => {
                    failed = true;
                    "  FAIL: spills in a hot kernel"
                }
                (true, false) => "  (spills reported, not fatal)",
                _ => "",
            };
            // ptxas reports registers per kernel only; called functions show "-".
            let registers = if u.registers == 0 {
                "-".to_string()
            } else {
                u.registers.to_string()
            };
            println!(
                "{:<24} {:>9} {:>7} {:>12} {:>11}{verdict}",
                u.kernel, registers, u.stack, u.spill_stores, u.spill_loads
            );
        }
        for k in HOT {
            if !usage.iter().any(|u| u.kernel == k) {
                eprintln!("FAIL {arch}: hot kernel {k} missing from the ptxas report");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs the called product, sum, difference, square and one-reduction sum of products of
/// both fields (`Fq_mul`, `Fq_add_called`, `Fq_sub_called`, `Fq_sqr`, `Fq_mul_sum`, and
/// Fr's) of `ptx` on edge values and random elements, in Montgomery form as the device
/// holds them, and compares every result with arkworks'. Returns how many results were
/// compared.
fn check_products(ptx: &str) -> Result<usize, String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let fq = |x: &ark_bn254::Fq| x.0.to_bytes_le();
    let fr = |x: &ark_bn254::Fr| x.0.to_bytes_le();
    let mut n = 0;
    n += check_op(ptx, "Fq_mul", |x| x[0] * x[1], 2, fq, &mut rng)?;
    n += check_op(ptx, "Fq_add_called", |x| x[0] + x[1], 2, fq, &mut rng)?;
    n += check_op(ptx, "Fq_sub_called", |x| x[0] - x[1], 2, fq, &mut rng)?;
    n += check_op(ptx, "Fq_sqr", |x| x[0].square(), 1, fq, &mut rng)?;
    n += check_op(
        ptx,
        "Fq_mul_sum",
        |x| x[0] * x[1] + x[2] * x[3],
        4,
        fq,
        &mut rng,
    )?;
    n += check_op(ptx, "Fr_mul", |x| x[0] * x[1], 2, fr, &mut rng)?;
    n += check_op(ptx, "Fr_add_called", |x| x[0] + x[1], 2, fr, &mut rng)?;
    n += check_op(ptx, "Fr_sub_called", |x| x[0] - x[1], 2, fr, &mut rng)?;
    n += check_op(ptx, "Fr_sqr", |x| x[0].square(), 1, fr, &mut rng)?;
    n += check_op(
        ptx,
        "Fr_mul_sum",
        |x| x[0] * x[1] + x[2] * x[3],
        4,
        fr,
        &mut rng,
    )?;
    n += check_twiddle_product(ptx, &mut rng)?;
    Ok(n)
}

/// The NTT's twiddle product `Fr_mul_twiddle_called(v, w, w')` (Shoup's, with the host's
/// pairs) against arkworks' v w, for edge values, a pair whose truncated quotient is one
/// short, and random ones.
fn check_twiddle_product(ptx: &str, rng: &mut rand::rngs::StdRng) -> Result<usize, String> {
    use ark_bn254::Fr;
    let func = ptx::find(ptx, "Fr_mul_twiddle_called")?;
    let bytes = |w: &[u32]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let edges = [
        Fr::from(0u64),
        Fr::from(1u64),
        -Fr::from(1u64),
        Fr::from(2u64),
        -Fr::from(2u64),
    ];
    let mut cases: Vec<(Fr, Fr)> = edges
        .iter()
        .flat_map(|v| edges.iter().map(move |w| (*v, *w)))
        .collect();
    cases.extend(kernels_gpu::ntt::shoup_short_quotient_pairs());
    cases.extend((0..PRODUCTS).map(|_| (Fr::rand(rng), Fr::rand(rng))));
    for (v, w) in &cases {
        let (plain, shoup) = kernels_gpu::ntt::shoup_pair(*w);
        let got = func
            .call(&[&v.0.to_bytes_le(), &bytes(&plain), &bytes(&shoup)], 32)
            .map_err(|e| format!("Fr_mul_twiddle_called: {e}"))?;
        if got != (*v * w).0.to_bytes_le() {
            return Err(format!(
                "Fr_mul_twiddle_called({v}, {w}): the PTX gave {got:02x?}, arkworks {}",
                *v * w
            ));
        }
    }
    Ok(cases.len())
}

/// Runs the `.func` `name` of `arity` field arguments on every combination of the edge
/// values (for arity 4, of the first four of them) and on `PRODUCTS` random argument lists.
fn check_op<F: Field + UniformRand>(
    ptx: &str,
    name: &str,
    op: impl Fn(&[F]) -> F,
    arity: usize,
    repr: impl Fn(&F) -> Vec<u8>,
    rng: &mut rand::rngs::StdRng,
) -> Result<usize, String> {
    let func = ptx::find(ptx, name)?;
    let two = F::from(2u64);
    let mut edges = vec![-F::ONE, F::ZERO, F::ONE, -two, two];
    edges.push(two.inverse().unwrap_or(F::ONE));
    if arity > 2 {
        edges.truncate(4);
    }
    let mut cases: Vec<Vec<F>> = vec![Vec::new()];
    for _ in 0..arity {
        cases = cases
            .iter()
            .flat_map(|c| {
                edges.iter().map(move |e| {
                    let mut c = c.clone();
                    c.push(*e);
                    c
                })
            })
            .collect();
    }
    cases.extend((0..PRODUCTS).map(|_| (0..arity).map(|_| F::rand(rng)).collect()));
    for args in &cases {
        let bytes: Vec<Vec<u8>> = args.iter().map(&repr).collect();
        let slices: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let got = func.call(&slices, 32).map_err(|e| format!("{name}: {e}"))?;
        let want = op(args);
        if got != repr(&want) {
            return Err(format!(
                "{name}({args:?}): the PTX gave {got:02x?}, arkworks {want}"
            ));
        }
    }
    Ok(cases.len())
}
