//! Refuses state-changing API requests sent by pages of other origins.
//! The session cookie is `SameSite=Lax`, which stops other *sites* but not
//! another port or subdomain of this host: to the browser those are the
//! same site, so it sends the cookie along. The `Origin` check closes that.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::bearer_token;
use crate::error::{Code, Failure};

/// `Sec-Fetch-Site`, sent by current browsers on every request.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Middleware: a POST, PUT, PATCH or DELETE from a foreign origin gets 403
/// `forbidden_origin`; reads, requests from no browser, and requests
/// authorized by a personal access token in the `Authorization` header
/// (no ambient authority: no browser sends one by itself) pass.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_safe(request.method())
        || personal_token(request.headers())
        || allowed(&state, request.headers())
    {
        return next.run(request).await;
    }
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    tracing::info!(
        origin = ?header(header::ORIGIN.as_str()),
        fetch_site = ?header(SEC_FETCH_SITE),
        path = %request.uri().path(),
        "refused a request from a foreign origin"
    );
    Failure::new(
        Code::ForbiddenOrigin,
        "requests from this origin are not allowed",
    )
    .into_response()
}

/// Whether the bearer token (which decides over the cookie) is a personal
/// access token (issue #11).
fn personal_token(headers: &HeaderMap) -> bool {
    bearer_token(headers).is_some_and(|t| t.starts_with(crate::bots::TOKEN_PREFIX))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    state.core.origins.allows_request(
        header(header::ORIGIN.as_str()),
        header(SEC_FETCH_SITE),
        header(header::HOST.as_str()),
    )
}
