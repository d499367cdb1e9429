//! The Auth Service of a test that signs with a key pair (issue 23): key
//! pairs made and tokens minted by the reference stack itself
//! (`manage.py jwt`, tests/django_catalog: SimpleJWT's `AccessToken`
//! encoded by its `TokenBackend`, keys from the `cryptography` package).

use super::*;

pub struct AuthService {
    pub algorithm: &'static str,
    dir: tempfile::TempDir,
}

impl AuthService {
    /// An Auth Service signing with `algorithm`, holding the key pairs
    /// `names` (each `<name>.pem` private, `<name>.pub` public).
    pub fn new(algorithm: &'static str, names: &[&str]) -> Self {
        let service = AuthService {
            algorithm,
            dir: tempfile::tempdir().unwrap(),
        };
        for name in names {
            let private = service.path(&format!("{name}.pem"));
            let public = service.path(&format!("{name}.pub"));
            service.manage(&["keypair", algorithm, &private, &public]);
        }
        service
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }

    fn manage(&self, args: &[&str]) -> String {
        let output = std::process::Command::new(django_python())
            .arg("manage.py")
            .arg("jwt")
            .args(args)
            .current_dir(artifacts().root.join("tests/django_catalog"))
            .env("CATALOG_SIGNING_KEY", "not-used-by-these-commands")
            .env("CATALOG_DB", self.dir.path().join("unused.sqlite3"))
            .output()
            .expect("the Django venv (./dev test makes it)");
        assert!(
            output.status.success(),
            "manage.py jwt {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// Key `name`'s public key, PEM.
    pub fn public_pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{name}.pub"))).unwrap()
    }

    /// The file holding key `name`'s public key.
    pub fn public_file(&self, name: &str) -> String {
        self.path(&format!("{name}.pub"))
    }

    /// An access token for `user` signed with key `name`, as SimpleJWT
    /// issues it (with `kid` in its header when given).
    pub fn mint(&self, name: &str, user: i64, kid: Option<&str>) -> String {
        let private = self.path(&format!("{name}.pem"));
        let user = user.to_string();
        let mut args = vec!["mint", self.algorithm, &private, &user];
        if let Some(kid) = kid {
            args.extend(["--kid", kid]);
        }
        self.manage(&args)
    }

    /// [`Self::mint`], already expired (SimpleJWT's `exp` set in the past).
    pub fn mint_expired(&self, name: &str, user: i64) -> String {
        self.mint_short(name, user, -60)
    }

    /// [`Self::mint`] with another `token_type` (a refresh token's claims).
    pub fn mint_refresh(&self, name: &str, user: i64) -> String {
        let private = self.path(&format!("{name}.pem"));
        let user = user.to_string();
        self.manage(&[
            "mint",
            self.algorithm,
            &private,
            &user,
            "--token-type",
            "refresh",
        ])
    }

    /// The variables of an Order Service that trusts keys `names` (each
    /// labelled with its `kid` when given): the algorithm, the public keys,
    /// and no shared key.
    pub fn variables(&self, keys: &[(&str, Option<&str>)]) -> Vec<(&'static str, String)> {
        let bundle: String = keys
            .iter()
            .map(|(name, kid)| {
                let label = kid.map(|kid| format!("kid: {kid}\n")).unwrap_or_default();
                format!("{label}{}", self.public_pem(name))
            })
            .collect();
        vec![
            ("jwt_algorithm", self.algorithm.to_owned()),
            ("jwt_signing_key", String::new()),
            ("jwt_verifying_key", bundle),
        ]
    }

    /// The Django Catalog's settings to check this Auth Service's tokens
    /// (signed with key `name`): SimpleJWT's `ALGORITHM` and
    /// `VERIFYING_KEY` (tests/django_catalog/catalog_project/settings.py).
    pub fn django_env(&self, name: &str) -> Vec<(&'static str, String)> {
        vec![
            ("CATALOG_JWT_ALGORITHM", self.algorithm.to_owned()),
            ("CATALOG_JWT_VERIFYING_KEY_FILE", self.public_file(name)),
        ]
    }

    /// [`Self::mint`] valid for `seconds` only.
    pub fn mint_short(&self, name: &str, user: i64, seconds: i64) -> String {
        let private = self.path(&format!("{name}.pem"));
        let user = user.to_string();
        let seconds = seconds.to_string();
        self.manage(&[
            "mint",
            self.algorithm,
            &private,
            &user,
            "--lifetime",
            &seconds,
        ])
    }

    /// The demo Catalog's arguments to accept this Auth Service's tokens
    /// (signed with key `name`), as the Django Catalog's SimpleJWT with
    /// `VERIFYING_KEY` would.
    pub fn catalog_args(&self, name: &str) -> Vec<String> {
        vec![
            "--jwt-algorithm".to_owned(),
            self.algorithm.to_owned(),
            "--jwt-verifying-key-file".to_owned(),
            self.public_file(name),
        ]
    }

    /// Publishes keys `keys` (each `(name, kid)`) as the JWKS document
    /// its endpoint serves, exported by PyJWT (`manage.py jwt jwks`); an
    /// empty list takes the document away (the endpoint answers 503).
    pub fn publish(&self, keys: &[(&str, &str)]) {
        let document = self.path("jwks.json");
        if keys.is_empty() {
            let _ = std::fs::remove_file(&document);
            return;
        }
        let labelled: Vec<String> = keys
            .iter()
            .map(|(name, kid)| format!("{kid}={}", self.public_file(name)))
            .collect();
        let mut args = vec!["jwks", self.algorithm, &document];
        args.extend(labelled.iter().map(String::as_str));
        self.manage(&args);
    }

    /// The document [`Self::publish`] last wrote.
    pub fn jwks_document(&self) -> Vec<u8> {
        std::fs::read(self.path("jwks.json")).unwrap()
    }

    /// Serves `bytes` as the JWKS document instead (malformed, oversized).
    pub fn publish_raw(&self, bytes: &[u8]) {
        std::fs::write(self.path("jwks.json"), bytes).unwrap();
    }

    /// Starts the JWKS endpoint (tests/jwks/server.py), serving what
    /// [`Self::publish`] wrote, on `port` (0: any).
    pub async fn serve_jwks(&self, port: u16) -> JwksEndpoint {
        let mut command = Command::new(django_python());
        command
            .arg(artifacts().root.join("tests/jwks/server.py"))
            .arg(self.path("jwks.json"))
            .arg(port.to_string());
        let (process, port, _, _) = start(command, "").await;
        let port: u16 = port.trim().parse().unwrap();
        JwksEndpoint {
            origin: format!("http://127.0.0.1:{port}"),
            port,
            process,
        }
    }
}

/// A running JWKS endpoint.
pub struct JwksEndpoint {
    /// `http://127.0.0.1:<port>`: what `jwt_jwks_host` allows.
    pub origin: String,
    pub port: u16,
    process: Process,
}

impl JwksEndpoint {
    /// Its document's URL: what `jwt_jwks_url` names.
    pub fn url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.origin)
    }

    /// How many times the document was asked for.
    pub async fn hits(&self) -> u64 {
        Client::new()
            .get(format!("{}/hits", self.origin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Stops it (connections refused from now on).
    pub fn stop(self) -> u16 {
        drop(self.process);
        self.port
    }
}
