//! `banter backup FILE`: a consistent copy of the database while it is in use.
//!
//! SQLite's `VACUUM INTO` reads the database in one read transaction, so the
//! copy is the database as of one commit: every message acknowledged before
//! the backup began is in it, and a batch committed meanwhile is either
//! wholly in it or not at all. In WAL mode a reader neither blocks the
//! server's writer nor waits for it. The copy is a plain database file (no
//! WAL), compacted on the way.
//!
//! The file is created here first, empty, with mode 0600 and only if it does
//! not exist (`VACUUM INTO` accepts an empty file): no existing file is
//! overwritten, and the copy is never readable by other local users, not
//! even for a moment.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use rusqlite::{Connection, OpenFlags};
use sqlx::sqlite::SqliteConnectOptions;

use super::Database;

/// How long the copy waits for a lock (a checkpoint) before giving up.
const BUSY: Duration = Duration::from_secs(10);

#[derive(Args)]
pub struct Backup {
    #[command(flatten)]
    pub database: Database,
    /// Where to write the copy (must not exist).
    pub file: PathBuf,
}

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Only the URL's scheme is shown: the rest may hold a password.
    #[error(
        "only SQLite databases can be backed up by banter (for PostgreSQL use pg_dump); the URL is {0}:…"
    )]
    Unsupported(String),
    #[error("not a valid database URL")]
    Url(#[source] sqlx::Error),
    #[error("{0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
    #[error("cannot create {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the database {path} (is the data directory right?)")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the copy failed")]
    Copy(#[source] rusqlite::Error),
    #[error("the backup task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl Backup {
    pub async fn run(self) -> Result<(), Box<dyn std::error::Error>> {
        let url = self.database.url();
        if !url.starts_with("sqlite:") {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            return Err(BackupError::Unsupported(scheme.chars().take(32).collect()).into());
        }
        let source = SqliteConnectOptions::from_str(&url)
            .map_err(BackupError::Url)?
            .get_filename()
            .to_path_buf();
        let file = self.file;
        let copied = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || backup(&source, &file)).await?
        };
        let bytes = copied?;
        println!("backup written to {} ({bytes} bytes)", file.display());
        Ok(())
    }
}

/// Copies the database at `source` into the new file `to`; its size.
fn backup(source: &Path, to: &Path) -> Result<u64, BackupError> {
    // Opened without CREATE: a wrong data directory is an error, not a new
    // empty database.
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source_err| BackupError::Open {
        path: source.to_path_buf(),
        source: source_err,
    })?;
    conn.busy_timeout(BUSY).map_err(BackupError::Copy)?;
    create_private(to)?;
    let target = to.to_string_lossy().into_owned();
    let copied = conn
        .execute("VACUUM INTO ?1", [&target])
        .map_err(BackupError::Copy)
        .and_then(|_| {
            std::fs::metadata(to)
                .map(|m| m.len())
                .map_err(|source| BackupError::Create {
                    path: to.to_path_buf(),
                    source,
                })
        });
    if copied.is_err() {
        // Ours, and incomplete.
        let _ = std::fs::remove_file(to);
    }
    copied
}

/// Creates `path` empty, mode 0600, failing if anything is there already.
fn create_private(path: &Path) -> Result<(), BackupError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(BackupError::Exists(path.to_path_buf()))
        }
        Err(source) => Err(BackupError::Create {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_refuses_to_overwrite_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("banter.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let to = dir.path().join("copy.db");
        std::fs::write(&to, b"keep me").unwrap();
        assert!(matches!(backup(&db, &to), Err(BackupError::Exists(_))));
        assert_eq!(std::fs::read(&to).unwrap(), b"keep me");
    }

    #[test]
    fn a_backup_is_a_private_copy_that_holds_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("banter.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (42);")
            .unwrap();
        let to = dir.path().join("copy.db");
        backup(&db, &to).unwrap();
        let x: i64 = Connection::open(&to)
            .unwrap()
            .query_row("SELECT x FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, 42);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&to).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_backup_of_a_missing_database_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("copy.db");
        let missing = dir.path().join("nope").join("banter.db");
        assert!(matches!(
            backup(&missing, &to),
            Err(BackupError::Open { .. })
        ));
        assert!(!to.exists());
    }
}
