//! The store, on every backend: each case runs on SQLite (a real file)
//! and on PostgreSQL (a schema of its own), see `support`.
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

#[macro_use]
mod support;

use banter::limits::Limits;
use banter::mentions::Mentions;
use banter::messages::{ClientId, Cursor, Message, MessageText, Page};
use banter::reactions::Emoji;
use banter::rooms::{
    COUNT_CAP, MyRoom, NotifyLevel, Room, RoomKind, RoomName, RoomPage, RoomSearch,
};
use banter::store::{
    Backend, Edit, Inserted, Marked, NewMessage, NewReaction, Outcome, Reacted, Step, Store,
    StoreError,
};
use banter::users::{User, Username};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use support::TestDb;

/// A fresh store with one account, `alice`.
async fn with_alice(db: &TestDb) -> (Arc<dyn Store>, User) {
    let store = db.open().await;
    let alice = store
        .create_account(&name("alice"), "hash", 0)
        .await
        .unwrap()
        .user;
    (store, alice)
}

fn name(raw: &str) -> Username {
    Username::parse(raw, &Limits::default()).unwrap()
}

fn room(raw: &str) -> RoomName {
    RoomName::parse(raw, &Limits::default()).unwrap()
}

fn message(author: &User, room: &RoomName, text: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage {
        client_id: client_id.map(|c| ClientId::parse(c).unwrap()),
        ..support::new_message(room, author, text)
    }
}

async fn say(
    store: &Arc<dyn Store>,
    author: &User,
    room: &RoomName,
    text: &str,
    client_id: Option<&str>,
) -> Inserted {
    let new = message(author, room, text, client_id);
    store.insert_message(new).await.unwrap()
}

fn id(inserted: &Inserted) -> i64 {
    match inserted {
        Inserted::New { message: m, .. } | Inserted::Duplicate(m) => m.id,
        Inserted::Muted { .. } => panic!("nobody is muted here"),
    }
}

/// A new message's `prev`.
fn prev(inserted: &Inserted) -> i64 {
    match inserted {
        Inserted::New { prev, .. } => *prev,
        other => panic!("not new: {other:?}"),
    }
}

on_every_backend![
    ids_increase_in_storage_order_across_rooms,
    each_new_message_names_the_rooms_message_before_it,
    a_failing_batch_stores_nothing_and_the_next_one_works,
    a_resent_client_id_returns_the_stored_message,
    the_same_client_id_from_two_authors_is_two_messages,
    history_pages_backwards_and_forwards_oldest_first,
    history_of_an_unknown_room_is_not_found,
    messages_and_rooms_survive_reopening_the_database,
    an_expired_guest_session_frees_the_name,
    joining_a_new_room_twice_creates_it_once,
    rooms_are_listed_in_pages_after_a_cursor_and_filtered_by_a_search,
    a_room_search_with_a_nul_character_is_answered,
    concurrent_sign_ins_with_one_name_give_exactly_one_user,
    a_banned_guest_keeps_the_name_and_their_address_is_banned_for_a_time,
    a_muted_guest_keeps_the_name_while_the_mute_lasts,
    no_account_is_an_admin_until_the_operator_makes_it_one,
    ended_sessions_are_recorded_for_the_server_to_disconnect,
    revocations_made_at_once_are_all_seen_by_a_reader_that_keeps_the_last_id,
];

async fn ids_increase_in_storage_order_across_rooms(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let (general, other) = (room("general"), room("other"));
    store.ensure_room(&other, 0).await.unwrap();
    let a = id(&say(&store, &alice, &general, "one", None).await);
    let b = id(&say(&store, &alice, &other, "two", None).await);
    let c = id(&say(&store, &alice, &general, "three", None).await);
    assert!(a < b && b < c);
}

async fn each_new_message_names_the_rooms_message_before_it(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let (general, other) = (room("general"), room("other"));
    store.ensure_room(&other, 0).await.unwrap();
    let a = say(&store, &alice, &general, "one", Some("c-1")).await;
    let b = say(&store, &alice, &other, "two", None).await;
    assert_eq!((prev(&a), prev(&b)), (0, 0), "the first of each room");
    // A resend stores nothing, so the chain goes on from the first.
    let again = say(&store, &alice, &general, "one", Some("c-1")).await;
    assert!(matches!(again, Inserted::Duplicate(_)));
    let c = say(&store, &alice, &general, "three", None).await;
    assert_eq!(prev(&c), id(&a));
    // A deleted message was delivered when it was sent: it stays a link.
    assert!(store.delete_message(id(&c), 2).await.unwrap());
    let d = say(&store, &alice, &general, "four", None).await;
    assert_eq!(prev(&d), id(&c));
    // Several in one batch chain too, each on the one before it.
    let steps = ["five", "six"]
        .map(|text| Step::Send(message(&alice, &general, text, None)))
        .to_vec();
    let outcomes = store.append(steps).await.unwrap();
    let sent: Vec<Inserted> = outcomes
        .into_iter()
        .map(|outcome| {
            let Outcome::Sent(inserted) = outcome.unwrap();
            inserted
        })
        .collect();
    assert_eq!(prev(&sent[0]), id(&d));
    assert_eq!(prev(&sent[1]), id(&sent[0]));
    let e = say(&store, &alice, &other, "seven", None).await;
    assert_eq!(prev(&e), id(&b));
}

async fn a_failing_batch_stores_nothing_and_the_next_one_works(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let general = room("general");
    let nobody = User {
        id: 999_999,
        name: "nobody".into(),
        guest: true,
        bot: false,
    };
    // The second step breaks a foreign key: the first goes too.
    let steps = vec![
        Step::Send(message(&alice, &general, "lost with the batch", None)),
        Step::Send(message(&nobody, &general, "no such author", None)),
    ];
    let failed = store.append(steps).await;
    assert!(matches!(failed, Err(StoreError::BatchFailed)), "{failed:?}");
    assert!(
        store
            .messages(&general, Page::latest(10))
            .await
            .unwrap()
            .is_empty()
    );
    let next = say(&store, &alice, &general, "stored", None).await;
    assert_eq!(prev(&next), 0, "the failed batch left no link behind");
    let history = store.messages(&general, Page::latest(10)).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].text, "stored");
}

