//! Wiring: the shared state, the router, and the one way to run the server,
//! used by `main` and by the tests alike.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use socketioxide::layer::SocketIoLayer;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::client_ip::TrustedProxies;
use crate::cluster::Bus;
use crate::cluster::shared::{self, Shared};
use crate::config::Config;
use crate::limits::Limits;
use crate::origin::OriginPolicy;
use crate::presence::{LocalPresence, Presence};
use crate::ratelimit::{Limiter, LocalLimiter, SharedLimiter};
use crate::realtime::{
    self, Adapter, ConnectionCounts, Inboxes, Laggards, PresenceEvents, Sequencer, SocketIo,
};
use crate::store::{Backend, PgStore, SqliteStore, Store, StoreError};
use crate::uploads::Uploads;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The data directory or database files could not be made private.
    #[error("cannot restrict the permissions of {path}")]
    Permissions {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened or migrated, or its URL names no
    /// backend Banter has.
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    /// The settings do not fit together.
    #[error("{0}")]
    Config(String),
    /// Redis could not be reached (`--redis-url`).
    #[error("cannot join the bus")]
    Bus(#[from] crate::cluster::BusError),
    /// The files directory could not be made (`--files-dir`).
    #[error("cannot open the files directory {path}")]
    Files {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the socket handlers share. Every field is a cheap-to-clone handle.
#[derive(Clone)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub auth: Auth,
    pub presence: Arc<dyn Presence>,
    /// The bus to the other nodes, if there are any (`--redis-url`).
    pub bus: Option<Bus>,
    pub limits: Arc<Limits>,
    pub origins: Arc<OriginPolicy>,
    pub proxies: Arc<TrustedProxies>,
    pub limiter: Arc<dyn Limiter>,
    pub connections: ConnectionCounts,
    /// The ordered path of messages and joins (group commit, then broadcast).
    pub sequencer: Sequencer,
    /// Connections being disconnected for falling behind.
    pub laggards: Arc<Laggards>,
    /// Arrivals and departures gathered for big rooms.
    pub presence_events: Arc<PresenceEvents>,
    /// The tasks that drain connections' inboxes, so shutdown can let them
    /// finish what they started before the store closes.
    pub workers: TaskTracker,
    /// Every open connection's inbox, closed all at once at shutdown.
    pub inboxes: Arc<Inboxes>,
    /// Cancelled at shutdown, for the tasks that run until then.
    pub shutdown: CancellationToken,
    /// Set at the shutdown signal: `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
    /// Files and images: the file store, the limits, the sweep.
    pub uploads: Arc<Uploads>,
}

/// What the HTTP handlers share: the core plus the Socket.IO handle (to
/// disconnect a session's sockets at logout).
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub io: SocketIo,
    /// Whether session cookies are always marked `Secure`.
    pub secure_cookies: bool,
    /// The listener's timeouts and connection caps.
    pub net: crate::net::Settings,
    /// How long readiness is off before the sockets are closed at shutdown.
    pub drain: Duration,
    layer: SocketIoLayer<Adapter>,
}

impl AppState {
    /// Opens the store and sets up Socket.IO from the configuration.
    pub async fn new(config: &Config) -> Result<Self, StartError> {
        let bus_config = config.bus().map_err(StartError::Config)?;
        let store = open_store(config).await?;
        let (bus, inbound, shared) = match bus_config {
            Some(bus_config) => {
                let (bus, inbound) = Bus::connect(bus_config).await?;
                let shared = Arc::new(Shared::connect(bus.config(), bus.node()).await?);
                (Some(bus), Some(inbound), Some(shared))
            }
            None => (None, None, None),
        };
        let local = local_limiter(config);
        let limiter: Arc<dyn Limiter> = match &shared {
            Some(shared) => Arc::new(SharedLimiter::new(shared.clone(), local)),
            None => local,
        };
        let connections = ConnectionCounts::new(config.max_connections_per_ip, shared.clone());
        let uploads = open_uploads(config)?;
        let (_, closing) = store.sweeps();
        tokio::spawn(crate::uploads::sweep::run(
            uploads.clone(),
            store.clone(),
            closing,
        ));
        let (sequencer, queue) = Sequencer::new();
        let (laggards, lagging) = Laggards::new(config.socket_buffer_bytes);
        let core = Core {
            sequencer,
            laggards,
            presence_events: Arc::default(),
            auth: Auth::new(store.clone(), config.guests, config.ban_address_secs),
            store,
            presence: Arc::new(LocalPresence::new(bus.clone())),
            bus,
            limits: Arc::new(config.limits()),
            origins: Arc::new(OriginPolicy::new(
                config.public_origin.clone(),
                config.allowed_origins.clone(),
            )),
            proxies: Arc::new(TrustedProxies::new(config.trusted_proxies.clone())),
            limiter,
            connections,
            workers: TaskTracker::new(),
            inboxes: Arc::default(),
            shutdown: CancellationToken::new(),
            draining: Arc::default(),
            uploads,
        };
        let (layer, io) = realtime::socket_io(
            core.clone(),
            queue,
            lagging,
            inbound,
            Duration::from_secs(config.connect_timeout_secs),
        );
        tokio::spawn(realtime::watch_revocations(io.clone(), core.clone()));
        if let (Some(shared), Some(bus)) = (shared, &core.bus) {
            let connections = core.connections.clone();
            tokio::spawn(shared::keep_alive(
                shared,
                bus.config().heartbeat,
                move || connections.snapshot(),
                core.shutdown.clone(),
            ));
        }
        Ok(Self {
            core,
            io,
            secure_cookies: config.secure_cookies,
            net: crate::net::Settings::new(config),
            drain: config.drain(),
            layer,
        })
    }
}

/// The upload service on the files directory (made private if it is not).
fn open_uploads(config: &Config) -> Result<Arc<Uploads>, StartError> {
    let settings = config.uploads();
    let path = settings.dir.display().to_string();
    Uploads::open(settings)
        .map(Arc::new)
        .map_err(|source| StartError::Files { path, source })
}

/// The in-memory limiter, with a task that forgets idle keys every minute.
fn local_limiter(config: &Config) -> Arc<LocalLimiter> {
    let limiter = Arc::new(LocalLimiter::new(config.rates()));
    let weak = Arc::downgrade(&limiter);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let Some(limiter) = weak.upgrade() else { break };
            limiter.prune();
        }
    });
    limiter
}

