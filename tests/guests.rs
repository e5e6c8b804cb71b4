//! Departed guests are removed after the grace period, on every backend
//! (SQLite on a real file, PostgreSQL in a schema of its own, see
//! `support`); ids are never handed out twice; an older SQLite database
//! upgrades with everything in it.
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

#[macro_use]
mod support;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use banter::limits::Limits;
use banter::messages::Page;
use banter::rooms::RoomName;
use banter::store::{Backend, Inserted, NewMessage, Store};
use banter::users::{User, Username};
use support::TestDb;

const GRACE: Duration = Duration::from_secs(60);
const DAY_MS: i64 = 86_400_000;

/// The wall clock in ms: the database's triggers stamp `left_at` with it.
fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Past the grace period of anyone who left up to now.
fn after_grace() -> i64 {
    now() + i64::try_from(GRACE.as_millis()).unwrap() + 2_000
}

fn name(raw: &str) -> Username {
    Username::parse(raw, &Limits::default()).unwrap()
}

fn general() -> RoomName {
    RoomName::parse("general", &Limits::default()).unwrap()
}

async fn guest(store: &Arc<dyn Store>, who: &str, expires_at: i64) -> (User, i64) {
    let token = format!("token-{who}");
    store
        .create_guest_session(&name(who), token.as_bytes(), "10.0.0.1", now(), expires_at)
        .await
        .unwrap()
}

async fn logout(store: &Arc<dyn Store>, who: &str) {
    let token = format!("token-{who}");
    assert!(
        store
            .delete_session(token.as_bytes())
            .await
            .unwrap()
            .is_some()
    );
}

async fn say(store: &Arc<dyn Store>, author: &User, text: &str) -> i64 {
    let new = NewMessage {
        ts: now(),
        ..support::new_message(&general(), author, text)
    };
    match store.insert_message(new).await.unwrap() {
        Inserted::New { message, .. } => message.id,
        other => panic!("not stored: {other:?}"),
    }
}

on_every_backend![
    departed_guests_are_removed_after_the_grace_period_and_their_messages_keep_their_name,
    guests_signed_in_banned_or_muted_and_accounts_are_kept,
    the_sweep_ends_expired_sessions_and_the_grace_period_starts_then,
    ids_of_removed_guests_and_ended_sessions_are_never_handed_out_again,
    a_name_kept_for_messages_goes_once_no_message_names_it,
    a_guest_whose_last_two_sessions_end_at_once_has_left,
];

async fn departed_guests_are_removed_after_the_grace_period_and_their_messages_keep_their_name(
    db: TestDb,
) {
    let store = db.open().await;
    let (wren, _) = guest(&store, "Wren", now() + DAY_MS).await;
    let (quiet, _) = guest(&store, "Quiet", now() + DAY_MS).await;
    let said = say(&store, &wren, "hello from a guest").await;
    logout(&store, "Wren").await;
    logout(&store, "Quiet").await;

    let early = store.sweep_guests(now(), GRACE).await.unwrap();
    assert_eq!((early.guests_deleted, early.guests_kept_as_names), (0, 0));
    assert_eq!(
        store.find_user_by_name(&name("quiet")).await.unwrap(),
        Some(quiet.clone())
    );

    let swept = store.sweep_guests(after_grace(), GRACE).await.unwrap();
    assert_eq!((swept.guests_deleted, swept.guests_kept_as_names), (1, 1));
    // Neither is found any more, by name or (for the one who wrote
    // nothing) at all.
    assert_eq!(store.find_user_by_name(&name("Quiet")).await.unwrap(), None);
    assert_eq!(store.find_user_by_name(&name("Wren")).await.unwrap(), None);
    assert_eq!(store.find_user(quiet.id).await.unwrap(), None);
    // The message is still there, under its author's name.
    let message = store.find_message(said).await.unwrap().unwrap();
    assert_eq!(message.author, wren);
    let history = store.messages(&general(), Page::latest(10)).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].author.name, "Wren");
    // The name is free, and the newcomer is someone else.
    let (newcomer, _) = guest(&store, "wren", now() + DAY_MS).await;
    assert!(newcomer.id > wren.id && newcomer.id > quiet.id);
    assert_eq!(
        store.find_user_by_name(&name("WREN")).await.unwrap(),
        Some(newcomer)
    );
    // A second sweep has nothing left to do.
    let again = store.sweep_guests(after_grace(), GRACE).await.unwrap();
    assert_eq!((again.guests_deleted, again.guests_kept_as_names), (0, 0));
}

