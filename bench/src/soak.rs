//! The `soak` scenario: a long `rate` run with connections coming and going
//! beside it, and the server's memory sampled throughout, to show that
//! nothing grows: RSS flat after the warm-up, no error, nothing lost.
//!
//! The steady clients are a `rate` run (every delivery checked for loss,
//! duplicates and order, as there). Beside them, `churners` tasks each loop:
//! sign a new guest in, connect, join one of the same rooms, read what the
//! room says for a few seconds, leave. Every cycle is a new user and a new
//! session, the way visitors of a public server come and go.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::watch;

use crate::http::GuestClient;
use crate::procstat::Watched;
use crate::rate::{self, RateParams};
use crate::report::{Report, count};
use crate::setup::{SETUP_TIMEOUT, room_name, run_tag};
use crate::sio::{self, Packet, Ws, classify};
use crate::target::Target;

#[derive(Debug, Clone)]
pub struct SoakParams {
    /// The steady load; its `duration` is the soak's length.
    pub rate: RateParams,
    /// Connections coming and going at any time.
    pub churners: usize,
    /// Seconds one churning connection stays, drawn evenly from this range.
    pub stay: (f64, f64),
    /// Seconds between samples of the server's RSS.
    pub sample_every: f64,
}

/// What the churners did.
#[derive(Default)]
struct Churn {
    cycles: Cell<u64>,
    errors: RefCell<BTreeMap<String, u64>>,
}

pub async fn run(target: Rc<Target>, p: &SoakParams, watched: &Watched) -> anyhow::Result<Report> {
    if !(p.stay.0 > 0.0 && p.stay.1 >= p.stay.0 && p.sample_every > 0.0) {
        anyhow::bail!("--stay-min must be > 0, --stay-max >= --stay-min, --sample-every > 0");
    }
    let (stop_tx, stop) = watch::channel(false);
    let churn = Rc::new(Churn::default());
    let run = run_tag();
    let mut tasks = Vec::new();
    for w in 0..p.churners {
        let ctx = Churner {
            target: target.clone(),
            run: run.clone(),
            worker: w,
            rooms: p.rate.rooms,
            stay: p.stay,
            churn: churn.clone(),
        };
        tasks.push(tokio::task::spawn_local(ctx.run(stop.clone())));
    }
    let samples = Rc::new(RefCell::new(Vec::new()));
    let sampler = tokio::task::spawn_local(sample(
        watched.clone(),
        Duration::from_secs_f64(p.sample_every),
        samples.clone(),
        stop.clone(),
    ));
    let steady = rate::run(target, &p.rate, watched).await;
    let _ = stop_tx.send(true);
    for t in tasks {
        if t.await.is_err() {
            count(&mut churn.errors.borrow_mut(), "churner_panicked", 1);
        }
    }
    let _ = sampler.await;
    let mut r = steady?;
    r.scenario = "soak".into();
    for (k, v) in churn.errors.borrow().iter() {
        count(&mut r.errors, &format!("churn_{k}"), *v);
    }
    r.ok &= churn.errors.borrow().is_empty();
    r.churners = Some(p.churners as u64);
    r.churn_cycles = Some(churn.cycles.get());
    let samples = samples.take();
    r.rss_growth_after_warmup = growth_after_warmup(&samples);
    r.rss_samples_bytes = Some(samples);
    Ok(r)
}

/// How much RSS grew from the end of the first third of the run (the
/// warm-up: caches, pools and the database's page cache filling) to its
/// end, as a fraction of the value then; the largest sample of the last
/// third against the largest of the second, so one momentary peak neither
/// hides growth nor fakes it.
pub fn growth_after_warmup(samples: &[u64]) -> Option<f64> {
    let third = samples.len() / 3;
    if third == 0 {
        return None;
    }
    let middle = samples[third..2 * third].iter().max()?;
    let last = samples[2 * third..].iter().max()?;
    Some(*last as f64 / *middle as f64 - 1.0)
}

/// Samples the servers' RSS (summed over the nodes) until told to stop.
async fn sample(
    watched: Watched,
    every: Duration,
    into: Rc<RefCell<Vec<u64>>>,
    mut stop: watch::Receiver<bool>,
) {
    if watched.servers.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Some(rss) = watched.rss() {
                    into.borrow_mut().push(rss);
                }
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

struct Churner {
    target: Rc<Target>,
    run: String,
    worker: usize,
    rooms: usize,
    stay: (f64, f64),
    churn: Rc<Churn>,
}

impl Churner {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let source = self.target.source(self.worker);
        // Churners spread over the nodes like the steady clients.
        let node = self.worker % self.target.nodes.len();
        let mut http = GuestClient::new(self.target.clone(), source);
        let mut cycle = 0usize;
        while !*stop.borrow() {
            cycle += 1;
            let name = format!("c{}_{}_{cycle}", self.run, self.worker);
            let room = room_name(rand::thread_rng().gen_range(0..self.rooms));
            let attempt = async {
                let token = http.sign_in(node, &name).await?;
                sio::open_session(self.target.node(node), source, &token, &room, 4096).await
            };
            let ws = match tokio::time::timeout(SETUP_TIMEOUT, attempt).await {
                Ok(Ok(ws)) => ws,
                Ok(Err(failure)) => {
                    self.failed(&failure.kind);
                    continue;
                }
                Err(_) => {
                    self.failed("timeout");
                    continue;
                }
            };
            let stay = rand::thread_rng().gen_range(self.stay.0..=self.stay.1);
            let until = Instant::now() + Duration::from_secs_f64(stay);
            tokio::select! {
                kept = listen(ws, until) => match kept {
                    Ok(()) => bump(&self.churn.cycles),
                    Err(kind) => self.failed(kind),
                },
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    fn failed(&self, kind: &str) {
        if self.churn.errors.borrow().is_empty() {
            eprintln!("banter-bench: churner {}: {kind}", self.worker);
        }
        count(&mut self.churn.errors.borrow_mut(), kind, 1);
    }
}

/// Reads (and answers pings) until `until`, then leaves; an error if the
/// server closed the connection first.
async fn listen(mut ws: Ws, until: Instant) -> Result<(), &'static str> {
    loop {
        let next = tokio::time::timeout_at(until.into(), sio::next_text(&mut ws)).await;
        match next {
            Err(_) => break,
            Ok(Ok(Some(text))) => match classify(&text) {
                Packet::Ping if sio::send_text(&mut ws, "3".into()).await.is_err() => {
                    return Err("closed_by_server");
                }
                Packet::Close | Packet::Disconnect => return Err("closed_by_server"),
                _ => {}
            },
            Ok(Ok(None)) | Ok(Err(_)) => return Err("closed_by_server"),
        }
    }
    sio::close(ws).await;
    Ok(())
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_compares_the_last_third_with_the_middle_one() {
        let flat = [50, 100, 100, 100, 99, 100];
        assert_eq!(growth_after_warmup(&flat), Some(0.0));
        let growing = [50, 100, 100, 100, 120, 130];
        let g = growth_after_warmup(&growing).unwrap_or_default();
        assert!((g - 0.3).abs() < 1e-9, "{g}");
        assert_eq!(growth_after_warmup(&[1, 2]), None);
    }
}
