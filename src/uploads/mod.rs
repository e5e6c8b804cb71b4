//! Files and images (issue #11): what a message carries besides its text.
//!
//! - `sniff`: a file's type, read from its first bytes (never from its
//!   name or the client's `Content-Type`);
//! - `picture`: an image's dimensions and thumbnail, decoded under limits,
//!   so a decompression bomb is never decoded;
//! - `storage`: where the bytes live, behind the `FileStore` trait (the
//!   local directory today; the rows that say what they are live in the
//!   database, `store/uploads.rs`);
//! - `sweep`: removes the files of deleted messages and of uploads that
//!   never became one.
//!
//! The HTTP side (`POST /api/rooms/{room}/uploads`, `GET /files/{id}`) is
//! `http/files.rs`.

pub mod picture;
pub mod sniff;
pub mod storage;
pub mod sweep;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};

use storage::{FileStore, LocalFiles};

/// A file attached to a message, as every client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Random; the file is at `/files/{id}`.
    pub id: String,
    /// The name the uploader gave it (cleaned, `FileName`).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Read from the content (`sniff`).
    #[serde(rename = "type")]
    pub mime: String,
    /// Pixels, only for an image shown inline: it then has a thumbnail at
    /// `/files/{id}/thumb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

impl Attachment {
    /// Whether the page shows it inline (and `/files/{id}` serves it so).
    pub fn inline(&self) -> bool {
        self.width.is_some() && self.height.is_some()
    }
}

/// A file's id: 128 random bits in base64url, its name in the file store
/// and in its URL. Never derived from what the uploader sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(String);

/// Characters in an id: 16 bytes in base64url without padding.
const FILE_ID_CHARS: usize = 22;