/// Opens the store the database URL names, with its background sweeps
/// (departed guests, retention) started, whichever the backend.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    let url = config.database_url();
    let store: Arc<dyn Store> = match Backend::of(&url)? {
        Backend::Sqlite => Arc::new(open_sqlite(config, &url).await?),
        Backend::Postgres => Arc::new(PgStore::connect(&url).await?),
    };
    store.remove_guests_after(config.guest_grace());
    if let Some(retention) = config.retention() {
        store.keep_messages_for(retention);
    }
    Ok(store)
}

/// The SQLite file, in a private data directory, with private files.
async fn open_sqlite(config: &Config, url: &str) -> Result<SqliteStore, StartError> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        private::restrict(&config.data_dir, private::DIR_MODE)?;
    }
    let file = SqliteConnectOptions::from_str(url)
        .map_err(StoreError::from)?
        .get_filename()
        .to_path_buf();
    let in_memory = file.as_os_str().is_empty() || file.as_os_str() == ":memory:";
    if !in_memory {
        private::database_files(&file)?;
    }
    let store = SqliteStore::connect(url).await?;
    if !in_memory {
        // SQLite made the -wal and -shm files just now (with the mode of
        // the database file, so this only confirms it).
        private::tighten_database_files(&file)?;
    }
    Ok(store)
}

/// The data directory and the database files, readable by the server's
/// own user only: they hold password hashes and session token hashes.
/// Modes looser than that (an older install, a restored backup, a
/// directory made by hand) are tightened at every start, with a log line.
#[cfg(unix)]
mod private {
    use std::fs::{self, OpenOptions, Permissions};
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    use super::StartError;

    pub const DIR_MODE: u32 = 0o700;
    pub const FILE_MODE: u32 = 0o600;

