//! banter-bench: a load generator for Banter's Socket.IO chat server (and
//! for the Node.js baseline, which speaks the same protocol).
//!
//! One process, one thread: every connection is a task on a
//! current-thread runtime, and counters are plain cells merged at the end,
//! so the bench stays cheap enough to run pinned to one core.

pub mod connect;
pub mod failure;
pub mod http;
pub mod procstat;
pub mod rate;
pub mod report;
pub mod setup;
pub mod sio;
pub mod soak;
pub mod target;

use std::net::IpAddr;
use std::rc::Rc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use connect::ConnectParams;
use procstat::Watched;
use rate::RateParams;
use report::Report;
use soak::SoakParams;
use target::Target;

#[derive(Debug, Parser)]
#[command(
    name = "banter-bench",
    version,
    about = "Load generator for Banter (Socket.IO v5 chat)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The server's base URL (plain HTTP). Several nodes: give it once per
    /// node (or comma-separated); the k-th member of each room connects
    /// to URL k % n, so every room has members on every node.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:3000")]
    pub url: Vec<String>,
    /// The server's pid, for its CPU time and memory from /proc; once per
    /// node (CPU and RSS are summed, and reported per pid).
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// A service the servers use (a PostgreSQL postmaster, a redis-server):
    /// the CPU time of it and its descendants is reported as `service_cpu_*`.
    #[arg(long, value_delimiter = ',')]
    pub service_pid: Vec<u32>,
    /// Local source addresses to connect from, round-robin (more than one
    /// is needed past ~25k connections to one server port).
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1")]
    pub addrs: Vec<IpAddr>,
    /// Also print one `RESULT {json}` line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// Messages at a fixed rate per sender: throughput, latency, loss, order.
    Rate(RateArgs),
    /// Many connections: connects/s, connect latency, server memory per connection.
    Connect(ConnectArgs),
    /// A long `rate` run with connections coming and going beside it and the
    /// server's memory sampled throughout (`--duration` is its length).
    Soak(SoakArgs),
    /// A few-seconds self-check (small `rate`, then small `connect`).
    Smoke(SmokeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    #[command(flatten)]
    pub rate: RateArgs,
    /// Connections coming and going at any time, beside the steady ones.
    #[arg(long, default_value_t = 50)]
    pub churners: usize,
    /// Shortest stay of a churning connection, in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub stay_min: f64,
    /// Longest stay of a churning connection, in seconds.
    #[arg(long, default_value_t = 20.0)]
    pub stay_max: f64,
    /// Seconds between samples of the server's RSS.
    #[arg(long, default_value_t = 10.0)]
    pub sample_every: f64,
}

#[derive(Debug, Clone, Args)]
pub struct RateArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 500)]
    pub clients: usize,
    /// Client i joins room r{i % rooms}.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Sending clients in total, spread evenly over the rooms (default: all;
    /// stalled clients never send, so at most clients - stall).
    #[arg(long)]
    pub senders: Option<usize>,
    /// Messages per second per sender.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Measured window in seconds (after the warmup).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of sending before the measured window (checked for loss, not timed).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Receivers that stop reading their socket after the warmup.
    #[arg(long, default_value_t = 0)]
    pub stall: usize,
    /// Seconds to wait after the last send for acks and deliveries.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Clients coming up at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Pad each message text to this many characters (0: only the ~40-char
    /// header `bench <run> <sender> <seq> <send_ns>`).
    #[arg(long, default_value_t = 0)]
    pub text_bytes: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value_t = 10_000)]
    pub clients: usize,
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Connections in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds to hold all connections before sampling the server's memory.
    #[arg(long, default_value_t = 5.0)]
    pub hold: f64,
}

#[derive(Debug, Clone, Args)]
pub struct SmokeArgs {
    #[command(flatten)]
    pub common: Common,
}

/// The outcome of one invocation.
pub struct Outcome {
    pub ok: bool,
    pub human: String,
    pub json: serde_json::Value,
}

