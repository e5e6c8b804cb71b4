//! Configuration: every setting has one typed source, a command-line flag
//! with a `BANTER_*` environment variable behind it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};

use ipnet::IpNet;

use crate::limits::Limits;
use crate::ratelimit::{Rate, Rates};

/// How to serve. Parsed on its own in tests; `cli::Cli` flattens it.
#[derive(Parser, Clone)]
#[command(name = "banter", version, about)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BANTER_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// Directory for the embedded database (created if missing).
    #[arg(long, env = "BANTER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL; defaults to the SQLite file `<data-dir>/banter.db`.
    #[arg(long, env = "BANTER_DATABASE_URL")]
    pub database_url: Option<String>,

    // --- Files and images (issue #11).
    /// Directory for uploaded files; defaults to `<data-dir>/files`. Nodes
    /// sharing one database must share it too.
    #[arg(long, env = "BANTER_FILES_DIR")]
    pub files_dir: Option<PathBuf>,

    /// Largest uploaded file, in bytes.
    #[arg(long, env = "BANTER_MAX_FILE_BYTES", default_value_t = 10 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 32))]
    pub max_file_bytes: u64,

    /// Most files in one upload (one message).
    #[arg(long, env = "BANTER_FILES_PER_MESSAGE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub files_per_message: u32,

    /// Most files one user may upload in an hour.
    #[arg(long, env = "BANTER_UPLOADS_PER_HOUR", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub uploads_per_hour: u32,

    /// Largest image (in pixels) decoded for its size and thumbnail; a
    /// bigger one is kept as a plain file, never decoded.
    #[arg(long, env = "BANTER_MAX_IMAGE_PIXELS", default_value_t = 40_000_000, value_parser = clap::value_parser!(u64).range(1..=400_000_000))]
    pub max_image_pixels: u64,

    /// Seconds one upload may take, received and processed (its body must
    /// also arrive within `--body-timeout-secs`).
    #[arg(long, env = "BANTER_UPLOAD_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub upload_timeout_secs: u64,
    // --- end of files and images.
    /// Whether people may join as guests, with a display name only.
    #[arg(long, env = "BANTER_GUESTS", default_value_t = true, action = ArgAction::Set)]
    pub guests: bool,

    /// Longest message, in characters after trimming.
    #[arg(long, env = "BANTER_MAX_MESSAGE_CHARS", default_value_t = 4000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_message_chars: u32,

    /// Longest user name, in characters.
    #[arg(long, env = "BANTER_MAX_NAME_CHARS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_name_chars: u32,

    /// Longest room name, in characters.
    #[arg(long, env = "BANTER_MAX_ROOM_CHARS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub max_room_chars: u32,

    /// Shortest password, in characters.
    #[arg(long, env = "BANTER_MIN_PASSWORD_CHARS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub min_password_chars: u32,

    /// Largest Socket.IO packet or HTTP request body, in bytes.
    #[arg(long, env = "BANTER_MAX_PACKET_BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u32).range(1024..=16_777_216))]
    pub max_packet_bytes: u32,

    /// Seconds a ban also covers the addresses the banned user signed in
    /// from: no new account or guest from there meanwhile (0: none).
    #[arg(long, env = "BANTER_BAN_ADDRESS_SECS", default_value_t = 86_400)]
    pub ban_address_secs: u64,

    /// Other origins whose pages may open sockets (comma-separated, e.g.
    /// `https://chat.example.com`); the server's own origin always may.
    #[arg(long, env = "BANTER_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Reverse proxies whose `X-Forwarded-For` names the client (IPs or
    /// CIDR ranges, comma-separated); from anyone else the header is ignored.
    #[arg(long, env = "BANTER_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<IpNet>,

    /// Mark the session cookie `Secure` (send it over HTTPS only). It is
    /// marked anyway when a trusted proxy says the request came over HTTPS.
    #[arg(long, env = "BANTER_SECURE_COOKIES", default_value_t = false, action = ArgAction::Set)]
    pub secure_cookies: bool,

    /// Messages one user may send: BURST:PER_MINUTE.
    #[arg(long, env = "BANTER_SEND_RATE", default_value = "10:60")]
    pub send_rate: Rate,

    /// Rooms one user may join: BURST:PER_MINUTE. The burst must cover a
    /// client rejoining all its rooms after a reconnect.
    #[arg(long, env = "BANTER_JOIN_RATE", default_value = "50:60")]
    pub join_rate: Rate,

    /// Typing notices one user may send in one room: BURST:PER_MINUTE.
    #[arg(long, env = "BANTER_TYPING_RATE", default_value = "5:60")]
    pub typing_rate: Rate,

    /// Register, login and guest requests from one address: BURST:PER_MINUTE.
    #[arg(long, env = "BANTER_AUTH_RATE", default_value = "20:30")]
    pub auth_rate: Rate,

    /// Login attempts on one account from one address: BURST:PER_MINUTE.
    #[arg(long, env = "BANTER_LOGIN_RATE", default_value = "5:5")]
    pub login_rate: Rate,

    /// Socket.IO sessions opened from one address (Engine.IO handshakes):
    /// BURST:PER_MINUTE.
    #[arg(long, env = "BANTER_HANDSHAKE_RATE", default_value = "30:120")]
    pub handshake_rate: Rate,

    /// New rooms one user may create (by joining a name not yet used):
    /// BURST:PER_MINUTE.
    #[arg(long, env = "BANTER_ROOM_CREATE_RATE", default_value = "10:10")]
    pub room_create_rate: Rate,

    /// New rooms that may be created from one address, whoever the users:
    /// BURST:PER_MINUTE.
    #[arg(long, env = "BANTER_ROOM_CREATE_IP_RATE", default_value = "30:30")]
    pub room_create_ip_rate: Rate,

    /// Read events (`history`, `members`) one user may send:
    /// BURST:PER_MINUTE. The burst covers a client catching up on its rooms
    /// after a reconnect.
    #[arg(long, env = "BANTER_READ_RATE", default_value = "60:600")]
    pub read_rate: Rate,

    /// Searches (`GET /api/search`) one user may make: BURST:PER_MINUTE.
    /// A search reads an index, dearer than a page of history.
    #[arg(long, env = "BANTER_SEARCH_RATE", default_value = "20:60")]
    pub search_rate: Rate,

    /// The origins this server is served under (comma-separated, e.g.
    /// `https://chat.example.com`): pages from them may open sockets and
    /// send state-changing requests. Unset, only a loopback page whose
    /// origin matches the `Host` header may (for development).
    #[arg(long, env = "BANTER_PUBLIC_ORIGIN", value_delimiter = ',')]
    pub public_origin: Vec<String>,

    /// Socket.IO sessions open at once from one address, counted from the
    /// Engine.IO handshake until the session closes.
    #[arg(long, env = "BANTER_MAX_CONNECTIONS_PER_IP", default_value_t = 100)]
    pub max_connections_per_ip: usize,

    /// Seconds a client has to send a whole request head; also the longest wait for the next request on an
    /// idle keep-alive connection (hyper runs one timer for both).
    #[arg(long, env = "BANTER_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,

    /// Seconds a client has to send a whole request body.
    #[arg(long, env = "BANTER_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,

    /// Seconds a new Socket.IO session has to join the namespace before it
    /// is closed.
    #[arg(long, env = "BANTER_CONNECT_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout_secs: u64,

    /// TCP connections open at once, from everyone. Keep it below the
    /// process's open-file limit (`ulimit -n`), which must also cover the
    /// database files.
    #[arg(long, env = "BANTER_MAX_TCP_CONNECTIONS", default_value_t = 10_000)]
    pub max_tcp_connections: usize,

    /// TCP connections open at once from one peer address (a reverse proxy
    /// is one peer: raise this behind one).
    #[arg(long, env = "BANTER_MAX_TCP_CONNECTIONS_PER_IP", default_value_t = 200)]
    pub max_tcp_connections_per_ip: usize,

    /// Packets that may wait to be written to one connection before it
    /// counts as fallen behind and is disconnected (to catch up on reconnect).
    #[arg(long, env = "BANTER_SOCKET_BUFFER", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    pub socket_buffer: u32,

    /// Bytes that may wait to be written to one connection (queued on the
    /// server and not yet taken by the socket or a polling response). Room
    /// traffic past it disconnects the connection (it catches up on
    /// reconnect); answers to its own requests past half of it wait until
    /// it reads.
    #[arg(long, env = "BANTER_SOCKET_BUFFER_BYTES", default_value_t = 8 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(64 * 1024..=4 * 1024 * 1024 * 1024))]
    pub socket_buffer_bytes: u64,

    /// Seconds to wait for connections to close on shutdown.
    #[arg(long, env = "BANTER_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// Address for `/metrics` (Prometheus text format); off unless set.
    #[arg(long, env = "BANTER_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Seconds `/readyz` answers 503 after SIGTERM before the sockets are
    /// closed, so a load balancer stops sending new clients first.
    #[arg(long, env = "BANTER_DRAIN_SECS", default_value_t = 2)]
    pub drain_secs: u64,

    /// Seconds after a guest's last session ends (logout, revocation or
    /// expiry) before the guest is removed: their name and everything about
    /// them go, except the name on messages they wrote. Banned, muted and
    /// admin guests are kept.
    #[arg(long, env = "BANTER_GUEST_GRACE_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=31_536_000_000))]
    pub guest_grace_secs: u64,

    /// Delete messages older than this many days, in the background; off
    /// unless set. Fractions are accepted (0.5 is twelve hours).
    #[arg(long, env = "BANTER_RETENTION_DAYS", value_parser = parse_days)]
    pub retention_days: Option<f64>,

    /// Redis (or Valkey) URL, e.g. `redis://127.0.0.1:6379/0`: nodes that
    /// share one database share room traffic, typing and presence through
    /// it. Off unless set (one node on its own).
    #[arg(long, env = "BANTER_REDIS_URL")]
    pub redis_url: Option<String>,

    /// In front of every Redis key and pub/sub channel Banter uses, so that
    /// several installs (or test runs) can share one Redis.
    #[arg(long, env = "BANTER_REDIS_PREFIX", default_value = "banter:")]
    pub redis_prefix: String,

    /// Milliseconds between this node's heartbeats on the bus.
    #[arg(long, env = "BANTER_REDIS_HEARTBEAT_MS", default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(50..=10_000))]
    pub redis_heartbeat_ms: u64,

    /// Milliseconds without a heartbeat after which another node counts as
    /// dead: its users leave presence (unless they are connected elsewhere)
    /// and this node catches up its rooms from the database. Must be more
    /// than twice the heartbeat; with the heartbeat it bounds how long a
    /// dead node's users stay listed (default 10 s + 2 s).
    #[arg(long, env = "BANTER_REDIS_NODE_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(150..=25_000))]
    pub redis_node_timeout_ms: u64,

    /// For tests only: store and acknowledge messages but never publish them
    /// to the bus (what a node that dies between its commit and its
    /// publish leaves behind).
    #[arg(long, hide = true, default_value_t = false)]
    pub test_withhold_messages: bool,
}

