//! Metrics: counters and histograms in the Prometheus text format, served on
//! their own address (`--metrics-bind`) so the public listener never shows
//! them.
//!
//! The send path is hot, so every metric is a handle registered once, when
//! the recorder is installed, and held in one static struct: counting is one
//! atomic add on a handle already in hand, with no name looked up, no label
//! built and nothing allocated per message. Labels (transport, action) are
//! fixed and get one handle each. Without a recorder (in-process tests, or
//! `--metrics-bind` unset) the handles are no-ops.
//!
//! Open connections by transport are not counted on the way in and out: a
//! client that starts on polling upgrades to WebSocket later, inside
//! socketioxide, with no hook. They are read from the live sockets when
//! `/metrics` is scraped instead, which costs nothing between scrapes.
//!
//! The exporter's own HTTP listener is not used: `/metrics` is an axum route
//! on a listener of our own, so it shares the server's runtime, tracing and
//! shutdown, and the exporter crate needs no HTTP server features of its own.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing;
use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use socketioxide::TransportType;

use crate::ratelimit::Key;
use crate::realtime::SocketIo;

/// Bucket bounds (seconds) for the latency histograms: a commit on a fast
/// disk takes well under a millisecond, a slow one tens of milliseconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// How often the exporter's histogram buffers are folded in between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Every metric Banter keeps, as handles registered once.
pub struct Metrics {
    pub joins: Counter,
    pub messages_stored: Counter,
    pub deliveries: Counter,
    pub slow_receivers_disconnected: Counter,
    pub guests_removed: Counter,
    pub store_commit_seconds: Histogram,
    pub ack_seconds: Histogram,
    /// The bus (`--redis-url`): frames sent, received, and lost on the way
    /// out (queue full or Redis unreachable: the node resyncs).
    pub bus_frames_published: Counter,
    pub bus_frames_received: Counter,
    pub bus_frames_dropped: Counter,
    /// Gaps that waited past the bus and were repaired from the database,
    /// and the messages that came from such reads rather than the bus.
    pub bus_gaps: Counter,
    pub bus_messages_repaired: Counter,
    /// Resyncs this node announced, other nodes declared dead, and the
    /// other nodes alive now.
    pub bus_resyncs: Counter,
    pub bus_nodes_lost: Counter,
    pub bus_peers: Gauge,
    /// Checks of a shared limit or count that Redis did not answer in
    /// time, so this node's own counts stood in.
    pub shared_fallbacks: Counter,
    rate_limited: RateLimited,
    connections_websocket: Gauge,
    connections_polling: Gauge,
}

/// Refusals by the rate limiter, one handle per action.
struct RateLimited {
    send: Counter,
    join: Counter,
    typing: Counter,
    auth: Counter,
    login: Counter,
    handshake: Counter,
    room_create: Counter,
    room_create_from: Counter,
    read: Counter,
    search: Counter,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The metrics; no-op handles unless `install` ran first.
pub fn get() -> &'static Metrics {
    METRICS.get_or_init(Metrics::register)
}

impl Metrics {
    fn register() -> Self {
        let limited = |action: &'static str| metrics::counter!("banter_rate_limited_total", "action" => action);
        let connections = |transport: &'static str| metrics::gauge!("banter_connections_open", "transport" => transport);
        Self {
            joins: metrics::counter!("banter_joins_total"),
            messages_stored: metrics::counter!("banter_messages_stored_total"),
            deliveries: metrics::counter!("banter_deliveries_total"),
            slow_receivers_disconnected: metrics::counter!(
                "banter_slow_receivers_disconnected_total"
            ),
            guests_removed: metrics::counter!("banter_guests_removed_total"),
            store_commit_seconds: metrics::histogram!("banter_store_commit_seconds"),
            ack_seconds: metrics::histogram!("banter_ack_seconds"),
            bus_frames_published: metrics::counter!("banter_bus_frames_published_total"),
            bus_frames_received: metrics::counter!("banter_bus_frames_received_total"),
            bus_frames_dropped: metrics::counter!("banter_bus_frames_dropped_total"),
            bus_gaps: metrics::counter!("banter_bus_gaps_repaired_total"),
            bus_messages_repaired: metrics::counter!("banter_bus_messages_repaired_total"),
            bus_resyncs: metrics::counter!("banter_bus_resyncs_total"),
            bus_nodes_lost: metrics::counter!("banter_bus_nodes_lost_total"),
            bus_peers: metrics::gauge!("banter_bus_peers"),
            shared_fallbacks: metrics::counter!("banter_shared_fallbacks_total"),
            rate_limited: RateLimited {
                send: limited("send"),
                join: limited("join"),
                typing: limited("typing"),
                auth: limited("auth"),
                login: limited("login"),
                handshake: limited("handshake"),
                room_create: limited("room_create"),
                room_create_from: limited("room_create_from"),
                read: limited("read"),
                search: limited("search"),
            },
            connections_websocket: connections("websocket"),
            connections_polling: connections("polling"),
        }
    }

