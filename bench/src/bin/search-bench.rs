//! `search-bench`: search latency of a running Banter, `GET /api/search`
//! over one keep-alive HTTP/1.1 connection, one request at a time, so
//! each figure is one search's whole round trip (parse, index, rows, JSON).
//! `bench/search.sh` fills a database with a million messages, starts
//! Banter on it and runs this for each backend (docs/benchmarks.md).

use std::time::Instant;

use anyhow::{Context, bail};
use banter_bench::http::read_response;
use banter_bench::report::{Quantiles, latency_histogram};
use clap::Parser;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(about = "Search latency p50/p99 of a running Banter")]
struct Args {
    /// host:port of the server.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: String,
    /// A session token (the bench signs in nobody itself).
    #[arg(long)]
    token: String,
    /// The queries, each measured on its own (repeat the flag).
    #[arg(long = "query", required = true)]
    queries: Vec<String>,
    /// Measured requests per query (after `--warmup` unmeasured ones).
    #[arg(long, default_value_t = 200)]
    requests: u32,
    #[arg(long, default_value_t = 10)]
    warmup: u32,
    /// `limit` of each search.
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&args))
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let stream = TcpStream::connect(&args.addr)
        .await
        .with_context(|| format!("connecting to {}", args.addr))?;
    stream.set_nodelay(true)?;
    let mut conn = BufReader::new(stream);
    println!("| query | results | p50 ms | p90 ms | p99 ms | max ms |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for query in &args.queries {
        let request = request(args, query);
        let mut histogram = latency_histogram();
        let mut results = 0;
        for i in 0..args.warmup + args.requests {
            let started = Instant::now();
            conn.get_mut().write_all(request.as_bytes()).await?;
            let response = read_response(&mut conn).await?;
            let took = started.elapsed();
            if response.status != 200 || !response.keep_alive {
                bail!(
                    "{query:?}: {} {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                );
            }
            if i >= args.warmup {
                histogram.record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1))?;
            }
            results = count_results(&response.body)?;
        }
        let q = Quantiles::of(&histogram);
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
        println!(
            "| `{query}` | {results} | {} | {} | {} | {} |",
            ms(q.p50),
            ms(q.p90),
            ms(q.p99),
            ms(q.max)
        );
    }
    Ok(())
}

fn request(args: &Args, query: &str) -> String {
    format!(
        "GET /api/search?q={}&limit={} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Accept: application/json\r\nConnection: keep-alive\r\n\r\n",
        encode(query),
        args.limit,
        args.addr,
        args.token
    )
}

/// Percent-encodes everything but unreserved characters.
fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn count_results(body: &[u8]) -> anyhow::Result<usize> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    Ok(value["results"].as_array().map_or(0, Vec::len))
}
