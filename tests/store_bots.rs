//! The store's tokens, webhooks and bot users (issue #11), on every
//! backend: each case runs on SQLite (a real file) and on PostgreSQL (a
//! schema of its own), see `support`.
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

#[macro_use]
mod support;

use std::sync::Arc;

use banter::bots::{MAX_TOKENS, MAX_WEBHOOKS, TOKEN_EXPIRES_AT, TokenName};
use banter::limits::Limits;
use banter::messages::Page;
use banter::rooms::{Room, RoomKind, RoomName};
use banter::store::tokens::{NewToken, NewWebhook};
use banter::store::{Inserted, NewMessage, Store, StoreError};
use banter::users::{User, Username};
use support::TestDb;

on_every_backend![
    a_token_is_a_session_that_lasts_and_is_listed_without_its_hash,
    an_account_holds_at_most_the_token_cap,
    revoking_a_token_ends_it_and_records_a_revocation,
    a_token_records_when_it_was_last_used,
    a_webhook_has_a_bot_that_holds_its_name_and_never_signs_in,
    a_webhook_posts_as_its_bot_and_history_says_so,
    a_webhook_opens_only_with_its_secret_while_its_creator_is_a_member,
    a_room_holds_at_most_the_webhook_cap,
    a_revoked_webhook_keeps_its_bot_and_its_messages,
];

fn name(raw: &str) -> Username {
    Username::parse(raw, &Limits::default()).unwrap()
}

fn room(raw: &str) -> RoomName {
    RoomName::parse(raw, &Limits::default()).unwrap()
}

async fn account(store: &Arc<dyn Store>, raw: &str) -> User {
    store
        .create_account(&name(raw), "hash", 0)
        .await
        .unwrap()
        .user
}

async fn token(store: &Arc<dyn Store>, user: &User, hash: &[u8]) -> Option<i64> {
    let token_name = TokenName::parse("ci").unwrap();
    let new = NewToken {
        user: user.id,
        name: &token_name,
        token_hash: hash,
        address: "10.0.0.9",
        now: 5,
    };
    store.create_token(&new).await.unwrap().map(|t| t.id)
}

/// A public room `name` with `creator` as its member.
async fn room_of(store: &Arc<dyn Store>, raw: &str, creator: &User) -> RoomName {
    let r = room(raw);
    let made = Room::stored(raw.to_owned(), String::new(), RoomKind::Public.as_str());
    store.create_room(&made, creator.id, 0).await.unwrap();
    r
}

async fn webhook(
    store: &Arc<dyn Store>,
    r: &RoomName,
    creator: &User,
    raw: &str,
    secret: &[u8],
) -> Result<Option<i64>, StoreError> {
    let bot_name = name(raw);
    let new = NewWebhook {
        room: r,
        creator: creator.id,
        name: &bot_name,
        secret_hash: secret,
        now: 7,
    };
    store.create_webhook(&new).await
}

async fn a_token_is_a_session_that_lasts_and_is_listed_without_its_hash(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let id = token(&store, &alice, b"tok-hash").await.unwrap();
    let session = store
        .find_session(b"tok-hash", TOKEN_EXPIRES_AT - 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.id, id);
    assert_eq!(session.user, alice);
    let listed = store.tokens_of(alice.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id, listed[0].name.as_str()),
        (id, "ci"),
        "{listed:?}"
    );
    assert_eq!((listed[0].created_at, listed[0].last_used_at), (5, None));
    // A session signed in with a password is not a token.
    store
        .create_session(alice.id, b"plain", "10.0.0.9", 0, 1_000)
        .await
        .unwrap();
    assert_eq!(store.tokens_of(alice.id).await.unwrap().len(), 1);
}

async fn an_account_holds_at_most_the_token_cap(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let bob = account(&store, "bob").await;
    for i in 0..MAX_TOKENS {
        let hash = format!("a{i}");
        assert!(token(&store, &alice, hash.as_bytes()).await.is_some());
    }
    assert_eq!(token(&store, &alice, b"one-more").await, None);
    assert!(token(&store, &bob, b"bobs").await.is_some(), "per account");
}

async fn revoking_a_token_ends_it_and_records_a_revocation(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let bob = account(&store, "bob").await;
    let id = token(&store, &alice, b"tok").await.unwrap();
    let plain = store
        .create_session(alice.id, b"plain", "10.0.0.9", 0, 1_000)
        .await
        .unwrap();
    let before = store.last_revocation().await.unwrap();
    assert!(!store.delete_token(bob.id, id).await.unwrap(), "not bob's");
    assert!(
        !store.delete_token(alice.id, plain).await.unwrap(),
        "a session is not a token"
    );
    assert!(store.delete_token(alice.id, id).await.unwrap());
    assert!(!store.delete_token(alice.id, id).await.unwrap());
    assert_eq!(store.find_session(b"tok", 10).await.unwrap(), None);
    let revoked = store.revocations_after(before).await.unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].session, Some(id));
}

async fn a_token_records_when_it_was_last_used(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let id = token(&store, &alice, b"tok").await.unwrap();
    store.touch_token(id, 60_000).await.unwrap();
    let listed = store.tokens_of(alice.id).await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(60_000));
}

