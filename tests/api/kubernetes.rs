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
