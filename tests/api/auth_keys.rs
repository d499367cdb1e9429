//! Tokens the service can check but never mint (issue 23): the Auth
//! Service signs with a key pair — RS256, PS256, ES256, ES384 or EdDSA —
//! its keys made and its tokens minted by the reference stack itself
//! (SimpleJWT, `cryptography`: `manage.py jwt`), and the service holds
//! only public keys. Each family accepts its tokens end to end (the demo
//! Catalog checks them with the same public key, as the Django Catalog's
//! SimpleJWT would) and refuses the JWT attack set; keys rotate by `kid`;
//! releases retried without their caller use the service token.
//!
//! Authentication comes before any storage, so the attack set runs on
//! SQLite only; the release flow, which stores, runs on both backends.

use crate::helpers::{json_body, order, spawn_app_with, AppOptions, AuthService, Backend, TestApp};
use jwt_simple::prelude::*;
use serde_json::json;

/// An app trusting `auth`'s keys `keys`, its demo Catalog trusting key
/// `catalog_key`.
async fn app_trusting(
    auth: &AuthService,
    keys: &[(&str, Option<&str>)],
    backend: Backend,
    extra: Vec<(&'static str, String)>,
) -> TestApp {
    let mut variables = auth.variables(keys);
    variables.extend(extra);
    spawn_app_with(AppOptions {
        backend,
        variables,
        catalog_args: auth.catalog_args(keys[0].0),
        ..Default::default()
    })
    .await
}

async fn create_with(app: &TestApp, token: &str) -> (u16, serde_json::Value) {
    let response = app
        .request(reqwest::Method::POST, "/orders/orders/")
        .bearer_auth(token)
        .json(&order(&[(1, 1)]))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, json_body(response).await)
}

#[tokio::test]
async fn each_key_pair_family_accepts_simplejwt_tokens_and_refuses_the_attack_set() {
    for algorithm in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
        let auth = AuthService::new(algorithm, &["auth", "attacker"]);
        let app = app_trusting(&auth, &[("auth", None)], Backend::Sqlite, vec![]).await;

        let (status, body) = create_with(&app, &auth.mint("auth", 42, None)).await;
        assert_eq!(status, 201, "{algorithm}: {body}");
        assert_eq!(body["user_id"], 42);

        let valid = auth.mint("auth", 42, None);
        let parts: Vec<&str> = valid.split('.').collect();
        let other = auth.mint("auth", 43, None);
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            other.split('.').nth(1).unwrap(),
            parts[2]
        );
        let none_header =
            Base64UrlSafeNoPadding::encode_to_string(br#"{"alg":"none","typ":"JWT"}"#).unwrap();
        // The classic confusion: HS256 with the public key's PEM as the
        // HMAC key, which a verifier trusting the token's `alg` accepts.
        let claims: JWTClaims<serde_json::Map<String, serde_json::Value>> =
            Claims::with_custom_claims(
                json!({"token_type": "access", "user_id": "42"})
                    .as_object()
                    .unwrap()
                    .clone(),
                Duration::from_secs(300),
            )
            .with_jwt_id("confusion");
        let confused = HS256Key::from_bytes(auth.public_pem("auth").as_bytes())
            .authenticate(claims)
            .unwrap();
        for (case, token) in [
            ("expired", auth.mint_expired("auth", 42)),
            ("refresh token_type", auth.mint_refresh("auth", 42)),
            ("tampered payload", tampered),
            ("another key", auth.mint("attacker", 42, None)),
            ("alg none", format!("{none_header}.{}.", parts[1])),
            ("HS256 with the public key", confused),
        ] {
            let (status, body) = create_with(&app, &token).await;
            assert_eq!(status, 401, "{algorithm}, {case}: {body}");
            assert_eq!(body["code"], "token_not_valid", "{algorithm}, {case}");
        }
        // Nothing refused reached the Catalog: one create, one reserve.
        assert_eq!(app.catalog.calls().await.reserve, 1, "{algorithm}");
    }
}

