//! Files and images over HTTP (issue #11): `POST /api/rooms/{room}/uploads`
//! makes a message with files, and `GET /files/{id}` (and its thumbnail,
//! `/files/{id}/thumb`) serves one to whoever may read its room.
//!
//! An upload is checked before its body is read (membership, mute, rate
//! and the hourly count), then streamed part by part to staging files,
//! each refused as soon as it passes the size limit; its type is read from
//! its first bytes, images are decoded for their size and thumbnail off
//! the async threads, one at a time. Then its rows are made, its files
//! stored, and the message goes the way every `send` goes (the sequencer:
//! stored, then broadcast as the room's `message` event, then answered).
//! A refused upload reads the rest of its body (within the limits) before
//! it answers, so the client hears why rather than a reset connection.
//!
//! Files are served inertly: the type read from the content, `nosniff`, a
//! CSP that sandboxes them and allows nothing, and `attachment` (a
//! download) for everything but the images that decoded.

use std::io::BufReader;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::extract::Authenticated;
use crate::app::{AppState, Core};
use crate::auth::{AuthError, token_from_headers};
use crate::clock::now_ms;
use crate::error::{Code, Failure};
use crate::mentions::Mentions;
use crate::messages::{ClientId, MAX_CLIENT_ID_CHARS, MessageText};
use crate::ratelimit::Key;
use crate::rooms::RoomName;
use crate::store::uploads::{COUNTED_FOR_MS, Reservation};
use crate::store::{Inserted, NewMessage};
use crate::uploads::picture::{self, Picture};
use crate::uploads::sniff::{SNIFF_BYTES, Sniffed, sniff};
use crate::uploads::storage::{Staged, Variant};
use crate::uploads::{Attachment, FileId, FileName, content_disposition};
use crate::users::User;

/// The policy every file is served with: nothing may load, nothing runs,
/// and it may not be framed.
pub const FILE_CSP: &str = "default-src 'none'; sandbox; frame-ancestors 'none'";

/// `POST /api/rooms/{room}/uploads` (multipart: `file` parts, optional
/// `text` and `client_id`): 201 `{message, duplicate: false}`, or 200 with
/// the message stored before under that `client_id`.
pub async fn upload(
    State(state): State<AppState>,
    auth: Result<Authenticated, Failure>,
    Path(room): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let core = &state.core;
    let Ok(mut multipart) = multipart else {
        return Err(Failure::new(
            Code::UnsupportedMediaType,
            "an upload must be multipart/form-data",
        ));
    };
    let work = async {
        let result = match auth {
            Ok(auth) => receive_and_send(core, &auth.identity.user, &room, &mut multipart).await,
            Err(failure) => Err(failure),
        };
        if let Err(failure) = &result {
            tracing::debug!(code = ?failure.code, why = %failure.message, "upload refused");
            drain(&mut multipart).await;
        }
        result
    };
    tokio::time::timeout(core.uploads.settings.timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(Failure::new(
                Code::RequestTimeout,
                "the upload took too long",
            ))
        })
}

async fn receive_and_send(
    core: &Core,
    user: &User,
    room: &str,
    multipart: &mut Multipart,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let room = RoomName::parse(room, &core.limits)?;
    admit(core, &room, user).await?;
    let _receiving = core
        .uploads
        .in_flight
        .clone()
        .try_acquire_owned()
        .map_err(|_| Failure {
            retry_after_ms: Some(1000),
            ..Failure::new(
                Code::Overloaded,
                "too many uploads at once; try again in a moment",
            )
        })?;
    let form = receive(core, multipart).await?;
    let (text, client_id) = form.message_fields(core)?;
    within_count(core, user, form.files.len()).await?;
    let mut prepared = Vec::with_capacity(form.files.len());
    for file in form.files {
        prepared.push(prepare(core, file).await?);
    }
    let attachments = keep(core, user, prepared).await?;
    let new = NewMessage {
        room: room.clone(),
        author: user.clone(),
        mentions: Mentions::parse(&text, &core.limits),
        text,
        client_id,
        ts: now_ms(),
        reply_to: None,
        attachments,
    };
    send(core, new).await
}

/// Who may upload here, checked before the body is read: a member of the
/// room (a room that is not public is `room_not_found` to anyone else, as
/// everywhere), not muted in it, within the `send` rate and the hourly
/// count.
async fn admit(core: &Core, room: &RoomName, user: &User) -> Result<(), Failure> {
    crate::realtime::visible_room(core, room, user.id).await?;
    if !core.store.is_member(room, user.id).await? {
        return Err(Failure::new(Code::NotInRoom, format!("join {room} first")));
    }
    let now = now_ms();
    if let Some(until) = core.store.muted_until(room, user.id, now).await? {
        return Err(muted(room, until - now));
    }
    core.limiter
        .check(Key::Send(user.id))
        .await
        .map_err(Failure::rate_limited)?;
    within_count(core, user, 1).await
}

