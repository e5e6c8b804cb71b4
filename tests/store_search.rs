//! The store's search (issue #11), on every backend: what a reader finds,
//! in which rooms, kept in step with edits, deletes and retention; and
//! history around a message. See `support` for the backends.
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

#[macro_use]
mod support;

use std::sync::Arc;

use banter::limits::Limits;
use banter::mentions::Mentions;
use banter::messages::{Message, MessageText};
use banter::rooms::{Room, RoomKind, RoomName};
use banter::search::{Search, SearchQuery};
use banter::store::{Edit, Inserted, NewMessage, Step, Store};
use banter::users::{User, UserId, Username};
use support::TestDb;

on_every_backend![
    a_word_and_a_phrase_are_found_in_a_public_room_newest_first,
    private_and_direct_rooms_are_searched_only_for_their_members,
    an_edited_message_is_found_by_its_new_words_only,
    a_deleted_message_is_never_found,
    a_prefix_finds_the_words_it_begins,
    punctuation_and_syntax_in_a_query_are_only_words,
    pages_go_back_with_before_and_a_room_narrows_the_search,
    messages_expired_by_retention_leave_the_index,
    history_around_a_message_has_it_in_the_middle_in_order,
    history_around_an_edge_or_a_message_of_another_room,
    a_word_in_thousands_of_messages_is_found_newest_first,
];

struct World {
    store: Arc<dyn Store>,
    alice: User,
    bob: User,
}

async fn world(db: &TestDb) -> World {
    let store = db.open().await;
    let account = |name: &str| Username::parse(name, &Limits::default()).unwrap();
    let alice = store
        .create_account(&account("alice"), "h", 0)
        .await
        .unwrap()
        .user;
    let bob = store
        .create_account(&account("bob"), "h", 0)
        .await
        .unwrap()
        .user;
    World { store, alice, bob }
}

fn room(raw: &str) -> RoomName {
    RoomName::parse(raw, &Limits::default()).unwrap()
}

async fn say(w: &World, author: &User, room_name: &str, text: &str) -> Message {
    let new = NewMessage {
        room: room(room_name),
        author: author.clone(),
        text: MessageText::parse(text, &Limits::default()).unwrap(),
        client_id: None,
        ts: 1,
        reply_to: None,
        mentions: Mentions::default(),
        attachments: Vec::new(),
    };
    match w.store.insert_message(new).await.unwrap() {
        Inserted::New { message, .. } => message,
        other => panic!("not stored: {other:?}"),
    }
}

async fn find(w: &World, reader: UserId, q: &str) -> Vec<String> {
    find_in(w, reader, q, None, None).await
}

async fn find_in(
    w: &World,
    reader: UserId,
    q: &str,
    room_name: Option<&str>,
    before: Option<i64>,
) -> Vec<String> {
    let search = Search {
        query: SearchQuery::parse(q).unwrap(),
        room: room_name.map(room),
        before,
        limit: 20,
    };
    let found = w.store.search_messages(&search, reader).await.unwrap();
    found.into_iter().map(|m| m.text).collect()
}

async fn private(w: &World, name: &str, creator: &User) {
    let team = Room {
        name: name.to_owned(),
        topic: String::new(),
        kind: RoomKind::Private,
        members: None,
    };
    w.store.create_room(&team, creator.id, 0).await.unwrap();
}

async fn a_word_and_a_phrase_are_found_in_a_public_room_newest_first(db: TestDb) {
    let w = world(&db).await;
    say(&w, &w.alice, "general", "the quick brown fox").await;
    say(&w, &w.alice, "general", "brown bread and a quick lunch").await;
    say(&w, &w.alice, "general", "nothing to see").await;
    assert_eq!(
        find(&w, w.bob.id, "brown").await,
        ["brown bread and a quick lunch", "the quick brown fox"]
    );
    assert_eq!(
        find(&w, w.bob.id, "\"quick brown\"").await,
        ["the quick brown fox"]
    );
    assert_eq!(
        find(&w, w.bob.id, "QUICK lunch").await,
        ["brown bread and a quick lunch"]
    );
    assert!(find(&w, w.bob.id, "\"brown quick\"").await.is_empty());
}

