//! The HTTP side: the JSON API under `/api`, `/healthz`, and the web page.
//! Handlers live in one module per resource and are named after their verb.

mod assets;
mod auth;
mod bots;
mod extract;
mod files;
mod rooms;
mod same_origin;
mod search;
mod slim;

use std::sync::atomic::Ordering;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::error::{Code, Failure, error_chain};

pub use extract::Authenticated;
pub use slim::slim;

/// The HTTP routes, with their shared layers.
pub fn router(state: AppState) -> Router {
    let body_limit = state.core.limits.max_packet_bytes;
    let upload_limit = state.core.uploads.settings.max_body_bytes();
    let api = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/guest", post(auth::guest))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/me/rooms", get(rooms::mine))
        .route("/session", get(auth::session))
        .route("/rooms", get(rooms::list))
        .route("/rooms/{room}/messages", get(rooms::messages))
        // Bots and integrations (issue #11): tokens and webhooks.
        .route("/tokens", post(bots::create_token).get(bots::list_tokens))
        .route("/tokens/{id}", delete(bots::revoke_token))
        .route(
            "/rooms/{room}/webhooks",
            post(bots::create_webhook).get(bots::list_webhooks),
        )
        .route("/webhooks/{id}", delete(bots::revoke_webhook))
        // --- end of bots and integrations.
        // --- Files and images (issue #11): an upload's body may be as big
        // as its files; each file's own limit is checked as it streams.
        .route(
            "/rooms/{room}/uploads",
            post(files::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        // --- end of files and images.
        // Search (issue #11).
        .route("/search", get(search::get))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            same_origin::guard,
        ));
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{build}/{*path}", get(assets::get))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        // Incoming webhooks (issue #11): the secret in the path is the
        // authority, so no session and no Origin check.
        .route("/hooks/{id}/{secret}", post(bots::post))
        // Files and images (issue #11), outside /api: a page links to them.
        .route("/files/{id}", get(files::get))
        .route("/files/{id}/thumb", get(files::thumb))
        .nest("/api", api)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness, for load balancers: 503 once shutdown has begun (so new
/// clients go elsewhere before the sockets close) or while the database does
/// not answer; `/healthz` stays plain liveness.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let core = &state.core;
    if core.draining.load(Ordering::Acquire) {
        let body = json!({ "status": "draining" });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    if let Err(err) = core.store.check().await {
        tracing::warn!(error = %error_chain(&err), "not ready: the database does not answer");
        let body = json!({ "status": "unavailable", "reason": "database" });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    (StatusCode::OK, Json(json!({ "status": "ready" })))
}

async fn not_found() -> Failure {
    Failure::new(Code::NotFound, "no such endpoint")
}
