//! Where the background sweeps (`retention`, `guests`) run their
//! statements: the pool of either backend. They are the same text on both:
//! `$n` parameters (sqlx's SQLite driver reads `$n` as `?n`), every one a
//! `BIGINT`, and SQL that SQLite and PostgreSQL read alike.

use sqlx::{PgPool, SqlitePool};

/// A backend's connection pool, for the sweeps.
#[derive(Debug, Clone)]
pub enum SweepPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The same code for either pool (the types differ, the text does not).
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            SweepPool::Sqlite($p) => $body,
            SweepPool::Postgres($p) => $body,
        }
    };
}
pub(super) use on_pool;

impl SweepPool {
    /// Runs the statements in order, each with the same parameters, in one
    /// transaction; how many rows each changed.
    pub async fn execute(
        &self,
        statements: &[&str],
        params: &[i64],
    ) -> Result<Vec<u64>, sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut changed = Vec::with_capacity(statements.len());
            for statement in statements {
                let mut query = sqlx::query(statement);
                for param in params {
                    query = query.bind(*param);
                }
                changed.push(query.execute(&mut *tx).await?.rows_affected());
            }
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// One statement in a transaction of its own; how many rows it changed.
    pub async fn execute_one(&self, statement: &str, params: &[i64]) -> Result<u64, sqlx::Error> {
        Ok(self.execute(&[statement], params).await?.iter().sum())
    }
}
