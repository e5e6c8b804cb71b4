//! The embedded SQLite makes its commits durable with `fdatasync`, not
//! `fsync` (`.cargo/config.toml` builds it with `HAVE_FDATASYNC`): a
//! commit that overwrites the WAL in place then writes no inode for its
//! changed mtime. Seen from outside, on the real binary: `strace` counts
//! the calls of an admin command that opens the database (its migrations
//! commit) and creates an account.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use std::io::Write;
use std::process::{Command, Stdio};

use tempfile::TempDir;

#[test]
fn sqlite_commits_are_synced_with_fdatasync_and_never_with_fsync() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let trace = dir.path().join("trace");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_banter"))
        .args(["admin", "--data-dir"])
        .arg(&data)
        .args(["create-user", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("strace runs (Debian's package strace; .ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery staple\n")
        .unwrap();
    assert!(child.wait().unwrap().success(), "the admin command failed");

    let trace = std::fs::read_to_string(trace).unwrap();
    let calls = |name: &str| {
        trace
            .lines()
            .filter(|line| {
                line.split_whitespace()
                    .nth(1)
                    .is_some_and(|call| call.starts_with(&format!("{name}(")))
            })
            .count()
    };
    // Each migration and the account's insert commit: a sync for every
    // commit, on the WAL, and all of them fdatasync.
    assert!(calls("fdatasync") >= 2, "no fdatasync in:\n{trace}");
    assert_eq!(calls("fsync"), 0, "fsync in:\n{trace}");
}
