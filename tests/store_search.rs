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
use banter::store::{Backend, Edit, Inserted, NewMessage, Step, Store};
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
    an_edit_after_the_message_was_indexed_replaces_its_words,
    edits_and_deletes_before_the_index_catches_up_count,
    messages_not_yet_indexed_at_a_restart_are_found_after_it,
    a_message_is_indexed_soon_after_it_is_sent_without_a_search,
    more_messages_than_one_indexing_chunk_are_all_found,
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

fn message(author: &User, room_name: &str, text: &str) -> NewMessage {
    support::new_message(&room(room_name), author, text)
}

async fn say(w: &World, author: &User, room_name: &str, text: &str) -> Message {
    let new = message(author, room_name, text);
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

async fn edit(w: &World, m: &Message, text: &str) {
    let text = MessageText::parse(text, &Limits::default()).unwrap();
    let edit = Edit {
        id: m.id,
        author: m.author.id,
        mentions: Mentions::parse(&text, &Limits::default()),
        text,
        now: 5,
    };
    w.store.edit_message(&edit).await.unwrap().unwrap();
}

/// SQLite: how far the search index has gone (`search_indexed.upto`).
async fn indexed_upto(db: &TestDb) -> i64 {
    db.scalar("SELECT upto FROM search_indexed").await
}

/// SQLite: the messages the index itself holds with `word`, read without
/// a search (which would first make the index catch up).
async fn in_the_index(db: &TestDb, word: &str) -> i64 {
    db.scalar(&format!(
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"{word}\"'"
    ))
    .await
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
    edit(&w, &m, "meet at midnight").await;
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
            Step::Send(message(&w.alice, room_name, &format!("common {i}")))
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

async fn an_edit_after_the_message_was_indexed_replaces_its_words(db: TestDb) {
    let w = world(&db).await;
    let m = say(&w, &w.alice, "general", "lunch at noon").await;
    assert_eq!(find(&w, w.bob.id, "noon").await, ["lunch at noon"]);
    if db.backend == Backend::Sqlite {
        assert!(indexed_upto(&db).await >= m.id, "the search indexed it");
        assert_eq!(in_the_index(&db, "noon").await, 1);
    }
    edit(&w, &m, "lunch at one").await;
    assert!(find(&w, w.bob.id, "noon").await.is_empty());
    assert_eq!(find(&w, w.bob.id, "one").await, ["lunch at one"]);
    assert_eq!(find(&w, w.bob.id, "lunch").await, ["lunch at one"]);
    if db.backend == Backend::Sqlite {
        assert_eq!(in_the_index(&db, "noon").await, 0);
        assert_eq!(in_the_index(&db, "one").await, 1);
    }
}

/// On SQLite the messages are edited, deleted (by their author, and by
/// retention) while still above the index's mark: the index then reads
/// them as they are. Should the indexer get there first (a stall of a
/// quarter second), the round is tried again with new messages.
async fn edits_and_deletes_before_the_index_catches_up_count(db: TestDb) {
    let w = world(&db).await;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let first = say(&w, &w.alice, "general", "meet at noon").await;
        let deleted = say(&w, &w.alice, "general", "oops wrong room").await;
        let expired = say(&w, &w.alice, "general", "ancient scroll").await;
        say(&w, &w.alice, "general", "kept as sent").await;
        edit(&w, &first, "meet at midnight").await;
        assert!(w.store.delete_message(deleted.id, 9).await.unwrap());
        db.execute(&format!("DELETE FROM messages WHERE id = {}", expired.id))
            .await;
        if db.backend == Backend::Postgres || indexed_upto(&db).await < first.id {
            break;
        }
        assert!(
            rounds < 5,
            "the index caught up before the edits, every time"
        );
    }
    let times = |text: &str| vec![text.to_owned(); rounds];
    assert!(find(&w, w.bob.id, "noon").await.is_empty());
    assert_eq!(
        find(&w, w.bob.id, "midnight").await,
        times("meet at midnight")
    );
    assert!(find(&w, w.bob.id, "oops").await.is_empty());
    assert!(find(&w, w.bob.id, "scroll").await.is_empty());
    assert_eq!(find(&w, w.bob.id, "kept").await, times("kept as sent"));
    if db.backend == Backend::Sqlite {
        let newest = db.scalar("SELECT max(id) FROM messages").await;
        assert_eq!(indexed_upto(&db).await, newest, "the search moved the mark");
        assert_eq!(in_the_index(&db, "noon").await, 0);
        assert_eq!(in_the_index(&db, "oops").await, 0);
        // Later changes of indexed messages go through the triggers.
        let kept = say(&w, &w.alice, "general", "soon edited").await;
        find(&w, w.bob.id, "soon").await;
        edit(&w, &kept, "now changed").await;
        assert!(find(&w, w.bob.id, "soon").await.is_empty());
        assert_eq!(find(&w, w.bob.id, "changed").await, ["now changed"]);
        assert!(w.store.delete_message(kept.id, 9).await.unwrap());
        assert!(find(&w, w.bob.id, "changed").await.is_empty());
        assert_eq!(in_the_index(&db, "changed").await, 0);
    }
}

async fn messages_not_yet_indexed_at_a_restart_are_found_after_it(db: TestDb) {
    let w = world(&db).await;
    say(&w, &w.alice, "general", "before the restart").await;
    say(&w, &w.alice, "general", "also before the restart").await;
    w.store.close().await;
    if db.backend == Backend::Sqlite {
        // As if the process had stopped before the indexer ran (it may
        // have run already: a quarter second has passed, or not).
        db.execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('delete-all'); \
             UPDATE search_indexed SET upto = 0",
        )
        .await;
        assert_eq!(in_the_index(&db, "restart").await, 0);
    }
    let store = db.open().await;
    if db.backend == Backend::Sqlite {
        // Indexed when the store opened, before any search.
        assert_eq!(in_the_index(&db, "restart").await, 2);
        assert_eq!(
            indexed_upto(&db).await,
            db.scalar("SELECT max(id) FROM messages").await
        );
    }
    let w = World { store, ..w };
    assert_eq!(
        find(&w, w.bob.id, "restart").await,
        ["also before the restart", "before the restart"]
    );
}

