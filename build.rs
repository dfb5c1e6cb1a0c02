//! Bakes the kernel-source hash and the enabled backends into the binary.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                collect(&path, out);
            }
        } else if path.extension().is_some_and(|e| {
            ["rs", "cu", "cl", "h", "cuh", "v", "sv", "cpp"].contains(&e.to_str().unwrap_or(""))
        }) {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let mut files = Vec::new();
    for dir in ["kernels", "fpga"] {
        collect(&root.join(dir), &mut files);
    }
    files.sort();
    let mut hasher = Sha256::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap_or(f);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update(fs::read(f).unwrap_or_default());
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=APPLIANCE_KERNEL_HASH={hash}");

    let mut backends = vec!["cpu"];
    for (feature, name) in [("CUDA", "cuda"), ("OPENCL", "opencl"), ("FPGA", "fpga")] {
        if std::env::var_os(format!("CARGO_FEATURE_{feature}")).is_some() {
            backends.push(name);
        }
    }
    println!("cargo:rustc-env=APPLIANCE_BACKENDS={}", backends.join(","));
    println!("cargo:rerun-if-changed=kernels");
    println!("cargo:rerun-if-changed=fpga");
    println!("cargo:rerun-if-changed=build.rs");
}
