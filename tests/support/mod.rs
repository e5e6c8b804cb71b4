//! Every store test runs on each backend: SQLite on a fresh file, and
//! PostgreSQL in a fresh schema of the test database, dropped afterwards
//! whether the test passed or not.
//!
//! PostgreSQL is at `BANTER_TEST_POSTGRES_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test` (`.ci/run` starts it).
#![allow(dead_code)] // each test binary uses its own part of this

use std::sync::Arc;

use banter::limits::Limits;
use banter::mentions::Mentions;
use banter::messages::MessageText;
use banter::rooms::RoomName;
use banter::store::{Backend, NewMessage, Store};
use banter::users::User;
use rand::Rng;
use sqlx::Connection;
use tempfile::TempDir;

/// Runs each named `async fn case(db: TestDb)` once per backend, as the
/// tests `case::sqlite` and `case::postgres`.
#[allow(unused_macros)] // not every test binary runs on both backends
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test]
                async fn sqlite() {
                    super::$case($crate::support::TestDb::new(banter::store::Backend::Sqlite).await).await;
                }
                #[tokio::test]
                async fn postgres() {
                    super::$case($crate::support::TestDb::new(banter::store::Backend::Postgres).await).await;
                }
            }
        )*
    };
}

/// The server every PostgreSQL test uses.
pub fn postgres_url() -> String {
    std::env::var("BANTER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// One test's database: a SQLite file in a temporary directory, or a
/// PostgreSQL schema. Dropping it removes it.
pub struct TestDb {
    pub backend: Backend,
    dir: Option<TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self {
                backend,
                dir: Some(TempDir::new().unwrap()),
                schema: None,
            },
            Backend::Postgres => {
                let schema = format!("banter_test_{:016x}", rand::thread_rng().r#gen::<u64>());
                let mut admin = sqlx::PgConnection::connect(&postgres_url())
                    .await
                    .unwrap_or_else(|err| panic!("PostgreSQL at {}: {err}", postgres_url()));
                sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                Self {
                    backend,
                    dir: None,
                    schema: Some(schema),
                }
            }
        }
    }

    /// The database URL a server would be given. PostgreSQL's names the
    /// schema as the search path (every connection works in it) and as the
    /// application name (so that the clean-up can end them).
    pub fn url(&self) -> String {
        match (&self.dir, &self.schema) {
            (Some(_), _) => format!("sqlite://{}", self.sqlite_file().display()),
            (None, Some(schema)) => {
                let base = postgres_url();
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-c%20search_path%3D{schema}&application_name={schema}")
            }
            (None, None) => unreachable!("a test database is a file or a schema"),
        }
    }

    /// Opens the store (again) on this database, through the same URL
    /// parsing as the server, and checks that it is the backend meant and
    /// that it works where meant.
    pub async fn open(&self) -> Arc<dyn Store> {
        let store = banter::store::connect(&self.url()).await.unwrap();
        assert_eq!(store.backend(), self.backend);
        if let Some(schema) = &self.schema {
            let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
            let tables: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_name IN ('users', 'sessions', 'messages')",
            )
            .bind(schema)
            .fetch_one(&mut admin)
            .await
            .unwrap();
            assert_eq!(tables, 3, "the store did not migrate into {schema}");
            admin.close().await.unwrap();
        }
        store
    }

    /// The SQLite database file.
    pub fn sqlite_file(&self) -> std::path::PathBuf {
        match &self.dir {
            Some(dir) => dir.path().join("banter.db"),
            None => panic!("not a SQLite database"),
        }
    }

    /// Runs SQL on the database directly (what a test cannot do through
    /// the store, e.g. what retention does).
    pub async fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url()).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url()).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    /// One number read from the database directly (what the store does
    /// not tell, e.g. how far SQLite's search index has gone).
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url()).await.unwrap();
                let n = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                n
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url()).await.unwrap();
                let n = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                n
            }
        }
    }
}

impl Drop for TestDb {
    /// Ends the schema's connections (a store a failed test left open
    /// may be mid-transaction) and drops it, on a thread of its own: a
    /// test's runtime may be the one this runs on.
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&postgres_url()).await?;
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&schema)
                .execute(&mut admin)
                .await?;
                sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test schema: {dropped:?}");
        }
    }
}

/// A message saying `text` by `author` in `room`, at time 1, with no
/// client id, reply, mentions or files; a test sets what it needs with
/// `NewMessage { ts, ..new_message(..) }`.
pub fn new_message(room: &RoomName, author: &User, text: &str) -> NewMessage {
    NewMessage {
        room: room.clone(),
        author: author.clone(),
        text: MessageText::parse(text, &Limits::default()).unwrap(),
        client_id: None,
        ts: 1,
        reply_to: None,
        mentions: Mentions::default(),
        attachments: Vec::new(),
    }
}
