//! Personal access tokens over HTTP (issue #11): what a restart keeps.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

async fn new_token(app: &TestApp, session: &str, name: &str) -> Value {
    let response = app
        .client
        .post(app.url("/api/tokens"))
        .bearer_auth(session)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_token_outlives_a_restart_and_a_revoked_one_stays_revoked() {
    let app = spawn_app().await;
    let alice = app.signed_up("alice").await;
    let kept = new_token(&app, &alice.token, "kept").await;
    let revoked = new_token(&app, &alice.token, "revoked").await;
    let kept_token = kept["token"].as_str().unwrap().to_owned();
    let revoked_token = revoked["token"].as_str().unwrap().to_owned();
    let gone = app
        .client
        .delete(app.url(&format!("/api/tokens/{}", revoked["id"])))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);

    let app = app.restart().await;
    let me = app.me(&kept_token).await;
    assert_eq!(me.status(), StatusCode::OK);
    let body: Value = me.json().await.unwrap();
    assert_eq!(body["user"], alice.user);
    assert_eq!(body["user"]["bot"], false);
    assert_error(
        app.me(&revoked_token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let list: Value = app
        .get_with_token("/api/tokens", Some(&kept_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
    assert_eq!(list["tokens"][0]["name"], "kept");
}

#[tokio::test]
async fn a_guest_is_told_tokens_need_an_account() {
    let app = spawn_app().await;
    let guest = crate::helpers::session(app.guest("visitor").await, StatusCode::CREATED).await;
    let response = app.get_with_token("/api/tokens", Some(&guest.token)).await;
    assert_error(response, StatusCode::FORBIDDEN, "account_required").await;
}
