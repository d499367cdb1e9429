//! A statement said once per dialect, with one list of values for both:
//! SQLite's numbered placeholders (`?1`, `?2`, …) take the same positions
//! as PostgreSQL's (`$1`, `$2`, …), so each storage primitive is written
//! once (the files beside this one) and only its SQL text differs. The
//! backends run the text of their dialect ([`super::sqlite::Db::run`],
//! [`super::postgres::Db::run`]) and bind each [`Param`] their own way.
//!
//! Every write says `RETURNING`: PostgreSQL's runner nests a statement in
//! a CTE (Spin 4.1 never answers a query with no rows), and a CTE that
//! writes can only be read with one. A test runs every statement on both
//! backends (the end-to-end suite, `on_both_backends!`).

use crate::domain::money::Money;
use std::borrow::Cow;

/// SQLite's current time as stored: RFC 3339 UTC to the second, so text
/// order is time order.
macro_rules! sqlite_now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
    };
}

/// SQLite's time `?N` seconds from now, `N` the [`Param::Seconds`].
macro_rules! sqlite_now_plus {
    ($n:literal) => {
        concat!("strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?", $n, ")")
    };
}

/// PostgreSQL's time `$N` seconds from now.
macro_rules! pg_now_plus {
    ($n:literal) => {
        concat!("now() + $", $n, "::bigint * interval '1 second'")
    };
}

pub(super) use {pg_now_plus, sqlite_now, sqlite_now_plus};

/// A value bound to a statement.
#[derive(Debug, Clone)]
pub(super) enum Param<'a> {
    Int(i64),
    /// For PostgreSQL `integer` columns (quantities, at most 100,000).
    Int32(i32),
    Text(&'a str),
    OptInt(Option<i64>),
    OptText(Option<&'a str>),
    Money(Money),
    /// A number of seconds from now (negative: ago): SQLite's `strftime`
    /// modifier, PostgreSQL's `bigint` multiplied by an interval.
    Seconds(i64),
}

impl Param<'_> {
    /// Seconds from a `u64` setting, saturating.
    pub fn seconds(value: u64) -> Self {
        Param::Seconds(i64::try_from(value).unwrap_or(i64::MAX))
    }

    pub fn quantity(value: u32) -> Self {
        Param::Int32(i32::try_from(value).unwrap_or(i32::MAX))
    }
}

/// One statement in both dialects.
#[derive(Debug, Clone)]
pub(super) struct Sql {
    pub sqlite: Cow<'static, str>,
    pub postgres: Cow<'static, str>,
}

impl Sql {
    pub const fn fixed(sqlite: &'static str, postgres: &'static str) -> Self {
        Sql {
            sqlite: Cow::Borrowed(sqlite),
            postgres: Cow::Borrowed(postgres),
        }
    }

    /// `template` in both dialects with `{ids}` replaced by `count`
    /// placeholders from `first` on (`?3, ?4` / `$3, $4`).
    pub fn with_list(sqlite: &str, postgres: &str, first: usize, count: usize) -> Self {
        let list = |mark: &str| {
            (first..first + count)
                .map(|n| format!("{mark}{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Sql {
            sqlite: Cow::Owned(sqlite.replace("{ids}", &list("?"))),
            postgres: Cow::Owned(postgres.replace("{ids}", &list("$"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_takes_the_same_positions_in_both_dialects() {
        let sql = Sql::with_list("a IN ({ids})", "a IN ({ids})", 2, 3);
        assert_eq!(sql.sqlite, "a IN (?2, ?3, ?4)");
        assert_eq!(sql.postgres, "a IN ($2, $3, $4)");
    }
}
