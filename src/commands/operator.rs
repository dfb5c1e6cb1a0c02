//! `appliance operator`: the operator's side of the control plane. Control routes
//! (`POST /v1/circuits`, `PUT /v1/markets/{id}`, `GET /v1/config`) accept only requests signed by the operator key
//! whose address the appliance knows (see `prover_attest::operator` for the scheme).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use prover_attest::key::address_hex;
use prover_attest::operator::sign_request;
use prover_attest::EthKey;

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Generate an operator key into a new file (mode 0600) and print its address, to be
    /// set as `operator_address` in the appliance's config. Keep the file off the box.
    Key {
        /// Where to write the key (refused if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the headers that authorise one request (valid for 60 s, once).
    ///
    /// The body must be byte-for-byte the one sent (e.g. curl --data-binary @FILE).
    Sign(SignArgs),
    /// Sign and send one control request over HTTP; print the response body.
    ///
    /// Example (register a circuit):
    /// appliance operator request --key op.key POST /v1/circuits --form id=transfer
    /// --form zkey=@transfer.zkey --form wasm=@transfer.wasm. Exit 0 on a 2xx answer, 1 otherwise.
    Request(RequestArgs),
}

#[derive(Args)]
pub struct SignArgs {
    /// Operator key file (from `appliance operator key`).
    #[arg(long)]
    key: PathBuf,
    /// HTTP method, e.g. POST.
    #[arg(long)]
    method: String,
    /// Path and query exactly as requested, e.g. /v1/circuits.
    #[arg(long)]
    path: String,
    /// File holding the exact request body (default: empty body).
    #[arg(long)]
    body: Option<PathBuf>,
    /// Timestamp to sign, Unix ms (default: now).
    #[arg(long)]
    timestamp_ms: Option<u64>,
}

#[derive(Args)]
pub struct RequestArgs {
    /// Operator key file.
    #[arg(long)]
    key: PathBuf,
    /// The appliance's base URL (plain http).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// HTTP method.
    method: String,
    /// Path and query, e.g. /v1/config.
    path: String,
    /// Request body from a file.
    #[arg(long, conflicts_with = "form")]
    body: Option<PathBuf>,
    /// Content type of --body.
    #[arg(long, default_value = "application/octet-stream")]
    content_type: String,
    /// Multipart field NAME=VALUE or NAME=@FILE (repeatable).
    #[arg(long)]
    form: Vec<String>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn operator(command: &OperatorCommand) -> Result<ExitCode> {
    match command {
        OperatorCommand::Key { out } => {
            let key = EthKey::generate();
            key.save(out)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("operator key written to {} (mode 0600)", out.display());
            println!("operator_address = \"{}\"", address_hex(&key.address()));
            Ok(ExitCode::SUCCESS)
        }
        OperatorCommand::Sign(a) => {
            let key = EthKey::load(&a.key)?;
            let body = match &a.body {
                Some(p) => std::fs::read(p).with_context(|| format!("{}", p.display()))?,
                None => Vec::new(),
            };
            let ts = a.timestamp_ms.unwrap_or_else(now_ms);
            for (name, value) in sign_request(&key, &a.method, &a.path, ts, &body)? {
                println!("{name}: {value}");
            }
            Ok(ExitCode::SUCCESS)
        }
        OperatorCommand::Request(a) => request(a),
    }
}

fn multipart(fields: &[String]) -> Result<(String, Vec<u8>)> {
    let boundary = format!("appliance-operator-{:016x}", rand::random::<u64>());
    let mut body = Vec::new();
    for field in fields {
        let (name, value) = field
            .split_once('=')
            .with_context(|| format!("--form `{field}`: expected NAME=VALUE or NAME=@FILE"))?;
        let data = match value.strip_prefix('@') {
            Some(path) => std::fs::read(path).with_context(|| path.to_string())?,
            None => value.as_bytes().to_vec(),
        };
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((format!("multipart/form-data; boundary={boundary}"), body))
}

fn request(a: &RequestArgs) -> Result<ExitCode> {
    let key = EthKey::load(&a.key)?;
    let (content_type, body) = if !a.form.is_empty() {
        multipart(&a.form)?
    } else {
        match &a.body {
            Some(p) => (
                a.content_type.clone(),
                std::fs::read(p).with_context(|| format!("{}", p.display()))?,
            ),
            None => (a.content_type.clone(), Vec::new()),
        }
    };
    let Some(host) = a.url.strip_prefix("http://") else {
        bail!("--url must be http://HOST:PORT");
    };
    let host = host.trim_end_matches('/');
    let signed: String = sign_request(&key, &a.method, &a.path, now_ms(), &body)?
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let mut stream =
        std::net::TcpStream::connect(host).with_context(|| format!("cannot connect to {host}"))?;
    let head = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{signed}\r\n",
        a.method.to_ascii_uppercase(),
        a.path,
        body.len()
    );
    // The appliance may answer before it has read the whole body (413, 429) and close: the
    // write then fails, but its answer is waiting to be read, and says more than the write.
    let sent = stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(&body));
    let mut response = Vec::new();
    let read = stream.read_to_end(&mut response);
    if response.is_empty() {
        sent.context("sending the request")?;
        read.context("reading the response")?;
    }
    let text = String::from_utf8_lossy(&response);
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default();
    eprintln!("{status}");
    println!("{payload}");
    let ok = status
        .split_whitespace()
        .nth(1)
        .is_some_and(|c| c.starts_with('2'));
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