async fn private_and_direct_rooms_are_searched_only_for_their_members(db: TestDb) {
    let w = world(&db).await;
    private(&w, "team", &w.alice).await;
    say(&w, &w.alice, "team", "secret plans").await;
    let dm = RoomName::direct(&[w.alice.id, w.bob.id]);
    w.store
        .direct_room(&dm, &[w.alice.id, w.bob.id], w.alice.id, 0)
        .await
        .unwrap();
    say(&w, &w.alice, dm.as_str(), "secret handshake").await;
    say(&w, &w.alice, "general", "no secret here").await;
    assert_eq!(
        find(&w, w.alice.id, "secret").await,
        ["no secret here", "secret handshake", "secret plans"]
    );
    assert_eq!(
        find(&w, w.bob.id, "secret").await,
        ["no secret here", "secret handshake"]
    );
    let carol = w
        .store
        .create_account(
            &Username::parse("carol", &Limits::default()).unwrap(),
            "h",
            0,
        )
        .await
        .unwrap()
        .user;
    assert_eq!(find(&w, carol.id, "secret").await, ["no secret here"]);
    w.store
        .add_member(&room("team"), carol.id, 0)
        .await
        .unwrap();
    assert_eq!(find(&w, carol.id, "plans").await, ["secret plans"]);
    w.store
        .remove_member(&room("team"), carol.id)
        .await
        .unwrap();
    assert!(find(&w, carol.id, "plans").await.is_empty());
}

async fn an_edited_message_is_found_by_its_new_words_only(db: TestDb) {
    let w = world(&db).await;
    let m = say(&w, &w.alice, "general", "meet at noon").await;
    let text = MessageText::parse("meet at midnight", &Limits::default()).unwrap();
    let edit = Edit {
        id: m.id,
        author: w.alice.id,
        mentions: Mentions::parse(&text, &Limits::default()),
        text,
        now: 5,
    };
    w.store.edit_message(&edit).await.unwrap().unwrap();
    assert!(find(&w, w.bob.id, "noon").await.is_empty());
    assert_eq!(find(&w, w.bob.id, "midnight").await, ["meet at midnight"]);
}

async fn a_deleted_message_is_never_found(db: TestDb) {
    let w = world(&db).await;
    let m = say(&w, &w.alice, "general", "oops a typo").await;
    say(&w, &w.alice, "general", "a typo fixed").await;
    assert!(w.store.delete_message(m.id, 9).await.unwrap());
    assert_eq!(find(&w, w.bob.id, "typo").await, ["a typo fixed"]);
    assert!(find(&w, w.bob.id, "oops").await.is_empty());
}

async fn a_prefix_finds_the_words_it_begins(db: TestDb) {
    let w = world(&db).await;
    say(&w, &w.alice, "general", "deploying tonight").await;
    say(&w, &w.alice, "general", "the deploy failed").await;
    say(&w, &w.alice, "general", "redeploy later").await;
    assert_eq!(
        find(&w, w.bob.id, "deploy*").await,
        ["the deploy failed", "deploying tonight"]
    );
    assert_eq!(
        find(&w, w.bob.id, "\"deploying ton\"*").await,
        ["deploying tonight"]
    );
}

async fn punctuation_and_syntax_in_a_query_are_only_words(db: TestDb) {
    let w = world(&db).await;
    say(
        &w,
        &w.alice,
        "general",
        "see example.com for the e-mail form",
    )
    .await;
    say(&w, &w.alice, "general", "cats AND dogs OR birds").await;
    assert_eq!(
        find(&w, w.bob.id, "example.com").await,
        ["see example.com for the e-mail form"]
    );
    assert_eq!(
        find(&w, w.bob.id, "e-mail").await,
        ["see example.com for the e-mail form"]
    );
    assert_eq!(
        find(&w, w.bob.id, "cats AND dogs").await,
        ["cats AND dogs OR birds"]
    );
    for hostile in [
        "NEAR(a b)",
        "text:cats",
        "cats & !dogs",
        "'cats'",
        "(cats",
        "cats)",
        "\\cats",
        "cats | dogs",
        "^cats",
        "-dogs",
        "cats:*",
        "\"\"\"cats\"",
        "*cats",
        "c*a*t*s",
    ] {
        let search = Search {
            query: SearchQuery::parse(hostile).unwrap(),
            room: None,
            before: None,
            limit: 20,
        };
        w.store.search_messages(&search, w.bob.id).await.unwrap();
    }
}