/// A positive number of days, fractions allowed, at most a thousand years.
fn parse_days(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(days) if days > 0.0 && days <= 365_000.0 => Ok(days),
        _ => Err(format!("{s:?} is not a positive number of days")),
    }
}

/// An IP range in CIDR form, or a single address.
fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR range"))
}

impl Config {
    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("banter.db").display()))
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_message_chars: self.max_message_chars as usize,
            max_name_chars: self.max_name_chars as usize,
            max_room_chars: self.max_room_chars as usize,
            min_password_chars: self.min_password_chars as usize,
            max_packet_bytes: self.max_packet_bytes as usize,
            socket_buffer: self.socket_buffer as usize,
        }
    }

    pub fn rates(&self) -> Rates {
        Rates {
            send: self.send_rate,
            join: self.join_rate,
            typing: self.typing_rate,
            auth: self.auth_rate,
            login: self.login_rate,
            handshake: self.handshake_rate,
            room_create: self.room_create_rate,
            room_create_from: self.room_create_ip_rate,
            read: self.read_rate,
            search: self.search_rate,
        }
    }

    /// The upload settings (files and images).
    pub fn uploads(&self) -> crate::uploads::Settings {
        crate::uploads::Settings {
            dir: self
                .files_dir
                .clone()
                .unwrap_or_else(|| self.data_dir.join("files")),
            max_file_bytes: self.max_file_bytes,
            files_per_message: self.files_per_message as usize,
            per_hour: self.uploads_per_hour,
            max_image_pixels: self.max_image_pixels,
            timeout: Duration::from_secs(self.upload_timeout_secs),
        }
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// How long a departed guest is kept.
    pub fn guest_grace(&self) -> Duration {
        Duration::from_secs(self.guest_grace_secs)
    }

    /// How long messages are kept, if not for ever.
    pub fn retention(&self) -> Option<Duration> {
        self.retention_days
            .map(|days| Duration::from_secs_f64(days * 86_400.0))
    }

    /// How long readiness is off before shutdown closes the sockets.
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_secs)
    }

    /// The cross-node bus settings, if `--redis-url` is set. `Err` says why
    /// the settings do not fit together.
    pub fn bus(&self) -> Result<Option<crate::cluster::BusConfig>, String> {
        let Some(url) = self.redis_url.clone() else {
            return Ok(None);
        };
        if self.redis_node_timeout_ms < 2 * self.redis_heartbeat_ms + 50 {
            return Err(format!(
                "--redis-node-timeout-ms ({}) must be more than twice --redis-heartbeat-ms ({})",
                self.redis_node_timeout_ms, self.redis_heartbeat_ms
            ));
        }
        if self.redis_prefix.is_empty() {
            return Err("--redis-prefix must not be empty".into());
        }
        Ok(Some(crate::cluster::BusConfig {
            url,
            prefix: self.redis_prefix.clone(),
            heartbeat: Duration::from_millis(self.redis_heartbeat_ms),
            node_timeout: Duration::from_millis(self.redis_node_timeout_ms),
            withhold_messages: self.test_withhold_messages,
        }))
    }

    /// Settings for tests and embedding: defaults, a given data directory,
    /// and port 0.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut config = Config::parse_from(["banter"]);
        config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.data_dir = data_dir.into();
        config.database_url = None;
        config.drain_secs = 0;
        config
    }
}

