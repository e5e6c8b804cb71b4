//! Results: one flat record per scenario, printed as a few aligned lines
//! and, with `--json`, as `RESULT {json}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::procstat::{CpuWindow, Watched};
use crate::target::Target;

/// Bench CPU utilisation (of one core) at which the load generator, not
/// the server, is taken to be the limit.
pub const BOTTLENECK_UTIL: f64 = 0.9;

/// A latency histogram in microseconds, 1 µs to 1 hour, 3 digits.
#[allow(clippy::expect_used)]
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant, valid bounds")
}

/// p50, p90, p99, p99.9 and max of a µs histogram, in ms; `None` if empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

impl Quantiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Quantiles::default();
        }
        let ms = |us: u64| Some(us as f64 / 1000.0);
        Quantiles {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    /// No loss, duplicate, disorder or error.
    pub ok: bool,
    pub clients: Option<u64>,
    pub rooms: Option<u64>,
    pub senders: Option<u64>,
    pub rate_per_sender: Option<f64>,
    /// The measured window (after warmup).
    pub duration_s: Option<f64>,
    pub warmup_s: Option<f64>,
    pub drain_s: Option<f64>,
    pub text_bytes: Option<u64>,
    pub hold_s: Option<f64>,
    pub concurrency: Option<u64>,
    /// Connections that completed sign-in, connect and join.
    pub connected: Option<u64>,
    pub connect_s: Option<f64>,
    pub connects_per_s: Option<f64>,
    pub connect_slices_per_s: Option<Vec<f64>>,
    pub connect_p50_ms: Option<f64>,
    pub connect_p99_ms: Option<f64>,
    pub connect_max_ms: Option<f64>,
    pub sent: Option<u64>,
    pub acked: Option<u64>,
    pub ack_errors: Option<u64>,
    pub delivered: Option<u64>,
    pub expected: Option<u64>,
    pub lost: Option<u64>,
    pub duplicated: Option<u64>,
    pub out_of_order: Option<u64>,
    pub id_order_violations: Option<u64>,
    pub delivered_unacked: Option<u64>,
    pub deliveries_per_s: Option<f64>,
    pub delivery_p50_ms: Option<f64>,
    pub delivery_p90_ms: Option<f64>,
    pub delivery_p99_ms: Option<f64>,
    pub delivery_p999_ms: Option<f64>,
    pub delivery_max_ms: Option<f64>,
    pub ack_p50_ms: Option<f64>,
    pub ack_p90_ms: Option<f64>,
    pub ack_p99_ms: Option<f64>,
    pub ack_p999_ms: Option<f64>,
    pub ack_max_ms: Option<f64>,
    /// How late sends left against their schedule (the bench's own lag).
    pub send_lag_p99_ms: Option<f64>,
    pub send_lag_max_ms: Option<f64>,
    pub server_cpu_s: Option<f64>,
    pub server_cpu_util: Option<f64>,
    pub server_cpu_us_per_delivery: Option<f64>,
    pub server_rss_before_bytes: Option<u64>,
    pub server_rss_after_bytes: Option<u64>,
    pub bytes_per_connection: Option<f64>,
    pub bench_cpu_s: Option<f64>,
    pub bench_cpu_util: Option<f64>,
    pub bench_cpu_us_per_delivery: Option<f64>,
    pub bench_bottleneck: bool,
    /// Seconds the hypervisor took from each CPU of the machine during the
    /// measured window (`steal` in /proc/stat; all zero on bare metal).
    pub steal_s_per_cpu: Option<Vec<f64>>,
    pub errors: BTreeMap<String, u64>,
    pub stalled: Option<u64>,
    pub stalled_disconnected: Option<u64>,
    /// Soak: connections coming and going beside the steady load.
    pub churners: Option<u64>,
    /// Soak: completed churn cycles (sign-in, connect, join, stay, leave).
    pub churn_cycles: Option<u64>,
    /// Soak: the server's RSS, sampled through the run.
    pub rss_samples_bytes: Option<Vec<u64>>,
    /// Soak: RSS growth after the warm-up (last third against the middle
    /// one, as a fraction).
    pub rss_growth_after_warmup: Option<f64>,
    /// Several nodes or services: their keys, flat beside the others; a
    /// run against one server has none of them.
    #[serde(flatten)]
    pub nodes: Option<NodeFigures>,
}

