//! The `rate` scenario: clients in rooms, some of them sending on an open
//! schedule; every delivery is checked (loss, duplicates, order) and timed.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use rand::Rng;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::procstat::{CpuSample, CpuWindow, Watched, sum};
use crate::report::{BOTTLENECK_UTIL, NodeFigures, Quantiles, Report, count, latency_histogram};
use crate::setup::{Setup, establish, room_name, run_tag};
use crate::sio::{self, Packet, Ws, ack_body, classify, message_event};
use crate::target::Target;

#[derive(Debug, Clone)]
pub struct RateParams {
    pub clients: usize,
    pub rooms: usize,
    /// Sending clients in total; `None`: all but the stalled ones.
    pub senders: Option<usize>,
    /// Messages per second per sender.
    pub rate: f64,
    /// The measured window, after the warmup.
    pub duration: f64,
    pub warmup: f64,
    /// Receivers that stop reading after the warmup.
    pub stall: usize,
    pub drain: f64,
    pub concurrency: usize,
    /// Pad each message text to this many characters (0: just the header).
    pub text_bytes: usize,
}

/// A growable bit set, for sequence numbers.
#[derive(Debug, Clone, Default)]
pub struct Bits(Vec<u64>);

impl Bits {
    /// Sets bit `i`; whether it was set already.
    pub fn set(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        if w >= self.0.len() {
            self.0.resize(w + 1, 0);
        }
        let was = self.0[w] & b != 0;
        self.0[w] |= b;
        was
    }

    pub fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn count(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// How many bits are set here and not in `other`.
    pub fn count_and_not(&self, other: &Bits) -> u64 {
        self.0
            .iter()
            .enumerate()
            .map(|(i, w)| u64::from((w & !other.0.get(i).copied().unwrap_or(0)).count_ones()))
            .sum()
    }
}

/// Who does what: client `i` is in room `i % rooms`; clients below
/// `senders` send (so senders are spread evenly over the rooms); clients
/// from `stall_from` on stall.
#[derive(Debug)]
struct Plan {
    run: String,
    rooms: usize,
    senders: usize,
    stall_from: usize,
    rate: f64,
    /// Pad message texts to this many characters (0: no padding).
    text_bytes: usize,
}

impl Plan {
    fn is_sender(&self, i: usize) -> bool {
        i < self.senders && self.rate > 0.0
    }

    fn is_stalled(&self, i: usize) -> bool {
        i >= self.stall_from
    }

    /// Senders in room `r`: clients `r, r + rooms, …` below `senders`,
    /// numbered `i / rooms` within the room.
    fn senders_in(&self, r: usize) -> usize {
        (self.senders + self.rooms - 1 - r) / self.rooms
    }
}

/// The schedule, known once every client is in.
#[derive(Debug, Clone, Copy)]
struct Clock {
    epoch: Instant,
    start: Instant,
    warm: Instant,
    end: Instant,
    warm_ns: u64,
    end_ns: u64,
}

impl Clock {
    fn ns(&self, t: Instant) -> u64 {
        t.duration_since(self.epoch).as_nanos() as u64
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Setup,
    Run(Clock),
    Stop,
}

/// State every client task updates: one thread, so plain cells.
struct Shared {
    plan: Plan,
    /// Non-stalled members per room.
    members: RefCell<Vec<u64>>,
    delivery: RefCell<Histogram<u64>>,
    ack: RefCell<Histogram<u64>>,
    lag: RefCell<Histogram<u64>>,
    sent: Cell<u64>,
    acked: Cell<u64>,
    ack_errors: Cell<u64>,
    expected: Cell<u64>,
    unique: Cell<u64>,
    in_window: Cell<u64>,
    senders_up: Cell<u64>,
    senders_done: Cell<u64>,
    errors: RefCell<BTreeMap<String, u64>>,
}

impl Shared {
    fn error(&self, kind: &str) {
        count(&mut self.errors.borrow_mut(), kind, 1);
    }
}

fn bump(c: &Cell<u64>, n: u64) {
    c.set(c.get() + n);
}

/// What one client saw, merged at the end.
#[derive(Debug, Default)]
struct Outcome {
    idx: usize,
    stalled: bool,
    /// Per sender of its room (numbered `i / rooms`), the seqs received.
    seen: Vec<Bits>,
    /// As a sender, the seqs acknowledged with ok.
    acked: Bits,
    duplicated: u64,
    out_of_order: u64,
    id_violations: u64,
    stalled_disconnected: bool,
}

enum Action {
    None,
    Pong,
    Closed,
}

/// One running client: its receiving checks and, if it sends, its schedule.
struct Client {
    sh: Rc<Shared>,
    clock: Clock,
    idx: usize,
    room: usize,
    room_name: String,
    /// Highest seq seen per room sender.
    high: Vec<Option<usize>>,
    last_id: u64,
    /// Send time (ns since epoch) per seq.
    sent_ns: Vec<u64>,
    answered: Bits,
    out: Outcome,
}

impl Client {
    fn on_text(&mut self, text: &str) -> Action {
        match classify(text) {
            Packet::Ping => Action::Pong,
            Packet::Event(payload) => {
                if let Some(m) = message_event(payload) {
                    self.on_message(m.id, &m.room, &m.text);
                }
                Action::None
            }
            Packet::Ack(id, payload) => {
                self.on_ack(id, payload);
                Action::None
            }
            Packet::Close | Packet::Disconnect => Action::Closed,
            _ => Action::None,
        }
    }