async fn a_resent_client_id_returns_the_stored_message(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let general = room("general");
    let first = say(&store, &alice, &general, "hello", Some("c-1")).await;
    let again = say(&store, &alice, &general, "hello again", Some("c-1")).await;
    let Inserted::New {
        message: stored, ..
    } = first
    else {
        panic!("first send must be new")
    };
    assert_eq!(again, Inserted::Duplicate(stored.clone()));
    let all = store.messages(&general, Page::latest(100)).await.unwrap();
    assert_eq!(all, vec![stored]);
}

async fn the_same_client_id_from_two_authors_is_two_messages(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let bob = store.create_guest(&name("bob"), 0).await.unwrap();
    let general = room("general");
    assert!(matches!(
        say(&store, &alice, &general, "hi", Some("x")).await,
        Inserted::New { .. }
    ));
    assert!(matches!(
        say(&store, &bob, &general, "hi", Some("x")).await,
        Inserted::New { .. }
    ));
}

async fn history_pages_backwards_and_forwards_oldest_first(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let general = room("general");
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(id(
            &say(&store, &alice, &general, &format!("m{i}"), None).await
        ));
    }
    let page = |cursor, limit| Page { cursor, limit };
    let texts = |msgs: Vec<Message>| msgs.into_iter().map(|m| m.text).collect::<Vec<_>>();
    let latest = store
        .messages(&general, page(Cursor::Latest, 3))
        .await
        .unwrap();
    assert_eq!(texts(latest), ["m7", "m8", "m9"]);
    let before = store
        .messages(&general, page(Cursor::Before(ids[7]), 3))
        .await
        .unwrap();
    assert_eq!(texts(before), ["m4", "m5", "m6"]);
    let after = store
        .messages(&general, page(Cursor::After(ids[2]), 3))
        .await
        .unwrap();
    assert_eq!(texts(after), ["m3", "m4", "m5"]);
    let tail = store
        .messages(&general, page(Cursor::After(ids[9]), 3))
        .await
        .unwrap();
    assert!(tail.is_empty());
    let start = store
        .messages(&general, page(Cursor::After(0), 2))
        .await
        .unwrap();
    assert_eq!(texts(start), ["m0", "m1"]);
}

async fn history_of_an_unknown_room_is_not_found(db: TestDb) {
    let store = db.open().await;
    let result = store.messages(&room("nowhere"), Page::latest(10)).await;
    assert!(matches!(result, Err(StoreError::RoomNotFound)));
}

async fn messages_and_rooms_survive_reopening_the_database(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let lounge = store.ensure_room(&room("lounge"), 0).await.unwrap();
    let stored = say(&store, &alice, &room("lounge"), "still here?", None).await;
    store.close().await;
    let reopened = db.open().await;
    let rooms = reopened.list_rooms(&all_rooms()).await.unwrap().rooms;
    assert!(rooms.contains(&lounge));
    let history = reopened
        .messages(&room("lounge"), Page::latest(10))
        .await
        .unwrap();
    let Inserted::New { message, prev: 0 } = stored else {
        panic!("the room's first message: {stored:?}")
    };
    assert_eq!(history, [message]);
}

async fn an_expired_guest_session_frees_the_name(db: TestDb) {
    let store = db.open().await;
    let guest = store.create_guest(&name("zed"), 0).await.unwrap();
    store
        .create_session(guest.id, b"hash-1", "127.0.0.1", 0, 1_000)
        .await
        .unwrap();
    let taken = store.create_guest(&name("ZED"), 500).await;
    assert!(matches!(taken, Err(StoreError::NameTaken)));
    assert!(
        store
            .find_session(b"hash-1", 2_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.create_guest(&name("zed"), 2_000).await.is_ok());
}

async fn joining_a_new_room_twice_creates_it_once(db: TestDb) {
    let store = db.open().await;
    let first = store.ensure_room(&room("fresh"), 0).await.unwrap();
    let second = store.ensure_room(&room("fresh"), 0).await.unwrap();
    assert_eq!(first, second);
    let names: Vec<_> = store
        .list_rooms(&all_rooms())
        .await
        .unwrap()
        .rooms
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["fresh", "general"]);
}

fn all_rooms() -> RoomSearch {
    RoomSearch::parse(None, None, None).unwrap()
}

/// PostgreSQL cannot hold a NUL character; SQLite can. No room name has
/// one, so the answer is the same on both.
async fn a_room_search_with_a_nul_character_is_answered(db: TestDb) {
    let store = db.open().await;
    for name in ["dev", "dev-a", "ops"] {
        store.ensure_room(&room(name), 0).await.unwrap();
    }
    let names = |page: RoomPage| page.rooms.into_iter().map(|r| r.name).collect::<Vec<_>>();
    let search = RoomSearch::parse(Some("de\0v"), None, None).unwrap();
    assert!(names(store.list_rooms(&search).await.unwrap()).is_empty());
    let after = RoomSearch::parse(None, Some("dev\0"), None).unwrap();
    assert_eq!(
        names(store.list_rooms(&after).await.unwrap()),
        ["dev-a", "general", "ops"]
    );
}

