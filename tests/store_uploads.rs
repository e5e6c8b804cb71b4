//! The store's files and images (issue #11), on every backend: rows made
//! before the files are stored, attached with their message, read with
//! history, handed to the sweep when the message goes.
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use banter::limits::Limits;
use banter::messages::{MessageText, Page};
use banter::rooms::RoomName;
use banter::store::uploads::{COUNTED_FOR_MS, DueFile, Reservation};
use banter::store::{Inserted, NewMessage, Store};
use banter::uploads::storage::{FileStore, LocalFiles, Staged, Variant};
use banter::uploads::{Attachment, FileId, Settings, Uploads};
use banter::users::{User, Username};
use support::TestDb;
use tokio::io::AsyncWriteExt;

const NOW: i64 = 1_000_000_000;

async fn account(store: &Arc<dyn Store>, name: &str) -> User {
    let name = Username::parse(name, &Limits::default()).unwrap();
    store.create_account(&name, "hash", 0).await.unwrap().user
}

fn general() -> RoomName {
    RoomName::parse("general", &Limits::default()).unwrap()
}

fn file(name: &str, width: Option<u32>) -> Attachment {
    Attachment {
        id: FileId::random().as_str().to_owned(),
        name: name.to_owned(),
        size: 42,
        mime: if width.is_some() {
            "image/png"
        } else {
            "text/plain"
        }
        .to_owned(),
        width,
        height: width.map(|w| w / 2),
    }
}

async fn reserve(store: &Arc<dyn Store>, user: &User, files: &[Attachment], at: i64) {
    let rows: Vec<Reservation> = files
        .iter()
        .map(|attachment| Reservation {
            attachment: attachment.clone(),
            uploader: user.id,
            thumb: attachment.width.map(|_| "image/jpeg".to_owned()),
            now: at,
            remove_after: at + 600_000,
        })
        .collect();
    store.reserve_attachments(&rows).await.unwrap();
}

async fn send_with(store: &Arc<dyn Store>, user: &User, files: Vec<Attachment>) -> Inserted {
    let new = NewMessage {
        text: MessageText::none(),
        ts: NOW,
        attachments: files,
        ..support::new_message(&general(), user, "x")
    };
    store.insert_message(new).await.unwrap()
}

fn new_id(inserted: &Inserted) -> i64 {
    match inserted {
        Inserted::New { message, .. } => message.id,
        other => panic!("not stored: {other:?}"),
    }
}

fn due_ids(due: &[DueFile]) -> Vec<String> {
    due.iter().map(|d| d.id.clone()).collect()
}

