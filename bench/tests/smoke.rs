//! Runs the bench's `smoke` scenario against the real server binary
//! (`BANTER_BIN`, default `<workspace>/target/debug/banter`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const GENEROUS_LIMITS: &[&str] = &[
    "--send-rate",
    "100000000:100000000",
    "--join-rate",
    "100000000:100000000",
    "--auth-rate",
    "100000000:100000000",
    "--handshake-rate",
    "100000000:100000000",
    "--max-connections-per-ip",
    "1000000",
    "--typing-rate",
    "100000000:100000000",
    "--login-rate",
    "100000000:100000000",
    "--room-create-rate",
    "100000000:100000000",
    "--room-create-ip-rate",
    "100000000:100000000",
    "--read-rate",
    "100000000:100000000",
];

/// The server, killed when dropped.
struct Server {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_binary() -> PathBuf {
    let path = std::env::var_os("BANTER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/banter")
        });
    assert!(
        path.is_file(),
        "the Banter server binary {} does not exist: build it with `cargo build --bin banter` \
         in the workspace root, or point BANTER_BIN at one",
        path.display()
    );
    path
}

fn start_server() -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(server_binary())
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(GENEROUS_LIMITS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    // Keep reading the server's stdout so that it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find("Banter listening on ") {
                let url = line[at + "Banter listening on ".len()..].trim().to_owned();
                let _ = tx.send(url);
            }
        }
    });
    let mut server = Server {
        child,
        url: String::new(),
        _data: data,
    };
    server.url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server did not print its listening line within 30 s");
    server
}

fn bench(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_banter-bench"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), stdout)
}

fn result_line(stdout: &str) -> serde_json::Value {
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("RESULT "))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one RESULT line");
    serde_json::from_str(&lines[0]["RESULT ".len()..]).unwrap()
}

#[test]
fn smoke_run_delivers_every_message_once_in_order() {
    let server = start_server();
    let pid = server.child.id().to_string();
    let (ok, stdout) = bench(&[
        "smoke",
        "--url",
        &server.url,
        "--server-pid",
        &pid,
        "--json",
    ]);
    let result = result_line(&stdout);
    assert!(ok, "the smoke run failed: {result}");
    let rate = &result["rate"];
    assert!(rate["delivered"].as_u64().unwrap() > 0);
    assert_eq!(rate["delivered"], rate["expected"]);
    assert_eq!(rate["sent"], rate["acked"]);
    for key in ["lost", "duplicated", "out_of_order", "id_order_violations"] {
        assert_eq!(rate[key], 0, "{key}");
    }
    assert!(rate["delivery_p50_ms"].as_f64().unwrap() > 0.0);
    assert!(rate["server_cpu_s"].is_number());
    let connect = &result["connect"];
    assert_eq!(connect["connected"], 50);
    assert_eq!(connect["errors"], serde_json::json!({}));
    assert!(connect["server_rss_after_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn a_run_against_no_server_reports_its_errors_and_exits_nonzero() {
    // Port 1 on loopback: nothing listens there.
    let (ok, stdout) = bench(&[
        "rate",
        "--url",
        "http://127.0.0.1:1",
        "--clients",
        "3",
        "--rooms",
        "1",
        "--duration",
        "0.1",
        "--warmup",
        "0",
        "--drain",
        "0",
        "--json",
    ]);
    assert!(!ok);
    let result = result_line(&stdout);
    assert_eq!(result["errors"]["http_connect"], 3, "{result}");
    assert_eq!(result["ok"], false);
}

#[test]
fn a_short_soak_churns_connections_and_samples_memory_without_loss() {
    let server = start_server();
    let pid = server.child.id().to_string();
    let (ok, stdout) = bench(&[
        "soak",
        "--url",
        &server.url,
        "--server-pid",
        &pid,
        "--clients",
        "20",
        "--rooms",
        "2",
        "--rate",
        "5",
        "--duration",
        "3",
        "--warmup",
        "0.5",
        "--drain",
        "3",
        "--churners",
        "4",
        "--stay-min",
        "0.3",
        "--stay-max",
        "0.8",
        "--sample-every",
        "0.25",
        "--json",
    ]);
    let result = result_line(&stdout);
    assert!(ok, "the soak run failed: {result}");
    assert_eq!(result["scenario"], "soak");
    assert_eq!(result["lost"], 0);
    assert!(result["delivered"].as_u64().unwrap() > 0);
    // Each churner comes and goes several times in 3.5 s of 0.3-0.8 s stays.
    assert!(result["churn_cycles"].as_u64().unwrap() >= 8, "{result}");
    assert!(result["rss_samples_bytes"].as_array().unwrap().len() >= 6);
    assert!(result["rss_growth_after_warmup"].is_number());
}
