//! The manifest with every combination of its optional peers configured or
//! not (issue 38): a JWKS, PostgreSQL, a Redis event stream. Each starts
//! the project's `spin.toml` unchanged on the runtime under test — spin-host,
//! then each real Spin `./dev test` finds (4.1, and 3.6.3, which checks
//! `allowed_outbound_hosts` with the variables' defaults and refuses an
//! entry that resolves to nothing) — answers health and places an order
//! whose every peer in use took part: the token verified with a key from
//! the JWKS, the order read back from the database, its event on the
//! stream.

use crate::helpers::{
    eventually, json_body, order, spawn_app_with, AppOptions, AuthService, Backend, RedisServer,
};
use std::time::Duration;

/// Which optional peers a deployment uses.
#[derive(Debug, Clone, Copy)]
struct Peers {
    jwks: bool,
    postgres: bool,
    redis: bool,
}

async fn starts_and_places_an_order(peers: Peers) {
    let redis = peers.redis.then(RedisServer::start);
    let auth = peers.jwks.then(|| AuthService::new("ES256", &["current"]));
    let endpoint = match &auth {
        Some(auth) => {
            auth.publish(&[("current", "k1")]);
            Some(auth.serve_jwks(0).await)
        }
        None => None,
    };
    // Only what this deployment uses is set: every other *_host keeps its
    // default, as an operator who does not use that peer leaves it.
    let mut options = AppOptions {
        backend: if peers.postgres {
            Backend::Postgres
        } else {
            Backend::Sqlite
        },
        ..Default::default()
    };
    if let Some(redis) = &redis {
        options.variables.extend(redis.variables());
    }
    if let (Some(auth), Some(endpoint)) = (&auth, &endpoint) {
        options.variables.extend([
            ("jwt_algorithm", auth.algorithm.to_owned()),
            ("jwt_signing_key", String::new()),
            ("jwt_jwks_url", endpoint.url()),
            ("jwt_jwks_host", endpoint.origin.clone()),
        ]);
        options.catalog_args = auth.catalog_args("current");
    }
    let app = spawn_app_with(options).await;

    let health = app.get("/orders/health/").await;
    assert_eq!(health.status(), 200, "{peers:?}");

    let token = match &auth {
        Some(auth) => auth.mint("current", 42, Some("k1")),
        None => crate::helpers::token(42),
    };
    let created = app.post_order(Some(&token), &order(&[(1, 2)])).await;
    assert_eq!(created.status(), 201, "{peers:?}: {:?}", app.stderr.lines());
    let created = json_body(created).await;
    let shown = app
        .request(
            reqwest::Method::GET,
            &format!("/orders/orders/{}/", created["id"]),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200, "{peers:?}");
    assert_eq!(json_body(shown).await["items"], created["items"]);
    if let Some(endpoint) = &endpoint {
        assert_eq!(endpoint.hits().await, 1, "the key came from the JWKS");
    }
    if let Some(redis) = &redis {
        assert!(
            eventually(Duration::from_secs(10), || async {
                redis
                    .entries("orders.events")
                    .iter()
                    .any(|e| e.field("type") == "order.created")
            })
            .await,
            "{peers:?}: order.created on the stream"
        );
    }
}

macro_rules! combinations {
    ($($name:ident: $jwks:literal, $postgres:literal, $redis:literal;)*) => {$(
        #[tokio::test]
        async fn $name() {
            starts_and_places_an_order(Peers {
                jwks: $jwks,
                postgres: $postgres,
                redis: $redis,
            })
            .await
        }
    )*};
}

combinations! {
    no_optional_peer: false, false, false;
    jwks: true, false, false;
    postgres: false, true, false;
    redis: false, false, true;
    jwks_and_postgres: true, true, false;
    jwks_and_redis: true, false, true;
    postgres_and_redis: false, true, true;
    every_peer: true, true, true;
}