    /// Creates the database file as private before SQLite does (SQLite
    /// gives its -wal and -shm files the database file's mode), and
    /// tightens the three files where they exist.
    pub fn database_files(db: &Path) -> Result<(), StartError> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(db)
            .map_err(|source| failed(db, source))?;
        tighten_database_files(db)
    }

    /// Tightens the three files where they exist, by path only. Never
    /// opens them: once SQLite has the database open, closing any other
    /// descriptor of the file in this process drops every POSIX lock the
    /// process holds on it, and another process (`banter admin`, `banter
    /// backup`) would then take itself for the last connection and delete
    /// the WAL under the server.
    pub fn tighten_database_files(db: &Path) -> Result<(), StartError> {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let path = Path::new(&name);
            if path.exists() {
                restrict(path, FILE_MODE)?;
            }
        }
        Ok(())
    }

    /// Sets `mode` on `path` if anyone but the owner has access now.
    pub fn restrict(path: &Path, mode: u32) -> Result<(), StartError> {
        let current = fs::metadata(path)
            .map_err(|source| failed(path, source))?
            .permissions()
            .mode()
            & 0o777;
        if current & !mode == 0 {
            return Ok(());
        }
        fs::set_permissions(path, Permissions::from_mode(mode))
            .map_err(|source| failed(path, source))?;
        tracing::warn!(
            path = %path.display(),
            from = format!("{current:o}"),
            to = format!("{mode:o}"),
            "tightened the permissions of the data directory or a database file"
        );
        Ok(())
    }

    fn failed(path: &Path, source: std::io::Error) -> StartError {
        StartError::Permissions {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Elsewhere the files keep what the system gives them.
#[cfg(not(unix))]
mod private {
    use std::path::Path;

    use super::StartError;

    pub const DIR_MODE: u32 = 0;

    pub fn database_files(_db: &Path) -> Result<(), StartError> {
        Ok(())
    }

    pub fn restrict(_path: &Path, _mode: u32) -> Result<(), StartError> {
        Ok(())
    }

    pub fn tighten_database_files(_db: &Path) -> Result<(), StartError> {
        Ok(())
    }
}

/// The whole application: HTTP API, Socket.IO and the web page.
pub fn build_app(state: AppState) -> Router {
    let layer = state.layer.clone();
    let core = state.core.clone();
    // The last layer runs first: slim the request, count a new Engine.IO
    // session, then Socket.IO.
    crate::http::router(state)
        .layer(layer)
        .layer(axum::middleware::from_fn_with_state(
            core,
            realtime::count_sessions,
        ))
        .layer(axum::middleware::map_request(crate::http::slim))
}

/// Serves (with `net::serve`'s timeouts and connection caps) until
/// `shutdown` resolves, then closes every socket's transport
/// (clients see a dropped connection and reconnect), waits up to `grace` for
/// requests and queued socket events in flight, and closes the store.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (io, core, net) = (state.io.clone(), state.core.clone(), state.net.clone());
    let (draining, drain) = (core.draining.clone(), state.drain);
    let app = build_app(state);
    // When the grace period ends, set when the signal comes: it counts for
    // the HTTP side and the socket workers together.
    let (deadline_tx, deadline_rx) = tokio::sync::watch::channel(None::<Instant>);
    let signal = async move {
        shutdown.await;
        // Not ready first, so a load balancer stops sending new clients,
        // then the sockets close.
        draining.store(true, Ordering::Release);
        tracing::info!(secs = drain.as_secs_f64(), "shutting down: draining");
        tokio::time::sleep(drain).await;
        tracing::info!("shutting down: disconnecting sockets");
        deadline_tx.send_replace(Some(Instant::now() + grace));
        io.close().await;
    };
    let server = crate::net::serve(listener, app, net, signal);
    let served = tokio::select! {
        served = server => served,
        () = grace_over(deadline_rx.clone()) => {
            tracing::warn!("grace period over: closing remaining connections");
            Ok(())
        }
    };
    let signalled = *deadline_rx.borrow();
    let deadline = signalled.unwrap_or_else(|| Instant::now() + grace);
    core.shutdown.cancel();
    // Before the wait: the inboxes' last drains are what it waits for.
    core.inboxes.close_all();
    core.workers.close();
    if tokio::time::timeout_at(deadline, core.workers.wait())
        .await
        .is_err()
    {
        tracing::warn!("grace period over: some connection workers did not finish");
    }
    if let Some(bus) = &core.bus {
        bus.close().await;
    }
    core.store.close().await;
    tracing::info!("stopped");
    served
}

/// Resolves when the grace period set at the shutdown signal is over; never,
/// if the server finishes without a signal.
async fn grace_over(mut deadline: tokio::sync::watch::Receiver<Option<Instant>>) {
    let set = deadline.wait_for(Option::is_some).await.map(|set| *set);
    let Ok(Some(until)) = set else {
        return std::future::pending().await;
    };
    tokio::time::sleep_until(until).await;
}
