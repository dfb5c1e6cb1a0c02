//! Prometheus text metrics: jobs by state, prove-time histogram, queue depth, backend and
//! device, time spent in each prover phase, process memory.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;

use kernels_accel::BackendInfo;
use prover_groth16::PhaseTimings;

use crate::jobs::DeviceVerdict;
use crate::store::JobState;

const BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_state: HashMap<JobState, u64>,
    prove_counts: [u64; BUCKETS.len()],
    prove_sum: f64,
    prove_count: u64,
    phase_seconds: Vec<(String, f64)>,
    cpu_fallbacks: u64,
    last_fallback: Option<String>,
    device_fault_streak: u64,
}

impl Metrics {
    /// A job moved from `from` (None: new) to `to`.
    pub fn transition(&self, from: Option<JobState>, to: JobState) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = from {
            let c = m.by_state.entry(f).or_default();
            *c = c.saturating_sub(1);
        }
        *m.by_state.entry(to).or_default() += 1;
    }

    pub fn observe_prove(&self, seconds: f64, timings: &PhaseTimings) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                m.prove_counts[i] += 1;
            }
        }
        m.prove_sum += seconds;
        m.prove_count += 1;
        for (name, d) in &timings.phases {
            match m.phase_seconds.iter_mut().find(|(n, _)| n == name) {
                Some((_, s)) => *s += d.as_secs_f64(),
                None => m.phase_seconds.push((name.to_string(), d.as_secs_f64())),
            }
        }
    }

    /// A job's proof was made by the CPU fallback, for `reason`.
    pub fn cpu_fallback(&self, reason: &str) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.cpu_fallbacks += 1;
        m.last_fallback = Some(reason.to_string());
    }

    /// Counts the device's faults since it last made a verified proof, from the verdict a
    /// job ended with: one that ended with the device still proving (out of time) counts
    /// as faulted, the device did not answer.
    pub fn device_verdict(&self, verdict: DeviceVerdict) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match verdict {
            DeviceVerdict::Worked => m.device_fault_streak = 0,
            DeviceVerdict::Faulted | DeviceVerdict::Trying => m.device_fault_streak += 1,
            DeviceVerdict::Silent => {}
        }
    }

    /// Jobs in a row whose device attempt faulted ([`DeviceVerdict::Faulted`]), since the
    /// device last made a verified proof.
    pub fn device_fault_streak(&self) -> u64 {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.device_fault_streak
    }

    /// Jobs the CPU fallback proved, and the reason of the latest.
    pub fn cpu_fallbacks(&self) -> (u64, Option<String>) {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (m.cpu_fallbacks, m.last_fallback.clone())
    }

    pub fn count(&self, state: JobState) -> u64 {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.by_state.get(&state).copied().unwrap_or(0)
    }

    pub fn render(&self, backend: &BackendInfo, queue_depth: usize) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(out, "# HELP appliance_jobs Jobs in the store by state.");
        let _ = writeln!(out, "# TYPE appliance_jobs gauge");
        for s in JobState::ALL {
            let _ = writeln!(
                out,
                "appliance_jobs{{state=\"{}\"}} {}",
                s.name(),
                m.by_state.get(&s).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(
            out,
            "# HELP appliance_queue_depth Jobs waiting for the worker."
        );
        let _ = writeln!(out, "# TYPE appliance_queue_depth gauge");
        let _ = writeln!(out, "appliance_queue_depth {queue_depth}");
        let _ = writeln!(out, "# HELP appliance_prove_seconds Wall time of finished jobs (witness + proof + self-check).");
        let _ = writeln!(out, "# TYPE appliance_prove_seconds histogram");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "appliance_prove_seconds_bucket{{le=\"{le}\"}} {}",
                m.prove_counts[i]
            );
        }
        let _ = writeln!(
            out,
            "appliance_prove_seconds_bucket{{le=\"+Inf\"}} {}",
            m.prove_count
        );
        let _ = writeln!(out, "appliance_prove_seconds_sum {}", m.prove_sum);
        let _ = writeln!(out, "appliance_prove_seconds_count {}", m.prove_count);
        let _ = writeln!(out, "# HELP appliance_phase_seconds_total Time spent in each prover phase (NTTs, each MSM).");
        let _ = writeln!(out, "# TYPE appliance_phase_seconds_total counter");
        for (name, s) in &m.phase_seconds {
            let _ = writeln!(
                out,
                "appliance_phase_seconds_total{{phase=\"{}\"}} {s}",
                esc(name)
            );
        }
        let _ = writeln!(out, "# HELP appliance_cpu_fallbacks_total Jobs proved on the CPU because the backend's device failed them or cannot hold their circuit's key.");
        let _ = writeln!(out, "# TYPE appliance_cpu_fallbacks_total counter");
        let _ = writeln!(out, "appliance_cpu_fallbacks_total {}", m.cpu_fallbacks);
        let _ = writeln!(out, "# HELP appliance_device_fault_streak Jobs in a row whose device attempt faulted (driver error, panic, proof failing its self-check, no answer in time, device still held by a job that ran out of time) since the device last made a verified proof.");
        let _ = writeln!(out, "# TYPE appliance_device_fault_streak gauge");
        let _ = writeln!(
            out,
            "appliance_device_fault_streak {}",
            m.device_fault_streak
        );
        let _ = writeln!(
            out,
            "# HELP appliance_backend_info The proving backend and its device."
        );
        let _ = writeln!(out, "# TYPE appliance_backend_info gauge");
        let _ = writeln!(
            out,
            "appliance_backend_info{{backend=\"{}\",device=\"{}\",compute_units=\"{}\"}} 1",
            esc(backend.name),
            esc(&backend.device),
            backend.compute_units
        );
        if let Some(mem) = backend.memory_bytes {
            let _ = writeln!(out, "# TYPE appliance_device_memory_bytes gauge");
            let _ = writeln!(out, "appliance_device_memory_bytes {mem}");
        }
        if let Some(rss) = resident_bytes() {
            let _ = writeln!(
                out,
                "# HELP appliance_process_resident_bytes Resident memory of the appliance process."
            );
            let _ = writeln!(out, "# TYPE appliance_process_resident_bytes gauge");
            let _ = writeln!(out, "appliance_process_resident_bytes {rss}");
        }
        out
    }
}

/// Resident set size from /proc (Linux); `None` elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