async fn rooms_are_listed_in_pages_after_a_cursor_and_filtered_by_a_search(db: TestDb) {
    let store = db.open().await;
    for name in ["dev-a", "dev-b", "ops", "dev-c"] {
        store.ensure_room(&room(name), 0).await.unwrap();
    }
    let names = |page: &RoomPage| {
        page.rooms
            .iter()
            .map(|r| r.name.clone())
            .collect::<Vec<_>>()
    };
    let first = store
        .list_rooms(&RoomSearch::parse(None, None, Some("2")).unwrap())
        .await
        .unwrap();
    assert_eq!(names(&first), ["dev-a", "dev-b"]);
    assert_eq!(first.next.as_deref(), Some("dev-b"));
    let rest = store
        .list_rooms(&RoomSearch::parse(None, Some("dev-b"), Some("10")).unwrap())
        .await
        .unwrap();
    assert_eq!(names(&rest), ["dev-c", "general", "ops"]);
    assert_eq!(rest.next, None);
    let dev = store
        .list_rooms(&RoomSearch::parse(Some("DEV"), None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(names(&dev), ["dev-a", "dev-b", "dev-c"]);
}

async fn concurrent_sign_ins_with_one_name_give_exactly_one_user(db: TestDb) {
    let store = db.open().await;
    let mut tasks = Vec::new();
    for i in 0..12u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            if i % 4 == 0 {
                store
                    .create_account(&name("Racer"), "hash", 10)
                    .await
                    .map(|a| a.user)
            } else {
                store
                    .create_guest_session(&name("racer"), &[i], "10.0.0.1", 10, 1_000_000)
                    .await
                    .map(|(user, _)| user)
            }
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(StoreError::NameTaken) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
}

async fn a_banned_guest_keeps_the_name_and_their_address_is_banned_for_a_time(db: TestDb) {
    let store = db.open().await;
    let (guest, _) = store
        .create_guest_session(&name("troll"), b"t1", "10.0.0.9", 0, 1_000_000)
        .await
        .unwrap();
    store.ban_user(guest.id, 100, 5_000).await.unwrap();
    let again = store
        .create_guest_session(&name("TROLL"), b"t2", "10.0.0.8", 200, 1_000_000)
        .await;
    assert!(matches!(again, Err(StoreError::NameTaken)));
    assert!(store.address_banned("10.0.0.9", 4_999).await.unwrap());
    assert!(!store.address_banned("10.0.0.9", 5_000).await.unwrap());
    assert!(!store.address_banned("10.0.0.8", 200).await.unwrap());
    assert!(store.unban_user(guest.id).await.unwrap());
    assert!(!store.address_banned("10.0.0.9", 300).await.unwrap());
    assert!(store.create_guest(&name("troll"), 300).await.is_ok());
}

async fn a_muted_guest_keeps_the_name_while_the_mute_lasts(db: TestDb) {
    let store = db.open().await;
    let (guest, _) = store
        .create_guest_session(&name("loud"), b"l1", "10.0.0.1", 0, 1_000_000)
        .await
        .unwrap();
    store
        .set_mute(&room("general"), guest.id, 5_000)
        .await
        .unwrap();
    store.delete_session(b"l1").await.unwrap();
    let back = store
        .create_guest_session(&name("loud"), b"l2", "10.0.0.1", 1_000, 1_000_000)
        .await;
    assert!(matches!(back, Err(StoreError::NameTaken)));
    assert!(store.create_guest(&name("loud"), 5_000).await.is_ok());
}

async fn no_account_is_an_admin_until_the_operator_makes_it_one(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    assert!(
        !store
            .find_account(&name("alice"))
            .await
            .unwrap()
            .unwrap()
            .admin
    );
    assert!(store.set_admin(alice.id, true).await.unwrap());
    assert!(
        store
            .find_account(&name("alice"))
            .await
            .unwrap()
            .unwrap()
            .admin
    );
}

async fn ended_sessions_are_recorded_for_the_server_to_disconnect(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let before = store.last_revocation().await.unwrap();
    let session = store
        .create_session(alice.id, b"a1", "10.0.0.1", 0, 1_000_000)
        .await
        .unwrap();
    assert_eq!(store.sessions_of(alice.id).await.unwrap().len(), 1);
    assert_eq!(store.delete_sessions(alice.id).await.unwrap(), 1);
    let revoked = store.revocations_after(before).await.unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].session, Some(session));
    store.set_admin(alice.id, true).await.unwrap();
    store.set_admin(alice.id, false).await.unwrap();
    let revoked = store.revocations_after(revoked[0].id).await.unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].user, Some(alice.id));
}