async fn pages_go_back_with_before_and_a_room_narrows_the_search(db: TestDb) {
    let w = world(&db).await;
    w.store.ensure_room(&room("other"), 0).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(say(&w, &w.alice, "general", &format!("ping {i}")).await.id);
    }
    say(&w, &w.alice, "other", "ping elsewhere").await;
    assert_eq!(
        find_in(&w, w.bob.id, "ping", Some("general"), Some(ids[3])).await,
        ["ping 2", "ping 1", "ping 0"]
    );
    assert_eq!(
        find_in(&w, w.bob.id, "ping", Some("other"), None).await,
        ["ping elsewhere"]
    );
    let search = Search {
        query: SearchQuery::parse("ping").unwrap(),
        room: None,
        before: None,
        limit: 2,
    };
    let page = w.store.search_messages(&search, w.bob.id).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].text, "ping elsewhere");
}

async fn messages_expired_by_retention_leave_the_index(db: TestDb) {
    let w = world(&db).await;
    say(&w, &w.alice, "general", "ancient history").await;
    // What retention does, a batch of old rows deleted.
    db.execute("DELETE FROM message_mentions; DELETE FROM reactions; DELETE FROM messages")
        .await;
    say(&w, &w.alice, "general", "modern history").await;
    assert_eq!(find(&w, w.bob.id, "history").await, ["modern history"]);
}

async fn history_around_a_message_has_it_in_the_middle_in_order(db: TestDb) {
    let w = world(&db).await;
    let mut ids = Vec::new();
    for i in 0..11 {
        ids.push(say(&w, &w.alice, "general", &format!("m{i}")).await.id);
    }
    w.store.delete_message(ids[4], 1).await.unwrap();
    let around = w
        .store
        .messages_around(&room("general"), ids[5], 5)
        .await
        .unwrap()
        .unwrap();
    let texts: Vec<&str> = around.iter().map(|m| m.text.as_str()).collect();
    // Two before (the deleted m4 skipped), the message, two after.
    assert_eq!(texts, ["m2", "m3", "m5", "m6", "m7"]);
}

async fn history_around_an_edge_or_a_message_of_another_room(db: TestDb) {
    let w = world(&db).await;
    w.store.ensure_room(&room("other"), 0).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(say(&w, &w.alice, "general", &format!("m{i}")).await.id);
    }
    let elsewhere = say(&w, &w.alice, "other", "x").await.id;
    let texts =
        |messages: Vec<Message>| -> Vec<String> { messages.into_iter().map(|m| m.text).collect() };
    let general = room("general");
    let around = |id: i64, limit: i64| {
        let (store, general) = (w.store.clone(), general.clone());
        async move { store.messages_around(&general, id, limit).await.unwrap() }
    };
    assert_eq!(texts(around(ids[0], 5).await.unwrap()), ["m0", "m1", "m2"]);
    assert_eq!(texts(around(ids[3], 5).await.unwrap()), ["m1", "m2", "m3"]);
    assert_eq!(texts(around(ids[2], 1).await.unwrap()), ["m2"]);
    assert!(around(elsewhere, 5).await.is_none());
    assert!(around(999_999, 5).await.is_none());
    w.store.delete_message(ids[1], 1).await.unwrap();
    assert!(around(ids[1], 5).await.is_none());
}

/// Past PostgreSQL's probe (2,000 matches) the other plan answers: the
/// same results, newest first, the cursor and the readers' rooms kept.
async fn a_word_in_thousands_of_messages_is_found_newest_first(db: TestDb) {
    let w = world(&db).await;
    private(&w, "team", &w.alice).await;
    let steps: Vec<Step> = (0..2100)
        .map(|i| {
            let room_name = if i % 100 == 99 { "team" } else { "general" };
            Step::Send(NewMessage {
                room: room(room_name),
                author: w.alice.clone(),
                text: MessageText::parse(&format!("common {i}"), &Limits::default()).unwrap(),
                client_id: None,
                ts: 1,
                reply_to: None,
                mentions: Mentions::default(),
                attachments: Vec::new(),
            })
        })
        .collect();
    let stored = w.store.append(steps).await.unwrap();
    assert_eq!(stored.len(), 2100);
    assert_eq!(
        find(&w, w.bob.id, "common").await[..3],
        ["common 2098", "common 2097", "common 2096"]
    );
    assert_eq!(
        find(&w, w.alice.id, "common").await[..2],
        ["common 2099", "common 2098"]
    );
    // Ids start at 1 in a fresh database: "common i" is id i + 1.
    let before = find_in(&w, w.bob.id, "common", None, Some(5)).await;
    assert_eq!(before, ["common 3", "common 2", "common 1", "common 0"]);
    let before = find_in(&w, w.bob.id, "common", None, Some(2051)).await;
    assert_eq!(before[..2], ["common 2049", "common 2048"]);
    assert_eq!(find(&w, w.bob.id, "\"common 1500\"").await, ["common 1500"]);
}
