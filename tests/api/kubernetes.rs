//! Issue 25: the SpinKube manifests (deploy/kubernetes) pass their check —
//! every object against its schema, the manifests against spin.toml and
//! each other — and the check catches each rule broken on purpose. The
//! check itself is deploy/kubernetes/check.py (also run by deploy/check);
//! this runs it with the tests' venv, which holds kubernetes-validate.

use crate::helpers::artifacts;

#[test]
fn the_kubernetes_manifests_pass_their_check_and_it_catches_breakages() {
    let root = &artifacts().root;
    let python = root.join("target/django-venv/bin/python");
    let output = std::process::Command::new(&python)
        .arg(root.join("deploy/kubernetes/check.py"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (./dev test makes the venv)", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("SpinApp/order-service"), "{stdout}");
    assert!(
        stdout.contains("deliberate breakages was caught"),
        "{stdout}"
    );
}

/// Issue 38: the SpinApp's settings (its ConfigMap and the Secret's
/// example, as `check.py --variables` resolves them) start the project's
/// `spin.toml` on the runtime under test — under `./dev test` also Spin
/// 3.6.3, the Spin SpinKube's shim embeds — with the manifests' runtime
/// config, and every `allowed_outbound_hosts` entry resolves: a create is
/// refused because the cluster's Catalog and database cannot be found
/// here, never because Spin denied the destination (Spin 3 denies every
/// destination when one entry resolves to nothing).
#[tokio::test]
async fn the_spinapp_settings_start_the_app_and_allow_its_peers() {
    use crate::helpers::{order, start_app, token, up_command, SIGNING_KEY};
    let root = &artifacts().root;
    let output = std::process::Command::new(root.join("target/django-venv/bin/python"))
        .arg(root.join("deploy/kubernetes/check.py"))
        .arg("--variables")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let variables: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&output.stdout).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(root.join("spin.toml"))
        .unwrap()
        .replace(
            "source = \"target/wasm32-wasip2/release/order_service.wasm\"",
            &format!("source = {:?}", artifacts().wasm.display().to_string()),
        );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    std::fs::copy(
        root.join("deploy/kubernetes/runtime-config.toml"),
        dir.path().join("runtime-config.toml"),
    )
    .unwrap();
    let mut command = up_command(dir.path());
    command.args(["--runtime-config-file", "runtime-config.toml"]);
    for (name, _) in std::env::vars() {
        if name.starts_with("SPIN_VARIABLE_") || name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    for (name, value) in &variables {
        let value = value.as_str().unwrap();
        command.env(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
    }
    // secrets.env as the platform team fills it in.
    command.env("SPIN_VARIABLE_JWT_SIGNING_KEY", SIGNING_KEY);
    let (_app, address, _stdout, stderr) = start_app(command, dir.path()).await;

    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{address}/orders/health/"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let created = client
        .post(format!("http://{address}/orders/orders/"))
        .bearer_auth(token(42))
        .json(&order(&[(1, 1)]))
        .send()
        .await
        .unwrap();
    let status = created.status();
    let body: serde_json::Value = created.json().await.unwrap();
    let logs = stderr.lines().join("\n");
    assert_eq!(status, 503, "{body}\n{logs}");
    assert!(
        ["catalog_unavailable", "database_unavailable"].contains(&body["code"].as_str().unwrap()),
        "{body}"
    );
    for denied in [
        "HttpRequestDenied",
        "not permitted",
        "disallowed destination",
    ] {
        assert!(!logs.contains(denied), "Spin denied a peer: {logs}");
    }
}
