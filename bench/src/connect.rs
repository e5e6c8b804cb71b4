//! The `connect` scenario: many clients come up (sign-in, WebSocket,
//! Socket.IO connect, join), stay idle but alive, and the server's memory
//! per connection is measured.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::procstat::{CpuSample, CpuWindow, Watched, sum};
use crate::report::{BOTTLENECK_UTIL, NodeFigures, Quantiles, Report, count, latency_histogram};
use crate::setup::{Setup, establish, run_tag};
use crate::sio::{self, Packet, Ws, classify};
use crate::target::Target;

#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub clients: usize,
    pub rooms: usize,
    pub concurrency: usize,
    /// Seconds to hold every connection open before sampling memory.
    pub hold: f64,
}

/// Connections per slice in `connect_slices_per_s`.
pub const SLICE: usize = 1000;

/// Connects per second of each slice of `SLICE` completions, sorted.
pub fn slice_rates(started: Instant, done: &[Instant]) -> Vec<f64> {
    let mut prev = started;
    done.chunks(SLICE)
        .map(|chunk| {
            let last = chunk[chunk.len() - 1];
            let secs = last.duration_since(prev).as_secs_f64().max(1e-9);
            prev = last;
            chunk.len() as f64 / secs
        })
        .collect()
}

/// Keeps a connection alive (answering pings, reading whatever comes)
/// until told to close; whether the server closed it first.
async fn hold(mut ws: Ws, mut stop: watch::Receiver<bool>) -> bool {
    loop {
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    sio::close(ws).await;
                    return false;
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => match classify(t.as_str()) {
                    Packet::Ping if sio::send_text(&mut ws, "3".into()).await.is_err() => {
                        return true;
                    }
                    Packet::Close | Packet::Disconnect => return true,
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return true,
                Some(Ok(_)) => {}
            },
        }
    }
}

pub async fn run(
    target: Rc<Target>,
    p: &ConnectParams,
    watched: &Watched,
) -> anyhow::Result<Report> {
    if p.clients == 0 || p.rooms == 0 || p.concurrency == 0 {
        bail!("--clients, --rooms and --concurrency must be at least 1");
    }
    if !(p.hold >= 0.0 && p.hold.is_finite()) {
        bail!("--hold must be >= 0");
    }
    let rss_before_per_pid = watched.rss_per_server();
    let rss_before = sum(rss_before_per_pid.clone());
    let cpu_a = CpuSample::now(watched);
    let started = Instant::now();
    let latency = Rc::new(RefCell::new(latency_histogram()));
    let done = Rc::new(RefCell::new(Vec::with_capacity(p.clients)));
    let holders = Rc::new(RefCell::new(Vec::with_capacity(p.clients)));
    let (tx, rx) = watch::channel(false);
    let setup = Rc::new(Setup {
        target: target.clone(),
        run: run_tag(),
        rooms: p.rooms,
        read_buffer: 4 * 1024,
    });
    let last_report = Rc::new(Cell::new(started));
    let mut errors = {
        let (latency, done, holders) = (latency.clone(), done.clone(), holders.clone());
        let total = p.clients;
        establish(setup, p.clients, p.concurrency, move |_, ws, took| {
            let us = took.as_micros() as u64;
            latency.borrow_mut().saturating_record(us.max(1));
            let now = Instant::now();
            done.borrow_mut().push(now);
            let n = done.borrow().len();
            if now.duration_since(last_report.get()) >= Duration::from_secs(5) {
                last_report.set(now);
                eprintln!("banter-bench: {n}/{total} connected");
            }
            holders
                .borrow_mut()
                .push(tokio::task::spawn_local(hold(ws, rx.clone())));
        })
        .await
    };
    let finished = Instant::now();
    let cpu_b = CpuSample::now(watched);
    let window = CpuWindow::between(&cpu_a, &cpu_b);
    tokio::time::sleep(Duration::from_secs_f64(p.hold)).await;
    let rss_after_per_pid = watched.rss_per_server();
    let rss_after = sum(rss_after_per_pid.clone());
    let _ = tx.send(true);
    let tasks: Vec<_> = holders.borrow_mut().drain(..).collect();
    let connected = tasks.len() as u64;
    let mut dropped = 0;
    for t in tasks {
        match t.await {
            Ok(server_closed) => dropped += u64::from(server_closed),
            Err(_) => count(&mut errors, "holder_panicked", 1),
        }
    }
    count(&mut errors, "dropped_during_hold", dropped);
    let done = done.borrow();
    let connect_s = finished.duration_since(started).as_secs_f64();
    let q = Quantiles::of(&latency.borrow());
    let bench_util = window.bench_util();
    let bytes_per_connection = match (rss_before, rss_after) {
        (Some(b), Some(a)) if connected > 0 => Some((a as f64 - b as f64) / connected as f64),
        _ => None,
    };
    Ok(Report {
        scenario: "connect".into(),
        ok: errors.is_empty(),
        clients: Some(p.clients as u64),
        rooms: Some(p.rooms as u64),
        hold_s: Some(p.hold),
        concurrency: Some(p.concurrency as u64),
        connected: Some(connected),
        connect_s: Some(connect_s),
        connects_per_s: Some(connected as f64 / connect_s.max(1e-9)),
        connect_slices_per_s: Some(slice_rates(started, &done)),
        connect_p50_ms: q.p50,
        connect_p99_ms: q.p99,
        connect_max_ms: q.max,
        server_cpu_s: window.server_s,
        server_cpu_util: window.server_util(),
        server_rss_before_bytes: rss_before,
        server_rss_after_bytes: rss_after,
        bytes_per_connection,
        bench_cpu_s: window.bench_s,
        bench_cpu_util: bench_util,
        bench_bottleneck: bench_util.is_some_and(|u| u >= BOTTLENECK_UTIL),
        steal_s_per_cpu: window.steal_s_per_cpu.clone(),
        errors,
        nodes: NodeFigures::new(
            &target,
            watched,
            &window,
            (rss_before_per_pid, rss_after_per_pid),
            0,
        ),
        ..Report::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_of_a_thousand_show_the_rate_of_each() {
        let t0 = Instant::now();
        let done: Vec<Instant> = (1..=2500u64)
            .map(|i| {
                // 1000/s for the first slice, 500/s after.
                let ms = if i <= 1000 { i } else { 1000 + (i - 1000) * 2 };
                t0 + Duration::from_millis(ms)
            })
            .collect();
        let rates = slice_rates(t0, &done);
        assert_eq!(rates.len(), 3);
        assert!((rates[0] - 1000.0).abs() < 1.0, "{rates:?}");
        assert!((rates[1] - 500.0).abs() < 1.0, "{rates:?}");
        assert!((rates[2] - 500.0).abs() < 1.0, "{rates:?}");
    }
}