/// Shows every setting but the database URL, which may hold a password.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "**redacted**"),
            )
            .field("guests", &self.guests)
            .field("limits", &self.limits())
            .field("ban_address_secs", &self.ban_address_secs)
            .field("allowed_origins", &self.allowed_origins)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("secure_cookies", &self.secure_cookies)
            .field("rates", &self.rates())
            .field("public_origin", &self.public_origin)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("header_timeout_secs", &self.header_timeout_secs)
            .field("body_timeout_secs", &self.body_timeout_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("max_tcp_connections", &self.max_tcp_connections)
            .field(
                "max_tcp_connections_per_ip",
                &self.max_tcp_connections_per_ip,
            )
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("metrics_bind", &self.metrics_bind)
            .field("drain_secs", &self.drain_secs)
            .field("guest_grace_secs", &self.guest_grace_secs)
            .field("retention_days", &self.retention_days)
            .field(
                "redis_url",
                &self.redis_url.as_ref().map(|_| "**redacted**"),
            )
            .field("redis_prefix", &self.redis_prefix)
            .field("redis_heartbeat_ms", &self.redis_heartbeat_ms)
            .field("redis_node_timeout_ms", &self.redis_node_timeout_ms)
            .field("uploads", &self.uploads())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let config = Config::parse_from(["banter"]);
        assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
        assert!(config.guests);
        assert_eq!(config.limits(), Limits::default());
        assert_eq!(config.database_url(), "sqlite://data/banter.db");
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let config = Config::parse_from(["banter", "--trusted-proxies", "127.0.0.1,10.0.0.0/8"]);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(Config::try_parse_from(["banter", "--trusted-proxies", "nope"]).is_err());
    }

    #[test]
    fn retention_is_off_by_default_and_takes_fractional_days() {
        assert_eq!(Config::parse_from(["banter"]).retention(), None);
        let config = Config::parse_from(["banter", "--retention-days", "0.5"]);
        assert_eq!(config.retention(), Some(Duration::from_secs(43_200)));
        for bad in ["0", "-1", "soon", "NaN"] {
            assert!(Config::try_parse_from(["banter", "--retention-days", bad]).is_err());
        }
    }

    #[test]
    fn guests_can_be_turned_off_by_flag() {
        let config = Config::parse_from(["banter", "--guests", "false"]);
        assert!(!config.guests);
    }

    #[test]
    fn the_database_url_is_redacted_in_debug_output() {
        let config = Config::parse_from(["banter", "--database-url", "postgres://u:secret@h/db"]);
        assert!(!format!("{config:?}").contains("secret"));
    }

    #[test]
    fn the_bus_is_off_by_default_and_its_timings_must_fit() {
        assert!(Config::parse_from(["banter"]).bus().unwrap().is_none());
        let on = Config::parse_from(["banter", "--redis-url", "redis://:secret@127.0.0.1/"]);
        let bus = on.bus().unwrap().unwrap();
        assert_eq!(bus.prefix, "banter:");
        assert_eq!(bus.heartbeat, Duration::from_secs(2));
        assert_eq!(bus.node_timeout, Duration::from_secs(10));
        assert!(!format!("{on:?}").contains("secret"));
        let tight = Config::parse_from([
            "banter",
            "--redis-url",
            "redis://127.0.0.1/",
            "--redis-heartbeat-ms",
            "1000",
            "--redis-node-timeout-ms",
            "1500",
        ]);
        assert!(tight.bus().is_err());
        assert!(Config::try_parse_from(["banter", "--redis-node-timeout-ms", "30000"]).is_err());
    }
}
