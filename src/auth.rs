//! Authentication: accounts with argon2id passwords, guests, and sessions
//! carried by random opaque tokens of which only a hash is stored.
//!
//! HTTP handlers and the Socket.IO connect middleware both come here; neither
//! touches tokens or hashes themselves.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::store::{Store, StoreError};
use crate::users::{Password, User, Username};

/// Name of the cookie that carries the session token in browsers.
pub const SESSION_COOKIE: &str = "banter_session";

/// How long a session lives.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// What can go wrong while signing in or checking a session.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token, or one that matches no live session.
    #[error("unauthorized")]
    Unauthorized,
    /// Unknown name or wrong password (deliberately not told apart).
    #[error("wrong name or password")]
    InvalidCredentials,
    /// The account is banned, or (for a new account or guest) a ban
    /// covers the address the request came from.
    #[error("banned from this server")]
    Banned,
    /// Guest access is turned off on this server.
    #[error("guest access is disabled on this server")]
    GuestsDisabled,
    /// The name is held by an account or a live guest.
    #[error("that name is taken")]
    NameTaken,
    /// Hashing failed or its task died; the detail goes to the log.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AuthError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NameTaken => AuthError::NameTaken,
            other => AuthError::Store(other),
        }
    }
}

/// The Socket.IO room holding every socket of the user `id`.
pub fn user_channel(id: crate::users::UserId) -> String {
    format!("user:{id}")
}

/// The Socket.IO room holding every socket of the session (or personal
/// access token) `id`.
pub fn session_channel(id: i64) -> String {
    format!("session:{id}")
}

/// Who is on the other end of a request or socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: User,
    pub session_id: i64,
    /// May delete any message, mute and ban.
    pub admin: bool,
}

impl Identity {
    /// The Socket.IO room holding every socket of this session, so that
    /// ending the session can disconnect them all (on any node).
    pub fn session_channel(&self) -> String {
        session_channel(self.session_id)
    }

    /// The Socket.IO room holding every socket of this user.
    pub fn user_channel(&self) -> String {
        user_channel(self.user.id)
    }
}

/// A freshly issued session: the token goes to the client, once.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub identity: Identity,
}

/// The authentication service. Cheap to clone: it holds a store handle.
///
/// Admin rights come from the store alone (`banter admin grant-admin`):
/// never from being first, nor from a name.
#[derive(Clone)]
pub struct Auth {
    store: Arc<dyn Store>,
    guests_allowed: bool,
    /// How long a ban also covers the banned user's addresses.
    ban_address_secs: u64,
    /// When this node last recorded each personal access token's use.
    token_uses: Arc<Mutex<HashMap<i64, i64>>>,
}

/// Tokens whose last use this node remembers; past it, it forgets them all
/// (and writes each one's next use again).
const TOKEN_USES_MAX: usize = 10_000;

impl Auth {
    pub fn new(store: Arc<dyn Store>, guests_allowed: bool, ban_address_secs: u64) -> Self {
        Self {
            store,
            guests_allowed,
            ban_address_secs,
            token_uses: Arc::default(),
        }
    }

    /// Until when a ban made at `now` covers the banned user's addresses.
    pub fn ban_address_until(&self, now: i64) -> i64 {
        address_ban_until(now, self.ban_address_secs)
    }

    pub fn guests_allowed(&self) -> bool {
        self.guests_allowed
    }

    /// `Banned` if a ban covers the address: no new name from there.
    async fn address_allowed(&self, ip: IpAddr) -> Result<(), AuthError> {
        if self.store.address_banned(&ip.to_string(), now_ms()).await? {
            return Err(AuthError::Banned);
        }
        Ok(())
    }

    pub async fn register(
        &self,
        name: &Username,
        password: &Password,
        ip: IpAddr,
    ) -> Result<Issued, AuthError> {
        self.address_allowed(ip).await?;
        let hash = hash_password(password.clone()).await?;
        let account = self.store.create_account(name, &hash, now_ms()).await?;
        self.issue(account.user, account.admin, ip).await
    }