/// The Auth Service rolls from key `old` to key `new`: during the overlap
/// both are trusted, picked by `kid` (a token without one is tried against
/// each); a `kid` naming the other key fails; once `old` is removed from
/// the bundle, its tokens are refused.
#[tokio::test]
async fn keys_roll_over_by_kid_with_old_and_new_tokens_accepted() {
    let auth = AuthService::new("RS256", &["old", "new"]);
    let both = [("old", Some("2026-11")), ("new", Some("2026-12"))];
    let app = app_trusting(&auth, &both, Backend::Sqlite, vec![]).await;
    // The demo Catalog trusts the old key only: the list checks the
    // service alone.
    let list = |token| list_status(&app, token);
    assert_eq!(list(auth.mint("old", 7, Some("2026-11"))).await, 200);
    assert_eq!(list(auth.mint("new", 7, Some("2026-12"))).await, 200);
    assert_eq!(
        list(auth.mint("new", 7, None)).await,
        200,
        "no kid: tried in order"
    );
    assert_eq!(
        list(auth.mint("old", 7, Some("2026-12"))).await,
        401,
        "wrong kid"
    );
    assert_eq!(
        list(auth.mint("old", 7, Some("2025-01"))).await,
        401,
        "unknown kid"
    );

    let rotated = app_trusting(&auth, &[("new", Some("2026-12"))], Backend::Sqlite, vec![]).await;
    let list = |token| list_status(&rotated, token);
    assert_eq!(list(auth.mint("new", 7, Some("2026-12"))).await, 200);
    assert_eq!(list(auth.mint("old", 7, Some("2026-11"))).await, 401);
    assert_eq!(list(auth.mint("old", 7, None)).await, 401);
}

