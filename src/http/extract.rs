//! Extractors that turn raw requests into typed input, with the protocol's
//! error codes for whatever does not fit.

use std::net::IpAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::AppState;
use crate::auth::{AuthError, Identity, token_from_headers};
use crate::error::{Code, Failure};

/// The caller's identity, from a bearer token or the session cookie, plus
/// the token itself (logout needs it).
pub struct Authenticated {
    pub identity: Identity,
    pub token: String,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let token = token_from_headers(&parts.headers).ok_or(AuthError::Unauthorized)?;
        let identity = state.core.auth.authenticate(&token).await?;
        Ok(Self { identity, token })
    }
}

/// The client's address (see `client_ip`).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        Ok(Self(state.core.proxies.of_request(parts)))
    }
}

/// Whether the session cookie must be `Secure` for this request: always
/// when configured so, else when a trusted proxy says it came over HTTPS.
pub struct SecureCookie(pub bool);

impl FromRequestParts<AppState> for SecureCookie {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        Ok(Self(
            state.secure_cookies || state.core.proxies.forwarded_https(parts),
        ))
    }
}

/// A JSON body whose rejections speak the protocol's error codes.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = Failure;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Failure> {
        let axum::Json(value) = axum::Json::<Value>::from_request(req, state)
            .await
            .map_err(|rejection| json_failure(&rejection))?;
        // serde would read a struct from an array too; the API takes objects.
        if !value.is_object() {
            return Err(Failure::new(
                Code::InvalidJson,
                "the body must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(Body)
            .map_err(|err| Failure::new(Code::InvalidJson, format!("invalid body: {err}")))
    }
}

fn json_failure(rejection: &JsonRejection) -> Failure {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Failure::new(Code::PayloadTooLarge, "the request body is too large")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Failure::new(
            Code::UnsupportedMediaType,
            "the request body must be application/json",
        ),
        _ => Failure::new(Code::InvalidJson, rejection.body_text()),
    }
}