async fn reserved_files_are_attached_to_their_message_in_order_and_read_with_history(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let files = vec![file("b.png", Some(640)), file("a.txt", None)];
    reserve(&store, &alice, &files, NOW).await;
    let inserted = send_with(&store, &alice, files.clone()).await;
    let Inserted::New { message, .. } = &inserted else {
        panic!("not stored: {inserted:?}");
    };
    assert_eq!(message.attachments, files);
    assert_eq!(message.text, "");
    let history = store.messages(&general(), Page::latest(10)).await.unwrap();
    assert_eq!(history.last().unwrap().attachments, files);
    let found = store.find_message(message.id).await.unwrap().unwrap();
    assert_eq!(found.attachments, files);
    let stored = store.find_attachment(&files[0].id).await.unwrap().unwrap();
    assert_eq!(stored.room, "general");
    assert_eq!(stored.attachment, files[0]);
    assert_eq!(stored.thumb.as_deref(), Some("image/jpeg"));
    assert_eq!(
        store
            .find_attachment(&files[1].id)
            .await
            .unwrap()
            .unwrap()
            .thumb,
        None
    );
    // Attached rows are nobody's to sweep.
    assert!(
        store
            .due_attachments(NOW + 3_600_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_message_without_files_has_none_and_costs_no_file_rows(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let id = new_id(&send_with(&store, &alice, Vec::new()).await);
    let found = store.find_message(id).await.unwrap().unwrap();
    assert!(found.attachments.is_empty());
    assert!(
        store
            .find_attachment(FileId::random().as_str())
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_file_reserved_by_someone_else_or_attached_already_is_not_attached(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let mallory = account(&store, "mallory").await;
    let theirs = file("secret.txt", None);
    reserve(&store, &alice, std::slice::from_ref(&theirs), NOW).await;
    let stolen = send_with(&store, &mallory, vec![theirs.clone()]).await;
    let Inserted::New { message, .. } = stolen else {
        panic!("not stored");
    };
    assert!(message.attachments.is_empty());
    assert!(store.find_attachment(&theirs.id).await.unwrap().is_none());
    let first = new_id(&send_with(&store, &alice, vec![theirs.clone()]).await);
    let again = send_with(&store, &alice, vec![theirs.clone()]).await;
    let Inserted::New { message: again, .. } = again else {
        panic!("not stored");
    };
    assert!(again.attachments.is_empty());
    let found = store.find_attachment(&theirs.id).await.unwrap().unwrap();
    assert_eq!(found.room, "general");
    assert_eq!(
        store
            .find_message(first)
            .await
            .unwrap()
            .unwrap()
            .attachments,
        vec![theirs]
    );
}

async fn the_hourly_count_reads_the_newest_uploads_first_up_to_the_limit(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let bob = account(&store, "bob").await;
    for (i, at) in [NOW, NOW + 10, NOW + 20].into_iter().enumerate() {
        reserve(&store, &alice, &[file(&format!("{i}.txt"), None)], at).await;
    }
    reserve(&store, &bob, &[file("bob.txt", None)], NOW + 30).await;
    let since = store.uploads_since(alice.id, NOW - 1, 10).await.unwrap();
    assert_eq!(since, vec![NOW + 20, NOW + 10, NOW]);
    assert_eq!(
        store.uploads_since(alice.id, NOW, 10).await.unwrap(),
        vec![NOW + 20, NOW + 10]
    );
    assert_eq!(
        store.uploads_since(alice.id, NOW - 1, 2).await.unwrap(),
        vec![NOW + 20, NOW + 10]
    );
}

async fn a_waiting_file_is_due_after_its_time_or_once_released(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let (waiting, refused) = (file("w.txt", None), file("r.png", Some(10)));
    reserve(&store, &alice, &[waiting.clone(), refused.clone()], NOW).await;
    assert!(store.due_attachments(NOW + 1, 10).await.unwrap().is_empty());
    store
        .release_attachments(std::slice::from_ref(&refused.id), NOW + 1)
        .await
        .unwrap();
    let due = store.due_attachments(NOW + 1, 10).await.unwrap();
    assert_eq!(
        due,
        vec![DueFile {
            id: refused.id.clone(),
            thumb: true
        }]
    );
    let later = store.due_attachments(NOW + 600_000, 10).await.unwrap();
    assert_eq!(
        due_ids(&later),
        vec![refused.id.clone(), waiting.id.clone()]
    );
    assert_eq!(
        store.due_attachments(NOW + 600_000, 1).await.unwrap().len(),
        1
    );
}

async fn a_deleted_message_hands_its_files_to_the_sweep(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let files = vec![file("a.png", Some(8))];
    reserve(&store, &alice, &files, NOW).await;
    let id = new_id(&send_with(&store, &alice, files.clone()).await);
    assert!(store.delete_message(id, NOW + 5).await.unwrap());
    assert!(store.find_attachment(&files[0].id).await.unwrap().is_none());
    let due = store.due_attachments(NOW + 5, 10).await.unwrap();
    assert_eq!(due_ids(&due), vec![files[0].id.clone()]);
    store.attachments_removed(&due_ids(&due)).await.unwrap();
    assert!(store.due_attachments(NOW + 5, 10).await.unwrap().is_empty());
    // The row still counts for the hour of its upload, then goes.
    assert_eq!(
        store
            .uploads_since(alice.id, NOW - 1, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .forget_attachments(NOW + COUNTED_FOR_MS - 1, 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .forget_attachments(NOW + COUNTED_FOR_MS, 10)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .uploads_since(alice.id, NOW - 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_message_removed_by_retention_hands_its_files_to_the_sweep(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let files = vec![file("old.txt", None)];
    reserve(&store, &alice, &files, NOW).await;
    let id = new_id(&send_with(&store, &alice, files.clone()).await);
    let (pool, _) = store.sweeps();
    let deleted = pool
        .execute_one("DELETE FROM messages WHERE id = $1", &[id])
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let wall_clock_now = banter::clock::now_ms() + 1000;
    let due = store.due_attachments(wall_clock_now, 10).await.unwrap();
    assert_eq!(due_ids(&due), vec![files[0].id.clone()]);
}

async fn the_sweep_removes_the_files_of_a_deleted_message_from_the_file_store(db: TestDb) {
    let store = db.open().await;
    let alice = account(&store, "alice").await;
    let dir = tempfile::tempdir().unwrap();
    let files: Arc<dyn FileStore> = Arc::new(LocalFiles::open(dir.path()).unwrap());
    let settings = Settings {
        dir: dir.path().to_path_buf(),
        max_file_bytes: 1024,
        files_per_message: 2,
        per_hour: 10,
        max_image_pixels: 1000,
        timeout: Duration::from_secs(5),
    };
    let uploads = Uploads::with_store(settings, files.clone());
    let (kept, gone) = (file("kept.txt", None), file("gone.png", Some(4)));
    for (f, variants) in [
        (&kept, &[Variant::Original][..]),
        (&gone, &[Variant::Original, Variant::Thumb][..]),
    ] {
        let id = FileId::parse(&f.id).unwrap();
        for variant in variants {
            let (staged, mut out) = Staged::create(files.staging()).await.unwrap();
            out.write_all(b"bytes").await.unwrap();
            out.flush().await.unwrap();
            files.put(&id, *variant, staged).await.unwrap();
        }
    }
    reserve(&store, &alice, &[kept.clone(), gone.clone()], NOW).await;
    new_id(&send_with(&store, &alice, vec![kept.clone()]).await);
    let doomed = new_id(&send_with(&store, &alice, vec![gone.clone()]).await);
    store.delete_message(doomed, NOW + 1).await.unwrap();
    let removed = banter::uploads::sweep::sweep(&uploads, store.as_ref(), NOW + 1)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let id = |f: &Attachment| FileId::parse(&f.id).unwrap();
    assert!(
        files
            .get(&id(&gone), Variant::Original)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        files
            .get(&id(&gone), Variant::Thumb)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        files
            .get(&id(&kept), Variant::Original)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        banter::uploads::sweep::sweep(&uploads, store.as_ref(), NOW + 2)
            .await
            .unwrap(),
        0
    );
}

on_every_backend![
    reserved_files_are_attached_to_their_message_in_order_and_read_with_history,
    a_message_without_files_has_none_and_costs_no_file_rows,
    a_file_reserved_by_someone_else_or_attached_already_is_not_attached,
    the_hourly_count_reads_the_newest_uploads_first_up_to_the_limit,
    a_waiting_file_is_due_after_its_time_or_once_released,
    a_deleted_message_hands_its_files_to_the_sweep,
    a_message_removed_by_retention_hands_its_files_to_the_sweep,
    the_sweep_removes_the_files_of_a_deleted_message_from_the_file_store,
];