impl FileId {
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An id from a URL or the store; `None` if it cannot be one.
    pub fn parse(raw: &str) -> Option<Self> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        (raw.len() == FILE_ID_CHARS && raw.chars().all(allowed)).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The most characters of a file name that are kept.
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// A file's name as shown and offered for download: the last part of what
/// the client sent (no directories), without control or direction-changing
/// characters, trimmed, at most `MAX_FILE_NAME_CHARS`; "file" if nothing is
/// left. It is never used as a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(raw: Option<&str>) -> Self {
        let raw = raw.unwrap_or_default();
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let hidden = |c: char| {
            c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        };
        let clean: String = last.chars().filter(|c| !hidden(*c)).collect();
        let name: String = clean.trim().chars().take(MAX_FILE_NAME_CHARS).collect();
        let name = name.trim_end().to_owned();
        if name.is_empty() {
            Self("file".to_owned())
        } else {
            Self(name)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Content-Disposition` for a file: `inline` or `attachment`, with its name
/// for the browser's download (RFC 6266: an ASCII `filename` for old
/// clients and the exact name, percent-encoded, as `filename*`).
pub fn content_disposition(inline: bool, name: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c == ' ' || (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%')) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(name)
    )
}

/// RFC 5987 `value-chars`: `attr-char`s as they are, every other byte of
/// the UTF-8 as `%XX`.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The upload settings (`--files-dir` and the limits).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the local file store keeps the files.
    pub dir: PathBuf,
    /// Largest file, in bytes.
    pub max_file_bytes: u64,
    /// Most files in one upload (one message).
    pub files_per_message: usize,
    /// Most files one user may upload in an hour.
    pub per_hour: u32,
    /// Largest image decoded for its thumbnail, in pixels; a bigger one is
    /// kept as a plain file.
    pub max_image_pixels: u64,
    /// How long one upload may take, received and processed.
    pub timeout: Duration,
}

impl Settings {
    /// The largest request body an upload may have: its files at their
    /// largest, with room for each part's headers and the text.
    pub fn max_body_bytes(&self) -> usize {
        let files = u64::try_from(self.files_per_message).unwrap_or(u64::MAX);
        let bytes = files
            .saturating_mul(self.max_file_bytes.saturating_add(PART_OVERHEAD))
            .saturating_add(FORM_OVERHEAD);
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }

    /// How long an upload's rows may wait for their message before the
    /// sweep takes them for abandoned: well past the longest upload.
    pub fn abandoned_after(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(60)
    }
}

/// Room for one part's boundary and headers.
const PART_OVERHEAD: u64 = 16 * 1024;
/// Room for the text and client id parts.
const FORM_OVERHEAD: u64 = 64 * 1024;

/// The upload service the handlers share: the file store, the limits,
/// one image decoded at a time, and the sweep's wake-up.
pub struct Uploads {
    pub settings: Settings,
    pub files: Arc<dyn FileStore>,
    /// Decoding an image takes memory in proportion to its pixels (up to
    /// `max_image_pixels` × 4 bytes, and more for 16-bit images): one at a
    /// time, so uploads at once cannot add that up.
    pub decoding: Arc<Semaphore>,
    /// Uploads being received at once (`MAX_IN_FLIGHT`): multer buffers a
    /// part's headers until they end, up to the body limit, so what many
    /// uploads at once could hold in memory is bounded here.
    pub in_flight: Arc<Semaphore>,
    sweep: Notify,
}

/// Uploads received at once, server-wide; one more is refused with
/// `overloaded` (try again) rather than queued.
pub const MAX_IN_FLIGHT: usize = 16;

impl Uploads {
    /// The service on the local file store in `settings.dir` (created,
    /// private to the server's user).
    pub fn open(settings: Settings) -> std::io::Result<Self> {
        let files = Arc::new(LocalFiles::open(&settings.dir)?);
        Ok(Self::with_store(settings, files))
    }

    pub fn with_store(settings: Settings, files: Arc<dyn FileStore>) -> Self {
        Self {
            settings,
            files,
            decoding: Arc::new(Semaphore::new(1)),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            sweep: Notify::new(),
        }
    }

    /// Asks the sweep to run now (a message was deleted): its files go at
    /// once rather than at the next round.
    pub fn sweep_soon(&self) {
        self.sweep.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_loses_its_directories_and_hidden_characters() {
        let name = |raw| FileName::parse(Some(raw)).as_str().to_owned();
        assert_eq!(name("../../etc/passwd"), "passwd");
        assert_eq!(name("C:\\Users\\me\\photo.png"), "photo.png");
        assert_eq!(name("  report\u{202E}fdp.exe "), "reportfdp.exe");
        assert_eq!(name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(name("dir/"), "file");
        assert_eq!(FileName::parse(None).as_str(), "file");
        assert_eq!(name(&"é".repeat(300)).chars().count(), MAX_FILE_NAME_CHARS);
    }

    #[test]
    fn a_file_id_is_22_url_safe_characters_and_nothing_else_parses() {
        let id = FileId::random();
        assert_eq!(id.as_str().len(), 22);
        assert_eq!(FileId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(FileId::random(), id);
        assert!(FileId::parse("../../../../etc/passwd").is_none());
        assert!(FileId::parse("abcdefghijklmnopqrstu.").is_none());
        assert!(FileId::parse("short").is_none());
    }

    #[test]
    fn the_disposition_names_the_file_exactly_and_safely() {
        assert_eq!(
            content_disposition(false, "my \"report\".pdf"),
            "attachment; filename=\"my _report_.pdf\"; filename*=UTF-8''my%20%22report%22.pdf"
        );
        assert_eq!(
            content_disposition(true, "café.png"),
            "inline; filename=\"caf_.png\"; filename*=UTF-8''caf%C3%A9.png"
        );
        let header = content_disposition(false, "a\r\nSet-Cookie: x");
        assert!(!header.contains('\r') && !header.contains('\n'));
    }

    #[test]
    fn only_an_image_with_dimensions_shows_inline() {
        let mut file = Attachment {
            id: FileId::random().as_str().to_owned(),
            name: "a.png".into(),
            size: 1,
            mime: "image/png".into(),
            width: None,
            height: None,
        };
        assert!(!file.inline());
        file.width = Some(2);
        file.height = Some(3);
        assert!(file.inline());
        let json = serde_json::to_value(&file).unwrap_or_default();
        assert_eq!(json["type"], "image/png");
    }
}
