//! The cached JWKS document (issue 23; migrations: SQLite 0013,
//! PostgreSQL 0010): a row per URL for every instance, read by each request that
//! checks a token against it; a refresh claimed by one statement, so the
//! instances fetch at most once per cool-down between them
//! (`orders::jwks` decides when).

use super::rows::Columns;
use super::sql::{pg_now_plus, sqlite_now, sqlite_now_plus, Param, Sql};
use super::{Run, Store, StoreError};

/// The document cached for `?1`, with its age and the time since the
/// last try, in seconds.
const READ_JWKS: Sql = Sql::fixed(
    "SELECT document, CAST(strftime('%s', 'now') - strftime('%s', fetched_at) AS INTEGER), \
     CAST(strftime('%s', 'now') - strftime('%s', attempted_at) AS INTEGER) \
     FROM jwks_cache WHERE url = ?1",
    "SELECT document, extract(epoch FROM now() - fetched_at)::bigint, \
     extract(epoch FROM now() - attempted_at)::bigint \
     FROM jwks_cache WHERE url = $1",
);
/// Claims the next fetch for `?1`: only when none was tried in the last
/// `?2` seconds (a negative [`Param::Seconds`]).
const CLAIM_REFRESH: Sql = Sql::fixed(
    concat!(
        "INSERT INTO jwks_cache (url, attempted_at) VALUES (?1, ",
        sqlite_now!(),
        ") ON CONFLICT (url) DO UPDATE SET attempted_at = excluded.attempted_at \
         WHERE jwks_cache.attempted_at <= ",
        sqlite_now_plus!(2),
        " RETURNING 1"
    ),
    concat!(
        "INSERT INTO jwks_cache (url, attempted_at) VALUES ($1, now()) \
         ON CONFLICT (url) DO UPDATE SET attempted_at = excluded.attempted_at \
         WHERE jwks_cache.attempted_at <= ",
        pg_now_plus!(2),
        " RETURNING 1"
    ),
);
const SAVE_DOCUMENT: Sql = Sql::fixed(
    concat!(
        "UPDATE jwks_cache SET document = ?2, fetched_at = ",
        sqlite_now!(),
        " WHERE url = ?1 RETURNING 1"
    ),
    "UPDATE jwks_cache SET document = $2, fetched_at = now() WHERE url = $1 \
     RETURNING 1",
);

/// What the cache holds for a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedJwks {
    /// The last document fetched and found usable; `None` before one was.
    pub document: Option<String>,
    /// Seconds since it was fetched (`None` without a document).
    pub age_seconds: Option<i64>,
    /// Seconds since a fetch was last tried.
    pub tried_seconds_ago: i64,
}

impl Store {
    /// The cache row for `url`, if a fetch from it was ever tried.
    pub fn cached_jwks(&self, url: &str) -> Result<Option<CachedJwks>, StoreError> {
        let rows = self.rows(&READ_JWKS, &[Param::Text(url)], |row: &dyn Columns| {
            Ok(CachedJwks {
                document: row.text(0).map(str::to_owned),
                age_seconds: row.int(1),
                tried_seconds_ago: row
                    .int(2)
                    .ok_or(StoreError::Malformed("jwks_cache.attempted_at"))?,
            })
        })?;
        Ok(rows.into_iter().next())
    }

    /// True when this request may fetch `url` now: no fetch was tried in
    /// the last `cool_down_seconds` (by any instance).
    pub async fn claim_jwks_refresh(
        &self,
        url: &str,
        cool_down_seconds: u64,
    ) -> Result<bool, StoreError> {
        let ago = -i64::try_from(cool_down_seconds).unwrap_or(i64::MAX);
        let claimed = self
            .write_rows(
                &CLAIM_REFRESH,
                &[Param::Text(url), Param::Seconds(ago)],
                |_| Ok(()),
            )
            .await?;
        Ok(!claimed.is_empty())
    }

    /// Stores a usable document fetched from `url`.
    pub async fn save_jwks(&self, url: &str, document: &str) -> Result<(), StoreError> {
        self.write_rows(
            &SAVE_DOCUMENT,
            &[Param::Text(url), Param::Text(document)],
            |_| Ok(()),
        )
        .await?;
        Ok(())
    }
}