    /// Counts a request the rate limiter refused.
    pub fn rate_limited(&self, key: &Key) {
        let limited = &self.rate_limited;
        let counter = match key {
            Key::Send(_) => &limited.send,
            Key::Join(_) => &limited.join,
            Key::Typing(..) => &limited.typing,
            Key::Auth(_) => &limited.auth,
            Key::Login(..) => &limited.login,
            Key::Handshake(_) => &limited.handshake,
            Key::RoomCreate(_) => &limited.room_create,
            Key::RoomCreateFrom(_) => &limited.room_create_from,
            Key::Read(_) => &limited.read,
            Key::Search(_) => &limited.search,
        };
        counter.increment(1);
    }
}

/// Installs the Prometheus recorder for the whole process and registers
/// every metric with it. Call once, before the server is set up.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install_recorder()?;
    describe();
    let _ = get();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "banter_connections_open",
        "Socket.IO connections open now, by transport"
    );
    describe_counter!("banter_joins_total", "Rooms joined");
    describe_counter!("banter_messages_stored_total", "Messages stored");
    describe_counter!(
        "banter_deliveries_total",
        "Message and event packets queued to a connection"
    );
    describe_counter!(
        "banter_slow_receivers_disconnected_total",
        "Connections disconnected for falling behind"
    );
    describe_counter!(
        "banter_guests_removed_total",
        "Departed guests removed after the grace period"
    );
    describe_counter!(
        "banter_rate_limited_total",
        "Requests refused by the rate limiter, by action"
    );
    describe_counter!(
        "banter_bus_frames_published_total",
        "Frames this node sent on the bus (--redis-url)"
    );
    describe_counter!(
        "banter_bus_frames_received_total",
        "Frames this node read from the bus, its own included"
    );
    describe_counter!(
        "banter_bus_frames_dropped_total",
        "Frames lost on the way out (queue full or Redis unreachable); each loss leads to a resync"
    );
    describe_counter!(
        "banter_bus_gaps_repaired_total",
        "Gaps in a room's messages that the bus did not fill in time and the database did"
    );
    describe_counter!(
        "banter_bus_messages_repaired_total",
        "Messages delivered from the database rather than the bus (gaps, catch-up)"
    );
    describe_counter!(
        "banter_bus_resyncs_total",
        "Resyncs this node announced after losing frames"
    );
    describe_counter!(
        "banter_bus_nodes_lost_total",
        "Other nodes declared dead (no heartbeat within --redis-node-timeout-ms)"
    );
    describe_gauge!("banter_bus_peers", "Other nodes heard from on the bus");
    describe_counter!(
        "banter_shared_fallbacks_total",
        "Shared rate limits and connection caps that Redis did not answer in time, so this node's own counts stood in"
    );
    describe_histogram!(
        "banter_store_commit_seconds",
        Unit::Seconds,
        "Time to commit one batch of writes"
    );
    describe_histogram!(
        "banter_ack_seconds",
        Unit::Seconds,
        "Time from a send reaching the sequencer to its stored and broadcast ack"
    );
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    io: SocketIo,
}

/// The `/metrics` route, for the metrics listener.
pub fn router(handle: PrometheusHandle, io: SocketIo) -> Router {
    Router::new()
        .route("/metrics", routing::get(scrape))
        .with_state(Scrape { handle, io })
}

async fn scrape(State(scrape): State<Scrape>) -> impl IntoResponse {
    let (mut websocket, mut polling) = (0u32, 0u32);
    if let Some(ns) = scrape.io.of("/") {
        for socket in ns.sockets() {
            match socket.transport_type() {
                TransportType::Websocket => websocket += 1,
                TransportType::Polling => polling += 1,
            }
        }
    }
    let metrics = get();
    metrics.connections_websocket.set(websocket);
    metrics.connections_polling.set(polling);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        scrape.handle.render(),
    )
}
