//! The appliance as operators run it: a real process on a loopback socket. It is killed
//! with SIGKILL mid-proof and restarted (no accepted job may be lost), stopped with SIGTERM
//! (the job in progress finishes), and loaded with 200 concurrent jobs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use prover_groth16::{proof_from_json, public_from_json, verify, verifying_key_from_json};
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/groth16")
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `appliance serve` on an ephemeral port and waits for its "serving on" line.
fn start(data_dir: &Path, config: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_appliance"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            "cpu",
            "--threads",
            "2",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("appliance starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving on http://").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the appliance printed its address");
    Server { child, addr }
}

/// Starts `appliance serve` on its defaults (the bundled sample), data under `dir`.
fn start_default(dir: &Path) -> Server {
    let config = dir.join("appliance.toml");
    std::fs::write(&config, "").expect("config");
    start(&dir.join("data"), &config)
}

/// Sends SIGTERM, as a supervisor stopping the appliance does.
fn sigterm(server: &Server) {
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
}

/// One HTTP/1.1 request on a fresh connection.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .expect("timeout");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).expect("send");
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp).expect("read");
    let text = String::from_utf8_lossy(&resp);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("appliance-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A config serving the poseidon fixture (slow enough to be killed mid-proof).
fn config_with_poseidon(dir: &Path) -> PathBuf {
    let p = fixtures().join("poseidon_chain_32");
    let text = format!(
        "[[circuits]]\nid = \"poseidon\"\nzkey = \"{}\"\nwasm = \"{}\"\n",
        p.join("circuit_final.zkey").display(),
        p.join("circuit_js/circuit.wasm").display()
    );
    let path = dir.join("appliance.toml");
    std::fs::write(&path, text).expect("config");
    path
}

fn submit(addr: &str, body: &Value) -> u64 {
    let (status, v) = http(addr, "POST", "/v1/jobs", Some(body));
    assert_eq!(status, 202, "{v}");
    v["id"].as_u64().expect("id")
}

fn wait_done(addr: &str, id: u64, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let (_, v) = http(addr, "GET", &format!("/v1/jobs/{id}"), None);
        if v["state"] == "done" || v["state"] == "failed" {
            return v;
        }
        assert!(
            started.elapsed() < limit,
            "job {id} still {v} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_proof(addr: &str, id: u64, vkey: &Path) {
    let (status, v) = http(addr, "GET", &format!("/v1/jobs/{id}/proof"), None);
    assert_eq!(status, 200, "{v}");
    let vk = verifying_key_from_json(&std::fs::read_to_string(vkey).expect("vk")).expect("vk");
    let proof = proof_from_json(&v["proof"].to_string()).expect("proof");
    let public = public_from_json(&v["public"].to_string()).expect("public");
    assert!(
        verify(&vk, &public, &proof).expect("verify"),
        "job {id}: invalid proof"
    );
}

fn poseidon_job() -> Value {
    let wtns = std::fs::read(fixtures().join("poseidon_chain_32/witness.wtns")).expect("wtns");
    json!({ "circuit": "poseidon", "wtns_hex": hex::encode(wtns) })
}

fn sample_job() -> Value {
    json!({ "circuit": "sample", "input": { "a": "3", "b": "11", "c": "7" } })
}

#[test]
fn sigkill_mid_proof_then_restart_loses_no_accepted_job() {
    let dir = temp("kill");
    let config = config_with_poseidon(&dir);
    let data = dir.join("data");
    let mut ids = Vec::new();
    {
        let server = start(&data, &config);
        for _ in 0..4 {
            ids.push(submit(&server.addr, &poseidon_job()));
        }
        for _ in 0..10 {
            ids.push(submit(&server.addr, &sample_job()));
        }
        // Kill it while a proof is running.
        let started = Instant::now();
        loop {
            let (_, v) = http(&server.addr, "GET", &format!("/v1/jobs/{}", ids[1]), None);
            if v["state"] == "running" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "job never started: {v}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Dropping the server sends SIGKILL.
    }
    let server = start(&data, &config);
    let mut rerun = 0;
    for &id in &ids {
        let v = wait_done(&server.addr, id, Duration::from_secs(300));
        assert_eq!(v["state"], "done", "{v}");
        if v["attempts"].as_u64().unwrap_or(0) > 1 {
            rerun += 1;
        }
    }
    assert!(rerun >= 1, "the job killed mid-proof should have run again");
    for &id in &ids[..4] {
        check_proof(
            &server.addr,
            id,
            &fixtures().join("poseidon_chain_32/verification_key.json"),
        );
    }
    check_proof(
        &server.addr,
        ids[4],
        &fixtures().join("multiplier/verification_key.json"),
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_finishes_the_job_in_progress_and_keeps_the_queue() {
    let dir = temp("term");
    let config = config_with_poseidon(&dir);
    let data = dir.join("data");
    let mut server = start(&data, &config);
    let ids: Vec<u64> = (0..3)
        .map(|_| submit(&server.addr, &poseidon_job()))
        .collect();
    let started = Instant::now();
    loop {
        let (_, v) = http(&server.addr, "GET", &format!("/v1/jobs/{}", ids[0]), None);
        if v["state"] == "running" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(10));
    }
    sigterm(&server);
    let status = server.child.wait().expect("exits");
    assert!(status.success(), "graceful stop exits 0, got {status}");
    drop(server);

    let server = start(&data, &config);
    let first = wait_done(&server.addr, ids[0], Duration::from_secs(300));
    assert_eq!(
        first["attempts"], 1,
        "the job in progress finished before exit: {first}"
    );
    for &id in &ids {
        assert_eq!(
            wait_done(&server.addr, id, Duration::from_secs(300))["state"],
            "done"
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_hundred_concurrent_jobs_on_loopback_all_accounted_for() {
    let dir = temp("load");
    let server = start_default(&dir);
    let addr = server.addr.clone();
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || submit(&addr, &sample_job()))
        })
        .collect();
    let mut ids: Vec<u64> = handles
        .into_iter()
        .map(|h| h.join().expect("submitter"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200, "every submission got its own id");
    for &id in &ids {
        assert_eq!(
            wait_done(&addr, id, Duration::from_secs(300))["state"],
            "done"
        );
    }
    check_proof(
        &addr,
        ids[199],
        &fixtures().join("multiplier/verification_key.json"),
    );
    let (_, metrics) = {
        let mut stream = TcpStream::connect(&addr).expect("connect");
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut s = String::new();
        stream.read_to_string(&mut s).expect("read");
        (0, s)
    };
    assert!(
        metrics.contains("appliance_jobs{state=\"done\"} 200"),
        "{metrics}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `appliance operator request`, as an operator runs it against a running appliance: a
/// market change (a JSON body), a circuit upload (a multipart body) and a read (no body),
/// each signed with the key the first boot generated.
#[test]
fn the_operator_cli_changes_a_running_appliance() {
    let dir = temp("operator");
    let server = start_default(&dir);
    let key = dir.join("data/operator.key");
    let url = format!("http://{}", server.addr);
    let operator = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_appliance"))
            .args(["operator", "request", "--key"])
            .arg(&key)
            .args(["--url", &url])
            .args(args)
            .output()
            .expect("appliance operator runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr} {stdout}");
        serde_json::from_str::<Value>(stdout.trim()).expect("a JSON answer")
    };
    let market = dir.join("market.json");
    std::fs::write(
        &market,
        r#"{"id":"9","circuit":"sample","public_inputs":["c"],"signed":true}"#,
    )
    .expect("market");
    let market = market.to_str().expect("path");
    let set = operator(&[
        "PUT",
        "/v1/markets/9",
        "--content-type",
        "application/json",
        "--body",
        market,
    ]);
    assert_eq!(set["signed"], true, "{set}");
    let m = fixtures().join("multiplier");
    let zkey = format!("zkey=@{}", m.join("circuit_final.zkey").display());
    let wasm = format!("wasm=@{}", m.join("circuit_js/circuit.wasm").display());
    let circuit = operator(&[
        "POST",
        "/v1/circuits",
        "--form",
        "id=uploaded",
        "--form",
        &zkey,
        "--form",
        &wasm,
    ]);
    assert_eq!(circuit["id"], "uploaded", "{circuit}");
    let config = operator(&["GET", "/v1/config"]);
    assert!(
        config["markets"]
            .as_array()
            .is_some_and(|ms| ms.iter().any(|m| m["id"] == "9")),
        "{config}"
    );
    let (status, circuits) = http(&server.addr, "GET", "/v1/circuits", None);
    assert_eq!(status, 200);
    assert!(circuits["circuits"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["id"] == "uploaded")));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client that never finishes its request does not keep a stopping appliance alive: after
/// the job in progress, open connections get a grace time, then the process exits.
#[test]
fn sigterm_does_not_wait_for_a_client_that_never_finishes_its_request() {
    let dir = temp("slow-client");
    let mut server = start_default(&dir);
    let mut slow = TcpStream::connect(&server.addr).expect("connect");
    slow.write_all(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Le")
        .expect("half a header");
    std::thread::sleep(Duration::from_millis(200));
    sigterm(&server);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        // DRAIN (10 s) and some slack for a loaded machine.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still running 30 s after SIGTERM, held by a half-sent request"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exits 0, got {status}");
    drop(slow);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
