//! spin-host behaving like `spin up` where this app depends on it, and the
//! per-request log line (SPEC §6).

use crate::helpers::{
    host_command, order, spawn_app, spawn_app_on, spawn_app_with, token, AppOptions, Backend,
    Calls, CatalogKind, TestCatalog,
};
use std::process::Stdio;

#[tokio::test]
async fn outbound_requests_to_hosts_not_allowed_are_denied() {
    let app = spawn_app_with(AppOptions {
        manifest_edit: Some(|manifest| {
            manifest.replace(
                r#"allowed_outbound_hosts = ["{{ catalog_url }}", "{{ jwt_jwks_host }}", "{{ database_host }}", "{{ events_redis_host }}"]"#,
                r#"allowed_outbound_hosts = ["http://127.0.0.1:1"]"#,
            )
        }),
        ..Default::default()
    })
    .await;
    let response = app.post_order(Some(&token(42)), &order(&[(1, 1)])).await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        app.catalog.calls().await,
        Calls::NONE,
        "the request never left"
    );
    assert!(app
        .stderr
        .lines()
        .iter()
        .any(|l| l.contains("disallowed destination 'http://")));
}

/// Runs `spin-host up` expecting it to refuse to start; returns its stderr.
pub(crate) async fn failed_start(options: AppOptions, remove_env: Option<&str>) -> String {
    let catalog = TestCatalog::spawn(CatalogKind::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = host_command(&options, &catalog.url, dir.path());
    if let Some(name) = remove_env {
        command.env_remove(name);
    }
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "start-up should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_missing_required_variable_stops_start_up_with_its_name() {
    let stderr = failed_start(AppOptions::default(), Some("SPIN_VARIABLE_CATALOG_URL")).await;
    assert!(stderr.contains("catalog_url"), "{stderr}");
}

#[tokio::test]
async fn a_bad_manifest_stops_start_up() {
    let options = AppOptions {
        manifest_edit: Some(|m| {
            m.replace("spin_manifest_version = 2", "spin_manifest_version = 3")
        }),
        ..Default::default()
    };
    let stderr = failed_start(options, None).await;
    assert!(stderr.contains("invalid manifest version: 3"), "{stderr}");
}

crate::on_both_backends!(one_json_log_line_per_request_without_secrets);

async fn one_json_log_line_per_request_without_secrets(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let token = token(42);
    let created = app.post_order(Some(&token), &order(&[(1, 1)])).await;
    let order_id = created.json::<serde_json::Value>().await.unwrap()["id"].clone();
    app.post_order(Some("not-a-token"), &order(&[(1, 1)])).await;
    app.get("/orders/health/").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let logs = app.request_logs();
    assert_eq!(logs.len(), 3, "{logs:?}");
    let create = &logs[0];
    assert_eq!(create["method"], "POST");
    assert_eq!(create["path"], "/orders/orders/");
    assert_eq!(create["status"], 201);
    assert_eq!(create["user_id"], 42);
    assert_eq!(create["order_id"], order_id);
    assert!(create["duration_ms"].is_number());
    assert!(create["request_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    for phase in [
        "auth_ms",
        "body_ms",
        "db_open_ms",
        "catalog_read_ms",
        "reserve_ms",
        "db_write_ms",
    ] {
        assert!(create["phases"][phase].is_number(), "{phase} in {create}");
    }
    assert_eq!(logs[1]["status"], 401);
    assert_eq!(logs[2]["status"], 200);

    let everything = [app.stdout.lines(), app.stderr.lines()].concat().join("\n");
    assert!(!everything.contains(&token));
    assert!(!everything.contains(token.split('.').nth(2).unwrap()));
    assert!(!everything.contains(crate::helpers::SIGNING_KEY));
}

/// `wit/world.wit` lists what the component imports and exports; the built
/// `.wasm` must match it (interface names, versions up to major.minor).
#[tokio::test]
async fn the_component_imports_and_exports_exactly_what_wit_declares() {
    let artifacts = crate::helpers::artifacts();
    let output = tokio::process::Command::new(&artifacts.host)
        .arg("inspect")
        .arg(&artifacts.wasm)
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let actual = surface(&String::from_utf8(output.stdout).unwrap());
    let declared = surface(&std::fs::read_to_string(artifacts.root.join("wit/world.wit")).unwrap());
    assert_eq!(actual, declared);
}

/// `import|export ns:pkg/iface@MAJOR.MINOR` lines, sorted.
fn surface(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            line.split("//")
                .next()
                .unwrap()
                .trim()
                .trim_end_matches(';')
        })
        .filter(|line| line.starts_with("import ") || line.starts_with("export "))
        .map(|line| match line.rsplit_once('.') {
            Some((major_minor, _patch)) => major_minor.to_owned(),
            None => line.to_owned(),
        })
        .collect();
    lines.sort();
    lines
}

/// Spin turns request headers into strings before any component runs: a
/// value that is not UTF-8 fails the whole request with an empty 500, and
/// the component never sees it (no log line, no Catalog call). spin-host
/// does the same, so the two runtimes answer alike.
#[tokio::test]
async fn a_header_value_that_is_not_utf8_is_refused_before_the_component_runs() {
    let app = spawn_app().await;
    for header in ["idempotency-key", "payment-signature", "x-request-id"] {
        let response = app
            .request(reqwest::Method::POST, "/orders/orders/")
            .bearer_auth(token(42))
            .header(
                header,
                reqwest::header::HeaderValue::from_bytes(b"\xff").unwrap(),
            )
            .json(&order(&[(1, 1)]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500, "{header}");
        assert_eq!(response.bytes().await.unwrap().len(), 0, "{header}");
    }
    assert!(app.request_logs().is_empty(), "the component never ran");
    assert_eq!(app.catalog.calls().await, Calls::NONE);
    // A UTF-8 value outside ASCII reaches the component, which judges it.
    let response = app
        .request(reqwest::Method::POST, "/orders/orders/")
        .bearer_auth(token(42))
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
        )
        .json(&order(&[(1, 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
