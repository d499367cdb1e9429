//! SPEC §2: stateless SimpleJWT-compatible authentication.

use crate::helpers::{
    json_body, nested_objects, order, sign, simplejwt_claims, spawn_app_on, token, Backend, Calls,
    SIGNING_KEY,
};
use jwt_simple::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

crate::on_both_backends!(
    accepts_user_id_as_simplejwt_writes_it_in_both_versions,
    tokens_nested_as_deep_as_the_parser_goes_are_answered,
    missing_or_foreign_credentials_are_not_authenticated,
    every_kind_of_invalid_token_is_token_not_valid,
    audience_issuer_and_leeway_follow_configuration,
);

async fn accepts_user_id_as_simplejwt_writes_it_in_both_versions(backend: Backend) {
    let app = spawn_app_on(backend).await;
    for user_id in [json!("42"), json!(42)] {
        let token = sign(simplejwt_claims(user_id.clone()));
        let response = app.post_order(Some(&token), &order(&[(2, 1)])).await;
        assert_eq!(response.status(), 201, "user_id {user_id}");
        assert_eq!(json_body(response).await["user_id"], 42);
    }
}

/// Claims as deep as the JSON parser goes are read (the extra claim
/// ignored); deeper ones are a bad token, not a trapped instance.
async fn tokens_nested_as_deep_as_the_parser_goes_are_answered(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let token_with = |depth: usize| {
        let mut claims = simplejwt_claims(json!("42"));
        claims
            .custom
            .insert("profile".into(), nested_objects(depth));
        sign(claims)
    };
    let response = app
        .post_order(Some(&token_with(120)), &order(&[(2, 1)]))
        .await;
    assert_eq!(response.status(), 201);

    let response = app
        .post_order(Some(&token_with(200)), &order(&[(2, 1)]))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.catalog.calls().await.reserve, 1, "only the first");
}

async fn missing_or_foreign_credentials_are_not_authenticated(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let cases: [Option<String>; 3] = [
        None,
        Some(format!("Token {}", token(1))),
        Some("Basic dXNlcjpwYXNz".into()),
    ];
    for authorization in cases {
        let mut request = app
            .request(Method::POST, "/orders/orders/")
            .json(&order(&[(1, 1)]));
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="api""#
        );
        assert_eq!(json_body(response).await["code"], "not_authenticated");
    }
    assert_nothing_happened(&app).await;
}

fn claims_with(edit: impl FnOnce(&mut JWTClaims<serde_json::Map<String, Value>>)) -> String {
    let mut claims = simplejwt_claims(json!("42"));
    edit(&mut claims);
    sign(claims)
}

async fn every_kind_of_invalid_token_is_token_not_valid(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let valid = token(42);
    let (header, payload, _) = {
        let mut parts = valid.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            (),
        )
    };
    let none_header =
        Base64UrlSafeNoPadding::encode_to_string(br#"{"alg":"none","typ":"JWT"}"#).unwrap();
    let now = Clock::now_since_epoch();
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("Bearer alone", "Bearer".into()),
        ("three parts", format!("Bearer {valid} extra")),
        ("garbage", "Bearer not.a.token".into()),
        ("two segments", format!("Bearer {header}.{payload}")),
        ("bad signature", format!("Bearer {header}.{payload}.AAAA")),
        ("alg none", format!("Bearer {none_header}.{payload}.")),
        (
            "wrong key",
            format!(
                "Bearer {}",
                HS256Key::from_bytes(b"some-other-key-of-thirty-bytes")
                    .authenticate(simplejwt_claims(json!("42")))
                    .unwrap()
            ),
        ),
        (
            "HS512",
            format!(
                "Bearer {}",
                HS512Key::from_bytes(SIGNING_KEY.as_bytes())
                    .authenticate(simplejwt_claims(json!("42")))
                    .unwrap()
            ),
        ),
        (
            "expired",
            format!(
                "Bearer {}",
                claims_with(|c| c.expires_at = Some(now - Duration::from_secs(5)))
            ),
        ),
        (
            "not yet valid",
            format!(
                "Bearer {}",
                claims_with(|c| c.invalid_before = Some(now + Duration::from_mins(5)))
            ),
        ),
        (
            "refresh token",
            format!(
                "Bearer {}",
                claims_with(|c| {
                    c.custom.insert("token_type".into(), json!("refresh"));
                })
            ),
        ),
        (
            "no jti",
            format!("Bearer {}", claims_with(|c| c.jwt_id = None)),
        ),
        (
            "no user_id",
            format!(
                "Bearer {}",
                claims_with(|c| {
                    c.custom.remove("user_id");
                })
            ),
        ),
    ];
    let mut bad_user_ids = vec![];
    for user_id in [
        json!(0),
        json!(-1),
        json!("abc"),
        json!("042"),
        json!(42.5),
        json!(true),
        json!(null),
        json!([42]),
    ] {
        bad_user_ids.push(format!("Bearer {}", sign(simplejwt_claims(user_id))));
    }
    let cases = cases
        .into_iter()
        .chain(bad_user_ids.into_iter().map(|h| ("bad user_id", h)));

    for (name, authorization) in cases {
        let response = app
            .request(Method::POST, "/orders/orders/")
            .header("authorization", authorization)
            .json(&order(&[(1, 1)]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="api""#,
            "{name}"
        );
        let body = json_body(response).await;
        assert_eq!(body["code"], "token_not_valid", "{name}");
        // Errors never echo the token.
        assert!(!body.to_string().contains(&payload), "{name}");
    }
    assert_nothing_happened(&app).await;
}

async fn audience_issuer_and_leeway_follow_configuration(backend: Backend) {
    let app = crate::helpers::spawn_app_with(crate::helpers::AppOptions {
        backend,
        variables: vec![
            ("jwt_audience", "shop".into()),
            ("jwt_issuer", "auth-service".into()),
            ("jwt_leeway_seconds", "30".into()),
        ],
        ..Default::default()
    })
    .await;
    let now = Clock::now_since_epoch();
    let plain = simplejwt_claims(json!("42"));
    let good = plain
        .clone()
        .with_audience("shop")
        .with_issuer("auth-service");
    let mut recently_expired = good.clone();
    recently_expired.expires_at = Some(now - Duration::from_secs(10));
    let mut long_expired = good.clone();
    long_expired.expires_at = Some(now - Duration::from_secs(60));

    let cases = [
        (sign(good), 201),
        (sign(recently_expired), 201),
        (sign(long_expired), 401),
        (sign(plain.clone()), 401),
        (
            sign(
                plain
                    .clone()
                    .with_audience("other")
                    .with_issuer("auth-service"),
            ),
            401,
        ),
        (
            sign(plain.with_audience("shop").with_issuer("someone-else")),
            401,
        ),
    ];
    for (index, (token, status)) in cases.into_iter().enumerate() {
        let response = app.post_order(Some(&token), &order(&[(2, 1)])).await;
        assert_eq!(response.status(), status, "case {index}");
    }
}

/// Rejected requests make no Catalog call and write nothing.
async fn assert_nothing_happened(app: &crate::helpers::TestApp) {
    assert_eq!(app.catalog.calls().await, Calls::NONE);
    assert_eq!(app.count("orders"), 0);
}