    pub async fn login(
        &self,
        name: &Username,
        password: &Password,
        ip: IpAddr,
    ) -> Result<Issued, AuthError> {
        let account = self.store.find_account(name).await?;
        // Verify against a dummy hash when there is no account, so that the
        // answer takes as long for an unknown name as for a wrong password.
        let (hash, account) = match account {
            Some(a) => (a.password_hash.clone(), Some(a)),
            None => (dummy_hash().to_owned(), None),
        };
        let matches = verify_password(password.clone(), hash).await?;
        match (matches, account) {
            (true, Some(a)) if a.banned => Err(AuthError::Banned),
            (true, Some(a)) => self.issue(a.user, a.admin, ip).await,
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    pub async fn guest(&self, name: &Username, ip: IpAddr) -> Result<Issued, AuthError> {
        if !self.guests_allowed {
            return Err(AuthError::GuestsDisabled);
        }
        self.address_allowed(ip).await?;
        let token = new_token();
        let now = now_ms();
        let (user, session_id) = self
            .store
            .create_guest_session(
                name,
                &hash_token(&token),
                &ip.to_string(),
                now,
                now + SESSION_TTL_MS,
            )
            .await?;
        let identity = Identity {
            user,
            session_id,
            admin: false,
        };
        Ok(Issued { token, identity })
    }

    /// The identity behind a token, if the session is live.
    pub async fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let session = self
            .store
            .find_session(&hash_token(token), now_ms())
            .await?
            .ok_or(AuthError::Unauthorized)?;
        if token.starts_with(crate::bots::TOKEN_PREFIX) {
            self.token_used(session.id);
        }
        Ok(Identity {
            admin: session.admin && !session.user.guest,
            user: session.user,
            session_id: session.id,
        })
    }

    /// Records a personal access token's use, at most once a minute per
    /// node and off the request's path (issue #11).
    fn token_used(&self, id: i64) {
        let now = now_ms();
        {
            let mut uses = self.token_uses.lock().unwrap_or_else(|p| p.into_inner());
            if uses
                .get(&id)
                .is_some_and(|&at| now - at < crate::bots::LAST_USED_EVERY_MS)
            {
                return;
            }
            if uses.len() >= TOKEN_USES_MAX {
                uses.clear();
            }
            uses.insert(id, now);
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(err) = store.touch_token(id, now).await {
                tracing::warn!(%err, "cannot record a token's use");
            }
        });
    }

    /// Ends the session behind a token; returns its identity.
    pub async fn logout(&self, token: &str) -> Result<Identity, AuthError> {
        let identity = self.authenticate(token).await?;
        self.store.delete_session(&hash_token(token)).await?;
        Ok(identity)
    }

    async fn issue(&self, user: User, admin: bool, ip: IpAddr) -> Result<Issued, AuthError> {
        let admin = admin && !user.guest;
        let token = new_token();
        let now = now_ms();
        let session_id = self
            .store
            .create_session(
                user.id,
                &hash_token(&token),
                &ip.to_string(),
                now,
                now + SESSION_TTL_MS,
            )
            .await?;
        Ok(Issued {
            token,
            identity: Identity {
                user,
                session_id,
                admin,
            },
        })
    }
}

/// Until when a ban made at `now` (ms) covers addresses, for `secs` seconds
/// (the server's `--ban-address-secs`, or the command line's).
pub fn address_ban_until(now: i64, secs: u64) -> i64 {
    let ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    now.saturating_add(ms)
}

/// 256 random bits, base64url: unguessable, and safe in headers and cookies.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens are random, so a fast hash suffices: it only stops a leaked
/// database from being used to sign in.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// argon2id with the crate's default (OWASP) parameters, off the async
/// threads: it takes tens of milliseconds of CPU by design.
pub async fn hash_password(password: Password) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| AuthError::Hashing(e.to_string()))?
}

async fn verify_password(password: Password, hash: String) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| AuthError::Hashing(e.to_string()))?;
        Ok(Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| AuthError::Hashing(e.to_string()))?
}

/// A valid argon2id hash of a random password, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(new_token().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// The session token from an `Authorization: Bearer` header, or else from
/// the session cookie.
pub fn token_from_headers(headers: &axum::http::HeaderMap) -> Option<String> {
    bearer_token(headers).or_else(|| token_from_cookie(headers))
}

/// The token of an `Authorization: Bearer` header. Unlike the cookie, no
/// browser sends it by itself: a personal access token presented this way
/// needs no Origin check (`http::same_origin`, `realtime::connect`).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

pub fn token_from_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn the_bearer_header_wins_over_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        headers.insert("cookie", "banter_session=xyz".parse().unwrap());
        assert_eq!(token_from_headers(&headers).as_deref(), Some("abc"));
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "cookie",
            "theme=dark; banter_session=xyz; x=1".parse().unwrap(),
        );
        assert_eq!(token_from_headers(&headers).as_deref(), Some("xyz"));
    }

    #[test]
    fn an_address_ban_ends_after_its_seconds_and_never_overflows() {
        assert_eq!(address_ban_until(1_000, 2), 3_000);
        assert_eq!(address_ban_until(1_000, 0), 1_000);
        assert_eq!(address_ban_until(1_000, u64::MAX), i64::MAX);
    }

    #[test]
    fn no_header_means_no_token() {
        assert_eq!(token_from_headers(&HeaderMap::new()), None);
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let limits = crate::limits::Limits::default();
        let right = Password::parse("correct horse", &limits).unwrap();
        let wrong = Password::parse("wrong horse!", &limits).unwrap();
        let hash = hash_password(right.clone()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(right, hash.clone()).await.unwrap());
        assert!(!verify_password(wrong, hash).await.unwrap());
    }
}
