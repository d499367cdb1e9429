//! SPEC §6 hosted Spin, as far as it can be tried here: the manifest that
//! `deploy/cloud-manifest` writes for Fermyon Cloud (no variable templates
//! in `allowed_outbound_hosts` there), and a hosted (libSQL) database that
//! refuses the service's pragmas. The hosted shape itself (the manifest under
//! a 128 MiB container, no runtime config) runs in deploy/compose-check.

use crate::helpers::{
    artifacts, host_command, json_body, pg_server, post_order_to, spawn_app_with, start_app, token,
    AppOptions, CatalogKind, TestCatalog,
};
use reqwest::Method;

/// `deploy/cloud-manifest <origin>`'s output.
fn cloud_manifest(origin: &str) -> String {
    cloud_manifest_with(&[origin])
}

/// `deploy/cloud-manifest <origin> <peers>...`'s output.
fn cloud_manifest_with(args: &[&str]) -> String {
    let output = std::process::Command::new(artifacts().root.join("deploy/cloud-manifest"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn the_cloud_manifest_allows_exactly_the_catalog_origin() {
    let catalog = TestCatalog::spawn(CatalogKind::Demo).await;
    let other = TestCatalog::spawn(CatalogKind::Demo).await;
    let manifest = cloud_manifest(&catalog.url);
    assert!(
        manifest.contains(&format!("allowed_outbound_hosts = [\"{}\"]\n", catalog.url)),
        "{manifest}"
    );
    assert!(manifest.contains("\nsqlite_databases = [\"default\"]\n"));

    let options = AppOptions {
        manifest_text: Some(manifest),
        ..Default::default()
    };
    let data = tempfile::tempdir().unwrap();
    let (_host, address, _, _) = start_app(
        host_command(&options, &catalog.url, data.path()),
        data.path(),
    )
    .await;
    let created = post_order_to(&format!("http://{address}"), &token(42), &[(1, 1)]).await;
    assert_eq!(created.status(), 201);

    // The same manifest with catalog_url pointing elsewhere: denied.
    let data = tempfile::tempdir().unwrap();
    let (_host, address, _, stderr) =
        start_app(host_command(&options, &other.url, data.path()), data.path()).await;
    let refused = post_order_to(&format!("http://{address}"), &token(42), &[(1, 1)]).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(other.calls().await.get, 0, "the request never left");
    assert!(stderr
        .lines()
        .iter()
        .any(|l| l.contains("disallowed destination 'http://")));
}

#[tokio::test]
async fn the_cloud_manifest_refuses_an_origin_with_a_path() {
    for bad in ["https://catalog.example.com/api", "catalog:9001", ""] {
        let output = std::process::Command::new(artifacts().root.join("deploy/cloud-manifest"))
            .arg(bad)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
    }
}

/// The database and Redis peers are written in beside the Catalog's
/// origin, never with credentials.
#[tokio::test]
async fn the_cloud_manifest_adds_the_database_and_redis_peers() {
    let script = artifacts().root.join("deploy/cloud-manifest");
    let output = std::process::Command::new(&script)
        .args([
            "https://catalog.example.com",
            "postgres://db.example.com:5432",
            "redis://cache.example.com:6379",
            "https://auth.example.com",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let manifest = String::from_utf8(output.stdout).unwrap();
    assert!(manifest.contains(
        "allowed_outbound_hosts = [\"https://catalog.example.com\", \"postgres://db.example.com:5432\", \"redis://cache.example.com:6379\", \"https://auth.example.com\"]\n"
    ), "{manifest}");
    assert!(!manifest.contains("sqlite_databases"), "{manifest}");
    for bad in [
        "redis://:secret@cache.example.com:6379",
        "redis://cache.example.com",
        "mysql://db:3306",
        "https://auth.example.com/.well-known/jwks.json",
    ] {
        let output = std::process::Command::new(&script)
            .args(["https://catalog.example.com", bad])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
    }
}

/// With a PostgreSQL peer the manifest declares no SQLite database, as
/// hosted platforms without one (Akamai Functions) need: the service runs
/// on PostgreSQL alone. Had it opened SQLite, the host would have refused
/// it (not declared) and the create would not be 201.
#[tokio::test]
async fn the_cloud_manifest_for_postgres_declares_no_sqlite_and_needs_none() {
    let catalog = TestCatalog::spawn(CatalogKind::Demo).await;
    let server = pg_server();
    let manifest = cloud_manifest_with(&[&catalog.url, &server.address]);
    assert!(!manifest.contains("sqlite_databases"), "{manifest}");
    let options = AppOptions {
        manifest_text: Some(manifest),
        variables: vec![
            ("database_url", server.create_database()),
            ("database_host", server.address.clone()),
        ],
        ..Default::default()
    };
    let data = tempfile::tempdir().unwrap();
    let (_host, address, _, stderr) = start_app(
        host_command(&options, &catalog.url, data.path()),
        data.path(),
    )
    .await;
    let base = format!("http://{address}");
    let created = post_order_to(&base, &token(42), &[(1, 2)]).await;
    assert_eq!(created.status(), 201, "{:?}", stderr.lines());
    let id = json_body(created).await["id"].clone();
    let read = reqwest::Client::new()
        .get(format!("{base}/orders/orders/{id}/"))
        .bearer_auth(token(42))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert!(
        !data.path().join("db.sqlite3").exists(),
        "no SQLite file made"
    );
}

/// Hosted SQLite on Fermyon Cloud is libSQL, which refuses
/// `PRAGMA journal_mode` (and the busy timeout): the service must not need
/// them. (SQLite only: the refusal is libSQL's.)
#[tokio::test]
async fn the_service_works_when_its_pragmas_are_refused() {
    let app = spawn_app_with(AppOptions {
        host_env: vec![(
            "SPIN_HOST_SQLITE_REFUSE_PRAGMAS",
            "journal_mode,busy_timeout".into(),
        )],
        ..Default::default()
    })
    .await;
    let created = app.create(42, &[(1, 2)]).await;
    let list = app.send_as(42, Method::GET, "/orders/orders/").await;
    assert_eq!(list.status(), 200);
    assert_eq!(json_body(list).await["results"][0]["id"], created["id"]);
    assert_eq!(app.cancel(42, &created["id"]).await.status(), 200);
    // The refusal was real: the file never went to WAL.
    let mode: String = app
        .db()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
}