/// Without any search to make it catch up: the writer indexes on its own,
/// a quarter second after the send (SQLite), or in the same row at once
/// (PostgreSQL).
async fn a_message_is_indexed_soon_after_it_is_sent_without_a_search(db: TestDb) {
    let w = world(&db).await;
    let m = say(&w, &w.alice, "general", "a lonely zebra").await;
    if db.backend == Backend::Postgres {
        let found = db
            .scalar("SELECT count(*) FROM messages WHERE search @@ to_tsquery('simple', 'zebra')")
            .await;
        assert_eq!(found, 1);
        return;
    }
    let started = std::time::Instant::now();
    while in_the_index(&db, "zebra").await == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "not indexed after 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(indexed_upto(&db).await >= m.id);
    assert_eq!(find(&w, w.bob.id, "zebra").await, ["a lonely zebra"]);
}

/// More than the writer indexes in one transaction (4,096), in one batch.
async fn more_messages_than_one_indexing_chunk_are_all_found(db: TestDb) {
    let w = world(&db).await;
    let steps: Vec<Step> = (0..5000)
        .map(|i| Step::Send(message(&w.alice, "general", &format!("bulk n{i}"))))
        .collect();
    assert_eq!(w.store.append(steps).await.unwrap().len(), 5000);
    for i in [0, 4095, 4096, 4999] {
        assert_eq!(
            find(&w, w.bob.id, &format!("n{i}")).await,
            [format!("bulk n{i}")]
        );
    }
    if db.backend == Backend::Sqlite {
        assert_eq!(in_the_index(&db, "bulk").await, 5000);
    }
}