/// A server reads the revocations after the last id it saw, every second:
/// one that became visible after a larger id was read would never reach
/// its sockets. Many sessions end at once, from two stores (two nodes, or
/// a node and the command line), while a reader polls as a server does.
async fn revocations_made_at_once_are_all_seen_by_a_reader_that_keeps_the_last_id(db: TestDb) {
    let (first, alice) = with_alice(&db).await;
    let second = db.open().await;
    let reader = db.open().await;
    let start = reader.last_revocation().await.unwrap();
    let mut sessions = Vec::new();
    for i in 0..60u32 {
        let token = format!("token-{i}").into_bytes();
        let id = first
            .create_session(alice.id, &token, "10.0.0.1", 0, i64::MAX)
            .await
            .unwrap();
        sessions.push((token, id));
    }
    let done = Arc::new(AtomicBool::new(false));
    let poll = {
        let done = done.clone();
        tokio::spawn(async move {
            let (mut last, mut seen) = (start, Vec::new());
            loop {
                let finished = done.load(Ordering::Acquire);
                for revocation in reader.revocations_after(last).await.unwrap() {
                    last = revocation.id;
                    seen.extend(revocation.session);
                }
                if finished {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut ends = Vec::new();
    for (i, (token, _)) in sessions.iter().enumerate() {
        let store = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let token = token.clone();
        ends.push(tokio::spawn(async move {
            store.delete_session(&token).await.unwrap().unwrap()
        }));
    }
    for end in ends {
        end.await.unwrap();
    }
    done.store(true, Ordering::Release);
    let mut seen = poll.await.unwrap();
    seen.sort_unstable();
    let mut ended: Vec<i64> = sessions.iter().map(|(_, id)| *id).collect();
    ended.sort_unstable();
    assert_eq!(seen, ended);
}

/// Two nodes (two stores on one schema) send to one room at once. Each
/// message's `prev` must be exactly the id before it in the room, and a
/// reader catching up with `after = last id seen` while they commit, as a
/// client does, must see every message: ids become visible in id order.
#[tokio::test]
async fn on_postgres_two_nodes_sending_to_one_room_commit_in_id_order() {
    let db = TestDb::new(Backend::Postgres).await;
    let nodes = [db.open().await, db.open().await];
    let alice = nodes[0]
        .create_account(&name("alice"), "hash", 0)
        .await
        .unwrap()
        .user;
    let general = room("general");
    let reader = db.open().await;
    let done = Arc::new(AtomicBool::new(false));
    let poll = {
        let (done, general) = (done.clone(), general.clone());
        tokio::spawn(async move {
            let (mut last, mut seen) = (0, Vec::new());
            loop {
                let finished = done.load(Ordering::Acquire);
                let page = Page {
                    cursor: Cursor::After(last),
                    limit: 1000,
                };
                for message in reader.messages(&general, page).await.unwrap() {
                    last = message.id;
                    seen.push(message.id);
                }
                if finished {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    const SENDERS_PER_NODE: usize = 4;
    const MESSAGES_EACH: usize = 50;
    let mut senders = Vec::new();
    for (node, store) in nodes.iter().enumerate() {
        for sender in 0..SENDERS_PER_NODE {
            let (store, alice, general) = (store.clone(), alice.clone(), general.clone());
            senders.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                for i in 0..MESSAGES_EACH {
                    let text = format!("node {node} sender {sender} message {i}");
                    let new = message(&alice, &general, &text, None);
                    match store.insert_message(new).await.unwrap() {
                        Inserted::New { message, prev } => sent.push((message.id, prev, node)),
                        other => panic!("not stored: {other:?}"),
                    }
                }
                sent
            }));
        }
    }
    let mut sent = Vec::new();
    for sender in senders {
        sent.extend(sender.await.unwrap());
    }
    done.store(true, Ordering::Release);
    let seen = poll.await.unwrap();

    sent.sort_unstable();
    assert_eq!(sent.len(), 2 * SENDERS_PER_NODE * MESSAGES_EACH);
    // The nodes really interleaved, or this proves nothing.
    let switches = sent.windows(2).filter(|w| w[0].2 != w[1].2).count();
    assert!(
        switches >= 10,
        "the nodes hardly overlapped: {switches} switches"
    );
    let mut before = 0;
    for &(id, prev, _) in &sent {
        assert!(id > before, "ids are not strictly increasing");
        assert_eq!(
            prev, before,
            "message {id} does not chain on the one before it"
        );
        before = id;
    }
    let ids: Vec<i64> = sent.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(
        seen, ids,
        "the reader catching up missed or repeated a message"
    );
}

/// A batch that waits on a lock another connection holds (a node hung in
/// the middle of its transaction) fails after PostgreSQL's `lock_timeout`
/// (5 s, set on every connection Banter opens) with an error, instead of
/// holding every later send; once the lock is gone the writer goes on, and
/// what was stored before is intact.
#[tokio::test]
async fn on_postgres_a_send_stuck_on_a_lock_fails_in_bounded_time_and_the_next_one_works() {
    use sqlx::Connection;
    let db = TestDb::new(Backend::Postgres).await;
    let (store, alice) = with_alice(&db).await;
    let general = room("general");
    say(&store, &alice, &general, "before", None).await;

    let mut other = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    let mut hung = other.begin().await.unwrap();
    sqlx::query("SELECT id FROM rooms WHERE name = $1 FOR UPDATE")
        .bind(general.as_str())
        .fetch_one(&mut *hung)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let stuck = store
        .insert_message(message(&alice, &general, "stuck", None))
        .await;
    let waited = started.elapsed();
    assert!(matches!(stuck, Err(StoreError::BatchFailed)), "{stuck:?}");
    assert!(
        waited >= std::time::Duration::from_secs(4) && waited < std::time::Duration::from_secs(10),
        "failed after {waited:?}, not after the 5 s lock timeout"
    );

    hung.rollback().await.unwrap();
    say(&store, &alice, &general, "after", None).await;
    let texts: Vec<String> = store
        .messages(
            &general,
            Page {
                cursor: Cursor::After(0),
                limit: 10,
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["before", "after"]);
}

// Message features (issue #10): replies, mentions, edits, reactions.

on_every_backend![
    a_message_keeps_its_reply_and_the_users_it_mentions,
    a_reply_to_another_rooms_or_a_deleted_or_unknown_message_stores_nothing,
    an_edit_by_its_author_replaces_the_text_and_the_mentions,
    an_edit_by_anyone_else_or_of_a_deleted_message_changes_nothing,
    reactions_are_one_per_user_message_and_emoji_and_history_counts_them,
    a_message_takes_at_most_twenty_distinct_emoji,
    a_reaction_to_a_deleted_or_unknown_message_is_not_found,
    a_reaction_lists_the_first_hundred_users_and_counts_them_all,
];

fn msg_text(raw: &str) -> MessageText {
    MessageText::parse(raw, &Limits::default()).unwrap()
}

/// A new message that says `raw`, with its mentions read from it.
fn mentioning(author: &User, room: &RoomName, raw: &str, reply_to: Option<i64>) -> NewMessage {
    let text = msg_text(raw);
    NewMessage {
        mentions: Mentions::parse(&text, &Limits::default()),
        text,
        reply_to,
        ..message(author, room, "x", None)
    }
}

fn stored_new(inserted: Result<Inserted, StoreError>) -> Message {
    match inserted {
        Ok(Inserted::New { message, .. }) => message,
        other => panic!("not stored: {other:?}"),
    }
}

async fn room_history(store: &Arc<dyn Store>, room: &RoomName) -> Vec<Message> {
    store.messages(room, Page::latest(100)).await.unwrap()
}

/// A reaction made after every one before it (their order is by time).
fn reaction(message: i64, user: &User, emoji: &str, on: bool) -> NewReaction {
    static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_000);
    NewReaction {
        message,
        user: user.id,
        emoji: Emoji::parse(emoji).unwrap(),
        on,
        now: CLOCK.fetch_add(1, Ordering::Relaxed),
    }
}

async fn account_named(store: &Arc<dyn Store>, raw: &str) -> User {
    store
        .create_account(&name(raw), "hash", 0)
        .await
        .unwrap()
        .user
}

async fn a_message_keeps_its_reply_and_the_users_it_mentions(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let bob = account_named(&store, "Bob").await;
    let general = room("general");
    let first = stored_new(
        store
            .insert_message(mentioning(&alice, &general, "hi", None))
            .await,
    );
    assert_eq!((first.reply_to, first.mentions_room), (None, false));
    let raw = "@bob @ALICE @nobody @room, see a@bob.com";
    let reply = stored_new(
        store
            .insert_message(mentioning(&bob, &general, raw, Some(first.id)))
            .await,
    );
    let mut both = vec![alice.id, bob.id];
    both.sort_unstable();
    assert_eq!(reply.reply_to, Some(first.id));
    assert_eq!(
        (reply.mentions.clone(), reply.mentions_room),
        (both.clone(), true)
    );
    let shown = room_history(&store, &general).await;
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[1], reply, "history shows what the send answered");
    assert_eq!(shown[0].edited_at, None);
    assert!(shown[0].mentions.is_empty() && shown[0].reactions.is_empty());
    assert_eq!(store.find_message(reply.id).await.unwrap(), Some(reply));
}

async fn a_reply_to_another_rooms_or_a_deleted_or_unknown_message_stores_nothing(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let (general, other) = (room("general"), room("other"));
    store.ensure_room(&other, 0).await.unwrap();
    let elsewhere = stored_new(
        store
            .insert_message(mentioning(&alice, &other, "there", None))
            .await,
    );
    let gone = stored_new(
        store
            .insert_message(mentioning(&alice, &general, "gone", None))
            .await,
    );
    assert!(store.delete_message(gone.id, 2).await.unwrap());
    for parent in [elsewhere.id, gone.id, gone.id + 1000] {
        let refused = store
            .insert_message(mentioning(&alice, &general, "@alice re", Some(parent)))
            .await;
        assert!(
            matches!(refused, Err(StoreError::ReplyNotFound)),
            "{refused:?}"
        );
    }
    assert!(
        room_history(&store, &general).await.is_empty(),
        "nothing stored"
    );
    // The batch goes on after a refused reply.
    let ok = stored_new(
        store
            .insert_message(mentioning(&alice, &other, "re", Some(elsewhere.id)))
            .await,
    );
    assert_eq!(ok.reply_to, Some(elsewhere.id));
}

async fn an_edit_by_its_author_replaces_the_text_and_the_mentions(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let bob = account_named(&store, "bob").await;
    let carol = account_named(&store, "carol").await;
    let general = room("general");
    let m = stored_new(
        store
            .insert_message(mentioning(&alice, &general, "hi @bob @room", None))
            .await,
    );
    assert_eq!((m.mentions.clone(), m.mentions_room), (vec![bob.id], true));
    let new_text = msg_text("hi @carol");
    let edit = Edit {
        id: m.id,
        author: alice.id,
        mentions: Mentions::parse(&new_text, &Limits::default()),
        text: new_text,
        now: 77,
    };
    let edited = store.edit_message(&edit).await.unwrap().unwrap();
    assert_eq!((edited.edited_at, edited.mentions), (77, vec![carol.id]));
    let shown = store.find_message(m.id).await.unwrap().unwrap();
    assert_eq!(shown.text, "hi @carol");
    assert_eq!(shown.edited_at, Some(77));
    assert_eq!(
        (shown.mentions, shown.mentions_room),
        (vec![carol.id], false)
    );
    assert_eq!(room_history(&store, &general).await[0].edited_at, Some(77));
}

async fn an_edit_by_anyone_else_or_of_a_deleted_message_changes_nothing(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let bob = account_named(&store, "bob").await;
    let general = room("general");
    let m = stored_new(
        store
            .insert_message(mentioning(&alice, &general, "mine @bob", None))
            .await,
    );
    let edit = |id, author| Edit {
        id,
        author,
        text: msg_text("yours"),
        mentions: Mentions::default(),
        now: 9,
    };
    assert_eq!(store.edit_message(&edit(m.id, bob.id)).await.unwrap(), None);
    assert_eq!(
        store
            .edit_message(&edit(m.id + 99, alice.id))
            .await
            .unwrap(),
        None
    );
    let kept = store.find_message(m.id).await.unwrap().unwrap();
    assert_eq!((kept.text.as_str(), kept.edited_at), ("mine @bob", None));
    assert_eq!(kept.mentions, vec![bob.id]);
    assert!(store.delete_message(m.id, 3).await.unwrap());
    assert_eq!(
        store.edit_message(&edit(m.id, alice.id)).await.unwrap(),
        None
    );
}

async fn reactions_are_one_per_user_message_and_emoji_and_history_counts_them(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let bob = account_named(&store, "bob").await;
    let general = room("general");
    let m = stored_new(
        store
            .insert_message(mentioning(&alice, &general, "react", None))
            .await,
    );
    let other = stored_new(
        store
            .insert_message(mentioning(&alice, &general, "other", None))
            .await,
    );
    assert_eq!(
        store
            .react(&reaction(m.id, &bob, "👍", true))
            .await
            .unwrap(),
        Reacted::Changed
    );
    assert_eq!(
        store
            .react(&reaction(m.id, &bob, "👍", true))
            .await
            .unwrap(),
        Reacted::Unchanged
    );
    assert_eq!(
        store
            .react(&reaction(m.id, &alice, "🎉", true))
            .await
            .unwrap(),
        Reacted::Changed
    );
    assert_eq!(
        store
            .react(&reaction(m.id, &alice, "👍", true))
            .await
            .unwrap(),
        Reacted::Changed
    );
    assert_eq!(
        store
            .react(&reaction(other.id, &bob, "👍🏽", true))
            .await
            .unwrap(),
        Reacted::Changed
    );
    let shown = room_history(&store, &general).await;
    let counts = |m: &Message| -> Vec<(String, i64, Vec<i64>)> {
        m.reactions
            .iter()
            .map(|r| (r.emoji.clone(), r.count, r.user_ids.clone()))
            .collect()
    };
    assert_eq!(
        counts(&shown[0]),
        [
            ("👍".to_owned(), 2, vec![bob.id, alice.id]),
            ("🎉".to_owned(), 1, vec![alice.id])
        ],
        "in the order each emoji was first used, users in the order they reacted"
    );
    assert_eq!(counts(&shown[1]), [("👍🏽".to_owned(), 1, vec![bob.id])]);
    assert_eq!(
        store
            .react(&reaction(m.id, &bob, "👍", false))
            .await
            .unwrap(),
        Reacted::Changed
    );
    assert_eq!(
        store
            .react(&reaction(m.id, &bob, "👍", false))
            .await
            .unwrap(),
        Reacted::Unchanged
    );
    // The order is by each emoji's earliest reaction still there: 🎉 first now.
    let shown = store.find_message(m.id).await.unwrap().unwrap();
    assert_eq!(
        counts(&shown),
        [
            ("🎉".to_owned(), 1, vec![alice.id]),
            ("👍".to_owned(), 1, vec![alice.id])
        ]
    );
}

async fn a_message_takes_at_most_twenty_distinct_emoji(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let bob = account_named(&store, "bob").await;
    let m = stored_new(
        store
            .insert_message(mentioning(&alice, &room("general"), "x", None))
            .await,
    );
    let emoji: Vec<String> = (0..21u32)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for e in &emoji[..20] {
        assert_eq!(
            store.react(&reaction(m.id, &alice, e, true)).await.unwrap(),
            Reacted::Changed
        );
    }
    let refused = store.react(&reaction(m.id, &alice, &emoji[20], true)).await;
    assert_eq!(refused.unwrap(), Reacted::TooMany);
    // An emoji already there is no new one: anyone may still add theirs.
    assert_eq!(
        store
            .react(&reaction(m.id, &bob, &emoji[3], true))
            .await
            .unwrap(),
        Reacted::Changed
    );
    let shown = store.find_message(m.id).await.unwrap().unwrap();
    assert_eq!(shown.reactions.len(), 20);
    assert!(shown.reactions.iter().all(|r| r.emoji != emoji[20]));
}

async fn a_reaction_to_a_deleted_or_unknown_message_is_not_found(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let m = stored_new(
        store
            .insert_message(mentioning(&alice, &room("general"), "x", None))
            .await,
    );
    assert_eq!(
        store
            .react(&reaction(m.id + 5, &alice, "👍", true))
            .await
            .unwrap(),
        Reacted::NotFound
    );
    assert!(store.delete_message(m.id, 3).await.unwrap());
    for on in [true, false] {
        assert_eq!(
            store
                .react(&reaction(m.id, &alice, "👍", on))
                .await
                .unwrap(),
            Reacted::NotFound
        );
    }
}

async fn a_reaction_lists_the_first_hundred_users_and_counts_them_all(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let m = stored_new(
        store
            .insert_message(mentioning(&alice, &room("general"), "x", None))
            .await,
    );
    let mut users = Vec::new();
    for i in 0..105 {
        let user = store
            .create_guest(&name(&format!("g{i}")), 0)
            .await
            .unwrap();
        let mut r = reaction(m.id, &user, "👍", true);
        r.now = i;
        assert_eq!(store.react(&r).await.unwrap(), Reacted::Changed);
        users.push(user.id);
    }
    let shown = store.find_message(m.id).await.unwrap().unwrap();
    assert_eq!(shown.reactions[0].count, 105);
    assert_eq!(shown.reactions[0].user_ids, users[..100].to_vec());
}

// --- Memberships and read state (issue #10, rooms).

on_every_backend![
    a_created_room_has_its_kind_and_its_creator_as_a_member,
    creating_a_taken_name_is_refused_and_changes_nothing,
    only_public_rooms_are_listed,
    memberships_are_added_once_and_removed,
    a_join_makes_the_membership_once_and_answers_with_the_read_state,
    my_rooms_lists_a_users_rooms_by_name_with_read_state,
    the_read_marker_moves_forward_only_and_never_past_the_latest_message,
    unread_skips_own_and_deleted_messages_and_mentions_count_the_user_or_the_room,
    counts_stop_at_the_cap,
    the_notification_level_defaults_by_kind_and_is_stored,
    a_direct_room_is_made_once_for_the_same_people,
    a_removed_guest_leaves_their_rooms,
];

fn private(name: &str, topic: &str) -> Room {
    Room {
        name: name.to_owned(),
        topic: topic.to_owned(),
        kind: RoomKind::Private,
        members: None,
    }
}

/// A fresh store with two accounts, `alice` and `bob`.
async fn with_alice_and_bob(db: &TestDb) -> (Arc<dyn Store>, User, User) {
    let (store, alice) = with_alice(db).await;
    let bob = store
        .create_account(&name("bob"), "hash", 0)
        .await
        .unwrap()
        .user;
    (store, alice, bob)
}

async fn a_created_room_has_its_kind_and_its_creator_as_a_member(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    store
        .create_room(&private("team", "plans"), alice.id, 5)
        .await
        .unwrap();
    let found = store.find_room(&room("team")).await.unwrap();
    assert_eq!(
        (found.kind, found.topic.as_str()),
        (RoomKind::Private, "plans")
    );
    assert!(store.is_member(&room("team"), alice.id).await.unwrap());
    assert!(!store.is_member(&room("team"), bob.id).await.unwrap());
    assert_eq!(
        store.find_room(&room("general")).await.unwrap().kind,
        RoomKind::Public
    );
}

async fn creating_a_taken_name_is_refused_and_changes_nothing(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    store
        .create_room(&private("team", "a"), alice.id, 0)
        .await
        .unwrap();
    let again = store.create_room(&private("team", "b"), bob.id, 0).await;
    assert!(matches!(again, Err(StoreError::RoomExists)), "{again:?}");
    let general = store.create_room(&private("general", ""), bob.id, 0).await;
    assert!(matches!(general, Err(StoreError::RoomExists)));
    assert!(!store.is_member(&room("team"), bob.id).await.unwrap());
    assert_eq!(store.find_room(&room("team")).await.unwrap().topic, "a");
}

async fn only_public_rooms_are_listed(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    store
        .create_room(&private("secret", ""), alice.id, 0)
        .await
        .unwrap();
    let open = Room {
        kind: RoomKind::Public,
        ..private("open", "")
    };
    store.create_room(&open, alice.id, 0).await.unwrap();
    let dm = RoomName::direct(&[alice.id, bob.id]);
    store
        .direct_room(&dm, &[alice.id, bob.id], alice.id, 0)
        .await
        .unwrap();
    let names: Vec<_> = store
        .list_rooms(&all_rooms())
        .await
        .unwrap()
        .rooms
        .into_iter()
        .map(|r| (r.name, r.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("general".to_owned(), RoomKind::Public),
            ("open".to_owned(), RoomKind::Public)
        ]
    );
}

async fn memberships_are_added_once_and_removed(db: TestDb) {
    let (store, alice) = with_alice(&db).await;
    let general = room("general");
    assert!(store.add_member(&general, alice.id, 0).await.unwrap());
    assert!(!store.add_member(&general, alice.id, 0).await.unwrap());
    assert!(store.is_member(&general, alice.id).await.unwrap());
    assert!(store.remove_member(&general, alice.id).await.unwrap());
    assert!(!store.remove_member(&general, alice.id).await.unwrap());
    assert!(!store.is_member(&general, alice.id).await.unwrap());
    // No such room: nothing to join, nothing made.
    assert!(
        !store
            .add_member(&room("nowhere"), alice.id, 0)
            .await
            .unwrap()
    );
    assert!(store.find_room(&room("nowhere")).await.is_err());
}

async fn a_join_makes_the_membership_once_and_answers_with_the_read_state(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    let general = room("general");
    say(&store, &bob, &general, "before alice came", None).await;
    let second = say(&store, &bob, &general, "still before", None).await;
    store
        .insert_message(mentioning(&bob, &general, "@alice welcome", None))
        .await
        .unwrap();
    // Someone new: a member now, with everything before them unread.
    let mine = store.join_room(&general, alice.id, 5).await.unwrap();
    assert_eq!(
        (mine.name.as_str(), mine.kind),
        ("general", RoomKind::Public)
    );
    assert_eq!(
        (mine.read.last_read, mine.read.unread, mine.read.mentions),
        (0, 3, 1)
    );
    assert!(store.is_member(&general, alice.id).await.unwrap());
    assert_eq!(store.my_room(&general, alice.id).await.unwrap(), Some(mine));
    // A member already: nothing made again, and the read marker stays.
    store
        .mark_read(&general, alice.id, id(&second))
        .await
        .unwrap();
    let again = store.join_room(&general, alice.id, 6).await.unwrap();
    assert_eq!((again.read.last_read, again.read.unread), (id(&second), 1));
    assert!(!store.add_member(&general, alice.id, 7).await.unwrap());
    // No such room: refused, and no room is made.
    assert!(matches!(
        store.join_room(&room("nowhere"), alice.id, 8).await,
        Err(StoreError::RoomNotFound)
    ));
    assert!(store.find_room(&room("nowhere")).await.is_err());
}

async fn my_rooms_lists_a_users_rooms_by_name_with_read_state(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    store
        .create_room(&private("zeta", "z"), alice.id, 0)
        .await
        .unwrap();
    store
        .add_member(&room("general"), alice.id, 0)
        .await
        .unwrap();
    store
        .create_room(&private("bobs", ""), bob.id, 0)
        .await
        .unwrap();
    say(&store, &bob, &room("general"), "hi", None).await;
    let mine = store.my_rooms(alice.id).await.unwrap();
    let shown: Vec<_> = mine
        .iter()
        .map(|r| (r.name.as_str(), r.kind, r.read.unread))
        .collect();
    assert_eq!(
        shown,
        [
            ("general", RoomKind::Public, 1),
            ("zeta", RoomKind::Private, 0)
        ]
    );
    let one = store
        .my_room(&room("zeta"), alice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((one.topic.as_str(), one.read.last_read), ("z", 0));
    assert!(
        store
            .my_room(&room("bobs"), alice.id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn the_read_marker_moves_forward_only_and_never_past_the_latest_message(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    let general = room("general");
    store.add_member(&general, alice.id, 0).await.unwrap();
    let ids: Vec<i64> = [
        say(&store, &bob, &general, "one", None).await,
        say(&store, &bob, &general, "two", None).await,
        say(&store, &bob, &general, "three", None).await,
    ]
    .iter()
    .map(id)
    .collect();
    let read = |id| store.mark_read(&general, alice.id, id);
    assert_eq!(read(ids[1]).await.unwrap(), Marked::Moved(ids[1]));
    assert_eq!(read(ids[0]).await.unwrap(), Marked::Unchanged(ids[1]));
    assert_eq!(read(ids[1]).await.unwrap(), Marked::Unchanged(ids[1]));
    let state = store
        .my_room(&general, alice.id)
        .await
        .unwrap()
        .unwrap()
        .read;
    assert_eq!((state.last_read, state.unread), (ids[1], 1));
    // A marker past the room's latest message stops at it: later messages
    // are unread.
    assert_eq!(read(ids[2] + 1000).await.unwrap(), Marked::Moved(ids[2]));
    say(&store, &bob, &general, "four", None).await;
    let state = store
        .my_room(&general, alice.id)
        .await
        .unwrap()
        .unwrap()
        .read;
    assert_eq!((state.last_read, state.unread), (ids[2], 1));
    // Not a member: nothing moves.
    assert_eq!(
        store.mark_read(&general, bob.id, ids[2]).await.unwrap(),
        Marked::NotMember
    );
}

/// Marks a message as naming `users` (and the room), as the messages
/// feature stores mentions.
async fn mention(store: &Arc<dyn Store>, message: i64, users: &[i64], room: bool) {
    let (pool, _) = store.sweeps();
    for user in users {
        pool.execute(
            &["INSERT INTO message_mentions (message_id, user_id) VALUES ($1, $2)"],
            &[message, *user],
        )
        .await
        .unwrap();
    }
    if room {
        pool.execute(
            &["UPDATE messages SET mentions_room = (1 = 1) WHERE id = $1"],
            &[message],
        )
        .await
        .unwrap();
    }
}

async fn unread_skips_own_and_deleted_messages_and_mentions_count_the_user_or_the_room(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    let general = room("general");
    store.add_member(&general, alice.id, 0).await.unwrap();
    let first = id(&say(&store, &bob, &general, "before", None).await);
    store.mark_read(&general, alice.id, first).await.unwrap();
    let named = id(&say(&store, &bob, &general, "@alice", None).await);
    mention(&store, named, &[alice.id], false).await;
    let everyone = id(&say(&store, &bob, &general, "@room", None).await);
    mention(&store, everyone, &[], true).await;
    let other = id(&say(&store, &bob, &general, "@bob", None).await);
    mention(&store, other, &[bob.id], false).await;
    let own = id(&say(&store, &alice, &general, "@alice mine", None).await);
    mention(&store, own, &[alice.id], false).await;
    let gone = id(&say(&store, &bob, &general, "@alice gone", None).await);
    mention(&store, gone, &[alice.id], false).await;
    store.delete_message(gone, 1).await.unwrap();
    let state = store
        .my_room(&general, alice.id)
        .await
        .unwrap()
        .unwrap()
        .read;
    assert_eq!((state.unread, state.mentions), (3, 2), "{state:?}");
    store.mark_read(&general, alice.id, everyone).await.unwrap();
    let state = store
        .my_room(&general, alice.id)
        .await
        .unwrap()
        .unwrap()
        .read;
    assert_eq!((state.unread, state.mentions), (1, 0));
}

async fn counts_stop_at_the_cap(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    let general = room("general");
    store.add_member(&general, alice.id, 0).await.unwrap();
    let steps: Vec<Step> = (0..COUNT_CAP + 5)
        .map(|i| Step::Send(message(&bob, &general, &format!("m{i}"), None)))
        .collect();
    store.append(steps).await.unwrap();
    let state = store
        .my_room(&general, alice.id)
        .await
        .unwrap()
        .unwrap()
        .read;
    assert_eq!(state.unread, COUNT_CAP);
}

async fn the_notification_level_defaults_by_kind_and_is_stored(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    store
        .add_member(&room("general"), alice.id, 0)
        .await
        .unwrap();
    let dm = RoomName::direct(&[alice.id, bob.id]);
    store
        .direct_room(&dm, &[alice.id, bob.id], alice.id, 0)
        .await
        .unwrap();
    let levels =
        |rooms: Vec<MyRoom>| -> Vec<NotifyLevel> { rooms.iter().map(|r| r.notify).collect() };
    assert_eq!(
        levels(store.my_rooms(alice.id).await.unwrap()),
        [NotifyLevel::All, NotifyLevel::Mentions]
    );
    assert!(
        store
            .set_notify(&dm, alice.id, NotifyLevel::None)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_notify(&room("general"), alice.id, NotifyLevel::All)
            .await
            .unwrap()
    );
    assert_eq!(
        levels(store.my_rooms(alice.id).await.unwrap()),
        [NotifyLevel::None, NotifyLevel::All]
    );
    let carol = store
        .create_account(&name("carol"), "h", 0)
        .await
        .unwrap()
        .user;
    assert!(
        !store
            .set_notify(&dm, carol.id, NotifyLevel::All)
            .await
            .unwrap()
    );
}

async fn a_direct_room_is_made_once_for_the_same_people(db: TestDb) {
    let (store, alice, bob) = with_alice_and_bob(&db).await;
    let dm = RoomName::direct(&[bob.id, alice.id]);
    assert!(
        store
            .direct_room(&dm, &[alice.id, bob.id], alice.id, 0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .direct_room(&dm, &[bob.id, alice.id], bob.id, 0)
            .await
            .unwrap()
    );
    assert_eq!(store.find_room(&dm).await.unwrap().kind, RoomKind::Direct);
    assert!(store.is_member(&dm, alice.id).await.unwrap());
    assert!(store.is_member(&dm, bob.id).await.unwrap());
    // Whoever left is a member again when they open it; the others who
    // left stay out until they do.
    store.remove_member(&dm, alice.id).await.unwrap();
    store.remove_member(&dm, bob.id).await.unwrap();
    assert!(
        !store
            .direct_room(&dm, &[alice.id, bob.id], bob.id, 0)
            .await
            .unwrap()
    );
    assert!(store.is_member(&dm, bob.id).await.unwrap());
    assert!(!store.is_member(&dm, alice.id).await.unwrap());
    // A room of another kind under a direct name is never taken over.
    let carol = store
        .create_account(&name("carol"), "h", 0)
        .await
        .unwrap()
        .user;
    let squatted = RoomName::direct(&[alice.id, carol.id]);
    store.ensure_room(&squatted, 0).await.unwrap();
    let taken = store
        .direct_room(&squatted, &[alice.id, carol.id], alice.id, 0)
        .await;
    assert!(matches!(taken, Err(StoreError::RoomExists)), "{taken:?}");
}

async fn a_removed_guest_leaves_their_rooms(db: TestDb) {
    let store = db.open().await;
    let guest = store.create_guest(&name("passer"), 0).await.unwrap();
    let writer = store.create_guest(&name("writer"), 0).await.unwrap();
    for user in [&guest, &writer] {
        store
            .add_member(&room("general"), user.id, 0)
            .await
            .unwrap();
    }
    say(&store, &writer, &room("general"), "kept as a name", None).await;
    let later = 10 * 24 * 3600 * 1000;
    store
        .sweep_guests(later, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(store.my_rooms(guest.id).await.unwrap().is_empty());
    assert!(store.my_rooms(writer.id).await.unwrap().is_empty());
}
