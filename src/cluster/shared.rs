//! What the nodes count together, in Redis: rate limits, and the Socket.IO
//! sessions each address holds.
//!
//! Counted per process, a limit would grow with the number of nodes: a user
//! with tabs on three nodes could send three times the rate, and an address
//! could hold three times its sessions. With `--redis-url` both live in
//! Redis (the bans and mutes already live in the shared database).
//!
//! Rate limits are the same GCRA as the local limiter (`ratelimit`): one key
//! per bucket, `<prefix>rate:<action>:<who>`, holding the bucket's
//! theoretical arrival time, checked and advanced by one script on Redis's
//! own clock (the nodes' clocks need not agree), and gone once the bucket
//! is full again.
//!
//! Sessions: each node keeps its exact count per address (`Counter`) and
//! mirrors it in a hash of its own, `<prefix>places:<node>` (address →
//! count), listed in the set `<prefix>nodes`. The hash expires unless its
//! node refreshes it (every `--redis-heartbeat-ms`), so the places of a node
//! that died go with it within `--redis-node-timeout-ms`. A handshake takes
//! a place when the sum over the live nodes' hashes is under the cap, in one
//! script.
//!
//! When Redis does not answer within `REDIS_WAIT`, the node falls back on its
//! own counts and limits (the same settings, per node) for `FALLBACK_FOR`
//! before it asks Redis again, and rewrites its hash from its own counts
//! once Redis answers: a limit held per node for a while is better than a
//! chat that stops with Redis. Each fallback counts in
//! `banter_shared_fallbacks_total`.

use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script, ScriptInvocation};
use tokio::time::Instant;

use super::{BusConfig, BusError, NodeId};
use crate::ratelimit::{Key, Rate};

/// How long a check waits for Redis before it falls back.
const REDIS_WAIT: Duration = Duration::from_millis(250);
/// How long the node keeps to its own counts after Redis failed to answer.
const FALLBACK_FOR: Duration = Duration::from_secs(1);

/// GCRA: KEYS[1] the bucket; ARGV[1] the emission interval (µs), ARGV[2]
/// the burst. Returns 0 and counts the action, or the wait in µs.
const RATE: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - tolerance > now then return tat - tolerance - now end
tat = tat + interval
redis.call('SET', KEYS[1], tat, 'PX', math.ceil((tat - now) / 1000))
return 0
";

/// KEYS[1] the set of nodes, KEYS[2] this node's hash; ARGV: the key
/// prefix, this node, the address, the cap, the hash's lifetime (ms).
/// Returns 1 and takes the place, or 0 at the cap. Reads the other nodes'
/// hashes by name (a single Redis, not Redis Cluster).
const TAKE: &str = r"
local total = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local places = ARGV[1] .. 'places:' .. node
  if node == ARGV[2] or redis.call('EXISTS', places) == 1 then
    total = total + tonumber(redis.call('HGET', places, ARGV[3]) or '0')
  else
    redis.call('SREM', KEYS[1], node)
  end
