//! The command line: with no subcommand `banter` serves (every flag of
//! `Config`); the subcommands are the operator's tools. `admin` and
//! `backup` work on the database a server uses, while it runs;
//! `migrate-data` moves a stopped server's SQLite database to PostgreSQL.

pub mod admin;
pub mod backup;
pub mod migrate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

/// Banter: real-time chat rooms over Socket.IO.
#[derive(Parser)]
#[command(
    name = "banter",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serving: the default.
    #[command(flatten)]
    pub serve: Config,
}

#[derive(Subcommand)]
pub enum Command {
    /// Users, admins, bans and sessions, on the database a server uses.
    Admin(admin::Admin),
    /// A consistent copy of the database, taken while the server runs.
    Backup(backup::Backup),
    /// Moves a SQLite install (stopped) to PostgreSQL: users, sessions,
    /// rooms, moderation and history.
    MigrateData(migrate::MigrateData),
}

/// Which database a subcommand works on: the same settings, flags and
/// environment variables as the server's.
#[derive(Args, Debug, Clone)]
pub struct Database {
    /// Directory of the embedded database.
    #[arg(long, env = "BANTER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL; defaults to the SQLite file `<data-dir>/banter.db`.
    #[arg(long, env = "BANTER_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl Database {
    /// The database URL in effect.
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("banter.db").display()))
    }
}

/// Runs a subcommand; what it prints goes to stdout, its error to the caller.
pub async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Admin(admin) => admin.run().await,
        Command::Backup(backup) => backup.run().await,
        Command::MigrateData(migrate) => migrate.run().await,
    }
}
