//! Rate limits: how often one user, account or address may do a thing.
//!
//! Each kind of action has a `Rate` (a burst, refilled at so many per
//! minute; the GCRA algorithm from `governor`). Behind a trait: with
//! `--redis-url` the nodes share the counts through Redis
//! (`SharedLimiter`, `cluster::shared`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::cluster::shared::Shared;
use crate::rooms::RoomName;
use crate::users::UserId;

/// A burst of `burst` actions, refilled at `per_minute` a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: NonZeroU32,
    pub per_minute: NonZeroU32,
}

impl Rate {
    pub const fn new(burst: NonZeroU32, per_minute: NonZeroU32) -> Self {
        Self { burst, per_minute }
    }

    fn quota(self) -> Quota {
        let period = Duration::from_secs(60) / self.per_minute.get();
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(self.per_minute))
            .allow_burst(self.burst)
    }
}

/// `BURST:PER_MINUTE`, e.g. `10:60`: bursts of ten, then one a second.
impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (burst, per_minute) = s
            .split_once(':')
            .ok_or_else(|| format!("expected BURST:PER_MINUTE, got {s:?}"))?;
        let number = |v: &str| {
            v.trim()
                .parse::<NonZeroU32>()
                .map_err(|e| format!("{v:?}: {e}"))
        };
        Ok(Self::new(number(burst)?, number(per_minute)?))
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.burst, self.per_minute)
    }
}

/// Something limited, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// Messages sent by a user.
    Send(UserId),
    /// Rooms joined by a user.
    Join(UserId),
    /// Typing notices by a user in a room.
    Typing(UserId, RoomName),
    /// Sign-in, sign-up and guest requests from an address.
    Auth(IpAddr),
    /// Login attempts on one account from one address.
    Login(IpAddr, String),
    /// Socket.IO handshakes from an address.
    Handshake(IpAddr),
    /// New rooms created by a user (a `join` of a name not yet used).
    RoomCreate(UserId),
    /// New rooms created from an address, whoever the users.
    RoomCreateFrom(IpAddr),
    /// Read events (`history`, `members`) by a user.
    Read(UserId),
    /// Searches (`GET /api/search`) by a user.
    Search(UserId),
}

impl Key {
    /// The key's name in Redis (under `<prefix>rate:`): the action, then
    /// whose. Unambiguous: a user id is a number, and `/` is in no address.
    pub fn name(&self) -> String {
        match self {
            Key::Send(user) => format!("send:{user}"),
            Key::Join(user) => format!("join:{user}"),
            Key::Typing(user, room) => format!("typing:{user}:{}", room.as_str()),
            Key::Auth(ip) => format!("auth:{ip}"),
            Key::Login(ip, name) => format!("login:{ip}/{name}"),
            Key::Handshake(ip) => format!("handshake:{ip}"),
            Key::RoomCreate(user) => format!("room_create:{user}"),
            Key::RoomCreateFrom(ip) => format!("room_create_from:{ip}"),
            Key::Read(user) => format!("read:{user}"),
            Key::Search(user) => format!("search:{user}"),
        }
    }
}

/// The rate for each kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub send: Rate,
    pub join: Rate,
    pub typing: Rate,
    pub auth: Rate,
    pub login: Rate,
    pub handshake: Rate,
    pub room_create: Rate,
    pub room_create_from: Rate,
    pub read: Rate,
    pub search: Rate,
}

impl Rates {
    /// The rate that applies to `key`.
    pub fn of(&self, key: &Key) -> Rate {
        match key {
            Key::Send(_) => self.send,
            Key::Join(_) => self.join,
            Key::Typing(..) => self.typing,
            Key::Auth(_) => self.auth,
            Key::Login(..) => self.login,
            Key::Handshake(_) => self.handshake,
            Key::RoomCreate(_) => self.room_create,
            Key::RoomCreateFrom(_) => self.room_create_from,
            Key::Read(_) => self.read,
            Key::Search(_) => self.search,
        }
    }
}

/// Counts actions and says when one must wait.
#[async_trait]
pub trait Limiter: Send + Sync + 'static {
    /// `Ok` if the action may happen now (and counts it), else how long
    /// until it may.
    async fn check(&self, key: Key) -> Result<(), Duration>;
}

/// Limits kept in this process's memory.
pub struct LocalLimiter {
    rates: Rates,
    send: DefaultKeyedRateLimiter<Key>,
    join: DefaultKeyedRateLimiter<Key>,
    typing: DefaultKeyedRateLimiter<Key>,
    auth: DefaultKeyedRateLimiter<Key>,
    login: DefaultKeyedRateLimiter<Key>,
    handshake: DefaultKeyedRateLimiter<Key>,
    room_create: DefaultKeyedRateLimiter<Key>,
    room_create_from: DefaultKeyedRateLimiter<Key>,
    read: DefaultKeyedRateLimiter<Key>,
    search: DefaultKeyedRateLimiter<Key>,
}