end
if total >= tonumber(ARGV[4]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
";

/// KEYS[1] this node's hash; ARGV[1] the address.
const GIVE_BACK: &str = r"
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
";

/// The node's handle on what it shares. One per node, behind an `Arc`.
pub struct Shared {
    conn: ConnectionManager,
    prefix: String,
    node: String,
    /// The lifetime of this node's hash (`--redis-node-timeout-ms`).
    ttl: Duration,
    rate: Script,
    take: Script,
    give_back: Script,
    /// Until when checks use the node's own counts only.
    fallback_until: Mutex<Option<Instant>>,
    /// Whether this node's hash must be rewritten from its own counts.
    stale: AtomicBool,
}

impl Shared {
    /// Connects to Redis (the bus's, with its prefix). Later outages are
    /// reconnected by the connection manager.
    pub async fn connect(config: &BusConfig, node: NodeId) -> Result<Self, BusError> {
        let client = redis::Client::open(config.url.as_str())?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_WAIT * 4)
            .set_response_timeout(REDIS_WAIT)
            .set_number_of_retries(2)
            .set_max_delay(1_000);
        let conn = ConnectionManager::new_with_config(client, manager).await?;
        Ok(Self {
            conn,
            prefix: config.prefix.clone(),
            node: format!("{node:016x}"),
            ttl: config.node_timeout,
            rate: Script::new(RATE),
            take: Script::new(TAKE),
            give_back: Script::new(GIVE_BACK),
            fallback_until: Mutex::new(None),
            stale: AtomicBool::new(false),
        })
    }

    fn places_key(&self) -> String {
        format!("{}places:{}", self.prefix, self.node)
    }

    fn nodes_key(&self) -> String {
        format!("{}nodes", self.prefix)
    }

    /// Runs a script, or `None` (and falls back for a while) when Redis
    /// fails or is slow, or while the node is falling back.
    async fn run<T: FromRedisValue>(&self, invocation: ScriptInvocation<'_>) -> Option<T> {
        {
            let mut until = self
                .fallback_until
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match *until {
                Some(t) if Instant::now() < t => return None,
                Some(_) => *until = None,
                None => {}
            }
        }
        let mut conn = self.conn.clone();
        let answer = tokio::time::timeout(REDIS_WAIT, invocation.invoke_async(&mut conn)).await;
        match answer {
            Ok(Ok(value)) => Some(value),
            failed => {
                match failed {
                    Ok(Err(err)) => {
                        tracing::warn!(%err, "Redis refused a shared count; counting on this node alone for now")
                    }
                    _ => tracing::warn!(
                        "Redis is slow to answer; counting on this node alone for now"
                    ),
                }
                crate::metrics::get().shared_fallbacks.increment(1);
                self.stale.store(true, Ordering::Release);
                *self
                    .fallback_until
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + FALLBACK_FOR);
                None
            }
        }
    }

    /// Counts one action against its bucket: `Some(Ok)` if it may happen,
    /// `Some(Err(wait))` if not, `None` if Redis could not say.
    pub async fn check(&self, key: &Key, rate: Rate) -> Option<Result<(), Duration>> {
        let interval_us = 60_000_000 / u64::from(rate.per_minute.get());
        let mut invocation = self.rate.key(format!("{}rate:{}", self.prefix, key.name()));
        invocation.arg(interval_us.max(1)).arg(rate.burst.get());
        let wait_us: u64 = self.run(invocation).await?;
        Some(match wait_us {
            0 => Ok(()),
            us => Err(Duration::from_micros(us)),
        })
    }

    /// Takes a place for one more session from `ip` if all the nodes
    /// together hold fewer than `max`; `None` if Redis could not say.
    pub async fn take(&self, ip: IpAddr, max: usize) -> Option<bool> {
        let mut invocation = self.take.key(self.nodes_key());
        invocation
            .key(self.places_key())
            .arg(&self.prefix)
            .arg(&self.node)
            .arg(ip.to_string())
            .arg(max)
            .arg(self.ttl_ms());
        self.run::<u8>(invocation).await.map(|taken| taken == 1)
    }

    /// Gives back a place taken in Redis. On failure the hash is rewritten
    /// later.
    pub async fn give_back(&self, ip: IpAddr) {
        let mut invocation = self.give_back.key(self.places_key());
        invocation.arg(ip.to_string());
        let _: Option<u8> = self.run(invocation).await;
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Marks this node's hash as out of step with its own counts (a place
    /// taken while Redis was away has closed): the next `keep_alive`
    /// rewrites it.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// Keeps this node's hash alive, and rewrites it from `counts` (the
    /// node's own, exact, per address) when it may be out of step: after a
    /// failure, or when it vanished (Redis restarted; it keeps nothing).
    pub async fn keep_alive(&self, counts: impl Fn() -> Vec<(IpAddr, usize)>) {
        let mut conn = self.conn.clone();
        let places = self.places_key();
        let refreshed: Result<redis::RedisResult<u8>, _> = tokio::time::timeout(
            REDIS_WAIT,
            redis::cmd("PEXPIRE")
                .arg(&places)
                .arg(self.ttl_ms())
                .query_async(&mut conn),
        )
        .await;
        let Ok(Ok(refreshed)) = refreshed else {
            self.stale.store(true, Ordering::Release);
            return;
        };
        let vanished = refreshed == 0;
        let counts = counts();
        if !(self.stale.load(Ordering::Acquire) || (vanished && !counts.is_empty())) {
            return;
        }
        let mut pipe = redis::pipe();
        pipe.atomic().del(&places).ignore();
        if !counts.is_empty() {
            let fields: Vec<(String, usize)> = counts
                .into_iter()
                .map(|(ip, count)| (ip.to_string(), count))
                .collect();
            pipe.hset_multiple(&places, &fields)
                .ignore()
                .pexpire(&places, i64::try_from(self.ttl_ms()).unwrap_or(i64::MAX))
                .ignore()
                .sadd(self.nodes_key(), &self.node)
                .ignore();
        }
        let written: Result<redis::RedisResult<()>, _> =
            tokio::time::timeout(REDIS_WAIT, pipe.query_async(&mut conn)).await;
        match written {
            Ok(Ok(())) => self.stale.store(false, Ordering::Release),
            _ => tracing::debug!("cannot rewrite this node's places in Redis yet"),
        }
    }

    /// Removes this node's places at shutdown (its sessions are closing).
    pub async fn leave(&self) {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.del(self.places_key())
            .ignore()
            .srem(self.nodes_key(), &self.node)
            .ignore();
        let _: Result<redis::RedisResult<()>, _> =
            tokio::time::timeout(REDIS_WAIT, pipe.query_async(&mut conn)).await;
    }
}

/// Runs `keep_alive` every `heartbeat` until `stop`, then `leave`s.
pub async fn keep_alive(
    shared: std::sync::Arc<Shared>,
    heartbeat: Duration,
    counts: impl Fn() -> Vec<(IpAddr, usize)>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut every = tokio::time::interval(heartbeat);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = every.tick() => {}
        }
        shared.keep_alive(&counts).await;
    }
    shared.leave().await;
}
