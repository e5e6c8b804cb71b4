//! `banter admin …`: the operator's user management.

use clap::{Args, Subcommand};

use super::Database;

#[derive(Args)]
pub struct Admin {
    #[command(flatten)]
    pub database: Database,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Subcommand)]
pub enum Action {}

impl Admin {
    pub async fn run(self) -> Result<(), Box<dyn std::error::Error>> {
        match self.action {}
    }
}
