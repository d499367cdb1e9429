//! The two SQL dialects, and everything that differs between them, in one
//! place. Each statement is written once, with sea-query, and rendered in
//! the dialect of the request's database: placeholders (`?` / `$1`),
//! `RETURNING`, `ON CONFLICT` and row locks are the builder's to write
//! (SQLite leaves `FOR UPDATE` and `SKIP LOCKED` out: its writers hold the
//! whole file under `BEGIN IMMEDIATE`). What the builder cannot say the
//! same way in both is here:
//!
//! - **Time.** SQLite stores times as RFC 3339 text to the second, so text
//!   order is time order; PostgreSQL as `timestamp` in UTC, truncated to
//!   the second too, so both backends compare and show the same instants.
//!   "Now", "now plus n seconds", "seconds since" and a time given as text
//!   are written by [`Dialect::now`], [`Dialect::now_plus`],
//!   [`Dialect::age_seconds`] and [`Dialect::time`].
//! - **The create** (`orders::insert_order`), one statement on each, so
//!   SQLite's write lock spans no host round trip and PostgreSQL's create
//!   is one round trip and one commit: on SQLite a row of
//!   `order_submissions` whose trigger (migration 0016) writes the order,
//!   its items, the key's outcome and the event; on PostgreSQL the same
//!   writes as data-modifying CTEs (docs/decisions.md, "Two storage
//!   backends").
//! - **A hot write answering its one row itself** ([`Dialect::build_one_row`]):
//!   on PostgreSQL as a CTE, sparing the no-rows wrapper Spin 4.1 needs.
//! - **The schema check riding on a create's first write** on PostgreSQL
//!   (`intents::open_intent`): SQLite checks its schema in-process when the
//!   connection opens.
//! - **Migrations**: one series of files per dialect (`migrations.rs`).
//! - **Below the seam** (`spin/`): how each database binds values, reports
//!   errors, and, on PostgreSQL under Spin 4.1, answers a statement with
//!   no rows.

use super::connection::Value;
use sea_query::{
    CommonTableExpression, Expr, ExprTrait, Func, IntoColumnRef, PostgresQueryBuilder, Query,
    QueryStatementBuilder, SqliteQueryBuilder, SubQueryStatement, WithClause,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Spin's SQLite (`default`), the embedded default.
    Sqlite,
    /// PostgreSQL through Spin's PostgreSQL API (`database_url`).
    Postgres,
}

/// SQLite's current time as stored.
const SQLITE_NOW: &str = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";
/// PostgreSQL's current time as stored: UTC, to the second.
const POSTGRES_NOW: &str = "date_trunc('second', now() AT TIME ZONE 'UTC')";

impl Dialect {
    /// `statement` in this dialect, and the values to bind in order.
    pub fn build(self, statement: &impl QueryStatementBuilder) -> (String, Vec<Value>) {
        let (sql, values) = match self {
            Dialect::Sqlite => statement.build_any(&SqliteQueryBuilder),
            Dialect::Postgres => statement.build_any(&PostgresQueryBuilder),
        };
        (sql, values.0)
    }

    /// The current time, as stored.
    pub fn now(self) -> Expr {
        match self {
            Dialect::Sqlite => Expr::cust(SQLITE_NOW),
            Dialect::Postgres => Expr::cust(POSTGRES_NOW),
        }
    }

    /// `seconds` from now (negative: ago), as stored.
    pub fn now_plus(self, seconds: i64) -> Expr {
        match self {
            Dialect::Sqlite => Func::cust("strftime")
                .arg(Expr::cust("'%Y-%m-%dT%H:%M:%SZ'"))
                .arg(Expr::cust("'now'"))
                .arg(Expr::val(format!("{seconds:+} seconds")))
                .into(),
            Dialect::Postgres => Expr::cust(POSTGRES_NOW).add(
                Expr::val(seconds)
                    .cast_as("bigint")
                    .mul(Expr::cust("interval '1 second'")),
            ),
        }
    }

