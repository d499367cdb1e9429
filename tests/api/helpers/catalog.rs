//! The Catalog peers a test talks to: the demo Catalog (call counts, faults)
//! or the reference Django one.

use super::*;

/// Which Catalog a test talks to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum CatalogKind {
    /// The Rust stand-in (`catalog/`): call counts and fault injection.
    #[default]
    Demo,
    /// Django + DRF + SimpleJWT under gunicorn (`tests/django_catalog/`),
    /// the reference Catalog's stack; `release` serves our `/release/`
    /// extension, without it the URL is Django's HTML 404.
    Django { release: bool },
}

/// The Catalog Service of one test.
pub struct TestCatalog {
    pub url: String,
    pub kind: CatalogKind,
    client: Client,
    /// The Django Catalog's database (products and stock).
    django_db: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    _child: Process,
}

/// The venv holding the Django stack, made by `./dev test`
/// (`DJANGO_VENV` overrides where it is).
pub fn django_python() -> PathBuf {
    let venv = std::env::var_os("DJANGO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| artifacts().root.join("target/django-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./dev test, which installs the Django Catalog's \
         stack (tests/django_catalog/requirements.txt) into it",
        python.display()
    );
    python
}

/// A migrated and seeded Django Catalog database, made once per run and
/// copied for each test.
fn django_template_db() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let root = &artifacts().root;
        let dir = root.join("target/django-catalog");
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join(format!("template-{}.sqlite3", std::process::id()));
        let _ = std::fs::remove_file(&db);
        for args in [
            vec!["manage.py", "migrate", "-v", "0"],
            vec!["manage.py", "seed_products", "../../catalog/seed.json"],
        ] {
            let status = std::process::Command::new(django_python())
                .args(&args)
                .current_dir(root.join("tests/django_catalog"))
                .env("CATALOG_SIGNING_KEY", SIGNING_KEY)
                .env("CATALOG_DB", &db)
                .status()
                .expect("run manage.py");
            assert!(status.success(), "manage.py {args:?} failed");
        }
        db
    })
}

impl TestCatalog {
    pub async fn spawn(kind: CatalogKind) -> Self {
        match kind {
            CatalogKind::Demo => Self::spawn_demo().await,
            CatalogKind::Django { release } => Self::spawn_django(release).await,
        }
    }

    async fn spawn_demo() -> Self {
        Self::spawn_demo_seeded(None).await
    }

    /// The demo Catalog with these products (`catalog/seed.json`'s shape)
    /// instead of the usual seed.
    pub async fn spawn_demo_seeded(products: Option<&Value>) -> Self {
        Self::spawn_demo_with(products, &[]).await
    }

    /// The demo Catalog with these products and more arguments.
    pub async fn spawn_demo_with(products: Option<&Value>, args: &[String]) -> Self {
        let artifacts = artifacts();
        let dir = tempfile::tempdir().unwrap();
        let seed = match products {
            Some(products) => {
                let seed = dir.path().join("seed.json");
                std::fs::write(&seed, products.to_string()).unwrap();
                seed
            }
            None => artifacts.root.join("catalog/seed.json"),
        };
        let mut command = Command::new(&artifacts.catalog);
        command
            .args(["--listen", "127.0.0.1:0", "--seed"])
            .arg(seed)
            .args(args)
            .env("SPIN_VARIABLE_JWT_SIGNING_KEY", SIGNING_KEY);
        let (child, address, _, _) = start(command, "Catalog listening on ").await;
        Self {
            url: address,
            kind: CatalogKind::Demo,
            client: Client::new(),
            django_db: None,
            _dir: Some(dir),
            _child: child,
        }
    }

    /// gunicorn with two sync workers serving the Django Catalog on a free
    /// port, its own copy of the seeded database.
    async fn spawn_django(release: bool) -> Self {
        Self::spawn_django_with(release, &[]).await
    }