async fn guests_signed_in_banned_or_muted_and_accounts_are_kept(db: TestDb) {
    let store = db.open().await;
    let (staying, _) = guest(&store, "Staying", now() + DAY_MS).await;
    let (banned, _) = guest(&store, "Banned", now() + DAY_MS).await;
    store.ban_user(banned.id, now(), 0).await.unwrap();
    let (muted, _) = guest(&store, "Muted", now() + DAY_MS).await;
    store
        .set_mute(&general(), muted.id, after_grace() + DAY_MS)
        .await
        .unwrap();
    logout(&store, "Muted").await;
    let account = store
        .create_account(&name("Owner"), "hash", now())
        .await
        .unwrap()
        .user;

    let swept = store.sweep_guests(after_grace(), GRACE).await.unwrap();
    assert_eq!((swept.guests_deleted, swept.guests_kept_as_names), (0, 0));
    for user in [&staying, &banned, &muted, &account] {
        assert_eq!(store.find_user(user.id).await.unwrap().as_ref(), Some(user));
    }

    // Once the mute is over, the muted guest goes too (with the mute).
    store.set_mute(&general(), muted.id, 0).await.unwrap();
    let swept = store.sweep_guests(after_grace(), GRACE).await.unwrap();
    assert_eq!(swept.guests_deleted, 1);
    assert_eq!(store.find_user(muted.id).await.unwrap(), None);
}

async fn the_sweep_ends_expired_sessions_and_the_grace_period_starts_then(db: TestDb) {
    let store = db.open().await;
    let (brief, session) = guest(&store, "Brief", now() + 1_000).await;
    let account = store
        .create_account(&name("Owner"), "hash", now())
        .await
        .unwrap()
        .user;
    store
        .create_session(account.id, b"owner-1", "10.0.0.1", now(), now() + 1_000)
        .await
        .unwrap();
    let before = store.last_revocation().await.unwrap();

    // At the sweep the sessions have expired: they end (and the server is
    // told, to close their sockets), but the guest's grace starts now.
    let swept = store.sweep_guests(now() + 2_000, GRACE).await.unwrap();
    assert_eq!(swept.sessions_ended, 2);
    assert_eq!((swept.guests_deleted, swept.guests_kept_as_names), (0, 0));
    assert!(store.sessions_of(account.id).await.unwrap().is_empty());
    let revoked = store.revocations_after(before).await.unwrap();
    assert!(revoked.iter().any(|r| r.session == Some(session)));

    let swept = store.sweep_guests(after_grace(), GRACE).await.unwrap();
    assert_eq!(swept.guests_deleted, 1);
    assert_eq!(store.find_user(brief.id).await.unwrap(), None);
    assert_eq!(store.find_user(account.id).await.unwrap(), Some(account));
}

async fn ids_of_removed_guests_and_ended_sessions_are_never_handed_out_again(db: TestDb) {
    let store = db.open().await;
    let (gone, gone_session) = guest(&store, "Gone", now() + DAY_MS).await;
    logout(&store, "Gone").await;
    store.sweep_guests(after_grace(), GRACE).await.unwrap();
    assert_eq!(store.find_user(gone.id).await.unwrap(), None);

    // Both were the newest rows of their tables: a plain rowid table would
    // give their ids to the next ones.
    let (next, next_session) = guest(&store, "Next", now() + DAY_MS).await;
    assert!(next.id > gone.id, "user id {} reused", next.id);
    assert!(
        next_session > gone_session,
        "session id {next_session} reused"
    );
}

async fn a_name_kept_for_messages_goes_once_no_message_names_it(db: TestDb) {
    let store = db.open().await;
    let (wren, _) = guest(&store, "Wren", now() + DAY_MS).await;
    let said = say(&store, &wren, "soon gone").await;
    logout(&store, "Wren").await;
    let swept = store.sweep_guests(after_grace(), GRACE).await.unwrap();
    assert_eq!(swept.guests_kept_as_names, 1);

    // Retention deletes the row (as `--retention-days` does).
    db.execute(&format!("DELETE FROM messages WHERE id = {said}"))
        .await;
    let swept = store.sweep_guests(after_grace(), GRACE).await.unwrap();
    assert_eq!(swept.names_deleted, 1);
    assert_eq!(store.find_user(wren.id).await.unwrap(), None);
}

