//! Runs the bench's `smoke` scenario against the real server binary
//! (`BANTER_BIN`, default `<workspace>/target/debug/banter`), and a small
//! `rate` run against two nodes sharing one SQLite file and the machine's
//! Redis (`BANTER_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`, with a
//! key prefix of its own, removed after).
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
    /// `/metrics`, when started with `--metrics-bind`.
    metrics: Option<String>,
    _data: Option<tempfile::TempDir>,
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
    let mut server = start_server_with(data.path(), &[]);
    server._data = Some(data);
    server
}

/// A server on `data` with `extra` arguments.
fn start_server_with(data: &std::path::Path, extra: &[&str]) -> Server {
    let mut child = Command::new(server_binary())
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(GENEROUS_LIMITS)
        .args(extra)
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
            for (n, marker) in ["Banter listening on ", "Banter metrics on "]
                .iter()
                .enumerate()
            {
                if let Some(at) = line.find(marker) {
                    let _ = tx.send((n, line[at + marker.len()..].trim().to_owned()));
                }
            }
        }
    });
    let mut server = Server {
        child,
        url: String::new(),
        metrics: None,
        _data: None,
    };
    // The metrics line, if any, comes first.
    while server.url.is_empty() {
        let (n, url) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server did not print its listening line within 30 s");
        match n {
            0 => server.url = url,
            _ => server.metrics = Some(url),
        }
    }
    server
}

/// The value of the counter `name` in the server's `/metrics`.
fn counter(server: &Server, name: &str) -> f64 {
    use std::io::{Read, Write};
    let url = server
        .metrics
        .as_deref()
        .expect("started with --metrics-bind");
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
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
    // One server: the report is as it was, without the per-node keys.
    for key in [
        "urls",
        "server_pids",
        "server_cpu_s_per_pid",
        "service_cpu_s",
    ] {
        assert!(rate.get(key).is_none(), "{key} in {rate}");
    }
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

fn redis_url() -> String {
    std::env::var("BANTER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn redis_cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-u")
        .arg(redis_url())
        .args(args)
        .output()
        .expect("redis-cli runs");
    assert!(out.status.success(), "redis-cli {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// This test's Redis keys, removed when dropped (after the nodes).
struct RedisPrefix(String);

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let pattern = format!("{}*", self.0);
        let keys = redis_cli(&["--scan", "--pattern", &pattern]);
        let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
        if !keys.is_empty() {
            redis_cli(&[&["del"], keys.as_slice()].concat());
        }
    }
}

#[test]
fn a_rate_run_spreads_every_room_over_two_nodes_and_loses_nothing() {
    assert_eq!(
        redis_cli(&["ping"]).trim(),
        "PONG",
        "Redis at {} does not answer (.ci/run starts one)",
        redis_url()
    );
    let prefix = RedisPrefix(format!("banter-bench-test-{}:", std::process::id()));
    let data = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", data.path().join("banter.db").display());
    let redis = redis_url();
    let bus = [
        "--database-url",
        &db,
        "--redis-url",
        &redis,
        "--redis-prefix",
        &prefix.0,
        "--metrics-bind",
        "127.0.0.1:0",
    ];
    // The first node migrates the shared database; the second finds it ready.
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let first = start_server_with(dirs[0].path(), &bus);
    let second = start_server_with(dirs[1].path(), &bus);
    let pids = [first.child.id().to_string(), second.child.id().to_string()];
    let (ok, stdout) = bench(&[
        "rate",
        "--url",
        &first.url,
        "--url",
        &second.url,
        "--server-pid",
        &pids[0],
        "--server-pid",
        &pids[1],
        "--clients",
        "20",
        "--rooms",
        "2",
        "--rate",
        "5",
        "--duration",
        "2",
        "--warmup",
        "0.5",
        "--drain",
        "3",
        "--json",
    ]);
    let result = result_line(&stdout);
    assert!(ok, "the two-node run failed: {result}");
    assert!(result["delivered"].as_u64().unwrap() > 0);
    // Every room has members on both nodes: nothing arrives unless it
    // crosses from one node to the other.
    assert_eq!(result["delivered"], result["expected"]);
    assert_eq!(result["lost"], 0);
    assert_eq!(result["urls"], serde_json::json!([first.url, second.url]));
    // Each node had half the members (each signs in and joins there) and
    // delivered to them.
    for node in [&first, &second] {
        assert_eq!(counter(node, "banter_joins_total"), 10.0, "{}", node.url);
        assert!(counter(node, "banter_deliveries_total") > 0.0);
    }
    let per_pid = result["server_cpu_s_per_pid"].as_array().unwrap();
    assert_eq!(per_pid.len(), 2, "{result}");
    assert!(per_pid.iter().all(|cpu| cpu.is_number()), "{result}");
    let rss: Vec<u64> = result["server_rss_after_bytes_per_pid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(result["server_rss_after_bytes"], rss.iter().sum::<u64>());
    assert!(stdout.contains("every room spans every node"), "{stdout}");
    drop((first, second));
}
