//! W3C Trace Context end to end (issue 22, SPEC §6's `trace_id`): an
//! incoming `traceparent` is continued, a malformed or missing one starts
//! a new trace; every Catalog request is a child span of the request's,
//! every log line of the request carries the trace, and every order event
//! it records is published with its `traceparent`.

use crate::helpers::{
    eventually, order, spawn_app_on, spawn_app_with, token, AppOptions, Backend, RedisServer,
    TestApp,
};
use serde_json::{json, Value};
use std::time::Duration;

crate::on_both_backends!(
    an_incoming_trace_reaches_the_catalog_and_the_logs,
    a_malformed_or_missing_traceparent_starts_a_new_trace,
    an_order_event_carries_the_trace_of_its_request,
);

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// The access line and the Catalog requests (traceparent, tracestate) of
/// the request with `request_id`.
async fn seen(app: &TestApp, request_id: &str) -> (Value, Vec<(String, String)>) {
    let access = app
        .request_logs()
        .into_iter()
        .find(|line| line["request_id"] == request_id)
        .expect("an access line");
    let calls = app.catalog.state().await["calls"].clone();
    let traces = calls["request_ids"]
        .as_array()
        .unwrap()
        .iter()
        .zip(calls["traces"].as_array().unwrap())
        .filter(|(id, _)| *id == request_id)
        .map(|(_, pair)| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (access, traces)
}

async fn create(app: &TestApp, request_id: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = app
        .request(reqwest::Method::POST, "/orders/orders/")
        .bearer_auth(token(42))
        .header("x-request-id", request_id)
        .json(&order(&[(1, 1), (2, 1)]));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status().as_u16()
}

/// `00-<trace>-<span>-<flags>`, split.
fn parts(traceparent: &str) -> Vec<String> {
    traceparent.split('-').map(str::to_owned).collect()
}

async fn an_incoming_trace_reaches_the_catalog_and_the_logs(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let status = create(
        &app,
        "traced-1",
        &[
            ("traceparent", &traceparent),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(status, 201);
    let (access, catalog) = seen(&app, "traced-1").await;
    assert_eq!(access["trace_id"], TRACE, "{access}");
    let span = access["span_id"].as_str().unwrap();
    assert!(span.len() == 16 && span != PARENT, "{access}");

    // Two reads and two reserves, each its own child span of ours.
    assert_eq!(catalog.len(), 4, "{catalog:?}");
    let mut children = std::collections::BTreeSet::new();
    for (traceparent, tracestate) in &catalog {
        let p = parts(traceparent);
        assert_eq!(
            (p[0].as_str(), p[1].as_str(), p[3].as_str()),
            ("00", TRACE, "01")
        );
        assert!(p[2] != PARENT && p[2] != span, "{traceparent}");
        children.insert(p[2].clone());
        assert_eq!(tracestate, "congo=t61rcWkgMzE");
    }
    assert_eq!(children.len(), 4, "a span id per request: {catalog:?}");

    // The request's other lines carry it too: a cancel's failed release.
    app.catalog.set_faults(json!({"release_status": 503})).await;
    let cancel = app
        .request(reqwest::Method::POST, "/orders/orders/1/cancel/")
        .bearer_auth(token(42))
        .header("x-request-id", "traced-2")
        .header("traceparent", &traceparent)
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let deferred = app.stderr.events("release_deferred");
    assert!(!deferred.is_empty());
    for line in deferred {
        assert_eq!(line["trace_id"], TRACE, "{line}");
        assert_eq!(line["request_id"], "traced-2", "{line}");
    }
}

async fn a_malformed_or_missing_traceparent_starts_a_new_trace(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let malformed = format!("00-{}-{PARENT}-01", TRACE.to_uppercase());
    let cases: [(&str, Vec<(&str, &str)>); 2] = [
        (
            "malformed-1",
            vec![("traceparent", &malformed), ("tracestate", "congo=x")],
        ),
        ("missing-1", vec![]),
    ];
    let mut traces = Vec::new();
    for (request_id, headers) in &cases {
        assert_eq!(create(&app, request_id, headers).await, 201);
        let (access, catalog) = seen(&app, request_id).await;
        let trace = access["trace_id"].as_str().unwrap().to_owned();
        assert!(
            trace.len() == 32
                && trace != TRACE
                && trace != TRACE.to_uppercase()
                && trace
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{access}"
        );
        for (traceparent, tracestate) in &catalog {
            assert_eq!(parts(traceparent)[1], trace, "{traceparent}");
            assert_eq!(tracestate, "", "a malformed traceparent's state is dropped");
        }
        traces.push(trace);
    }
    assert_ne!(traces[0], traces[1]);
}

async fn an_order_event_carries_the_trace_of_its_request(backend: Backend) {
    let redis = RedisServer::start();
    let app = spawn_app_with(AppOptions {
        backend,
        variables: redis.variables(),
        ..Default::default()
    })
    .await;
    let create_trace = format!("00-{TRACE}-{PARENT}-01");
    assert_eq!(
        create(&app, "traced-create", &[("traceparent", &create_trace)]).await,
        201
    );
    let cancel_trace = "0af7651916cd43dd8448eb211c80319c";
    let cancelled = app
        .request(reqwest::Method::POST, "/orders/orders/1/cancel/")
        .bearer_auth(token(42))
        .header("x-request-id", "traced-cancel")
        .header(
            "traceparent",
            format!("00-{cancel_trace}-b7ad6b7169203331-00"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    assert!(
        eventually(Duration::from_secs(10), || async {
            redis.entries("orders.events").len() == 2
        })
        .await
    );
    let entries = redis.entries("orders.events");
    // Each names the span of the request that caused it, with its flags.
    let span = |request_id: &str| {
        app.request_logs()
            .into_iter()
            .find(|line| line["request_id"] == request_id)
            .expect("an access line")["span_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(entries[0].field("type"), "order.created");
    assert_eq!(
        entries[0].field("traceparent"),
        format!("00-{TRACE}-{}-01", span("traced-create"))
    );
    assert_eq!(entries[1].field("type"), "order.cancelled");
    assert_eq!(
        entries[1].field("traceparent"),
        format!("00-{cancel_trace}-{}-00", span("traced-cancel"))
    );
}
