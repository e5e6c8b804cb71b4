use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_page_is_served_with_strict_security_headers() {
    let app = spawn_app().await;
    let response = app.get_with_token("/", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn unknown_assets_and_stale_builds_are_not_found() {
    let app = spawn_app().await;
    let page = app.get_with_token("/", None).await.text().await.unwrap();
    let prefix = asset_prefix(&page);
    let missing = app
        .get_with_token(&format!("{prefix}/no-such-file.js"), None)
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let traversal = app
        .get_with_token(&format!("{prefix}/..%2F..%2FCargo.toml"), None)
        .await;
    assert_eq!(traversal.status(), StatusCode::NOT_FOUND);
    let stale = app
        .get_with_token("/assets/000000000000/style.css", None)
        .await;
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_asset_the_page_names_is_served_cacheable_and_compressed() {
    let app = spawn_app().await;
    let page = app.get_with_token("/", None).await.text().await.unwrap();
    let urls = asset_urls(&page);
    assert!(!urls.is_empty(), "the page names no assets: {page}");
    for url in urls {
        let response = app
            .client
            .get(app.url(&url))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let headers = response.headers();
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable"),
            "{url}"
        );
        let mime = headers["content-type"].to_str().unwrap();
        let expected = match url.rsplit('.').next() {
            Some("css") => "text/css",
            Some("js") => "text/javascript",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected asset type {other:?} in {url}"),
        };
        assert!(mime.starts_with(expected), "{url}: {mime}");
        assert_eq!(headers["content-encoding"], "gzip", "{url}");
    }
}

/// `/assets/<hash>` as the page uses it.
fn asset_prefix(page: &str) -> String {
    let urls = asset_urls(page);
    assert!(!urls.is_empty(), "the page names no assets");
    urls[0].split('/').take(3).collect::<Vec<_>>().join("/")
}

/// Every `/assets/...` URL in `src="…"` or `href="…"` attributes.
fn asset_urls(page: &str) -> Vec<String> {
    page.split('"')
        .filter(|part| part.starts_with("/assets/"))
        .map(str::to_owned)
        .collect()
}