    /// [`Self::spawn_django`] with more settings (e.g. the Auth Service's
    /// public key, `AuthService::django_env`).
    pub async fn spawn_django_with(release: bool, env: &[(&'static str, String)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("catalog.sqlite3");
        std::fs::copy(django_template_db(), &db).unwrap();
        let venv_bin = django_python().parent().unwrap().to_owned();
        let mut command = Command::new(venv_bin.join("gunicorn"));
        command
            .args(["catalog_project.wsgi:application", "--bind", "127.0.0.1:0"])
            .args(["--workers", "2", "--no-control-socket", "--timeout", "30"])
            .current_dir(artifacts().root.join("tests/django_catalog"))
            .env("CATALOG_SIGNING_KEY", SIGNING_KEY)
            .env("CATALOG_DB", &db)
            .env("CATALOG_RELEASE_ENABLED", if release { "1" } else { "0" })
            .env("CATALOG_TEST_HOOKS", "1")
            .envs(env.iter().map(|(name, value)| (*name, value)));
        let (child, address, _, _) = start(command, "Listening at: ").await;
        // "http://127.0.0.1:PORT (PID)"
        let url = address.split_whitespace().next().unwrap().to_owned();
        Self {
            url,
            kind: CatalogKind::Django { release },
            client: Client::new(),
            django_db: Some(db),
            _dir: Some(dir),
            _child: child,
        }
    }

    fn demo_only(&self, what: &str) {
        assert_eq!(
            self.kind,
            CatalogKind::Demo,
            "{what} exists only on the demo Catalog"
        );
    }

    /// Replaces the injected faults (see demo-catalog's `Faults`).
    pub async fn set_faults(&self, faults: Value) {
        self.demo_only("fault injection");
        let response = self
            .client
            .put(format!("{}/_faults", self.url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "faults {faults} rejected");
    }

    pub async fn state(&self) -> Value {
        self.demo_only("/_state");
        self.client
            .get(format!("{}/_state", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Units on hand, as the Catalog itself records them.
    pub async fn stock(&self, product_id: i64) -> i64 {
        match &self.django_db {
            Some(db) => rusqlite::Connection::open(db)
                .unwrap()
                .query_row(
                    "SELECT in_stock FROM products_product WHERE id = ?",
                    [product_id],
                    |r| r.get(0),
                )
                .unwrap(),
            None => self.state().await["stock"][product_id.to_string()]
                .as_i64()
                .unwrap(),
        }
    }

    /// How many GET, reserve and release calls the Catalog has seen.
    pub async fn calls(&self) -> Calls {
        let calls = &self.state().await["calls"];
        let n = |k: &str| calls[k].as_u64().unwrap();
        Calls {
            get: n("get"),
            reserve: n("reserve"),
            release: n("release"),
        }
    }

    /// An access token for `user`: minted by SimpleJWT itself on the
    /// Django Catalog, by jwt-simple with SimpleJWT's claims on the demo.
    pub async fn token(&self, user: i64) -> String {
        if self.kind == CatalogKind::Demo {
            return token(user);
        }
        let answer: Value = self
            .client
            .post(format!("{}/_test/token/", self.url))
            .json(&json!({ "user_id": user }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access"].as_str().unwrap().to_owned()
    }
}

/// Calls the demo Catalog has seen, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    pub get: u64,
    pub reserve: u64,
    pub release: u64,
}

impl Calls {
    pub const NONE: Calls = Calls {
        get: 0,
        reserve: 0,
        release: 0,
    };
}

/// `count` demo-Catalog products numbered from 1, each at `price` with
/// `in_stock` units (for [`AppOptions::catalog_products`]).
pub fn products(count: i64, price: &str, in_stock: i64) -> Value {
    (1..=count)
        .map(|id| {
            json!({"id": id, "name": format!("p{id}"), "description": "", "price": price,
                   "is_active": true, "in_stock": in_stock})
        })
        .collect()
}
