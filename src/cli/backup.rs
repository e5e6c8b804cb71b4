//! `banter backup FILE`: a consistent copy of the database while it is in use.

use std::path::PathBuf;

use clap::Args;

use super::Database;

#[derive(Args)]
pub struct Backup {
    #[command(flatten)]
    pub database: Database,
    /// Where to write the copy (must not exist).
    pub file: PathBuf,
}

impl Backup {
    pub async fn run(self) -> Result<(), Box<dyn std::error::Error>> {
        Err("not built yet".into())
    }
}