/// The figures of a run against several nodes (or with services watched):
/// the server CPU and RSS above are sums over `server_pids`; these are the
/// parts, and the services' CPU.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeFigures {
    /// One per node; the k-th member of each room is on `urls[k % n]`.
    pub urls: Vec<String>,
    pub server_pids: Vec<u32>,
    pub server_cpu_s_per_pid: Vec<Option<f64>>,
    pub server_rss_before_bytes_per_pid: Vec<Option<u64>>,
    pub server_rss_after_bytes_per_pid: Vec<Option<u64>>,
    /// Services (database, Redis), each with its descendants.
    pub service_pids: Vec<u32>,
    pub service_cpu_s: Option<f64>,
    pub service_cpu_s_per_pid: Vec<Option<f64>>,
    pub service_cpu_util: Option<f64>,
    pub service_cpu_us_per_delivery: Option<f64>,
}

impl NodeFigures {
    /// `None` for one URL and at most one server pid without services.
    pub fn new(
        target: &Target,
        watched: &Watched,
        window: &CpuWindow,
        rss: (Vec<Option<u64>>, Vec<Option<u64>>),
        deliveries: u64,
    ) -> Option<Self> {
        if target.urls.len() < 2 && !watched.several() {
            return None;
        }
        Some(NodeFigures {
            urls: target.urls.clone(),
            server_pids: watched.servers.clone(),
            server_cpu_s_per_pid: window.server_s_per_pid.clone(),
            server_rss_before_bytes_per_pid: rss.0,
            server_rss_after_bytes_per_pid: rss.1,
            service_pids: watched.services.clone(),
            service_cpu_s: window.service_s,
            service_cpu_s_per_pid: window.service_s_per_pid.clone(),
            service_cpu_util: window.service_util(),
            service_cpu_us_per_delivery: window
                .service_s
                .filter(|_| deliveries > 0)
                .map(|c| c * 1e6 / deliveries as f64),
        })
    }

    /// Summary lines: the nodes, CPU per pid, the services.
    fn summary(&self, line: &mut impl FnMut(&str, String)) {
        let f = fixed;
        if self.urls.len() > 1 {
            line(
                "nodes",
                format!(
                    "{} (member k of each room on node k % {}: every room spans every node)",
                    self.urls.join(" "),
                    self.urls.len()
                ),
            );
        }
        if self.server_pids.len() > 1 {
            line(
                "server cpu per pid",
                per_pid(&self.server_pids, &self.server_cpu_s_per_pid),
            );
        }
        if !self.service_pids.is_empty() {
            line(
                "service cpu",
                format!(
                    "{} s, util {} core, {} µs/delivery (with children; {})",
                    f(self.service_cpu_s, 2),
                    f(self.service_cpu_util, 2),
                    f(self.service_cpu_us_per_delivery, 2),
                    per_pid(&self.service_pids, &self.service_cpu_s_per_pid)
                ),
            );
        }
    }
}

impl Report {
    pub fn set_delivery(&mut self, q: Quantiles) {
        self.delivery_p50_ms = q.p50;
        self.delivery_p90_ms = q.p90;
        self.delivery_p99_ms = q.p99;
        self.delivery_p999_ms = q.p999;
        self.delivery_max_ms = q.max;
    }