/// `GET /orders/orders/` with `token`: its status.
async fn list_status(app: &TestApp, token: String) -> u16 {
    app.request(reqwest::Method::GET, "/orders/orders/")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A private key given as the verifying key, or a shared key beside the
/// public ones: every request is refused (500), the log names the
/// variable and never shows the key.
#[tokio::test]
async fn a_private_key_is_never_taken() {
    let auth = AuthService::new("ES256", &["auth"]);
    let private = std::fs::read_to_string(
        std::path::Path::new(&auth.public_file("auth")).with_extension("pem"),
    )
    .unwrap();
    let app = spawn_app_with(AppOptions {
        variables: vec![
            ("jwt_algorithm", "ES256".to_owned()),
            ("jwt_signing_key", String::new()),
            ("jwt_verifying_key", private.clone()),
        ],
        ..Default::default()
    })
    .await;
    let (status, _) = create_with(&app, &auth.mint("auth", 42, None)).await;
    assert_eq!(status, 500);
    let logs = app.stderr.lines().join("\n");
    assert!(logs.contains("jwt_verifying_key"), "{logs}");
    assert!(logs.contains("private key"), "{logs}");
    let body: String = private.lines().nth(1).unwrap().to_owned();
    assert!(!logs.contains(&body), "the key was logged");
    assert!(!app.stdout.lines().join("\n").contains(&body));
}

crate::on_both_backends!(a_release_retried_without_its_caller_uses_the_service_token);

/// With public keys only, the service cannot mint a user's token for a
/// release retried later: without `catalog_service_token` the release
/// stays owed and says why; with it (a token the Auth Service issued for
/// the service), the Catalog takes the release.
async fn a_release_retried_without_its_caller_uses_the_service_token(backend: Backend) {
    let auth = AuthService::new("ES256", &["auth"]);
    for service_token in [None, Some(auth.mint("auth", 900_001, None))] {
        let extra = service_token
            .iter()
            .map(|token| ("catalog_service_token", token.clone()))
            .collect();
        let app = app_trusting(&auth, &[("auth", None)], backend, extra).await;
        let token = auth.mint("auth", 42, None);
        let (status, created) = create_with(&app, &token).await;
        assert_eq!(status, 201, "{created}");
        let stock = app.catalog.stock(1).await;
        // The cancel's own release fails; the retry has no caller.
        app.catalog.set_faults(json!({"release_status": 503})).await;
        let cancelled = app
            .request(
                reqwest::Method::POST,
                &format!("/orders/orders/{}/cancel/", created["id"]),
            )
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(cancelled.status(), 200);
        app.catalog.set_faults(json!({})).await;
        let report = app.reconcile().await;
        match service_token {
            None => {
                assert!(
                    report
                        .get("catalog_service_token_expires_in_seconds")
                        .is_none(),
                    "{report}"
                );
                assert_eq!(report["pending_total"], 1, "{report}");
                let error = report["pending"][0]["last_error"].as_str().unwrap();
                assert!(error.contains("catalog_service_token"), "{error}");
                assert_eq!(app.catalog.stock(1).await, stock, "nothing given back");
            }
            Some(_) => {
                assert_eq!(report["pending_total"], 0, "{report}");
                assert_eq!(app.catalog.stock(1).await, stock + 1, "given back once");
                // SimpleJWT's default lifetime, 5 minutes: reported, and
                // warned about (within 7 days of expiring), never logged.
                let expires_in = report["catalog_service_token_expires_in_seconds"]
                    .as_i64()
                    .unwrap();
                assert!((200..=300).contains(&expires_in), "{report}");
                let warned = app
                    .stderr
                    .json_lines()
                    .into_iter()
                    .find(|l| l["event"] == "catalog_service_token_expiring");
                assert!(warned.is_some_and(|w| w["expires_in_seconds"].as_i64() <= Some(300)));
                let metrics = app.metrics().await;
                assert!(
                    metrics.contains("order_service_catalog_service_token_expires_in_seconds "),
                    "{metrics}"
                );
                let logs = format!("{:?}{:?}", app.stderr.lines(), app.stdout.lines());
                assert!(!logs.contains(service_token.as_deref().unwrap()));
            }
        }
    }
}

crate::on_both_backends!(the_django_catalog_takes_a_retried_release_with_the_service_token);

/// The same against the reference Catalog (Django + DRF + SimpleJWT with
/// `ALGORITHM = "RS256"` and the Auth Service's `VERIFYING_KEY`): the
/// user's token expires while the service, allowing 60 s of clock skew,
/// still takes it for the cancel; the Catalog, allowing none, refuses the
/// cancel's release with it (as with any clock skew between them), so the
/// release is owed; the operator's pass sends it with the service token,
/// which the Catalog takes: the unit is back, once.
async fn the_django_catalog_takes_a_retried_release_with_the_service_token(backend: Backend) {
    let auth = AuthService::new("RS256", &["auth"]);
    let mut variables = auth.variables(&[("auth", None)]);
    variables.push(("jwt_leeway_seconds", "60".to_owned()));
    variables.push(("catalog_service_token", auth.mint("auth", 900_001, None)));
    let app = spawn_app_with(AppOptions {
        backend,
        variables,
        catalog: crate::helpers::CatalogKind::Django { release: true },
        catalog_env: auth.django_env("auth"),
        ..Default::default()
    })
    .await;
    let token = auth.mint_short("auth", 42, 3);
    let (status, created) = create_with(&app, &token).await;
    assert_eq!(status, 201, "{created}");
    let stock = app.catalog.stock(1).await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;

    let cancelled = app
        .request(
            reqwest::Method::POST,
            &format!("/orders/orders/{}/cancel/", created["id"]),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200, "within the service's leeway");
    assert_eq!(
        app.catalog.stock(1).await,
        stock,
        "the Catalog refused the expired token"
    );

    let report = app.reconcile().await;
    assert_eq!(report["pending_total"], 0, "{report}");
    assert_eq!(report["released"], 1, "{report}");
    assert_eq!(app.catalog.stock(1).await, stock + 1, "given back once");
}
