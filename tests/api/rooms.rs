use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_is_ok() {
    let app = spawn_app().await;
    let response = app.get_with_token("/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn a_fresh_server_lists_the_general_room() {
    let app = spawn_app().await;
    let response = app.get_with_token("/api/rooms", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["next"], Value::Null);
    let rooms = &body["rooms"];
    assert_eq!(rooms[0]["name"], "general");
    assert_eq!(rooms[0]["members"], 0);
    assert!(rooms[0]["topic"].is_string());
}

#[tokio::test]
async fn the_room_list_needs_a_session_when_guests_are_off() {
    let app = spawn_app_with(|c| c.guests = false).await;
    assert_error(
        app.get_with_token("/api/rooms", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let jo = app.signed_up("jo").await;
    assert_eq!(
        app.get_with_token("/api/rooms", Some(&jo.token))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn history_needs_a_session_and_a_valid_existing_room() {
    let app = spawn_app().await;
    let path = "/api/rooms/general/messages";
    assert_error(
        app.get_with_token(path, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let kim = app.signed_up("kim").await;
    let token = Some(kim.token.as_str());
    let ok = app.get_with_token(path, token).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["messages"], serde_json::json!([]));
    let missing = app
        .get_with_token("/api/rooms/nowhere/messages", token)
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "room_not_found").await;
    let invalid = app
        .get_with_token("/api/rooms/Not%20Valid/messages", token)
        .await;
    assert_error(invalid, StatusCode::BAD_REQUEST, "invalid_room").await;
}

#[tokio::test]
async fn history_refuses_bad_cursors_and_limits() {
    let app = spawn_app().await;
    let lee = app.signed_up("lee").await;
    let token = Some(lee.token.as_str());
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("before=1&after=2", "invalid_cursor"),
        ("before=-1", "invalid_cursor"),
        ("after=x", "invalid_cursor"),
    ] {
        let path = format!("/api/rooms/general/messages?{query}");
        assert_error(
            app.get_with_token(&path, token).await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let app = spawn_app().await;
    assert_error(
        app.get_with_token("/api/nothing/here", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
