//! Issue 34: clients generated from the served document work, the way a
//! team consuming the API would use them — through the gateway, with
//! SimpleJWT's tokens, against the Django Catalog, on either database.
//!
//! - Python: openapi-python-client (tests/clients/requirements.txt, in
//!   target/client-venv) generates a client with no warning at all, and
//!   tests/clients/flow.py runs a user's flow through it.
//! - TypeScript: openapi-typescript (tests/clients/package.json, in
//!   target/client-npm) generates the types, `tsc` (strict) checks
//!   tests/clients/flow.ts against them, and node runs it through
//!   openapi-fetch.
//!
//! `./dev test` installs both toolchains.

use crate::helpers::*;
use std::process::Output;

crate::on_both_backends!(generated_clients_run_a_users_flow);

async fn generated_clients_run_a_users_flow(backend: Backend) {
    let app = spawn_app_with(AppOptions {
        catalog: CatalogKind::Django { release: true },
        backend,
        ..Default::default()
    })
    .await;
    let gateway = Gateway::start(nginx_binary(), &app.address).await;
    let document = app
        .client
        .get(format!("{}/orders/openapi.json", gateway.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let env = [
        ("BASE_URL", gateway.url.clone()),
        ("TOKEN", app.catalog.token(42).await),
        ("OTHER_TOKEN", app.catalog.token(7).await),
    ];
    let laptops = app.catalog.stock(1).await;

    let ran = python_flow(&document, &env);
    assert!(ran.contains("as the generated client read them"), "{ran}");
    // Two laptops stay reserved for the order still CREATED.
    assert_eq!(app.catalog.stock(1).await, laptops - 2);

    let ran = typescript_flow(&document, &env);
    assert!(ran.contains("as the generated types read it"), "{ran}");
    // Its one laptop came back with the cancel.
    assert_eq!(app.catalog.stock(1).await, laptops - 2);
}

fn python_flow(document: &str, env: &[(&str, String)]) -> String {
    let root = &artifacts().root;
    let venv = root.join("target/client-venv/bin");
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("openapi.json");
    std::fs::write(&path, document).unwrap();
    // The generator runs ruff on its output: the venv's bin first on PATH.
    let search_path = format!("{}:{}", venv.display(), std::env::var("PATH").unwrap());
    let generated = run(
        std::process::Command::new(venv.join("openapi-python-client"))
            .args(["generate", "--meta", "none", "--path"])
            .arg(&path)
            .arg("--output-path")
            .arg(work.path().join("order_service_client"))
            .env("PATH", &search_path),
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(
        !said.to_lowercase().contains("warning"),
        "openapi-python-client warned:\n{said}"
    );
    let flow = run(std::process::Command::new(venv.join("python"))
        .arg(root.join("tests/clients/flow.py"))
        .env("PYTHONPATH", work.path())
        .envs(env.iter().map(|(k, v)| (*k, v))));
    String::from_utf8_lossy(&flow.stdout).into_owned()
}

fn typescript_flow(document: &str, env: &[(&str, String)]) -> String {
    let root = &artifacts().root;
    let npm = root.join("target/client-npm");
    let bin = npm.join("node_modules/.bin");
    // Inside target/client-npm, so node finds its node_modules.
    let work = tempfile::tempdir_in(&npm).unwrap();
    let path = work.path().join("openapi.json");
    std::fs::write(&path, document).unwrap();
    for file in ["flow.ts", "tsconfig.json", "package.json"] {
        std::fs::copy(
            root.join("tests/clients").join(file),
            work.path().join(file),
        )
        .unwrap();
    }
    let generated = run(std::process::Command::new(bin.join("openapi-typescript"))
        .arg(&path)
        .arg("--output")
        .arg(work.path().join("schema.d.ts")));
    let said = String::from_utf8_lossy(&generated.stderr).to_lowercase();
    assert!(!said.contains("warn"), "openapi-typescript warned:\n{said}");
    run(std::process::Command::new(bin.join("tsc"))
        .arg("-p")
        .arg(work.path().join("tsconfig.json")));
    let flow = run(std::process::Command::new("node")
        .arg(work.path().join("flow.js"))
        .envs(env.iter().map(|(k, v)| (*k, v))));
    String::from_utf8_lossy(&flow.stdout).into_owned()
}

/// Runs `command`, failing the test with its output unless it succeeds.
fn run(command: &mut std::process::Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e} (./dev test installs the client tools)"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