    fn on_message(&mut self, id: u64, room: &str, text: &str) {
        let now = Instant::now();
        let plan = &self.sh.plan;
        let mut words = text.split(' ');
        if words.next() != Some("bench") || words.next() != Some(plan.run.as_str()) {
            return;
        }
        let mut num = || words.next().and_then(|w| w.parse::<u64>().ok());
        let (Some(sender), Some(seq), Some(sent_ns)) = (num(), num(), num()) else {
            self.sh.error("unparsable_message");
            return;
        };
        let (sender, seq) = (sender as usize, seq as usize);
        if room != self.room_name || sender % plan.rooms != self.room || sender >= plan.senders {
            self.sh.error("message_from_another_room");
            return;
        }
        let j = sender / plan.rooms;
        if self.out.seen[j].set(seq) {
            self.out.duplicated += 1;
            return;
        }
        if id <= self.last_id {
            self.out.id_violations += 1;
        } else {
            self.last_id = id;
        }
        match self.high[j] {
            Some(h) if seq < h => self.out.out_of_order += 1,
            _ => self.high[j] = Some(seq),
        }
        bump(&self.sh.unique, 1);
        let now_ns = self.clock.ns(now);
        if sent_ns >= self.clock.warm_ns {
            let us = now_ns.saturating_sub(sent_ns) / 1000;
            self.sh.delivery.borrow_mut().saturating_record(us.max(1));
        }
        if now_ns >= self.clock.warm_ns && now_ns <= self.clock.end_ns {
            bump(&self.sh.in_window, 1);
        }
    }

    fn on_ack(&mut self, id: u64, payload: &str) {
        let now_ns = self.clock.ns(Instant::now());
        let Some(seq) = (id as usize).checked_sub(1) else {
            return; // the join's ack, again?
        };
        let Some(&sent_ns) = self.sent_ns.get(seq) else {
            self.sh.error("unknown_ack");
            return;
        };
        if self.answered.set(seq) {
            self.sh.error("ack_twice");
            return;
        }
        match ack_body(payload) {
            Some(body) if body.ok => {
                self.out.acked.set(seq);
                bump(&self.sh.acked, 1);
                bump(&self.sh.expected, self.sh.members.borrow()[self.room]);
                if body.duplicate == Some(true) {
                    self.sh.error("ack_duplicate_true");
                }
                if sent_ns >= self.clock.warm_ns {
                    let us = now_ns.saturating_sub(sent_ns) / 1000;
                    self.sh.ack.borrow_mut().saturating_record(us.max(1));
                }
            }
            Some(body) => {
                bump(&self.sh.ack_errors, 1);
                let code = body.error.map_or_else(|| "unknown".to_owned(), |e| e.code);
                self.sh.error(&format!("ack_{code}"));
            }
            None => {
                bump(&self.sh.ack_errors, 1);
                self.sh.error("ack_unparsable");
            }
        }
    }

