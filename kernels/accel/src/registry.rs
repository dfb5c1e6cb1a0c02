use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use ark_ec::pairing::Pairing;

use crate::{AccelError, Accelerator, Result};

/// The backends a user can ask for by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The first hardware backend that opens, else the CPU.
    Auto,
    Cpu,
    Cuda,
    OpenCl,
    Fpga,
}

impl BackendKind {
    pub const ALL: [BackendKind; 5] = [
        BackendKind::Auto,
        BackendKind::Cpu,
        BackendKind::Cuda,
        BackendKind::OpenCl,
        BackendKind::Fpga,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Auto => "auto",
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
            BackendKind::OpenCl => "opencl",
            BackendKind::Fpga => "fpga",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = AccelError;

    fn from_str(s: &str) -> Result<Self> {
        BackendKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| AccelError::UnknownBackend(s.to_string()))
    }
}

/// How a backend is being opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Named by the user: open whatever device the index picks.
    Named,
    /// Tried by `auto`: refuse, before any set-up, a device that runs on the host CPU (such
    /// as PoCL's). It would be slower than the cpu backend, and finding that out after
    /// building its kernels cost every `auto` start about 70 ms and 80 MiB.
    Auto,
}

/// Opens one backend on the device with the given index.
pub type Opener<E> = Arc<dyn Fn(usize, Selection) -> Result<Arc<dyn Accelerator<E>>> + Send + Sync>;

/// The backends compiled into this binary. The accel crate cannot depend on its backends
/// (they depend on it), so the binary registers what its cargo features built, and asking
/// for anything else is a clear `BackendNotCompiled` instead of a link error or a panic.
pub struct BackendRegistry<E: Pairing> {
    openers: Vec<(BackendKind, Opener<E>)>,
}

impl<E: Pairing> Default for BackendRegistry<E> {
    fn default() -> Self {
        Self {
            openers: Vec::new(),
        }
    }
}

impl<E: Pairing> BackendRegistry<E> {
    pub fn register(&mut self, kind: BackendKind, opener: Opener<E>) {
        self.openers.retain(|(k, _)| *k != kind);
        self.openers.push((kind, opener));
    }

    /// The kinds that can be opened (never `Auto`).
    pub fn compiled(&self) -> Vec<BackendKind> {
        self.openers.iter().map(|(k, _)| *k).collect()
    }

    /// Opens `kind` on device `index`. `Auto` tries CUDA, OpenCL, FPGA, then the CPU, and
    /// skips any that is not compiled or has no working device.
    pub fn open(&self, kind: BackendKind, index: usize) -> Result<Arc<dyn Accelerator<E>>> {
        if kind == BackendKind::Auto {
            let order = [
                BackendKind::Cuda,
                BackendKind::OpenCl,
                BackendKind::Fpga,
                BackendKind::Cpu,
            ];
            let mut last = AccelError::BackendNotCompiled("cpu");
            for k in order {
                match self.open_as(k, index, Selection::Auto) {
                    Ok(b) if k != BackendKind::Cpu && b.runs_on_host_cpu() => {
                        last = AccelError::DeviceNotFound {
                            backend: k.name(),
                            index: Some(index),
                            reason: format!(
                                "only a CPU device ({}), slower than the cpu backend",
                                b.info().device
                            ),
                        };
                    }
                    Ok(b) => return Ok(b),
                    Err(e) if e.is_device_fault() => last = e,
                    Err(e) => return Err(e),
                }
            }
            return Err(last);
        }
        self.open_as(kind, index, Selection::Named)
    }

    fn open_as(
        &self,
        kind: BackendKind,
        index: usize,
        selection: Selection,
    ) -> Result<Arc<dyn Accelerator<E>>> {
        let (_, opener) = self
            .openers
            .iter()
            .find(|(k, _)| *k == kind)
            .ok_or(AccelError::BackendNotCompiled(kind.name()))?;
        opener(index, selection)
    }
}