async fn a_webhook_has_a_bot_that_holds_its_name_and_never_signs_in(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let r = room_of(&store, "builds", &alice).await;
    let id = webhook(&store, &r, &alice, "CI", b"s1")
        .await
        .unwrap()
        .unwrap();
    let hook = store.find_webhook(id).await.unwrap().unwrap();
    assert_eq!((hook.name.as_str(), hook.room.as_str()), ("CI", "builds"));
    assert!(hook.bot.bot && !hook.bot.guest, "{:?}", hook.bot);
    assert_eq!(hook.created_by, alice);
    assert_eq!(hook.created_at, 7);
    assert_eq!(
        store.find_user(hook.bot.id).await.unwrap(),
        Some(hook.bot.clone())
    );
    assert_eq!(
        store.find_user_by_name(&name("ci")).await.unwrap(),
        Some(hook.bot.clone())
    );
    // The name is held: no account, guest or other bot takes it.
    assert!(matches!(
        store.create_account(&name("ci"), "hash", 8).await,
        Err(StoreError::NameTaken)
    ));
    assert!(matches!(
        store.create_guest(&name("Ci"), 8).await,
        Err(StoreError::NameTaken)
    ));
    assert!(matches!(
        webhook(&store, &r, &alice, "ci", b"s2").await,
        Err(StoreError::NameTaken)
    ));
    assert!(matches!(
        webhook(&store, &r, &alice, "alice", b"s3").await,
        Err(StoreError::NameTaken)
    ));
    // And it never signs in, nor becomes an admin, nor gets a password.
    assert!(store.find_account(&name("ci")).await.unwrap().is_none());
    assert!(!store.set_admin(hook.bot.id, true).await.unwrap());
    assert!(!store.set_password(hook.bot.id, "x").await.unwrap());
    assert!(matches!(
        webhook(&store, &room("nowhere"), &alice, "cd", b"s4").await,
        Err(StoreError::RoomNotFound)
    ));
}

async fn a_webhook_posts_as_its_bot_and_history_says_so(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let r = room_of(&store, "builds", &alice).await;
    let id = webhook(&store, &r, &alice, "ci", b"s1")
        .await
        .unwrap()
        .unwrap();
    let hook = store.webhook_to_post(id, b"s1").await.unwrap().unwrap();
    let new = NewMessage {
        ts: 9,
        ..support::new_message(&r, &hook.bot, "build passed")
    };
    let Inserted::New { message, .. } = store.insert_message(new).await.unwrap() else {
        panic!("stored");
    };
    assert!(message.author.bot);
    let history = store.messages(&r, Page::latest(10)).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].author, hook.bot);
    let found = store.find_message(message.id).await.unwrap().unwrap();
    assert!(found.author.bot);
}

async fn a_webhook_opens_only_with_its_secret_while_its_creator_is_a_member(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let r = room_of(&store, "builds", &alice).await;
    let id = webhook(&store, &r, &alice, "ci", b"right")
        .await
        .unwrap()
        .unwrap();
    assert!(store.webhook_to_post(id, b"right").await.unwrap().is_some());
    assert!(store.webhook_to_post(id, b"wrong").await.unwrap().is_none());
    assert!(
        store
            .webhook_to_post(id + 1, b"right")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.remove_member(&r, alice.id).await.unwrap());
    assert!(store.webhook_to_post(id, b"right").await.unwrap().is_none());
    store.add_member(&r, alice.id, 1).await.unwrap();
    assert!(store.webhook_to_post(id, b"right").await.unwrap().is_some());
    // A banned creator's or a banned bot's webhook is closed too.
    let hook = store.find_webhook(id).await.unwrap().unwrap();
    store.ban_user(hook.bot.id, 2, 0).await.unwrap();
    assert!(store.webhook_to_post(id, b"right").await.unwrap().is_none());
    store.unban_user(hook.bot.id).await.unwrap();
    store.ban_user(alice.id, 3, 0).await.unwrap();
    assert!(store.webhook_to_post(id, b"right").await.unwrap().is_none());
}

async fn a_room_holds_at_most_the_webhook_cap(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let r = room_of(&store, "builds", &alice).await;
    let other = room_of(&store, "other", &alice).await;
    for i in 0..MAX_WEBHOOKS {
        let made = webhook(&store, &r, &alice, &format!("bot{i}"), b"s").await;
        assert!(made.unwrap().is_some());
    }
    assert_eq!(
        webhook(&store, &r, &alice, "extra", b"s").await.unwrap(),
        None
    );
    assert!(
        store
            .find_user_by_name(&name("extra"))
            .await
            .unwrap()
            .is_none(),
        "no bot made"
    );
    assert!(
        webhook(&store, &other, &alice, "extra", b"s")
            .await
            .unwrap()
            .is_some()
    );
    let listed = store.webhooks_of(&r).await.unwrap();
    assert_eq!(listed.len() as i64, MAX_WEBHOOKS);
    assert!(listed.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
}

async fn a_revoked_webhook_keeps_its_bot_and_its_messages(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let r = room_of(&store, "builds", &alice).await;
    let id = webhook(&store, &r, &alice, "ci", b"s")
        .await
        .unwrap()
        .unwrap();
    let bot = store.find_webhook(id).await.unwrap().unwrap().bot;
    assert!(store.delete_webhook(id).await.unwrap());
    assert!(!store.delete_webhook(id).await.unwrap());
    assert!(store.find_webhook(id).await.unwrap().is_none());
    assert!(store.webhook_to_post(id, b"s").await.unwrap().is_none());
    assert!(store.webhooks_of(&r).await.unwrap().is_empty());
    assert_eq!(store.find_user(bot.id).await.unwrap(), Some(bot));
    assert!(matches!(
        store.create_account(&name("ci"), "hash", 8).await,
        Err(StoreError::NameTaken)
    ));
}
