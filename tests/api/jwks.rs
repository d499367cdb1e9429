//! Keys from the Auth Service's JWKS (issue 23, point 3): the document
//! written by PyJWT from keys made by `cryptography` (`manage.py jwt`),
//! served by a real HTTP endpoint (tests/jwks/server.py) that counts its
//! requests, tokens minted by SimpleJWT. The service fetches the document
//! once and serves from its database cache; a new `kid` or a stale cache
//! refetches it, at most once per cool-down; a withdrawn key stops
//! working; while the endpoint is down or serves something unusable, the
//! cached keys keep serving and the failure is logged.

use crate::helpers::{
    eventually, json_body, order, spawn_app_with, AppOptions, AuthService, Backend, TestApp,
};
use std::time::{Duration, Instant};

/// The cached document's age limit in these tests (and so the cool-down).
const REFRESH_SECONDS: u64 = 2;

/// An app verifying with the JWKS at `url`, its origin allowed as `host`
/// (`None`: `jwt_jwks_host` keeps its default, which allows nothing real).
async fn app_with_jwks(
    auth: &AuthService,
    url: &str,
    host: Option<&str>,
    backend: Backend,
) -> TestApp {
    let mut variables = vec![
        ("jwt_algorithm", auth.algorithm.to_owned()),
        ("jwt_signing_key", String::new()),
        ("jwt_verifying_key", String::new()),
        ("jwt_jwks_url", url.to_owned()),
        ("jwt_jwks_refresh_seconds", REFRESH_SECONDS.to_string()),
    ];
    variables.extend(host.map(|host| ("jwt_jwks_host", host.to_owned())));
    spawn_app_with(AppOptions {
        backend,
        variables,
        catalog_args: auth.catalog_args("first"),
        ..Default::default()
    })
    .await
}

async fn list_status(app: &TestApp, token: &str) -> u16 {
    let status = app
        .request(reqwest::Method::GET, "/orders/orders/")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!(status < 500, "{status}: {:?}", app.stderr.lines());
    status
}

/// Waits until the cached document is stale and the cool-down over.
async fn let_the_cache_age() {
    tokio::time::sleep(Duration::from_millis(REFRESH_SECONDS * 1000 + 300)).await;
}

/// The `detail` of every `jwks_refresh_failed` line logged so far.
fn refresh_failures(app: &TestApp) -> Vec<String> {
    app.stderr
        .json_lines()
        .iter()
        .filter(|l| l["event"] == "jwks_refresh_failed")
        .map(|l| l["detail"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn a_jwks_is_cached_refreshed_and_outlives_its_endpoint(backend: Backend) {
    let auth = AuthService::new("ES256", &["first", "second", "stranger"]);
    auth.publish(&[("first", "k1")]);
    let endpoint = auth.serve_jwks(0).await;
    let app = app_with_jwks(&auth, &endpoint.url(), Some(&endpoint.origin), backend).await;

    // No token, no fetch.
    assert_eq!(app.get("/orders/orders/").await.status(), 401);
    assert_eq!(endpoint.hits().await, 0);

    // The first token fetches the document; the next ones use the cache:
    // at most one fetch per cool-down, however many requests.
    let first = auth.mint("first", 42, Some("k1"));
    let response = app
        .request(reqwest::Method::POST, "/orders/orders/")
        .bearer_auth(&first)
        .json(&order(&[(1, 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", json_body(response).await);
    let started = Instant::now();
    for _ in 0..10 {
        assert_eq!(list_status(&app, &first).await, 200);
    }
    let windows = started.elapsed().as_secs() / REFRESH_SECONDS + 1;
    let hits = endpoint.hits().await;
    assert!(
        (1..=1 + windows).contains(&hits),
        "11 requests over {windows} cool-down(s) fetched {hits} times"
    );

    // A token of another key with a made-up kid: refused, and a flood of
    // them fetches at most once per cool-down.
    let_the_cache_age().await;
    let before = endpoint.hits().await;
    let forged = auth.mint("stranger", 42, Some("k9"));
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(list_status(&app, &forged).await, 401);
    }
    let windows = started.elapsed().as_secs() / REFRESH_SECONDS + 1;
    assert!(endpoint.hits().await - before <= windows);

    // Rotation: the Auth Service publishes a second key; a token naming
    // it is accepted at once (its unknown kid refetches), the first key's
    // tokens still are.
    let_the_cache_age().await;
    auth.publish(&[("first", "k1"), ("second", "k2")]);
    let second = auth.mint("second", 42, Some("k2"));
    assert_eq!(list_status(&app, &second).await, 200);
    assert_eq!(list_status(&app, &first).await, 200);

    // The first key withdrawn: once the cache is stale, its tokens fail.
    auth.publish(&[("second", "k2")]);
    let_the_cache_age().await;
    assert_eq!(list_status(&app, &first).await, 401);
    assert_eq!(list_status(&app, &second).await, 200);

    // The endpoint down: the cached keys serve; the failure is logged.
    let port = endpoint.stop();
    let_the_cache_age().await;
    assert_eq!(list_status(&app, &second).await, 200);
    assert!(
        refresh_failures(&app).iter().any(|d| d.contains("request")),
        "{:?}",
        refresh_failures(&app)
    );

    // Back, but serving what cannot be used: each is logged with why, the
    // cached keys still serve.
    let endpoint = auth.serve_jwks(port).await;
    let ed = AuthService::new("EdDSA", &["other"]);
    ed.publish(&[("other", "e1")]);
    let unusable: Vec<(Vec<u8>, &str)> = vec![
        (b"<html>not json</html>".to_vec(), "not a JSON document"),
        (
            format!("{{\"keys\": [], \"pad\": \"{}\"}}", "x".repeat(70_000)).into_bytes(),
            "larger than",
        ),
        (ed.jwks_document(), "no usable ES256 key"),
    ];
    for (document, why) in unusable {
        auth.publish_raw(&document);
        let_the_cache_age().await;
        let hits = endpoint.hits().await;
        assert_eq!(list_status(&app, &second).await, 200, "{why}");
        assert_eq!(endpoint.hits().await, hits + 1, "{why}: fetched");
        assert!(
            eventually(Duration::from_secs(3), || async {
                refresh_failures(&app).iter().any(|d| d.contains(why))
            })
            .await,
            "{why}: {:?}",
            refresh_failures(&app)
        );
    }
    assert!(
        !format!("{:?}", app.stderr.lines()).contains(&second),
        "a token was logged"
    );
}

crate::on_both_backends!(a_jwks_is_cached_refreshed_and_outlives_its_endpoint);

/// The JWKS origin is the only one it may reach: with `jwt_jwks_host`
/// left at its default, `allowed_outbound_hosts` keeps the fetch from leaving (Spin
/// refuses it), the failure is logged, and tokens are refused.
#[tokio::test]
async fn a_jwks_outside_the_allowed_hosts_is_never_fetched() {
    let auth = AuthService::new("ES256", &["first"]);
    auth.publish(&[("first", "k1")]);
    let endpoint = auth.serve_jwks(0).await;
    let app = app_with_jwks(&auth, &endpoint.url(), None, Backend::Sqlite).await;
    let token = auth.mint("first", 42, Some("k1"));
    assert_eq!(list_status(&app, &token).await, 401);
    assert_eq!(endpoint.hits().await, 0);
    assert!(
        eventually(Duration::from_secs(3), || async {
            !refresh_failures(&app).is_empty()
        })
        .await
    );
}
