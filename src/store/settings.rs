//! Which database orders live in (`database_url`).

use crate::settings::{fail, non_empty, ConfigError, Variables};

/// The database the settings name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `postgres://…`: PostgreSQL, through Spin's PostgreSQL API; `None`:
    /// Spin's SQLite `default` database.
    pub database_url: Option<DatabaseUrl>,
}

/// The PostgreSQL connection string; it holds a password, so it is never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<database url>")
    }
}

impl StoreSettings {
    pub fn read(vars: &dyn Variables) -> Result<Self, ConfigError> {
        let url = vars.get("database_url")?;
        let postgres = ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
        if !url.is_empty() && !postgres {
            return Err(fail(
                "database_url",
                "must be empty (SQLite) or a postgres:// connection string",
            ));
        }
        Ok(StoreSettings {
            database_url: non_empty(url).map(DatabaseUrl),
        })
    }

    /// The PostgreSQL address, if PostgreSQL it is.
    pub fn postgres_url(&self) -> Option<&str> {
        self.database_url.as_ref().map(|url| url.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Fixed;

    #[test]
    fn the_database_is_sqlite_or_postgres_and_its_url_never_echoed() {
        let read = |url| StoreSettings::read(&Fixed::of(&[("database_url", url)]));
        assert_eq!(read("").unwrap().postgres_url(), None);
        let postgres = read("postgres://orders:s3cret@db:5432/orders").unwrap();
        assert_eq!(
            postgres.postgres_url(),
            Some("postgres://orders:s3cret@db:5432/orders")
        );
        assert!(!format!("{postgres:?}").contains("s3cret"));
        let mysql = read("mysql://orders:s3cret@db/orders").unwrap_err();
        assert_eq!(mysql.name, "database_url");
        assert!(!mysql.to_string().contains("s3cret"));
    }
}
