//! Bots and integrations (issue #11): personal access tokens and incoming
//! webhooks, the parsed forms of what clients give for them, and their
//! errors.
//!
//! A personal access token is a session with a name that lasts until it is
//! revoked: it authenticates the HTTP API and Socket.IO exactly as a
//! session does (same hash, same lookup, same revocation across nodes), so
//! any Socket.IO client holding one is a bot. A webhook posts to one room as
//! its own bot user (`User.bot`), through the same sequencer as `send`.

use serde::Serialize;

use crate::error::{Code, Failure};
use crate::users::User;

/// Live tokens one account may hold.
pub const MAX_TOKENS: i64 = 20;
/// Live webhooks one room may have.
pub const MAX_WEBHOOKS: i64 = 20;
/// Longest token name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;
/// Personal access tokens start with this: a leaked one is recognisable
/// (secret scanners, logs), and the server records when one was used.
pub const TOKEN_PREFIX: &str = "bnt_";
/// A token's `expires_at` (9999-12-31T23:59:59.999Z): it lasts until revoked.
pub const TOKEN_EXPIRES_AT: i64 = 253_402_300_799_999;
/// How often a token's `last_used_at` is written at most (per node).
pub const LAST_USED_EVERY_MS: i64 = 60_000;

/// A stored token as its owner sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    /// To the minute; `null` if never used.
    pub last_used_at: Option<i64>,
}

/// A webhook as room members see it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: i64,
    /// Its bot's name.
    pub name: String,
    pub room: String,
    /// The user it posts as.
    pub bot: User,
    pub created_by: User,
    pub created_at: i64,
}

/// Why a token name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenNameError {
    #[error("a token name must be 1 to {MAX_TOKEN_NAME_CHARS} characters, on one line")]
    Invalid,
}

/// A token's name: 1..=64 characters after trimming, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, TokenNameError> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > MAX_TOKEN_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(TokenNameError::Invalid);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What can go wrong with tokens and webhooks, beyond the input rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BotError {
    /// Guests (and bots) cannot make tokens or webhooks.
    #[error("only a signed-in account can do this, not a guest")]
    AccountRequired,
    /// The account has `MAX_TOKENS` live tokens.
    #[error("an account may hold at most {MAX_TOKENS} tokens; revoke one first")]
    TooManyTokens,
    /// The room has `MAX_WEBHOOKS` webhooks.
    #[error("a room may have at most {MAX_WEBHOOKS} webhooks; revoke one first")]
    TooManyWebhooks,
    /// Webhooks post into a room of several people, not a direct one.
    #[error("a direct conversation takes no webhooks")]
    DirectRoom,
    /// No such token of the caller's.
    #[error("no such token")]
    TokenNotFound,
    /// No such webhook, a wrong secret, or one revoked: never told apart.
    #[error("no such webhook")]
    WebhookNotFound,
    /// Not the webhook's creator, nor an admin.
    #[error("only its creator or an admin may revoke a webhook")]
    NotYours,
}

impl From<BotError> for Failure {
    fn from(err: BotError) -> Self {
        let code = match err {
            BotError::AccountRequired => Code::AccountRequired,
            BotError::TooManyTokens => Code::TooManyTokens,
            BotError::TooManyWebhooks => Code::TooManyWebhooks,
            BotError::DirectRoom | BotError::NotYours => Code::Forbidden,
            BotError::TokenNotFound | BotError::WebhookNotFound => Code::NotFound,
        };
        Failure::new(code, err.to_string())
    }
}

impl From<TokenNameError> for Failure {
    fn from(err: TokenNameError) -> Self {
        Failure::new(Code::InvalidTokenName, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_name_is_trimmed_and_kept_as_written() {
        assert_eq!(
            TokenName::parse("  CI deploy 🚀 ").unwrap().as_str(),
            "CI deploy 🚀"
        );
    }

    #[test]
    fn an_empty_overlong_or_multiline_token_name_is_refused() {
        for bad in ["", "   ", "a\nb", "tab\there", "\u{7}"] {
            assert_eq!(
                TokenName::parse(bad),
                Err(TokenNameError::Invalid),
                "{bad:?}"
            );
        }
        assert!(TokenName::parse(&"é".repeat(MAX_TOKEN_NAME_CHARS)).is_ok());
        assert!(TokenName::parse(&"é".repeat(MAX_TOKEN_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn tokens_expire_on_the_last_day_of_9999() {
        // 9999-12-31T23:59:59.999Z: far enough, and still a date everywhere.
        assert_eq!(TOKEN_EXPIRES_AT, (253_402_300_800 * 1000) - 1);
    }
}
