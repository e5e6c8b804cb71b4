//! Banter: self-hosted real-time chat over Socket.IO.
//!
//! - `users`, `rooms`, `messages` (with `mentions` and `reactions`): the domain, with the newtypes that parse
//!   raw input at the edge;
//! - `auth`: accounts, guests and sessions;
//! - `store`: storage behind a trait (SQLite built in);
//! - `presence`: who is in which room now; `origin`: the handshake Origin
//!   check; `ratelimit` and `client_ip`: per-user and per-address limits;
//! - `realtime`: the Socket.IO events; `http`: the JSON API and the page;
//! - `uploads`: files and images attached to messages (sniffing,
//!   thumbnails, the file store);
//! - `error`: the one mapping from errors to codes and statuses;
//! - `cli`: the command line, and the operator's subcommands;
//! - `cluster`: the bus between nodes (Redis pub/sub), off unless
//!   `--redis-url` is set;
//! - `app`: wiring, `build_app` and `run`, shared by `main` and the tests.

pub mod app;
pub mod auth;
pub mod bots;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod error;
pub mod http;
pub mod limits;
pub mod mentions;
pub mod messages;
pub mod metrics;
pub mod net;
pub mod origin;
pub mod presence;
pub mod ratelimit;
pub mod reactions;
pub mod realtime;
pub mod rooms;
pub mod search;
pub mod store;
pub mod uploads;
pub mod users;

pub use app::{AppState, StartError, build_app, run};
pub use config::Config;
