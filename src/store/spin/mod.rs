//! The component's connections, through Spin's APIs: below the seam, each
//! binds values, reads cells and reports errors its database's way.
//!
//! - [`SpinSqlite`]: `spin:sqlite/sqlite@3.0.0`, Spin's `default` database,
//!   one connection per request (Spin's model).
//! - [`SpinPostgres`]: `spin:postgres/postgres@4.0.0`; Spin pools the
//!   connections.

mod postgres;
mod sqlite;

pub use postgres::SpinPostgres;
pub use sqlite::SpinSqlite;