    pub fn set_ack(&mut self, q: Quantiles) {
        self.ack_p50_ms = q.p50;
        self.ack_p90_ms = q.p90;
        self.ack_p99_ms = q.p99;
        self.ack_p999_ms = q.p999;
        self.ack_max_ms = q.max;
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let verdict = if self.ok { "OK" } else { "FAILED" };
        let mut out = format!("{} — {verdict}\n", self.scenario);
        let f = fixed;
        let n = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let mib = |v: Option<u64>| f(v.map(|b| b as f64 / 1_048_576.0), 1);
        let lat = |p50, p90, p99, p999, max| {
            format!(
                "p50 {} p90 {} p99 {} p99.9 {} max {} ms",
                f(p50, 3),
                f(p90, 3),
                f(p99, 3),
                f(p999, 3),
                f(max, 3)
            )
        };
        let mut line = |label: &str, value: String| {
            let _ = writeln!(out, "  {label:<22} {value}");
        };
        line(
            "clients / rooms",
            format!("{} / {}", n(self.clients), n(self.rooms)),
        );
        if self.sent.is_some() {
            line(
                "senders x rate",
                format!(
                    "{} x {}/s, window {} s (warmup {} s, drain {} s)",
                    n(self.senders),
                    f(self.rate_per_sender, 2),
                    f(self.duration_s, 1),
                    f(self.warmup_s, 1),
                    f(self.drain_s, 1)
                ),
            );
            line(
                "sent / acked / errors",
                format!(
                    "{} / {} / {}",
                    n(self.sent),
                    n(self.acked),
                    n(self.ack_errors)
                ),
            );
            line(
                "delivered / expected",
                format!("{} / {}", n(self.delivered), n(self.expected)),
            );
            line(
                "lost / dup / disorder",
                format!(
                    "{} / {} / {} (id order violations {})",
                    n(self.lost),
                    n(self.duplicated),
                    n(self.out_of_order),
                    n(self.id_order_violations)
                ),
            );
            line("deliveries/s", f(self.deliveries_per_s, 0));
            line(
                "delivery latency",
                lat(
                    self.delivery_p50_ms,
                    self.delivery_p90_ms,
                    self.delivery_p99_ms,
                    self.delivery_p999_ms,
                    self.delivery_max_ms,
                ),
            );
            line(
                "ack latency",
                lat(
                    self.ack_p50_ms,
                    self.ack_p90_ms,
                    self.ack_p99_ms,
                    self.ack_p999_ms,
                    self.ack_max_ms,
                ),
            );
            line(
                "send lag",
                format!(
                    "p99 {} max {} ms",
                    f(self.send_lag_p99_ms, 3),
                    f(self.send_lag_max_ms, 3)
                ),
            );
            if let Some(s) = self.stalled.filter(|&s| s > 0) {
                line(
                    "stalled receivers",
                    format!(
                        "{s}, disconnected by the server: {}",
                        n(self.stalled_disconnected)
                    ),
                );
            }
        }
        if let Some(cycles) = self.churn_cycles {
            line(
                "churn",
                format!(
                    "{} connections coming and going, {cycles} cycles",
                    n(self.churners)
                ),
            );
            let samples = self.rss_samples_bytes.as_deref().unwrap_or_default();
            line(
                "server rss over time",
                format!(
                    "{} samples, min {} max {} MiB, growth after warm-up {} %",
                    samples.len(),
                    mib(samples.iter().min().copied()),
                    mib(samples.iter().max().copied()),
                    f(self.rss_growth_after_warmup.map(|g| g * 100.0), 1)
                ),
            );
        }
        if self.connects_per_s.is_some() {
            line(
                "connected",
                format!(
                    "{} in {} s = {} connects/s (concurrency {})",
                    n(self.connected),
                    f(self.connect_s, 2),
                    f(self.connects_per_s, 0),
                    n(self.concurrency)
                ),
            );
            if let Some(slices) = &self.connect_slices_per_s {
                let list: Vec<String> = slices.iter().map(|s| format!("{s:.0}")).collect();
                line("per 1000 (connects/s)", list.join(" "));
            }
            line(
                "connect latency",
                format!(
                    "p50 {} p99 {} max {} ms",
                    f(self.connect_p50_ms, 3),
                    f(self.connect_p99_ms, 3),
                    f(self.connect_max_ms, 3)
                ),
            );
        }
        line(
            "server cpu",
            format!(
                "{} s, util {} core, {} µs/delivery",
                f(self.server_cpu_s, 2),
                f(self.server_cpu_util, 2),
                f(self.server_cpu_us_per_delivery, 2)
            ),
        );
        line(
            "server rss",
            format!(
                "{} MiB before, {} MiB after, {} bytes/connection",
                mib(self.server_rss_before_bytes),
                mib(self.server_rss_after_bytes),
                f(self.bytes_per_connection, 0)
            ),
        );
        if let Some(nodes) = &self.nodes {
            nodes.summary(&mut line);
        }
        line(
            "bench cpu",
            format!(
                "{} s, util {} core, {} µs/delivery",
                f(self.bench_cpu_s, 2),
                f(self.bench_cpu_util, 2),
                f(self.bench_cpu_us_per_delivery, 2)
            ),
        );
        if let Some(steal) = &self.steal_s_per_cpu {
            let list: Vec<String> = steal
                .iter()
                .enumerate()
                .map(|(cpu, s)| format!("cpu{cpu} {s:.2} s"))
                .collect();
            line("steal (hypervisor)", list.join(", "));
        }
        if !self.errors.is_empty() {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            line("errors", list.join(" "));
        }
        if self.bench_bottleneck {
            let _ = writeln!(
                out,
                "  LOAD GENERATOR WAS THE BOTTLENECK (bench cpu >= {BOTTLENECK_UTIL} core): the server figures are a lower bound"
            );
        }
        out
    }
}

