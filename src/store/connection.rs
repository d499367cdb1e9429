//! The seam between the storage primitives and a database: one
//! [`Connection`] per request. The component's are Spin's SQLite and
//! PostgreSQL APIs ([`super::spin`]); the storage contract suite
//! (`tests/storage`) runs the same primitives natively over rusqlite and
//! the `postgres` crate. Above the seam nothing knows which it is, beyond
//! the [`Dialect`] a statement is written in.

use super::dialect::Dialect;
use super::StoreError;
use crate::domain::money::Money;
use sea_query::Iden;

/// A value bound to a statement, as the query builder hands it over.
pub use sea_query::Value;

/// What the primitives need of a database.
pub trait Connection {
    /// The SQL this database speaks.
    fn dialect(&self) -> Dialect;

    /// Runs one statement with `values` bound in order; the rows it
    /// answers (none, possibly), read by column name.
    fn query(&self, sql: &str, values: &[Value]) -> Result<Rows, StoreError>;

    /// Runs one statement that answers nothing (a write whose caller
    /// needs no row back).
    fn execute(&self, sql: &str, values: &[Value]) -> Result<(), StoreError>;

    /// Runs a statement written to answer exactly one row whatever happens
    /// (the create's data-modifying CTEs on PostgreSQL, which cannot be
    /// wrapped: see `spin::postgres`).
    fn query_one_row(&self, sql: &str, values: &[Value]) -> Result<Rows, StoreError> {
        self.query(sql, values)
    }

    /// Starts a write transaction: on SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so two writers queue instead of
    /// deadlocking on a read-to-write upgrade; [`StoreError::Busy`] while
    /// another writer holds it.
    fn begin(&self) -> Result<(), StoreError>;

    fn commit(&self) -> Result<(), StoreError>;

    /// Best-effort: the transaction may already be gone (a failed commit).
    fn rollback(&self);
}

/// One value of a row, as the store reads it whichever database gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    /// An exact decimal, as text (PostgreSQL `numeric`).
    Decimal(String),
    /// A time as the API shows it: RFC 3339 UTC to the second.
    Time(String),
}

/// A statement's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Rows {
    pub fn new(columns: Vec<String>, rows: Vec<Vec<Cell>>) -> Self {
        Rows { columns, rows }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|cells| Row {
            columns: &self.columns,
            cells,
        })
    }

    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }
}

/// One row, read by column name: a statement's column list and its
/// reader are written against the same names ([`super::schema`]).
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    columns: &'a [String],
    cells: &'a [Cell],
}

impl<'a> Row<'a> {
    fn cell(&self, column: &impl Iden) -> Result<&'a Cell, StoreError> {
        let name = column.unquoted();
        self.columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| self.cells.get(i))
            .ok_or(StoreError::Malformed(
                "a column the statement did not return",
            ))
    }

    /// An integer column; `None` when NULL.
    pub fn opt_int(&self, column: impl Iden) -> Result<Option<i64>, StoreError> {
        match self.cell(&column)? {
            Cell::Null => Ok(None),
            Cell::Int(value) => Ok(Some(*value)),
            _ => Err(StoreError::Malformed("an integer column")),
        }
    }

    pub fn int(&self, column: impl Iden) -> Result<i64, StoreError> {
        self.opt_int(column)?
            .ok_or(StoreError::Malformed("NULL in an integer column"))
    }

    /// A text column; `None` when NULL.
    pub fn opt_text(&self, column: impl Iden) -> Result<Option<&'a str>, StoreError> {
        match self.cell(&column)? {
            Cell::Null => Ok(None),
            Cell::Text(text) => Ok(Some(text)),
            _ => Err(StoreError::Malformed("a text column")),
        }
    }

    pub fn text(&self, column: impl Iden) -> Result<&'a str, StoreError> {
        self.opt_text(column)?
            .ok_or(StoreError::Malformed("NULL in a text column"))
    }

    /// A truth value: `boolean` on PostgreSQL, 0 or 1 on SQLite.
    pub fn flag(&self, column: impl Iden) -> Result<bool, StoreError> {
        match self.cell(&column)? {
            Cell::Bool(value) => Ok(*value),
            Cell::Int(0) => Ok(false),
            Cell::Int(1) => Ok(true),
            _ => Err(StoreError::Malformed("a boolean column")),
        }
    }

    /// An amount: `numeric` on PostgreSQL, text with two places on SQLite.
    pub fn money(&self, column: impl Iden) -> Result<Money, StoreError> {
        match self.cell(&column)? {
            Cell::Decimal(text) | Cell::Text(text) => {
                Money::parse(text).map_err(|_| StoreError::Malformed("an amount"))
            }
            _ => Err(StoreError::Malformed("an amount column")),
        }
    }

    /// A time as the API shows it; `None` when NULL. SQLite stores it as
    /// shown; PostgreSQL's `timestamp` is formatted by its connection.
    pub fn opt_time(&self, column: impl Iden) -> Result<Option<String>, StoreError> {
        match self.cell(&column)? {
            Cell::Null => Ok(None),
            Cell::Time(text) | Cell::Text(text) => Ok(Some(text.clone())),
            _ => Err(StoreError::Malformed("a time column")),
        }
    }

    pub fn time(&self, column: impl Iden) -> Result<String, StoreError> {
        self.opt_time(column)?
            .ok_or(StoreError::Malformed("NULL in a time column"))
    }
}

/// A record read from rows: its reader, and the one list of columns every
/// statement that returns it selects.
pub trait Record: Sized {
    type Column: Iden + Copy + 'static;
    const COLUMNS: &'static [Self::Column];

    fn read(row: Row<'_>) -> Result<Self, StoreError>;

    /// Every row of `rows`.
    fn read_all(rows: &Rows) -> Result<Vec<Self>, StoreError> {
        rows.iter().map(Self::read).collect()
    }

    /// The first row of `rows`, if any.
    fn read_first(rows: &Rows) -> Result<Option<Self>, StoreError> {
        rows.first().map(Self::read).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Rows {
        Rows::new(
            vec!["id".into(), "amount".into(), "paid".into(), "note".into()],
            vec![vec![
                Cell::Int(7),
                Cell::Decimal("12.50".into()),
                Cell::Int(1),
                Cell::Null,
            ]],
        )
    }

    #[test]
    fn columns_are_read_by_name_whatever_their_position() {
        let rows = rows();
        let row = rows.first().unwrap();
        assert!(row.flag("paid").unwrap());
        assert_eq!(row.int("id").unwrap(), 7);
        assert_eq!(row.money("amount").unwrap().to_string(), "12.50");
        assert_eq!(row.opt_text("note").unwrap(), None);
    }

    #[test]
    fn a_missing_column_or_a_null_where_none_may_be_is_malformed() {
        let rows = rows();
        let row = rows.first().unwrap();
        assert!(matches!(row.int("nope"), Err(StoreError::Malformed(_))));
        assert!(matches!(row.text("note"), Err(StoreError::Malformed(_))));
        assert!(matches!(row.int("amount"), Err(StoreError::Malformed(_))));
    }
}
