//! The web client: the page at `/` and its assets, embedded at build time
//! (see `build.rs`) and served from memory.
//!
//! Assets live under a content-hashed prefix and are cached forever; the
//! page itself is revalidated on every load, so a new build is picked up at
//! once. The page carries a strict Content-Security-Policy: scripts and
//! styles from this origin only, nothing inline, no framing.

use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

pub use embedded::PREFIX;

/// The policy the page is served with. `connect-src 'self'` covers the
/// same-origin WebSocket in current browsers.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn page_headers() -> [(HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

/// `GET /`: the page.
pub async fn index() -> Response {
    (page_headers(), embedded::INDEX_HTML).into_response()
}

/// `GET /assets/{build}/{*path}`: one embedded asset, immutable.
pub async fn get(Path((build, path)): Path<(String, String)>) -> Response {
    let current = PREFIX.trim_start_matches("/assets/");
    let found = embedded::FILES.iter().find(|(route, _, _)| *route == path);
    match found {
        Some((_, body, mime)) if build == current => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            *body,
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_refers_to_its_assets_by_the_hashed_prefix() {
        assert!(!embedded::INDEX_HTML.contains("%ASSETS%"));
        assert!(PREFIX.starts_with("/assets/"));
    }

    #[test]
    fn the_policy_allows_no_inline_script_and_no_framing() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    }
}