    /// Whole seconds since the time in `column` (an integer).
    pub fn age_seconds(self, column: impl IntoColumnRef) -> Expr {
        match self {
            Dialect::Sqlite => Func::cust("strftime")
                .arg(Expr::cust("'%s'"))
                .arg(Expr::cust("'now'"))
                .sub(
                    Func::cust("strftime")
                        .arg(Expr::cust("'%s'"))
                        .arg(Expr::col(column)),
                )
                .cast_as("INTEGER"),
            Dialect::Postgres => Func::cust("date_part")
                .arg(Expr::cust("'epoch'"))
                .arg(Expr::cust(POSTGRES_NOW).sub(Expr::col(column)))
                .cast_as("bigint"),
        }
    }

    /// `statement` (a write answering `column`) so that it answers exactly
    /// one row, `column` NULL when it wrote nothing: on PostgreSQL as a
    /// data-modifying CTE, sent without the no-rows wrapper of Spin 4.1
    /// (`spin::postgres`), which costs the server about 0.2 ms; on SQLite
    /// as it is (none wanted: it answers in-process). For
    /// [`Connection::query_one_row`](super::Connection::query_one_row).
    pub fn build_one_row(
        self,
        statement: impl Into<SubQueryStatement>,
        column: &'static str,
    ) -> (String, Vec<Value>) {
        let statement: SubQueryStatement = statement.into();
        match self {
            Dialect::Sqlite => match statement {
                SubQueryStatement::InsertStatement(insert) => self.build(&insert),
                SubQueryStatement::UpdateStatement(update) => self.build(&update),
                SubQueryStatement::DeleteStatement(delete) => self.build(&delete),
                SubQueryStatement::SelectStatement(select) => self.build(&select),
                SubQueryStatement::WithStatement(with) => self.build(&with),
            },
            Dialect::Postgres => {
                let written = Query::select().column(column).from("written").to_owned();
                let one_row = Query::select()
                    .expr_as(Expr::SubQuery(None, Box::new(written.into())), column)
                    .to_owned()
                    .with(
                        WithClause::new()
                            .cte(
                                CommonTableExpression::new()
                                    .query(statement)
                                    .table_name("written")
                                    .to_owned(),
                            )
                            .to_owned(),
                    );
                self.build(&one_row)
            }
        }
    }

    /// `value` read as PostgreSQL's `pg_type` where nothing else says its
    /// type (a `SELECT` list feeding an `INSERT`: PostgreSQL would take a
    /// parameter there as text); SQLite stores by the column's affinity.
    pub fn typed(self, value: Expr, pg_type: &'static str) -> Expr {
        match self {
            Dialect::Sqlite => value,
            Dialect::Postgres => value.cast_as(pg_type),
        }
    }

    /// A time before any other: a claim nobody holds. (SQLite's empty text
    /// sorts before every time written as text.)
    pub fn never(self) -> Expr {
        match self {
            Dialect::Sqlite => Expr::val(""),
            Dialect::Postgres => Expr::cust("'-infinity'"),
        }
    }

    /// A time given as the API writes it (`YYYY-MM-DDTHH:MM:SSZ`, checked
    /// by the caller), to compare with stored times.
    pub fn time(self, text: &str) -> Expr {
        match self {
            Dialect::Sqlite => Expr::val(text),
            // PostgreSQL reads the trailing `Z` of a `timestamp` literal
            // and ignores it: the stored times are UTC.
            // (Bound as text: Spin binds a string to text parameters only.)
            Dialect::Postgres => Expr::val(text).cast_as("text").cast_as("timestamp"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::Query;

    #[test]
    fn times_are_written_in_each_dialect() {
        let select = |d: Dialect| {
            let mut query = Query::select();
            query.expr(d.now_plus(-5)).expr(d.age_seconds("created_at"));
            d.build(&query)
        };
        let (sqlite, values) = select(Dialect::Sqlite);
        assert_eq!(
            sqlite,
            "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?), \
             CAST((strftime('%s', 'now') - strftime('%s', \"created_at\")) AS INTEGER)"
        );
        assert_eq!(values, [Value::from("-5 seconds")]);
        let (postgres, values) = select(Dialect::Postgres);
        assert_eq!(
            postgres,
            "SELECT (date_trunc('second', now() AT TIME ZONE 'UTC')) + (CAST($1 AS bigint) * \
             (interval '1 second')), CAST(date_part('epoch', (date_trunc('second', now() AT TIME \
             ZONE 'UTC')) - \"created_at\") AS bigint)"
        );
        assert_eq!(values, [Value::from(-5_i64)]);
    }
}
