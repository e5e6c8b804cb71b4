use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;

use crate::helpers::{assert_error, session, spawn_app, spawn_app_with};

#[tokio::test]
async fn registering_returns_a_token_a_user_and_an_http_only_cookie() {
    let app = spawn_app().await;
    let response = app.register("alice", "correct horse").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("banter_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let alice = session(response, StatusCode::CREATED).await;
    assert_eq!(alice.user["name"], "alice");
    assert_eq!(alice.user["guest"], false);
    assert!(alice.token.len() >= 40);
}

#[tokio::test]
async fn a_name_is_taken_whatever_its_case() {
    let app = spawn_app().await;
    app.signed_up("Alice").await;
    assert_error(
        app.register("alice", "another pass").await,
        StatusCode::CONFLICT,
        "name_taken",
    )
    .await;
}

#[tokio::test]
async fn registration_refuses_bad_names_and_short_passwords() {
    let app = spawn_app().await;
    assert_error(
        app.register("a b", "correct horse").await,
        StatusCode::BAD_REQUEST,
        "invalid_username",
    )
    .await;
    assert_error(
        app.register("", "correct horse").await,
        StatusCode::BAD_REQUEST,
        "invalid_username",
    )
    .await;
    assert_error(
        app.register("bob", "short").await,
        StatusCode::BAD_REQUEST,
        "invalid_password",
    )
    .await;
}

#[tokio::test]
async fn login_works_with_the_right_password_only() {
    let app = spawn_app().await;
    let registered = app.signed_up("carol").await;
    let again = session(app.login("CAROL", "correct horse").await, StatusCode::OK).await;
    assert_eq!(again.user, registered.user);
    assert_ne!(again.token, registered.token);
    assert_error(
        app.login("carol", "wrong horse").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_error(
        app.login("nobody", "correct horse").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn a_guest_cannot_take_a_registered_name() {
    let app = spawn_app().await;
    app.signed_up("dave").await;
    assert_error(app.guest("Dave").await, StatusCode::CONFLICT, "name_taken").await;
}

#[tokio::test]
async fn a_live_guest_holds_the_name_until_logout() {
    let app = spawn_app().await;
    let guest = session(app.guest("erin").await, StatusCode::CREATED).await;
    assert_eq!(guest.user["guest"], true);
    assert_error(app.guest("erin").await, StatusCode::CONFLICT, "name_taken").await;
    assert_error(
        app.register("erin", "correct horse").await,
        StatusCode::CONFLICT,
        "name_taken",
    )
    .await;
    assert_eq!(
        app.logout(&guest.token).await.status(),
        StatusCode::NO_CONTENT
    );
    session(app.guest("erin").await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn guests_are_refused_when_turned_off() {
    let app = spawn_app_with(|c| c.guests = false).await;
    assert_error(
        app.guest("frank").await,
        StatusCode::FORBIDDEN,
        "guests_disabled",
    )
    .await;
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let app = spawn_app().await;
    let gina = app.signed_up("gina").await;
    assert_eq!(app.me(&gina.token).await.status(), StatusCode::OK);
    let response = app.logout(&gina.token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_error(
        app.me(&gina.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        app.logout(&gina.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn the_session_cookie_authenticates_like_the_bearer_token() {
    let app = spawn_app().await;
    let hank = app.signed_up("hank").await;
    let response = app
        .client
        .get(app.url("/api/me"))
        .header("cookie", format!("banter_session={}", hank.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"], hank.user);
}

#[tokio::test]
async fn a_garbage_token_is_unauthorized() {
    let app = spawn_app().await;
    assert_error(
        app.me("not-a-token").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        app.get_with_token("/api/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn malformed_bodies_get_json_errors() {
    let app = spawn_app().await;
    let not_json = app
        .client
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{\"username\":")
        .send()
        .await
        .unwrap();
    assert_error(not_json, StatusCode::BAD_REQUEST, "invalid_json").await;
    let wrong_type = app
        .post_json(
            "/api/auth/login",
            &json!({ "username": 5, "password": "x" }),
        )
        .await;
    assert_error(wrong_type, StatusCode::BAD_REQUEST, "invalid_json").await;
    let text = app
        .client
        .post(app.url("/api/auth/guest"))
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_error(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = json!({ "name": "x".repeat(70 * 1024) });
    assert_error(
        app.post_json("/api/auth/guest", &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let app = spawn_app().await;
    let ivy = app.signed_up("ivy").await;
    let app = app.restart().await;
    assert_eq!(app.me(&ivy.token).await.status(), StatusCode::OK);
    session(app.login("ivy", "correct horse").await, StatusCode::OK).await;
}

async fn cookie_of(app: &crate::helpers::TestApp, headers: &[(&str, &str)]) -> String {
    let mut request = app
        .client
        .post(app.url("/api/auth/guest"))
        .json(&json!({ "name": format!("g{}", rand_suffix()) }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.headers()[SET_COOKIE].to_str().unwrap().to_owned()
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn the_cookie_is_secure_only_when_configured_or_behind_an_https_proxy() {
    let plain = spawn_app().await;
    assert!(!cookie_of(&plain, &[]).await.contains("Secure"));
    let https = [("x-forwarded-proto", "https")];
    assert!(
        !cookie_of(&plain, &https).await.contains("Secure"),
        "an untrusted peer cannot claim HTTPS"
    );

    let configured = spawn_app_with(|c| c.secure_cookies = true).await;
    assert!(cookie_of(&configured, &[]).await.contains("Secure"));

    let proxied =
        spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    assert!(cookie_of(&proxied, &https).await.contains("Secure"));
    assert!(!cookie_of(&proxied, &[]).await.contains("Secure"));
}

#[tokio::test]
async fn the_session_endpoint_answers_200_with_or_without_a_session() {
    let app = spawn_app().await;
    let anonymous: serde_json::Value = app
        .get_with_token("/api/session", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(anonymous, json!({ "user": null, "admin": false }));
    let garbage = app.get_with_token("/api/session", Some("garbage")).await;
    assert_eq!(garbage.status(), StatusCode::OK);
    let first = app.signed_up("admiral").await;
    let response = app.get_with_token("/api/session", Some(&first.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "user": first.user, "admin": false }));
}