/// Two sessions ending in two transactions at once (two nodes, or a node
/// and the command line): whichever commits second sees no session left,
/// so the guest's grace period starts then. (Without `left_at` it would
/// count from the guest's creation, long ago here.)
async fn a_guest_whose_last_two_sessions_end_at_once_has_left(db: TestDb) {
    let store = db.open().await;
    let other = db.open().await;
    let long_ago = now() - 10 * i64::try_from(GRACE.as_millis()).unwrap();
    for round in 0..10 {
        let who = format!("Twice{round}");
        let (first, second) = (format!("first-{who}"), format!("second-{who}"));
        let (user, _) = store
            .create_guest_session(
                &name(&who),
                first.as_bytes(),
                "10.0.0.1",
                long_ago,
                now() + DAY_MS,
            )
            .await
            .unwrap();
        store
            .create_session(
                user.id,
                second.as_bytes(),
                "10.0.0.1",
                now(),
                now() + DAY_MS,
            )
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.delete_session(first.as_bytes()),
            other.delete_session(second.as_bytes()),
        );
        assert!(a.unwrap().is_some() && b.unwrap().is_some());
        let early = store.sweep_guests(now() + 1_000, GRACE).await.unwrap();
        assert_eq!(
            early.guests_deleted, 0,
            "{who}'s grace period did not start when they left"
        );
        let swept = store.sweep_guests(after_grace(), GRACE).await.unwrap();
        assert_eq!(
            swept.guests_deleted, 1,
            "{who} was not removed after the grace period"
        );
        assert_eq!(store.find_user(user.id).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_database_from_before_the_rebuild_keeps_everything_and_its_sessions_still_work() {
    let db = TestDb::new(Backend::Sqlite).await;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db.sqlite_file())
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    // The schema as it was: every migration before the rebuild.
    let mut before = sqlx::migrate!("./migrations/sqlite");
    let rebuild = before
        .migrations
        .iter()
        .position(|m| m.description.contains("ids and guest removal"))
        .unwrap();
    before.migrations = Cow::Owned(before.migrations[..rebuild].to_vec());
    before.run(&pool).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO users (id, name, name_key, name_hold, password_hash, created_at, is_admin) \
             VALUES (1, 'Alice', 'alice', 'alice', 'hash', 1, 1), (2, 'Wren', 'wren', 'wren', NULL, 2, 0); \
         INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at, address) \
             VALUES (7, x'aa', 1, 3, 9999999999999, '10.0.0.1'), (8, x'bb', 2, 3, 9999999999999, '10.0.0.2'), \
                    (9, x'cc', 2, 3, 9999999999999, '10.0.0.2'); \
         DELETE FROM sessions WHERE id = 9; \
         INSERT INTO messages (room_id, author_id, text, client_id, created_at) \
             VALUES (1, 1, 'first', 'c1', 4), (1, 2, 'second', NULL, 5);",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = db.open().await;
    let alice = store.find_account(&name("alice")).await.unwrap().unwrap();
    assert!(alice.admin);
    let session = store.find_session(&[0xaa], now()).await.unwrap().unwrap();
    assert_eq!((session.id, session.user.name.as_str()), (7, "Alice"));
    let history = store.messages(&general(), Page::latest(10)).await.unwrap();
    let texts: Vec<_> = history
        .iter()
        .map(|m| (m.author.name.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(texts, [("Alice", "first"), ("Wren", "second")]);
    // Session 9 ended before the upgrade; its id stays retired.
    let (_, next_session) = guest(&store, "Newcomer", now() + DAY_MS).await;
    assert!(next_session > 9, "session id {next_session} reused");
    // The rebuilt tables keep their foreign keys: a user's sessions go with it.
    store.delete_sessions(2).await.unwrap();
    assert_eq!(store.find_session(&[0xbb], now()).await.unwrap(), None);
}