/// `pid: seconds s, …`.
fn per_pid(pids: &[u32], cpu: &[Option<f64>]) -> String {
    let parts: Vec<String> = pids
        .iter()
        .zip(cpu)
        .map(|(pid, cpu)| format!("{pid}: {} s", fixed(*cpu, 2)))
        .collect();
    parts.join(", ")
}

/// `v` with `digits` decimals, `-` for none.
fn fixed(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "-".to_owned(),
    }
}

/// Adds `n` to `map[kind]`.
pub fn count(map: &mut BTreeMap<String, u64>, kind: &str, n: u64) {
    if n == 0 {
        return;
    }
    match map.get_mut(kind) {
        Some(v) => *v += n,
        None => {
            map.insert(kind.to_owned(), n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_record_has_flat_keys_and_nulls_where_not_applicable() {
        let mut r = Report {
            scenario: "rate".into(),
            sent: Some(3),
            ..Report::default()
        };
        count(&mut r.errors, "timeout", 2);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["sent"], 3);
        assert!(v["server_cpu_s"].is_null());
        assert_eq!(v["errors"]["timeout"], 2);
        assert_eq!(v["bench_bottleneck"], false);
        assert!(r.summary().contains("sent / acked"));
        assert!(v["steal_s_per_cpu"].is_null());
        assert!(!r.summary().contains("steal"));
        r.steal_s_per_cpu = Some(vec![0.05, 0.5]);
        assert_eq!(serde_json::to_value(&r).unwrap()["steal_s_per_cpu"][1], 0.5);
        assert!(r.summary().contains("cpu0 0.05 s, cpu1 0.50 s"));
    }

    #[test]
    fn quantiles_are_in_milliseconds_with_microsecond_precision() {
        let mut h = latency_histogram();
        for us in [100, 200, 300, 1500] {
            h.record(us).unwrap();
        }
        let q = Quantiles::of(&h);
        assert_eq!(q.p50, Some(0.2));
        assert_eq!(q.max, Some(1.5));
        assert!(Quantiles::of(&latency_histogram()).p50.is_none());
    }
}