fn muted(room: &RoomName, left_ms: i64) -> Failure {
    Failure {
        retry_after_ms: Some(u64::try_from(left_ms).unwrap_or(0)),
        ..Failure::new(Code::Muted, format!("you are muted in {room}"))
    }
}

/// `rate_limited` if `files` more would pass the user's hourly count, with
/// the wait until enough of the last hour's have aged out. Read from the
/// store, so every node counts the same.
async fn within_count(core: &Core, user: &User, files: usize) -> Result<(), Failure> {
    let per_hour = core.uploads.settings.per_hour as usize;
    if files > per_hour {
        return Err(Failure::new(
            Code::TooManyFiles,
            format!("at most {per_hour} files an hour"),
        ));
    }
    let now = now_ms();
    let limit = i64::try_from(per_hour).unwrap_or(i64::MAX);
    let recent = core
        .store
        .uploads_since(user.id, now - COUNTED_FOR_MS, limit)
        .await?;
    if recent.len() + files <= per_hour {
        return Ok(());
    }
    // Newest first: enough are free once this one is an hour old.
    let freeing = recent.get(per_hour - files).copied().unwrap_or(now);
    let wait_ms = (freeing + COUNTED_FOR_MS - now).max(1);
    Err(Failure {
        message: format!("at most {per_hour} files an hour; try again later"),
        ..Failure::rate_limited(std::time::Duration::from_millis(
            u64::try_from(wait_ms).unwrap_or(1),
        ))
    })
}

/// One file as it arrived: staged, measured and sniffed.
struct Incoming {
    staged: Staged,
    name: FileName,
    size: u64,
    sniffed: Sniffed,
}

/// What the form held.
struct Form {
    files: Vec<Incoming>,
    text: Option<String>,
    client_id: Option<String>,
}

impl Form {
    /// The message's text (none is fine: the files are the message) and
    /// client id, by the rules of `send`.
    fn message_fields(&self, core: &Core) -> Result<(MessageText, Option<ClientId>), Failure> {
        if self.files.is_empty() {
            return Err(Failure::new(
                Code::InvalidPayload,
                "an upload needs at least one file part",
            ));
        }
        let text = match self.text.as_deref() {
            Some(text) if !text.trim().is_empty() => MessageText::parse(text, &core.limits)?,
            _ => MessageText::none(),
        };
        let client_id = self.client_id.as_deref().map(ClientId::parse).transpose()?;
        Ok((text, client_id))
    }
}

