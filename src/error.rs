//! The one place where every error the server can report is turned into a
//! wire error: an error code and message, plus an HTTP status for the API.
//! Internal failures are logged here with their whole chain and reach the
//! client only as `internal`.

use axum::Json;
use std::fmt::Write as _;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::AuthError;
use crate::messages::{ClientIdError, MessageTextError, PageError};
use crate::reactions::EmojiError;
use crate::rooms::{RoomNameError, TopicError};
use crate::search::SearchError;
use crate::store::StoreError;
use crate::users::{PasswordError, UsernameError};

/// Every error code of the protocol (see `docs/protocol.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    InvalidPayload,
    InvalidJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    InvalidUsername,
    InvalidPassword,
    InvalidRoom,
    InvalidText,
    InvalidClientId,
    InvalidLimit,
    InvalidCursor,
    Unauthorized,
    InvalidCredentials,
    RateLimited,
    RequestTimeout,
    TooManyConnections,
    GuestsDisabled,
    Banned,
    Forbidden,
    ForbiddenOrigin,
    Muted,
    MessageNotFound,
    UserNotFound,
    NameTaken,
    RoomNotFound,
    NotInRoom,
    NotFound,
    UnknownEvent,
    Overloaded,
    Internal,
    // Message features (issue #10).
    InvalidEmoji,
    TooManyReactions,
    ReplyNotFound,
    // Rooms people belong to (issue #10).
    RoomExists,
    InvalidTopic,
    // Bots and integrations (issue #11).
    AccountRequired,
    TooManyTokens,
    TooManyWebhooks,
    InvalidTokenName,
    // Files and images (issue #11).
    FileTooLarge,
    TooManyFiles,
    // Search (issue #11).
    InvalidQuery,
}

impl Code {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        use Code::*;
        match self {
            InvalidPayload | InvalidJson | InvalidUsername | InvalidPassword | InvalidRoom
            | InvalidText | InvalidClientId | InvalidLimit | InvalidCursor | UnknownEvent
            | InvalidEmoji | InvalidTopic | InvalidTokenName | InvalidQuery => {
                StatusCode::BAD_REQUEST
            }
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge | FileTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            TooManyFiles => StatusCode::BAD_REQUEST,
            Unauthorized | InvalidCredentials => StatusCode::UNAUTHORIZED,
            GuestsDisabled | Banned | Forbidden | ForbiddenOrigin | Muted | NotInRoom
            | AccountRequired => StatusCode::FORBIDDEN,
            NameTaken | TooManyReactions | RoomExists | TooManyTokens | TooManyWebhooks => {
                StatusCode::CONFLICT
            }
            RoomNotFound | NotFound | MessageNotFound | UserNotFound | ReplyNotFound => {
                StatusCode::NOT_FOUND
            }
            Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            RateLimited | TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub code: Code,
    pub message: String,
    /// For `rate_limited`: how long to wait before trying again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A refusal by a rate limit, saying when to try again.
    pub fn rate_limited(wait: Duration) -> Self {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        Self {
            code: Code::RateLimited,
            message: format!(
                "too many requests; try again in {:.1} s",
                wait.as_secs_f64()
            ),
            retry_after_ms: Some(ms),
        }
    }

    /// An unexpected failure: the whole chain goes to the log, the client
    /// learns only that something went wrong.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(err), "internal error");
        Self::new(Code::Internal, "something went wrong on the server")
    }

    /// The acknowledgement payload for a Socket.IO event.
    pub fn to_ack(&self) -> Value {
        json!({ "ok": false, "error": self })
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (self.code.status(), Json(json!({ "error": self }))).into_response();
        if let Some(ms) = self.retry_after_ms {
            // Whole seconds, rounded up: HTTP has no finer unit.
            let secs = ms.div_ceil(1000).to_string();
            if let Ok(value) = HeaderValue::from_str(&secs) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// `err: cause: cause's cause …`, for the log.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(out, ": {cause}");
        source = cause.source();
    }
    out
}

macro_rules! invalid_input {
    ($($err:ty => $code:ident),* $(,)?) => {$(
        impl From<$err> for Failure {
            fn from(err: $err) -> Self {
                Failure::new(Code::$code, err.to_string())
            }
        }
    )*};
}

invalid_input! {
    UsernameError => InvalidUsername,
    PasswordError => InvalidPassword,
    RoomNameError => InvalidRoom,
    MessageTextError => InvalidText,
    ClientIdError => InvalidClientId,
    EmojiError => InvalidEmoji,
    TopicError => InvalidTopic,
}

impl From<PageError> for Failure {
    fn from(err: PageError) -> Self {
        let code = match err {
            PageError::Limit => Code::InvalidLimit,
            PageError::Cursor => Code::InvalidCursor,
        };
        Failure::new(code, err.to_string())
    }
}

impl From<SearchError> for Failure {
    fn from(err: SearchError) -> Self {
        let code = match err {
            SearchError::Limit => Code::InvalidLimit,
            SearchError::Cursor => Code::InvalidCursor,
            SearchError::Empty
            | SearchError::TooLong
            | SearchError::TooManyWords
            | SearchError::ShortPrefix => Code::InvalidQuery,
        };
        Failure::new(code, err.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NameTaken => Failure::new(Code::NameTaken, err.to_string()),
            StoreError::RoomNotFound => Failure::new(Code::RoomNotFound, err.to_string()),
            StoreError::ReplyNotFound => Failure::new(Code::ReplyNotFound, err.to_string()),
            StoreError::RoomExists => Failure::new(Code::RoomExists, err.to_string()),
            StoreError::Database(_)
            | StoreError::Migrate(_)
            | StoreError::Writer(_)
            | StoreError::WriterGone
            | StoreError::FileGone
            | StoreError::BatchFailed
            | StoreError::UnsupportedUrl(_) => Failure::internal(&err),
        }
    }
}

impl From<AuthError> for Failure {
    fn from(err: AuthError) -> Self {
        let code = match err {
            AuthError::Unauthorized => Code::Unauthorized,
            AuthError::InvalidCredentials => Code::InvalidCredentials,
            AuthError::GuestsDisabled => Code::GuestsDisabled,
            AuthError::Banned => Code::Banned,
            AuthError::NameTaken => Code::NameTaken,
            AuthError::Store(store) => return store.into(),
            AuthError::Hashing(_) => return Failure::internal(&err),
        };
        Failure::new(code, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_failure_hides_its_cause() {
        let err = StoreError::Database(sqlx::Error::PoolTimedOut);
        let failure = Failure::from(err);
        assert_eq!(failure.code, Code::Internal);
        assert!(!failure.message.contains("pool"));
    }

    #[test]
    fn codes_are_snake_case_on_the_wire() {
        let ack = Failure::new(Code::NotInRoom, "x").to_ack();
        assert_eq!(ack["error"]["code"], "not_in_room");
        assert_eq!(ack["ok"], false);
    }

    #[test]
    fn the_error_chain_names_every_cause() {
        let io = std::io::Error::other("disk on fire");
        let err = sqlx::Error::Io(io);
        assert!(error_chain(&err).contains("disk on fire"));
    }
}
