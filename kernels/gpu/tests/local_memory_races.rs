//! The kernels that share local memory (the NTT passes, the prefix sums) run on the host
//! under ThreadSanitizer, one thread per work-item (`host_threads/harness.c`): no two items
//! may touch one word, one of them writing, without a barrier between them, and every item
//! must pass the same barriers. PoCL and llvmpipe, which run these kernels in the other
//! tests, execute a group's items one after another between barriers and so hide a missing
//! barrier whenever the writer happens to run first; a GPU runs them at once. This is the
//! same source the GPUs compile, at OpenCL's and at CUDA's work-group size.
//!
//! Needs a C compiler with ThreadSanitizer (`cc`, or `$CC`: gcc or clang on x86-64 Linux).

use kernels_gpu::source::{
    kernel_source_for_group, Dialect, FieldProduct, CUDA_GROUP, OPENCL_GROUP,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The kernels the harness runs; each uses local memory and barriers.
const KERNELS: [&str; 7] = [
    "Fr_ntt_first",
    "Fr_ntt_first_shoup",
    "Fr_ntt_first_radix4",
    "Fr_ntt_strided",
    "Fr_ntt_sets_shoup",
    "Fr_ntt_sets_radix4",
    "scan_blocks",
];

/// Compiles the harness with the kernel source for `group`, with or without barriers.
fn build(group: usize, barriers: bool) -> PathBuf {
    let suffix = if barriers { "" } else { "-no-barriers" };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("host-threads-{group}{suffix}"));
    std::fs::create_dir_all(&dir).expect("creating the harness's build folder");
    let source = kernel_source_for_group(Dialect::OpenCl, FieldProduct::Cios, group);
    std::fs::write(dir.join("kernels.cl"), source).expect("writing the kernel source");
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host_threads/harness.c");
    let binary = dir.join("harness");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut command = Command::new(&cc);
    // -w: the OpenCL source's `#pragma unroll` and unused kernels are not C's concern.
    command
        .args([
            "-std=gnu11",
            "-O1",
            "-g",
            "-fsanitize=thread",
            "-pthread",
            "-w",
            "-I",
        ])
        .arg(&dir)
        .arg(&harness)
        .arg("-o")
        .arg(&binary);
    if !barriers {
        command.arg("-DHOST_NO_BARRIERS");
    }
    let out = command.output().unwrap_or_else(|e| {
        panic!("running {cc} (a C compiler with ThreadSanitizer is needed): {e}")
    });
    assert!(
        out.status.success(),
        "{cc} could not build the harness:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

/// Runs the harness on the kernel named `only` ("" for all).
fn run(binary: &Path, only: &str) -> Output {
    Command::new(binary)
        .arg(only)
        // Stop at the first race: the control runs want one, the clean runs none.
        .env("TSAN_OPTIONS", "halt_on_error=1 exitcode=66")
        .output()
        .expect("running the harness")
}

fn race_free_at(group: usize) {
    let out = run(&build(group, true), "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("ThreadSanitizer"),
        "GROUP {group}: the local-memory kernels race or misuse barriers:\n{stdout}\n{stderr}"
    );
    // Every kernel ran, and ran its barriers (a harness that ran nothing passes nothing).
    for kernel in KERNELS {
        let barriers: u64 = stdout
            .lines()
            .filter(|line| line.starts_with(&format!("{kernel} ")))
            .filter_map(|line| {
                line.rsplit(": ")
                    .next()?
                    .strip_suffix(" barriers")?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        assert!(
            barriers > 0,
            "GROUP {group}: {kernel} passed no barrier:\n{stdout}"
        );
    }
}

#[test]
fn local_memory_kernels_are_race_free_at_opencls_group_size() {
    race_free_at(OPENCL_GROUP);
}

#[test]
fn local_memory_kernels_are_race_free_at_cudas_group_size() {
    race_free_at(CUDA_GROUP);
}

/// The control: the same kernels without their barriers must each be reported, or the
/// checks above prove nothing.
#[test]
fn each_kernel_without_its_barriers_is_reported() {
    let binary = build(OPENCL_GROUP, false);
    for kernel in KERNELS {
        let out = run(&binary, kernel);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("ThreadSanitizer: data race"),
            "{kernel} without barriers was not reported:\n{stderr}"
        );
    }
}