/// Reads the form, staging each file as it streams in.
async fn receive(core: &Core, multipart: &mut Multipart) -> Result<Form, Failure> {
    let mut form = Form {
        files: Vec::new(),
        text: None,
        client_id: None,
    };
    let max_text = core.limits.max_message_chars.saturating_mul(4) + 1024;
    while let Some(field) = multipart.next_field().await.map_err(multipart_failure)? {
        match field.name() {
            Some("file") => {
                if form.files.len() == core.uploads.settings.files_per_message {
                    return Err(too_many_files(core));
                }
                form.files.push(receive_file(core, field).await?);
            }
            Some("text") if form.text.is_none() => {
                let too_long = Failure::new(Code::InvalidText, "the text is too long");
                form.text = Some(small_part(field, max_text, too_long).await?);
            }
            Some("client_id") if form.client_id.is_none() => {
                let bad = Failure::new(Code::InvalidClientId, "invalid client_id");
                form.client_id = Some(small_part(field, MAX_CLIENT_ID_CHARS + 1, bad).await?);
            }
            other => {
                return Err(Failure::new(
                    Code::InvalidPayload,
                    format!(
                        "unexpected part {:?}: an upload takes file, text and client_id",
                        other.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    Ok(form)
}

fn too_many_files(core: &Core) -> Failure {
    let most = core.uploads.settings.files_per_message;
    Failure::new(
        Code::TooManyFiles,
        format!("at most {most} files in one upload"),
    )
}

/// Streams one file part to a staging file: `file_too_large` as soon as it
/// passes the limit, never buffered whole.
async fn receive_file(core: &Core, mut field: Field<'_>) -> Result<Incoming, Failure> {
    let max = core.uploads.settings.max_file_bytes;
    let name = FileName::parse(field.file_name());
    let (staged, mut file) = Staged::create(core.uploads.files.staging())
        .await
        .map_err(|err| Failure::internal(&err))?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_failure)? {
        size += chunk.len() as u64;
        if size > max {
            return Err(Failure::new(
                Code::FileTooLarge,
                format!("{} is larger than {max} bytes", name.as_str()),
            ));
        }
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        file.write_all(&chunk)
            .await
            .map_err(|err| Failure::internal(&err))?;
    }
    file.flush().await.map_err(|err| Failure::internal(&err))?;
    Ok(Incoming {
        staged,
        name,
        size,
        sniffed: sniff(&head),
    })
}

/// A text part of at most `max` bytes, else `too_long`.
async fn small_part(
    mut field: Field<'_>,
    max: usize,
    too_long: Failure,
) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_failure)? {
        if bytes.len() + chunk.len() > max {
            return Err(too_long);
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(Code::InvalidPayload, "a text part must be UTF-8"))
}

fn multipart_failure(err: axum::extract::multipart::MultipartError) -> Failure {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Failure::new(Code::PayloadTooLarge, "the upload is too large")
    } else {
        Failure::new(
            Code::InvalidPayload,
            format!("the upload could not be read: {}", err.body_text()),
        )
    }
}

/// Reads and drops what is left of a refused upload's body (bounded by the
/// body limit and the upload's timeout), so the client is still reading
/// when the answer comes.
async fn drain(multipart: &mut Multipart) {
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

/// A file ready to be kept: its attachment and, for an image that
/// decoded, its thumbnail.
struct Prepared {
    attachment: Attachment,
    staged: Staged,
    thumb: Option<(Staged, &'static str)>,
}

/// Decodes an image (when its first bytes say it is one the page shows)
/// for its size and thumbnail; anything else, or an image that does not
/// decode within the limits, is a plain file.
async fn prepare(core: &Core, file: Incoming) -> Result<Prepared, Failure> {
    let Incoming {
        staged,
        name,
        size,
        sniffed,
    } = file;
    let mut attachment = Attachment {
        id: FileId::random().as_str().to_owned(),
        name: name.as_str().to_owned(),
        size,
        mime: sniffed.mime.to_owned(),
        width: None,
        height: None,
    };
    let mut thumb = None;
    if let Some(raster) = sniffed.raster
        && let Some(picture) = decode(core, &staged, raster).await
    {
        attachment.width = Some(picture.width);
        attachment.height = Some(picture.height);
        let (thumb_file, mut out) = Staged::create(core.uploads.files.staging())
            .await
            .map_err(|err| Failure::internal(&err))?;
        out.write_all(&picture.thumb)
            .await
            .map_err(|err| Failure::internal(&err))?;
        out.flush().await.map_err(|err| Failure::internal(&err))?;
        thumb = Some((thumb_file, picture.thumb_type));
    }
    Ok(Prepared {
        attachment,
        staged,
        thumb,
    })
}

/// The image's picture, decoded on a blocking thread, one at a time.
async fn decode(
    core: &Core,
    staged: &Staged,
    raster: crate::uploads::sniff::Raster,
) -> Option<Picture> {
    let permit = core.uploads.decoding.clone().acquire_owned().await.ok()?;
    let path = staged.path().to_path_buf();
    let max_pixels = core.uploads.settings.max_image_pixels;
    let decoded = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let file = std::fs::File::open(path).map_err(|err| err.to_string())?;
        picture::inspect(BufReader::new(file), raster, max_pixels).map_err(|err| err.to_string())
    })
    .await;
    match decoded {
        Ok(Ok(picture)) => Some(picture),
        Ok(Err(why)) => {
            tracing::info!(%why, "an uploaded image is kept as a plain file");
            None
        }
        Err(err) => {
            tracing::warn!(%err, "decoding an uploaded image failed");
            None
        }
    }
}

/// Makes the files' rows, then stores the files: a crash in between leaves
/// rows the sweep finds, never a file nobody knows of.
async fn keep(
    core: &Core,
    user: &User,
    prepared: Vec<Prepared>,
) -> Result<Vec<Attachment>, Failure> {
    let now = now_ms();
    let wait = core.uploads.settings.abandoned_after();
    let remove_after = now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
    let rows: Vec<Reservation> = prepared
        .iter()
        .map(|file| Reservation {
            attachment: file.attachment.clone(),
            uploader: user.id,
            thumb: file.thumb.as_ref().map(|(_, mime)| (*mime).to_owned()),
            now,
            remove_after,
        })
        .collect();
    core.store.reserve_attachments(&rows).await?;
    let ids: Vec<String> = rows.iter().map(|row| row.attachment.id.clone()).collect();
    let mut attachments = Vec::with_capacity(prepared.len());
    for file in prepared {
        if let Err(err) = store_files(core, &file.attachment.id, file.staged, file.thumb).await {
            release(core, &ids).await;
            return Err(Failure::internal(&err));
        }
        attachments.push(file.attachment);
    }
    Ok(attachments)
}

async fn store_files(
    core: &Core,
    id: &str,
    staged: Staged,
    thumb: Option<(Staged, &'static str)>,
) -> std::io::Result<()> {
    let id = FileId::parse(id).ok_or_else(|| std::io::Error::other("not a file id"))?;
    let files = &core.uploads.files;
    files.put(&id, Variant::Original, staged).await?;
    if let Some((thumb, _)) = thumb {
        files.put(&id, Variant::Thumb, thumb).await?;
    }
    Ok(())
}

/// Hands an upload's rows to the sweep now (no message took them).
async fn release(core: &Core, ids: &[String]) {
    if let Err(err) = core.store.release_attachments(ids, now_ms()).await {
        tracing::warn!(%err, "cannot release the files of a refused upload");
    }
    core.uploads.sweep_soon();
}

/// The message, through the same path as `send`: stored, broadcast, then
/// answered.
async fn send(core: &Core, new: NewMessage) -> Result<(StatusCode, Json<Value>), Failure> {
    let ids: Vec<String> = new.attachments.iter().map(|a| a.id.clone()).collect();
    let room = new.room.clone();
    let sent = core.sequencer.send(new).await;
    let earlier = match sent {
        Ok(Inserted::New { message, .. }) => {
            let body = json!({ "message": message, "duplicate": false });
            return Ok((StatusCode::CREATED, Json(body)));
        }
        Ok(Inserted::Duplicate(message)) => Ok(message),
        Ok(Inserted::Muted { until }) => Err(muted(&room, until - now_ms())),
        Err(err) => Err(Failure::from(err)),
    };
    // Nothing took this upload's files.
    release(core, &ids).await;
    let message = earlier?;
    let message = core
        .store
        .find_message(message.id)
        .await?
        .unwrap_or(message);
    Ok((
        StatusCode::OK,
        Json(json!({ "message": message, "duplicate": true })),
    ))
}

/// `GET /files/{id}`: the file, to whoever may read its room.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    serve(&state.core, &headers, &id, Variant::Original).await
}

/// `GET /files/{id}/thumb`: an image's thumbnail, on the same terms.
pub async fn thumb(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    serve(&state.core, &headers, &id, Variant::Thumb).await
}

fn no_such_file() -> Failure {
    Failure::new(Code::NotFound, "no such file")
}

/// The file or thumbnail `id`, if the caller may read its room; 404 in
/// every other case (no session, no such file, a deleted message, a room
/// the caller cannot read), so nobody learns which.
async fn serve(
    core: &Core,
    headers: &HeaderMap,
    id: &str,
    variant: Variant,
) -> Result<Response, Failure> {
    let id = FileId::parse(id).ok_or_else(no_such_file)?;
    let token = token_from_headers(headers).ok_or_else(no_such_file)?;
    let identity = match core.auth.authenticate(&token).await {
        Ok(identity) => identity,
        Err(AuthError::Store(err)) => return Err(err.into()),
        Err(_) => return Err(no_such_file()),
    };
    let found = core
        .store
        .find_attachment(id.as_str())
        .await?
        .ok_or_else(no_such_file)?;
    let room = RoomName::parse(&found.room, &core.limits).map_err(|_| no_such_file())?;
    match crate::realtime::visible_room(core, &room, identity.user.id).await {
        Ok(_) => {}
        Err(failure) if failure.code == Code::RoomNotFound => return Err(no_such_file()),
        Err(failure) => return Err(failure),
    }
    let file = &found.attachment;
    let (mime, inline) = match variant {
        Variant::Original => (file.mime.as_str(), file.inline()),
        Variant::Thumb => (found.thumb.as_deref().ok_or_else(no_such_file)?, true),
    };
    let etag = format!("\"{}\"", id.as_str());
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let opened = core
            .uploads
            .files
            .get(&id, variant)
            .await
            .map_err(|err| Failure::internal(&err))?
            .ok_or_else(no_such_file)?;
        let mut response = Body::from_stream(ReaderStream::new(opened.body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(opened.len));
        response
    };
    file_headers(response.headers_mut(), mime, inline, &file.name, &etag);
    Ok(response)
}

/// What makes a file inert wherever it is opened.
fn file_headers(headers: &mut HeaderMap, mime: &str, inline: bool, name: &str, etag: &str) {
    let value = |text: &str| HeaderValue::from_str(text).ok();
    let content_type = value(mime).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Some(disposition) = value(&content_disposition(inline, name)) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FILE_CSP),
    );
    // Private: only this browser may keep it, and it asks again (a 304 by
    // the ETag) each time, so someone who lost access to the room does not
    // get it from a cache.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Some(etag) = value(etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