fn smoke_rate() -> RateParams {
    RateParams {
        clients: 20,
        rooms: 2,
        senders: None,
        rate: 5.0,
        duration: 2.0,
        warmup: 0.5,
        stall: 0,
        drain: 3.0,
        concurrency: 16,
        text_bytes: 0,
    }
}

fn smoke_connect() -> ConnectParams {
    ConnectParams {
        clients: 50,
        rooms: 5,
        concurrency: 16,
        hold: 0.0,
    }
}

fn one(report: Report) -> anyhow::Result<Outcome> {
    Ok(Outcome {
        ok: report.ok,
        human: report.summary(),
        json: serde_json::to_value(&report)?,
    })
}

impl Common {
    fn target(&self) -> anyhow::Result<Rc<Target>> {
        Ok(Rc::new(Target::new(&self.url, &self.addrs)?))
    }

    fn watched(&self) -> Watched {
        Watched {
            servers: self.server_pid.clone(),
            services: self.service_pid.clone(),
        }
    }
}

async fn run_scenario(scenario: &Scenario) -> anyhow::Result<Outcome> {
    match scenario {
        Scenario::Rate(a) => {
            let c = &a.common;
            one(rate::run(c.target()?, &rate_params(a), &c.watched()).await?)
        }
        Scenario::Soak(a) => {
            let c = &a.rate.common;
            let params = SoakParams {
                rate: rate_params(&a.rate),
                churners: a.churners,
                stay: (a.stay_min, a.stay_max),
                sample_every: a.sample_every,
            };
            one(soak::run(c.target()?, &params, &c.watched()).await?)
        }
        Scenario::Connect(a) => {
            let c = &a.common;
            let params = ConnectParams {
                clients: a.clients,
                rooms: a.rooms,
                concurrency: a.concurrency,
                hold: a.hold,
            };
            one(connect::run(c.target()?, &params, &c.watched()).await?)
        }
        Scenario::Smoke(a) => {
            let (target, watched) = (a.common.target()?, a.common.watched());
            let mut rate = rate::run(target.clone(), &smoke_rate(), &watched).await?;
            if rate.delivered.unwrap_or(0) == 0 {
                rate.ok = false;
                report::count(&mut rate.errors, "nothing_delivered", 1);
            }
            let connect = connect::run(target, &smoke_connect(), &watched).await?;
            let ok = rate.ok && connect.ok;
            Ok(Outcome {
                ok,
                human: format!(
                    "smoke — {}\n{}{}",
                    if ok { "OK" } else { "FAILED" },
                    rate.summary(),
                    connect.summary()
                ),
                json: serde_json::json!({
                    "scenario": "smoke",
                    "ok": ok,
                    "rate": rate,
                    "connect": connect,
                }),
            })
        }
    }
}

fn rate_params(a: &RateArgs) -> RateParams {
    RateParams {
        clients: a.clients,
        rooms: a.rooms,
        senders: a.senders,
        rate: a.rate,
        duration: a.duration,
        warmup: a.warmup,
        stall: a.stall,
        drain: a.drain,
        concurrency: a.concurrency,
        text_bytes: a.text_bytes,
    }
}

fn common(cli: &Cli) -> &Common {
    match &cli.scenario {
        Scenario::Rate(a) => &a.common,
        Scenario::Soak(a) => &a.rate.common,
        Scenario::Connect(a) => &a.common,
        Scenario::Smoke(a) => &a.common,
    }
}

/// Runs the scenario on a current-thread runtime and prints its results;
/// whether everything was delivered once, in order, without error.
pub fn run(cli: &Cli) -> anyhow::Result<bool> {
    match procstat::raise_nofile_limit() {
        Ok(limit) if limit < 4096 => {
            eprintln!("banter-bench: open files limited to {limit}; large runs will fail")
        }
        Ok(_) => {}
        Err(e) => eprintln!("banter-bench: cannot raise the open files limit: {e}"),
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let local = tokio::task::LocalSet::new();
    let outcome = local.block_on(&rt, run_scenario(&cli.scenario))?;
    print!("{}", outcome.human);
    if common(cli).json {
        println!("RESULT {}", outcome.json);
    }
    Ok(outcome.ok)
}
