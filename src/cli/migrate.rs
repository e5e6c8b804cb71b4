//! `banter migrate-data --from sqlite://… --to postgres://…`: moves a
//! single-node SQLite install to PostgreSQL (the work is in
//! `store::transfer`; this prints its progress and summary).
//!
//! The server must be stopped first (or the source be a `banter backup`
//! copy): the copy is the source as of one commit, and a run that finds
//! the source changed under it fails. Run again, it copies only what is
//! missing, so an interrupted run is finished by running it again.

use std::time::Duration;

use clap::Args;

use crate::store::transfer::{self, Endpoints, Event, Options, Summary};

#[derive(Args)]
pub struct MigrateData {
    /// The SQLite database to move, opened read-only
    /// (sqlite:///var/lib/banter/banter.db). Stop the server first.
    #[arg(long)]
    pub from: String,
    /// The PostgreSQL database to move it to, as the server's
    /// --database-url takes it (a schema: options=-c%20search_path%3DNAME).
    /// Its migrations run first.
    #[arg(long)]
    pub to: String,
    /// For tests only: milliseconds each batch waits inside its transaction
    /// before its commit.
    #[arg(long, hide = true)]
    pub test_pause_ms: Option<u64>,
}

impl MigrateData {
    pub async fn run(self) -> Result<(), Box<dyn std::error::Error>> {
        let endpoints = Endpoints::parse(&self.from, &self.to)?;
        println!(
            "moving {} (SQLite, read-only) to PostgreSQL {}",
            endpoints.source.get_filename().display(),
            target_name(&endpoints.target)
        );
        let options = Options {
            pause: self.test_pause_ms.map(Duration::from_millis),
        };
        let summary = transfer::run(endpoints, options, &mut print_event).await?;
        print!("{}", render(&summary));
        Ok(())
    }
}

/// Host, port and database: never the password.
fn target_name(target: &sqlx::postgres::PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        target.get_host(),
        target.get_port(),
        target.get_database().unwrap_or("(default database)")
    )
}

fn print_event(event: Event) {
    match event {
        Event::Prepared => println!("target migrated; checking what it holds already"),
        Event::Checked { table, present } if present > 0 => {
            println!("{table}: {present} already there, the same as the source's")
        }
        Event::Checked { .. } => {}
        Event::Batch { table, done, total } => println!("{table}: {done} of {total}"),
    }
}

/// The summary: rows per table, then sequences and rooms.
fn render(summary: &Summary) -> String {
    let mut out = format!(
        "{:<14}{:>10}{:>10}{:>10}\n",
        "table", "source", "already", "moved"
    );
    for t in &summary.tables {
        out.push_str(&format!(
            "{:<14}{:>10}{:>10}{:>10}\n",
            t.table, t.source, t.present, t.moved
        ));
    }
    for (table, to) in &summary.sequences {
        out.push_str(&format!("{table}: ids continue after {to}\n"));
    }
    if summary.last_message_ids > 0 {
        out.push_str(&format!(
            "rooms: last_message_id set in {} rooms\n",
            summary.last_message_ids
        ));
    }
    if summary.changed() {
        out.push_str(&format!("done: {} rows moved\n", summary.moved()));
    } else {
        out.push_str("nothing to do: the target already holds all of the source, unchanged\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::transfer::Moved;

    #[test]
    fn a_run_that_moved_nothing_says_so() {
        let summary = Summary {
            tables: vec![Moved {
                table: "users",
                source: 3,
                present: 3,
                moved: 0,
            }],
            ..Summary::default()
        };
        let shown = render(&summary);
        assert!(shown.contains("nothing to do"), "{shown}");
        let summary = Summary {
            sequences: vec![("users", 4)],
            ..summary
        };
        let shown = render(&summary);
        assert!(shown.contains("users: ids continue after 4"), "{shown}");
        assert!(shown.contains("done: 0 rows moved"), "{shown}");
    }
}
