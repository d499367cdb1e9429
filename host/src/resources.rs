//! The resources the Spin interfaces hand to a component (their data
//! only): a leaf module, so the bindings name them without depending on the
//! interfaces' implementations (`sqlite`, `postgres`, `redis`), which in
//! turn use the bindings.

use crate::runtime_config::SqliteLocation;
use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// One database connection, as handed to the component; the SQLite
/// connection itself is made on first use.
pub struct SqliteConnection {
    pub(crate) location: SqliteLocation,
    pub(crate) conn: OnceLock<Arc<Mutex<rusqlite::Connection>>>,
    /// Pragmas this host refuses (`SPIN_HOST_SQLITE_REFUSE_PRAGMAS`), to
    /// behave like a hosted libSQL database.
    pub(crate) refused_pragmas: Arc<Vec<String>>,
}

/// A pooled client, as handed to the component.
pub struct PgConnection {
    pub(crate) client: deadpool_postgres::Object,
}

/// One pool per address, shared by all instances of the app.
#[derive(Clone, Default)]
pub struct PgPools(pub(crate) Arc<Mutex<HashMap<String, deadpool_postgres::Pool>>>);

/// An open connection, as handed to the component.
pub struct RedisConnection {
    pub(crate) connection: MultiplexedConnection,
}
