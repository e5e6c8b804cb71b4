//! `/api/auth/*` and `/api/me`: accounts, guests and sessions.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::json;

use super::extract::{Authenticated, Body, ClientIp, SecureCookie};
use crate::app::AppState;
use crate::auth::{Issued, SESSION_COOKIE, SESSION_TTL_MS, token_from_headers};
use crate::error::Failure;
use crate::limits::Limits;
use crate::ratelimit::Key;
use crate::users::{Password, Username};

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    fn parse(&self, limits: &Limits) -> Result<(Username, Password), Failure> {
        let name = Username::parse(&self.username, limits)?;
        let password = Password::parse(&self.password, limits)?;
        Ok((name, password))
    }
}

#[derive(Deserialize)]
pub struct GuestName {
    name: String,
}

/// `POST /api/auth/register`: a new account, signed in.
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SecureCookie(secure): SecureCookie,
    Body(body): Body<Credentials>,
) -> Result<Response, Failure> {
    within_rate(&state, Key::Auth(ip)).await?;
    let (name, password) = body.parse(&state.core.limits)?;
    let issued = state.core.auth.register(&name, &password, ip).await?;
    Ok(signed_in(StatusCode::CREATED, issued, secure))
}

/// `POST /api/auth/login`.
/// Limited per address, and per account and address: guessing one
/// account's password is slowed down, while its owner elsewhere can still
/// sign in.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SecureCookie(secure): SecureCookie,
    Body(body): Body<Credentials>,
) -> Result<Response, Failure> {
    within_rate(&state, Key::Auth(ip)).await?;
    let (name, password) = body.parse(&state.core.limits)?;
    within_rate(&state, Key::Login(ip, name.key())).await?;
    let issued = state.core.auth.login(&name, &password, ip).await?;
    Ok(signed_in(StatusCode::OK, issued, secure))
}

/// `POST /api/auth/guest`: a guest session with a display name only.
pub async fn guest(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SecureCookie(secure): SecureCookie,
    Body(body): Body<GuestName>,
) -> Result<Response, Failure> {
    within_rate(&state, Key::Auth(ip)).await?;
    let name = Username::parse(&body.name, &state.core.limits)?;
    let issued = state.core.auth.guest(&name, ip).await?;
    Ok(signed_in(StatusCode::CREATED, issued, secure))
}

/// `POST /api/auth/logout`: ends the session and disconnects its sockets.
pub async fn logout(
    State(state): State<AppState>,
    SecureCookie(secure): SecureCookie,
    auth: Authenticated,
) -> Result<Response, Failure> {
    let identity = state.core.auth.logout(&auth.token).await?;
    if let Some(ns) = state.io.of("/")
        && let Err(err) = ns.to(identity.session_channel()).disconnect().await
    {
        tracing::warn!(%err, "cannot disconnect the sockets of a closed session");
    }
    let clear = session_cookie(String::new(), 0, secure);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// `GET /api/me`: who the session belongs to, and whether they are an admin.
pub async fn me(auth: Authenticated) -> impl IntoResponse {
    Json(json!({ "user": auth.identity.user, "admin": auth.identity.admin }))
}

async fn within_rate(state: &AppState, key: Key) -> Result<(), Failure> {
    state
        .core
        .limiter
        .check(key)
        .await
        .map_err(Failure::rate_limited)
}

/// `GET /api/session`: like `/api/me`, but answers 200 with `user: null`
/// when there is no live session, so that a page can ask on every load
/// without a failed request (browsers log every 401 as an error).
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let identity = match token_from_headers(&headers) {
        Some(token) => state.core.auth.authenticate(&token).await.ok(),
        None => None,
    };
    Json(match identity {
        Some(identity) => json!({ "user": identity.user, "admin": identity.admin }),
        None => json!({ "user": null, "admin": false }),
    })
}

fn signed_in(status: StatusCode, issued: Issued, secure: bool) -> Response {
    let cookie = session_cookie(issued.token.clone(), SESSION_TTL_MS / 1000, secure);
    let body = json!({ "token": issued.token, "user": issued.identity.user });
    (status, [(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

/// HttpOnly so page scripts cannot read it; SameSite=Lax so other sites
/// cannot make a browser send it with their requests.
fn session_cookie(token: String, max_age_secs: i64, secure: bool) -> String {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
        .to_string()
}
