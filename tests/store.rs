//! The SQLite store on a real database file.
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use banter::limits::Limits;
use banter::messages::{ClientId, Cursor, MessageText, Page};
use banter::rooms::{RoomName, RoomPage, RoomSearch};
use banter::store::{Inserted, NewMessage, SqliteStore, Store, StoreError};
use banter::users::{User, Username};
use std::sync::Arc;
use tempfile::TempDir;

async fn open(dir: &TempDir) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join("banter.db").display());
    SqliteStore::connect(&url).await.unwrap()
}

/// A fresh store with one account, `alice`.
async fn with_alice() -> (TempDir, SqliteStore, User) {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let alice = store
        .create_account(&name("alice"), "hash", 0)
        .await
        .unwrap()
        .user;
    (dir, store, alice)
}

fn name(raw: &str) -> Username {
    Username::parse(raw, &Limits::default()).unwrap()
}

fn room(raw: &str) -> RoomName {
    RoomName::parse(raw, &Limits::default()).unwrap()
}

async fn say(
    store: &SqliteStore,
    author: &User,
    room: &RoomName,
    text: &str,
    client_id: Option<&str>,
) -> Inserted {
    let text = MessageText::parse(text, &Limits::default()).unwrap();
    let client_id = client_id.map(|c| ClientId::parse(c).unwrap());
    let new = NewMessage {
        room: room.clone(),
        author: author.clone(),
        text,
        client_id,
        ts: 1,
    };
    store.insert_message(new).await.unwrap()
}

fn id(inserted: &Inserted) -> i64 {
    match inserted {
        Inserted::New { message: m, .. } | Inserted::Duplicate(m) => m.id,
        Inserted::Muted { .. } => panic!("nobody is muted here"),
    }
}

#[tokio::test]
async fn ids_increase_in_storage_order_across_rooms() {
    let (_dir, store, alice) = with_alice().await;
    let (general, other) = (room("general"), room("other"));
    store.ensure_room(&other, 0).await.unwrap();
    let a = id(&say(&store, &alice, &general, "one", None).await);
    let b = id(&say(&store, &alice, &other, "two", None).await);
    let c = id(&say(&store, &alice, &general, "three", None).await);
    assert!(a < b && b < c);
}

#[tokio::test]
async fn a_resent_client_id_returns_the_stored_message() {
    let (_dir, store, alice) = with_alice().await;
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

#[tokio::test]
async fn the_same_client_id_from_two_authors_is_two_messages() {
    let (_dir, store, alice) = with_alice().await;
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

#[tokio::test]
async fn history_pages_backwards_and_forwards_oldest_first() {
    let (_dir, store, alice) = with_alice().await;
    let general = room("general");
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(id(
            &say(&store, &alice, &general, &format!("m{i}"), None).await
        ));
    }
    let page = |cursor, limit| Page { cursor, limit };
    let texts =
        |msgs: Vec<banter::messages::Message>| msgs.into_iter().map(|m| m.text).collect::<Vec<_>>();
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
}

#[tokio::test]
async fn history_of_an_unknown_room_is_not_found() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
    let result = store.messages(&room("nowhere"), Page::latest(10)).await;
    assert!(matches!(result, Err(StoreError::RoomNotFound)));
}

#[tokio::test]
async fn messages_and_rooms_survive_reopening_the_database() {
    let (dir, store, alice) = with_alice().await;
    let lounge = store.ensure_room(&room("lounge"), 0).await.unwrap();
    let stored = say(&store, &alice, &room("lounge"), "still here?", None).await;
    store.close().await;
    let reopened = open(&dir).await;
    let rooms = reopened.list_rooms(&all_rooms()).await.unwrap().rooms;
    assert!(rooms.contains(&lounge));
    let history = reopened
        .messages(&room("lounge"), Page::latest(10))
        .await
        .unwrap();
    let Inserted::New { message, prev } = stored else {
        panic!("the send must be new")
    };
    assert_eq!((history[0].clone(), prev), (message, 0));
}

#[tokio::test]
async fn an_expired_guest_session_frees_the_name() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
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

#[tokio::test]
async fn joining_a_new_room_twice_creates_it_once() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
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

#[tokio::test]
async fn rooms_are_listed_in_pages_after_a_cursor_and_filtered_by_a_search() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
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

#[tokio::test]
async fn concurrent_sign_ins_with_one_name_give_exactly_one_user() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(open(&dir).await);
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

#[tokio::test]
async fn a_banned_guest_keeps_the_name_and_their_address_is_banned_for_a_time() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
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

#[tokio::test]
async fn a_muted_guest_keeps_the_name_while_the_mute_lasts() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir).await;
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

#[tokio::test]
async fn no_account_is_an_admin_until_the_operator_makes_it_one() {
    let (_dir, store, alice) = with_alice().await;
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

#[tokio::test]
async fn ended_sessions_are_recorded_for_the_server_to_disconnect() {
    let (_dir, store, alice) = with_alice().await;
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

/// The id before each new message in its room, as the cross-node relay
/// needs it: 0 for a room's first, then the room's latest whatever room the
/// messages between were in, deleted or not, and whichever handle on the
/// file (another node) stored it.
#[tokio::test]
async fn each_new_message_names_the_rooms_message_before_it() {
    let (dir, store, alice) = with_alice().await;
    let other_node = open(&dir).await;
    let (general, other) = (room("general"), room("other"));
    store.ensure_room(&other, 0).await.unwrap();
    let prev_of = |inserted: &Inserted| match inserted {
        Inserted::New { prev, .. } => *prev,
        other => panic!("not new: {other:?}"),
    };
    let first = say(&store, &alice, &general, "one", None).await;
    assert_eq!(prev_of(&first), 0);
    let elsewhere = say(&store, &alice, &other, "two", None).await;
    assert_eq!(prev_of(&elsewhere), 0);
    let second = say(&other_node, &alice, &general, "three", None).await;
    assert_eq!(prev_of(&second), id(&first));
    assert!(store.delete_message(id(&second), 5).await.unwrap());
    let third = say(&store, &alice, &general, "four", None).await;
    assert_eq!(prev_of(&third), id(&second));
    // A resend is no new message: it names no predecessor.
    let again = say(&store, &alice, &general, "four", Some("c-9")).await;
    let resent = say(&store, &alice, &general, "four", Some("c-9")).await;
    assert_eq!(prev_of(&again), id(&third));
    assert!(matches!(resent, Inserted::Duplicate(_)));
    other_node.close().await;
}