    /// The `send` packet for the next seq, sent now.
    fn next_packet(&mut self, due: Instant) -> String {
        let now = Instant::now();
        let now_ns = self.clock.ns(now);
        let seq = self.sent_ns.len();
        self.sent_ns.push(now_ns);
        bump(&self.sh.sent, 1);
        let lag = now.saturating_duration_since(due).as_micros() as u64;
        self.sh.lag.borrow_mut().saturating_record(lag.max(1));
        let plan = &self.sh.plan;
        let run = &plan.run;
        let mut p = String::with_capacity(128 + plan.text_bytes);
        let _ = write!(
            p,
            "42{}[\"send\",{{\"room\":\"{}\",\"text\":\"",
            seq + 1,
            self.room_name
        );
        let text_start = p.len();
        let _ = write!(p, "bench {run} {} {seq} {now_ns}", self.idx);
        let text_len = p.len() - text_start;
        if plan.text_bytes > text_len + 1 {
            p.push(' ');
            p.extend(std::iter::repeat_n('x', plan.text_bytes - text_len - 1));
        }
        let _ = write!(p, "\",\"client_id\":\"b{run}-{}-{seq}\"}}]", self.idx);
        p
    }
}

/// Resolves when the phase becomes `Stop` (or the driver is gone).
async fn stopped(rx: &mut watch::Receiver<Phase>) {
    loop {
        if matches!(*rx.borrow_and_update(), Phase::Stop) || rx.changed().await.is_err() {
            return;
        }
    }
}

/// Until the run starts: answer pings, ignore the rest.
async fn wait_for_start(
    ws: &mut Ws,
    rx: &mut watch::Receiver<Phase>,
) -> Result<Clock, &'static str> {
    loop {
        if let Phase::Run(clock) = *rx.borrow_and_update() {
            return Ok(clock);
        }
        if matches!(*rx.borrow(), Phase::Stop) {
            return Err("stopped");
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return Err("stopped") },
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => match classify(t.as_str()) {
                    Packet::Ping => sio::send_text(ws, "3".into()).await.map_err(|_| "ws_write")?,
                    Packet::Close | Packet::Disconnect => return Err("disconnected"),
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | None => return Err("disconnected"),
                Some(Err(_)) => return Err("ws_read"),
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn client_task(
    idx: usize,
    mut ws: Ws,
    sh: Rc<Shared>,
    mut rx: watch::Receiver<Phase>,
) -> Outcome {
    let plan = &sh.plan;
    let room = idx % plan.rooms;
    let stalled = plan.is_stalled(idx);
    let sender = plan.is_sender(idx);
    let outcome = Outcome {
        idx,
        stalled,
        seen: vec![Bits::default(); plan.senders_in(room)],
        ..Outcome::default()
    };
    let clock = match wait_for_start(&mut ws, &mut rx).await {
        Ok(c) => c,
        Err(kind) => {
            if !stalled {
                sh.error(kind);
            }
            if sender {
                bump(&sh.senders_done, 1);
            }
            return outcome;
        }
    };
    let mut c = Client {
        sh: sh.clone(),
        clock,
        idx,
        room,
        room_name: room_name(room),
        high: vec![None; plan.senders_in(room)],
        last_id: 0,
        sent_ns: Vec::new(),
        answered: Bits::default(),
        out: outcome,
    };
    if stalled {
        stall(&mut c, ws, rx).await;
    } else {
        run_active(&mut c, ws, rx, sender).await;
    }
    c.out
}

/// A receiver (and maybe sender) that keeps up.
async fn run_active(c: &mut Client, mut ws: Ws, mut rx: watch::Receiver<Phase>, sender: bool) {
    let clock = c.clock;
    let rate = c.sh.plan.rate;
    let phase = if sender {
        rand::thread_rng().gen_range(0.0..1.0 / rate)
    } else {
        0.0
    };
    let due = |seq: usize| clock.start + Duration::from_secs_f64(phase + seq as f64 / rate);
    let mut next = if sender {
        Some(due(0)).filter(|&d| d < clock.end)
    } else {
        None
    };
    let mut done_sending = next.is_none();
    if sender && done_sending {
        bump(&c.sh.senders_done, 1);
    }
    let sleep = tokio::time::sleep_until(next.unwrap_or(clock.end).into());
    tokio::pin!(sleep);
    let stop = stopped(&mut rx);
    tokio::pin!(stop);
    let mut failure: Option<&'static str> = None;
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            () = &mut sleep, if next.is_some() => {
                let now = Instant::now();
                let mut burst = Ok(());
                while let Some(d) = next.filter(|&d| d <= now) {
                    let packet = c.next_packet(d);
                    burst = ws.feed(Message::text(packet)).await;
                    let n = c.sent_ns.len();
                    next = Some(due(n)).filter(|&d| d < clock.end);
                    if burst.is_err() {
                        break;
                    }
                }
                if burst.is_ok() {
                    burst = ws.flush().await;
                }
                if burst.is_err() {
                    failure = Some("ws_write");
                    break;
                }
                match next {
                    Some(d) => sleep.as_mut().reset(d.into()),
                    None => {
                        done_sending = true;
                        bump(&c.sh.senders_done, 1);
                    }
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => match c.on_text(t.as_str()) {
                    Action::None => {}
                    Action::Pong => {
                        if ws.send(Message::text("3")).await.is_err() {
                            failure = Some("ws_write");
                            break;
                        }
                    }
                    Action::Closed => {
                        failure = Some("disconnected");
                        break;
                    }
                },
                Some(Ok(Message::Close(_))) | None => {
                    failure = Some("disconnected");
                    break;
                }
                Some(Err(_)) => {
                    failure = Some("ws_read");
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    if sender && !done_sending {
        bump(&c.sh.senders_done, 1);
    }
    match failure {
        Some(kind) => c.sh.error(kind),
        None => sio::close(ws).await,
    }
}

/// A receiver that reads until the warmup ends, then not at all until the
/// run stops; then it reads on to see whether the server disconnected it.
async fn stall(c: &mut Client, mut ws: Ws, mut rx: watch::Receiver<Phase>) {
    let warm = tokio::time::sleep_until(c.clock.warm.into());
    tokio::pin!(warm);
    let stop = stopped(&mut rx);
    tokio::pin!(stop);
    let mut stop_done = false;
    loop {
        tokio::select! {
            biased;
            () = &mut stop => { stop_done = true; break }
            () = &mut warm => break,
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => match classify(t.as_str()) {
                    Packet::Ping if ws.send(Message::text("3")).await.is_err() => {
                        c.out.stalled_disconnected = true;
                        return;
                    }
                    Packet::Close | Packet::Disconnect => {
                        c.out.stalled_disconnected = true;
                        return;
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    c.out.stalled_disconnected = true;
                    return;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    if !stop_done {
        stop.await;
    }
    // Read what piled up: a disconnect (or close) means the server let go.
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(t)))) => {
                if matches!(classify(t.as_str()), Packet::Close | Packet::Disconnect) {
                    c.out.stalled_disconnected = true;
                    break;
                }
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => {
                c.out.stalled_disconnected = true;
                break;
            }
            Ok(Some(Ok(_))) => {}
        }
    }
    if !c.out.stalled_disconnected {
        sio::close(ws).await;
    }
}

pub async fn run(target: Rc<Target>, p: &RateParams, watched: &Watched) -> anyhow::Result<Report> {
    if p.clients == 0 || p.rooms == 0 {
        bail!("--clients and --rooms must be at least 1");
    }
    if p.stall > p.clients {
        bail!("--stall {} is more than --clients {}", p.stall, p.clients);
    }
    // Stalled clients never send: they cannot read their acks.
    let senders = p.senders.unwrap_or(p.clients).min(p.clients - p.stall);
    if p.senders.is_some_and(|s| s > senders) {
        eprintln!(
            "banter-bench: {senders} senders, not {}: the {} stalled clients do not send",
            p.senders.unwrap_or_default(),
            p.stall
        );
    }
    if p.text_bytes > 4000 {
        bail!("--text-bytes is at most 4000 (Banter's default message limit)");
    }
    if !(p.rate >= 0.0 && p.rate.is_finite())
        || p.duration <= 0.0
        || p.warmup < 0.0
        || p.drain < 0.0
    {
        bail!("--rate, --warmup and --drain must be >= 0 and --duration > 0");
    }
    let epoch = Instant::now();
    let run = run_tag();
    let rss_before = watched.rss_per_server();
    let plan = Plan {
        run: run.clone(),
        rooms: p.rooms,
        senders,
        stall_from: p.clients - p.stall,
        rate: p.rate,
        text_bytes: p.text_bytes,
    };
    let sh = Rc::new(Shared {
        plan,
        members: RefCell::new(vec![0; p.rooms]),
        delivery: RefCell::new(latency_histogram()),
        ack: RefCell::new(latency_histogram()),
        lag: RefCell::new(latency_histogram()),
        sent: Cell::new(0),
        acked: Cell::new(0),
        ack_errors: Cell::new(0),
        expected: Cell::new(0),
        unique: Cell::new(0),
        in_window: Cell::new(0),
        senders_up: Cell::new(0),
        senders_done: Cell::new(0),
        errors: RefCell::new(BTreeMap::new()),
    });
    let (tx, rx) = watch::channel(Phase::Setup);
    let handles = Rc::new(RefCell::new(Vec::new()));
    let setup = Rc::new(Setup {
        target: target.clone(),
        run,
        rooms: p.rooms,
        read_buffer: 8 * 1024,
    });
    let setup_errors = {
        let (sh, handles) = (sh.clone(), handles.clone());
        establish(setup, p.clients, p.concurrency, move |idx, ws, _| {
            if !sh.plan.is_stalled(idx) {
                sh.members.borrow_mut()[idx % sh.plan.rooms] += 1;
            }
            if sh.plan.is_sender(idx) {
                bump(&sh.senders_up, 1);
            }
            let task = tokio::task::spawn_local(client_task(idx, ws, sh.clone(), rx.clone()));
            handles.borrow_mut().push(task);
        })
        .await
    };
    let connected = handles.borrow().len();
    let senders_up = sh.senders_up.get();

    let start = Instant::now() + Duration::from_millis(100);
    let warm = start + Duration::from_secs_f64(p.warmup);
    let end = warm + Duration::from_secs_f64(p.duration);
    let clock = Clock {
        epoch,
        start,
        warm,
        end,
        warm_ns: warm.duration_since(epoch).as_nanos() as u64,
        end_ns: end.duration_since(epoch).as_nanos() as u64,
    };
    let _ = tx.send(Phase::Run(clock));
    tokio::time::sleep_until(warm.into()).await;
    let cpu_a = CpuSample::now(watched);
    tokio::time::sleep_until(end.into()).await;
    let cpu_b = CpuSample::now(watched);
    let rss_after = watched.rss_per_server();
    let window = CpuWindow::between(&cpu_a, &cpu_b);
    // Drain: until every ack and every expected delivery is in, or time is up.
    let drain_end = end + Duration::from_secs_f64(p.drain);
    while Instant::now() < drain_end {
        let all_sent = sh.senders_done.get() >= senders_up;
        let all_acked = sh.acked.get() + sh.ack_errors.get() >= sh.sent.get();
        if all_sent && all_acked && sh.unique.get() >= sh.expected.get() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = tx.send(Phase::Stop);
    let tasks: Vec<_> = handles.borrow_mut().drain(..).collect();
    let mut outcomes: Vec<Option<Outcome>> = (0..p.clients).map(|_| None).collect();
    for t in tasks {
        match t.await {
            Ok(o) => {
                let i = o.idx;
                outcomes[i] = Some(o);
            }
            Err(_) => sh.error("client_task_panicked"),
        }
    }

    // Merge.
    let plan = &sh.plan;
    let (mut lost, mut unacked, mut expected, mut delivered) = (0u64, 0u64, 0u64, 0u64);
    let (mut dup, mut ooo, mut idv) = (0u64, 0u64, 0u64);
    let (mut stalled, mut stalled_disc) = (0u64, 0u64);
    let empty = Bits::default();
    for o in outcomes.iter().flatten() {
        if o.stalled {
            stalled += 1;
            stalled_disc += u64::from(o.stalled_disconnected);
            continue;
        }
        let room = o.idx % plan.rooms;
        for (j, seen) in o.seen.iter().enumerate() {
            let s = j * plan.rooms + room;
            let acked = outcomes[s].as_ref().map_or(&empty, |so| &so.acked);
            expected += acked.count();
            lost += acked.count_and_not(seen);
            unacked += seen.count_and_not(acked);
            delivered += seen.count();
        }
        dup += o.duplicated;
        ooo += o.out_of_order;
        idv += o.id_violations;
    }
    let mut errors = setup_errors;
    for (k, v) in sh.errors.borrow().iter() {
        count(&mut errors, k, *v);
    }
    let (sent, acked, ack_errors) = (sh.sent.get(), sh.acked.get(), sh.ack_errors.get());
    count(
        &mut errors,
        "ack_missing",
        sent.saturating_sub(acked + ack_errors),
    );
    let in_window = sh.in_window.get();
    let per_delivery = |cpu: Option<f64>| {
        cpu.filter(|_| in_window > 0)
            .map(|c| c * 1e6 / in_window as f64)
    };
    let lag = Quantiles::of(&sh.lag.borrow());
    let bench_util = window.bench_util();
    let mut r = Report {
        scenario: "rate".into(),
        ok: lost == 0 && dup == 0 && ooo == 0 && idv == 0 && errors.is_empty(),
        clients: Some(p.clients as u64),
        rooms: Some(p.rooms as u64),
        senders: Some(senders as u64),
        rate_per_sender: Some(p.rate),
        duration_s: Some(p.duration),
        warmup_s: Some(p.warmup),
        drain_s: Some(p.drain),
        text_bytes: Some(p.text_bytes as u64),
        concurrency: Some(p.concurrency as u64),
        connected: Some(connected as u64),
        sent: Some(sent),
        acked: Some(acked),
        ack_errors: Some(ack_errors),
        delivered: Some(delivered),
        expected: Some(expected),
        lost: Some(lost),
        duplicated: Some(dup),
        out_of_order: Some(ooo),
        id_order_violations: Some(idv),
        delivered_unacked: Some(unacked),
        deliveries_per_s: Some(in_window as f64 / window.wall_s.max(1e-9)),
        send_lag_p99_ms: lag.p99,
        send_lag_max_ms: lag.max,
        server_cpu_s: window.server_s,
        server_cpu_util: window.server_util(),
        server_cpu_us_per_delivery: per_delivery(window.server_s),
        server_rss_before_bytes: sum(rss_before.clone()),
        server_rss_after_bytes: sum(rss_after.clone()),
        bench_cpu_s: window.bench_s,
        bench_cpu_util: bench_util,
        bench_cpu_us_per_delivery: per_delivery(window.bench_s),
        nodes: NodeFigures::new(
            &target,
            watched,
            &window,
            (rss_before, rss_after),
            in_window,
        ),
        bench_bottleneck: bench_util.is_some_and(|u| u >= BOTTLENECK_UTIL),
        steal_s_per_cpu: window.steal_s_per_cpu.clone(),
        errors,
        stalled: Some(stalled),
        stalled_disconnected: (p.stall > 0).then_some(stalled_disc),
        ..Report::default()
    };
    r.set_delivery(Quantiles::of(&sh.delivery.borrow()));
    r.set_ack(Quantiles::of(&sh.ack.borrow()));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_count_what_is_set_here_and_not_there() {
        let mut a = Bits::default();
        assert!(!a.set(3));
        assert!(a.set(3));
        a.set(70);
        a.set(200);
        let mut b = Bits::default();
        b.set(70);
        assert_eq!(
            (a.count(), a.count_and_not(&b), b.count_and_not(&a)),
            (3, 2, 0)
        );
        assert!(a.get(200) && !a.get(201) && !b.get(100_000));
    }

    #[test]
    fn senders_are_spread_evenly_over_the_rooms() {
        let plan = Plan {
            run: "x".into(),
            rooms: 4,
            senders: 10,
            stall_from: 20,
            rate: 1.0,
            text_bytes: 0,
        };
        let per_room: Vec<usize> = (0..4).map(|r| plan.senders_in(r)).collect();
        assert_eq!(per_room, [3, 3, 2, 2]);
        for r in 0..4 {
            let counted = (0..10).filter(|i| i % 4 == r).count();
            assert_eq!(counted, plan.senders_in(r));
        }
        assert!(plan.is_sender(9) && !plan.is_sender(10) && plan.is_stalled(20));
    }
}
