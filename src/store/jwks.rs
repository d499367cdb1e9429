//! The cached JWKS document (`auth::jwks_cache` decides when to fetch): a
//! row per URL for every instance, read by each request that checks a
//! token against it; a refresh claimed by one statement, so the instances
//! fetch at most once per cool-down between them.

use super::connection::{Record, Row};
use super::schema::JwksCache;
use super::{Run, Store, StoreError};
use sea_query::{Expr, ExprTrait, Query};

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

const AGE: &str = "age_seconds";
const TRIED: &str = "tried_seconds_ago";

impl Record for CachedJwks {
    type Column = JwksCache;
    const COLUMNS: &'static [JwksCache] = &[JwksCache::Document];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        Ok(CachedJwks {
            document: row.opt_text(JwksCache::Document)?.map(str::to_owned),
            age_seconds: row.opt_int(AGE)?,
            tried_seconds_ago: row.int(TRIED)?,
        })
    }
}

impl Store {
    /// The cache row for `url`, if a fetch from it was ever tried.
    pub fn cached_jwks(&self, url: &str) -> Result<Option<CachedJwks>, StoreError> {
        let d = self.dialect();
        let query = Query::select()
            .columns(CachedJwks::COLUMNS.iter().copied())
            .expr_as(d.age_seconds(JwksCache::FetchedAt), AGE)
            .expr_as(d.age_seconds(JwksCache::AttemptedAt), TRIED)
            .from(JwksCache::Table)
            .and_where(Expr::col(JwksCache::Url).eq(url))
            .to_owned();
        CachedJwks::read_first(&self.rows(&query)?)
    }

    /// True when this request may fetch `url` now: no fetch was tried in
    /// the last `cool_down_seconds` (by any instance).
    pub async fn claim_jwks_refresh(
        &self,
        url: &str,
        cool_down_seconds: u64,
    ) -> Result<bool, StoreError> {
        let claim = super::claim_once_per(
            self.dialect(),
            (JwksCache::Table, JwksCache::Url, JwksCache::AttemptedAt),
            url,
            cool_down_seconds,
        );
        Ok(!self.write_rows(&claim).await?.is_empty())
    }

    /// Stores a usable document fetched from `url`.
    pub async fn save_jwks(&self, url: &str, document: &str) -> Result<(), StoreError> {
        let update = Query::update()
            .table(JwksCache::Table)
            .value(JwksCache::Document, document)
            .value(JwksCache::FetchedAt, self.dialect().now())
            .and_where(Expr::col(JwksCache::Url).eq(url))
            .to_owned();
        self.write_exec(&update).await
    }
}
