//! The storage contract (issue 33): every primitive of `order_service::store`
//! run natively, through the seam the component uses ([`Connection`]), on
//! each real database — a fresh SQLite file and a fresh PostgreSQL
//! database — with the same assertions. What the workflows rely on is
//! written down here once; a backend that answers otherwise fails its half.
//! The end-to-end suites (tests/api, tests/chaos) run the same statements
//! through Spin's APIs.

#[allow(dead_code, unused_imports)]
#[path = "../api/helpers/mod.rs"]
mod helpers;

mod connections;
mod contract;
mod plans;

use connections::{NativePostgres, NativeSqlite};
use order_service::store::{Connection, Store};

/// Which database a contract test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database of `backend` behind a store, and what keeps it alive.
pub struct Fresh {
    pub store: Store,
    pub backend: Backend,
    /// The SQLite file's folder, or the PostgreSQL database's URL.
    pub location: Location,
}

pub enum Location {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Fresh {
    pub fn new(backend: Backend) -> Self {
        let (conn, location): (Box<dyn Connection>, Location) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let conn = NativeSqlite::open(&dir.path().join("db.sqlite3"));
                (Box::new(conn), Location::Sqlite(dir))
            }
            Backend::Postgres => {
                let url = helpers::pg_server().create_database();
                (
                    Box::new(NativePostgres::connect(&url)),
                    Location::Postgres(url),
                )
            }
        };
        let store = block_on(Store::on(conn)).unwrap();
        Fresh {
            store,
            backend,
            location,
        }
    }

    /// Another connection to the same database, as another request (or
    /// another instance) has.
    pub fn another(&self) -> Store {
        let conn: Box<dyn Connection> = match &self.location {
            Location::Sqlite(dir) => Box::new(NativeSqlite::open(&dir.path().join("db.sqlite3"))),
            Location::Postgres(url) => Box::new(NativePostgres::connect(url)),
        };
        block_on(Store::on(conn)).unwrap()
    }
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

/// Runs each named test, a `fn(Backend)`, once per backend:
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn sqlite() {
                super::$test($crate::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$test($crate::Backend::Postgres)
            }
        }
    )*};
}
