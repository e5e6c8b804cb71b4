//! HTTP API tests against the real server on port 0, each with a fresh
//! SQLite database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design

mod auth;
mod bots;
mod helpers;
mod rooms;
mod web;
