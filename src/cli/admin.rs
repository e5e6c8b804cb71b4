//! `banter admin …`: the operator's user management, the only way to make
//! an admin. It opens the database the server uses, through the same store
//! (SQLite in WAL mode with a busy timeout, or PostgreSQL), so it works
//! while the server runs; what it ends (sessions, bans, admin rights)
//! reaches the server's sockets (every node's) through the revocations
//! table the servers poll every second.
//!
//! Passwords are read from stdin, one line, never from the command line
//! (which other local users can read in the process list).

use std::io::BufRead;

use clap::{Args, Subcommand};

use super::Database;
use crate::auth::{address_ban_until, hash_password};
use crate::clock::now_ms;
use crate::limits::Limits;
use crate::store::{Store, StoreError};
use crate::users::{Password, User, Username};

#[derive(Args)]
pub struct Admin {
    #[command(flatten)]
    pub database: Database,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Subcommand)]
pub enum Action {
    /// Creates an account; its password is read from stdin (one line).
    CreateUser {
        name: String,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
    },
    /// Makes an account an admin (its sockets pick it up on reconnect).
    GrantAdmin { name: String },
    /// Takes admin rights away; the account's sockets are disconnected.
    RevokeAdmin { name: String },
    /// Sets a new password (read from stdin) and ends every session.
    ResetPassword { name: String },
    /// Bans an account or guest: sessions end, sockets close, the name stays
    /// taken, and the addresses they signed in from are banned for a time.
    Ban {
        name: String,
        /// Seconds the ban also covers their addresses (0: none).
        #[arg(long, env = "BANTER_BAN_ADDRESS_SECS", default_value_t = 86_400)]
        ban_address_secs: u64,
    },
    /// Lifts a ban and the address bans it made.
    Unban { name: String },
    /// Lists a user's sessions: id, created, expires (UTC, RFC 3339).
    Sessions { name: String },
    /// Ends every session of a user; their sockets are disconnected.
    RevokeSessions { name: String },
}

/// Why an admin command failed; the message goes to stderr, exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No user (or no account, for account-only commands) by that name.
    #[error("no such user: {0}")]
    UnknownUser(String),
    /// The name breaks the naming rules.
    #[error("invalid name: {0}")]
    InvalidName(#[from] crate::users::UsernameError),
    /// The password read from stdin is too short or too long.
    #[error("invalid password: {0}")]
    InvalidPassword(#[from] crate::users::PasswordError),
    /// The name is held already.
    #[error("that name is taken")]
    NameTaken,
    /// stdin could not be read, or was empty.
    #[error("cannot read the password from stdin")]
    Stdin,
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NameTaken => AdminError::NameTaken,
            other => AdminError::Store(other),
        }
    }
}

impl Admin {
    pub async fn run(self) -> Result<(), Box<dyn std::error::Error>> {
        let store = crate::store::connect(&self.database.url()).await?;
        let done = self.action.apply(store.as_ref()).await;
        store.close().await;
        match done {
            Ok(report) => {
                println!("{report}");
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }
}

impl Action {
    /// Does the work; returns what to print.
    async fn apply(self, store: &dyn Store) -> Result<String, AdminError> {
        match self {
            Action::CreateUser { name, admin } => {
                let name = parse_name(&name)?;
                let hash = hash_password(read_password()?).await?;
                let account = store.create_account(&name, &hash, now_ms()).await?;
                if admin {
                    store.set_admin(account.user.id, true).await?;
                }
                let role = if admin { "admin" } else { "account" };
                Ok(format!(
                    "created {role} {} (id {})",
                    name.as_str(),
                    account.user.id
                ))
            }
            Action::GrantAdmin { name } => set_admin(store, &name, true).await,
            Action::RevokeAdmin { name } => set_admin(store, &name, false).await,
            Action::ResetPassword { name } => {
                let user = account(store, &name).await?;
                let hash = hash_password(read_password()?).await?;
                store.set_password(user.id, &hash).await?;
                Ok(format!("password of {} reset; sessions ended", user.name))
            }
            Action::Ban {
                name,
                ban_address_secs,
            } => {
                let user = user(store, &name).await?;
                let now = now_ms();
                let until = address_ban_until(now, ban_address_secs);
                store.ban_user(user.id, now, until).await?;
                Ok(format!("banned {} (id {})", user.name, user.id))
            }
            Action::Unban { name } => {
                let user = user(store, &name).await?;
                let was = store.unban_user(user.id).await?;
                Ok(if was {
                    format!("unbanned {}", user.name)
                } else {
                    format!("{} was not banned", user.name)
                })
            }
            Action::Sessions { name } => {
                let user = user(store, &name).await?;
                let mut out = String::from("id\tcreated\texpires");
                for s in store.sessions_of(user.id).await? {
                    out.push_str(&format!(
                        "\n{}\t{}\t{}",
                        s.id,
                        rfc3339(s.created_at),
                        rfc3339(s.expires_at)
                    ));
                }
                Ok(out)
            }
            Action::RevokeSessions { name } => {
                let user = user(store, &name).await?;
                let ended = store.delete_sessions(user.id).await?;
                Ok(format!("ended {ended} session(s) of {}", user.name))
            }
        }
    }
}

async fn set_admin(store: &dyn Store, name: &str, admin: bool) -> Result<String, AdminError> {
    let user = account(store, name).await?;
    store.set_admin(user.id, admin).await?;
    let now = if admin {
        "is an admin"
    } else {
        "is no longer an admin"
    };
    Ok(format!("{} {now}", user.name))
}

fn parse_name(raw: &str) -> Result<Username, AdminError> {
    Ok(Username::parse(raw, &Limits::default())?)
}

/// The account with this name, or `UnknownUser`.
async fn account(store: &dyn Store, raw: &str) -> Result<User, AdminError> {
    let name = parse_name(raw)?;
    store
        .find_account(&name)
        .await?
        .map(|a| a.user)
        .ok_or_else(|| AdminError::UnknownUser(raw.to_owned()))
}

/// The account or guest with this name, or `UnknownUser`.
async fn user(store: &dyn Store, raw: &str) -> Result<User, AdminError> {
    let name = parse_name(raw)?;
    store
        .find_user_by_name(&name)
        .await?
        .ok_or_else(|| AdminError::UnknownUser(raw.to_owned()))
}

/// One line of stdin, without its line ending, checked with the default
/// password rules.
fn read_password() -> Result<Password, AdminError> {
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|_| AdminError::Stdin)?;
    if read == 0 {
        return Err(AdminError::Stdin);
    }
    let line = line.trim_end_matches(['\n', '\r']);
    Ok(Password::parse(line, &Limits::default())?)
}

/// Ms since the epoch as an RFC 3339 UTC time.
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_590_400_000), "2025-12-01T12:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