impl LocalLimiter {
    pub fn new(rates: Rates) -> Self {
        let keyed = |rate: Rate| DefaultKeyedRateLimiter::keyed(rate.quota());
        Self {
            rates,
            send: keyed(rates.send),
            join: keyed(rates.join),
            typing: keyed(rates.typing),
            auth: keyed(rates.auth),
            login: keyed(rates.login),
            handshake: keyed(rates.handshake),
            room_create: keyed(rates.room_create),
            room_create_from: keyed(rates.room_create_from),
            read: keyed(rates.read),
            search: keyed(rates.search),
        }
    }

    pub fn rates(&self) -> Rates {
        self.rates
    }

    fn limiter(&self, key: &Key) -> &DefaultKeyedRateLimiter<Key> {
        match key {
            Key::Send(_) => &self.send,
            Key::Join(_) => &self.join,
            Key::Typing(..) => &self.typing,
            Key::Auth(_) => &self.auth,
            Key::Login(..) => &self.login,
            Key::Handshake(_) => &self.handshake,
            Key::RoomCreate(_) => &self.room_create,
            Key::RoomCreateFrom(_) => &self.room_create_from,
            Key::Read(_) => &self.read,
            Key::Search(_) => &self.search,
        }
    }

    /// Forgets keys whose buckets are full again, so memory follows the
    /// number of recently active users and addresses, not all ever seen.
    pub fn prune(&self) {
        for limiter in [
            &self.send,
            &self.join,
            &self.typing,
            &self.auth,
            &self.login,
            &self.handshake,
            &self.room_create,
            &self.room_create_from,
            &self.read,
            &self.search,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Counts the action if it may happen now, else says how long until it
    /// may; not counted as a refusal in the metrics.
    fn count(&self, key: &Key) -> Result<(), Duration> {
        self.limiter(key)
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[async_trait]
impl Limiter for LocalLimiter {
    async fn check(&self, key: Key) -> Result<(), Duration> {
        self.count(&key)
            .inspect_err(|_| crate::metrics::get().rate_limited(&key))
    }
}

/// Limits every node counts together, in Redis; this node's own limiter
/// (the same rates, counting what this node sees) stands in while Redis
/// does not answer.
pub struct SharedLimiter {
    shared: Arc<Shared>,
    local: Arc<LocalLimiter>,
}

impl SharedLimiter {
    pub fn new(shared: Arc<Shared>, local: Arc<LocalLimiter>) -> Self {
        Self { shared, local }
    }
}

#[async_trait]
impl Limiter for SharedLimiter {
    async fn check(&self, key: Key) -> Result<(), Duration> {
        // This node's own count is kept in step, to stand in at once.
        let own = self.local.count(&key);
        let rate = self.local.rates().of(&key);
        let verdict = self.shared.check(&key, rate).await.unwrap_or(own);
        verdict.inspect_err(|_| crate::metrics::get().rate_limited(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(s: &str) -> Rate {
        s.parse().unwrap()
    }

    fn rates(send: &str) -> Rates {
        let r = rate("100:100");
        Rates {
            send: rate(send),
            join: r,
            typing: r,
            auth: r,
            login: r,
            handshake: r,
            room_create: r,
            room_create_from: r,
            read: r,
            search: r,
        }
    }

    #[test]
    fn a_rate_reads_as_burst_colon_per_minute() {
        assert_eq!(rate("10:60").burst.get(), 10);
        assert_eq!(rate("10:60").per_minute.get(), 60);
        assert!("10".parse::<Rate>().is_err());
        assert!("0:60".parse::<Rate>().is_err());
        assert!("x:60".parse::<Rate>().is_err());
    }

    #[tokio::test]
    async fn a_burst_is_allowed_and_then_refused_with_a_wait() {
        let limiter = LocalLimiter::new(rates("3:60"));
        for _ in 0..3 {
            assert!(limiter.check(Key::Send(1)).await.is_ok());
        }
        let wait = limiter.check(Key::Send(1)).await.unwrap_err();
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }

    #[tokio::test]
    async fn users_have_their_own_buckets() {
        let limiter = LocalLimiter::new(rates("1:60"));
        assert!(limiter.check(Key::Send(1)).await.is_ok());
        assert!(limiter.check(Key::Send(1)).await.is_err());
        assert!(limiter.check(Key::Send(2)).await.is_ok());
        assert!(limiter.check(Key::Join(1)).await.is_ok());
    }
}
