//! The one seam between the stores and a database engine.
//!
//! Every store is written once against [`Db`]: SQL with `?N` placeholders (the
//! PostgreSQL driver rewrites them to `$N`), parameters as [`Param`], rows as
//! [`Value`]s. So the SQLite and PostgreSQL backends cannot drift apart in what
//! they store, and the same test suite proves both.

use crate::Error;
use async_trait::async_trait;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// SQLite in memory: same code, nothing on disk.
    Memory,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Memory => "memory",
        }
    }

    /// Parses a `*_STORE_BACKEND` value (CONTRACT §7 spellings).
    pub fn parse(s: &str) -> Option<Backend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Some(Backend::Sqlite),
            "postgres" | "postgresql" | "pg" => Some(Backend::Postgres),
            "memory" | "in-memory" | "inmemory" => Some(Backend::Memory),
            _ => None,
        }
    }
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    NullInt,
    NullReal,
    NullText,
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<f64> for Param {
    fn from(v: f64) -> Self {
        Param::Real(v)
    }
}
impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_owned())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Param::NullInt, Param::Int)
    }
}
impl From<Option<f64>> for Param {
    fn from(v: Option<f64>) -> Self {
        v.map_or(Param::NullReal, Param::Real)
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        v.map_or(Param::NullText, Param::Text)
    }
}

/// A column value read back (booleans come back as `Int` 0/1).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// One row.
pub type Row = Vec<Value>;

/// Typed access to a row, with errors instead of panics on a schema mismatch.
pub(crate) struct Cols<'a>(pub &'a [Value]);

impl Cols<'_> {
    fn at(&self, i: usize) -> Result<&Value, Error> {
        self.0
            .get(i)
            .ok_or_else(|| Error::Data(format!("missing column {i}")))
    }
    pub fn int(&self, i: usize) -> Result<i64, Error> {
        self.opt_int(i)?
            .ok_or_else(|| Error::Data(format!("column {i} is NULL")))
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            Value::Real(v) => Ok(Some(*v as i64)),
            Value::Text(_) => Err(Error::Data(format!("column {i}: text, not integer"))),
        }
    }
    pub fn opt_real(&self, i: usize) -> Result<Option<f64>, Error> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v as f64)),
            Value::Real(v) => Ok(Some(*v)),
            Value::Text(_) => Err(Error::Data(format!("column {i}: text, not number"))),
        }
    }
    pub fn boolean(&self, i: usize) -> Result<bool, Error> {
        Ok(self.opt_int(i)?.unwrap_or(0) != 0)
    }
    pub fn text(&self, i: usize) -> Result<String, Error> {
        Ok(self.opt_text(i)?.unwrap_or_default())
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, Error> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            Value::Int(v) => Ok(Some(v.to_string())),
            Value::Real(v) => Ok(Some(v.to_string())),
        }
    }
}

/// One statement of a batch.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Stmt {
    pub fn new(sql: impl Into<String>, params: Vec<Param>) -> Stmt {
        Stmt {
            sql: sql.into(),
            params,
        }
    }
}

/// What one statement produced: its rows (for `SELECT` / `RETURNING`) and the
/// number of rows it changed.
#[derive(Debug, Clone, Default)]
pub struct StmtOut {
    pub rows: Vec<Row>,
    pub affected: u64,
}

/// A database engine. Implementations do their blocking or network I/O off the
/// caller's task where needed; every call is one round trip or one transaction.
#[async_trait]
pub trait Db: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Runs `stmts` in order, inside one transaction when `atomic`.
    async fn run(&self, stmts: Vec<Stmt>, atomic: bool) -> Result<Vec<StmtOut>, Error>;

    /// A cheap liveness check (`SELECT 1`).
    async fn ping(&self) -> Result<(), Error> {
        self.query("SELECT 1", vec![]).await.map(|_| ())
    }

    /// One query, its rows.
    async fn query(&self, sql: &str, params: Vec<Param>) -> Result<Vec<Row>, Error> {
        let mut out = self.run(vec![Stmt::new(sql, params)], false).await?;
        Ok(out.pop().map(|o| o.rows).unwrap_or_default())
    }

    /// One statement, the number of rows it changed.
    async fn execute(&self, sql: &str, params: Vec<Param>) -> Result<u64, Error> {
        let mut out = self.run(vec![Stmt::new(sql, params)], false).await?;
        Ok(out.pop().map(|o| o.affected).unwrap_or_default())
    }
}

/// Rewrites `?N` placeholders to PostgreSQL's `$N` (outside string literals).
pub(crate) fn to_pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_str = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_str = !in_str;
                out.push(c);
            }
            '?' if !in_str && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(
            to_pg_placeholders("SELECT '?1', x FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', x FROM t WHERE a = $1 AND b = $12"
        );
    }
}
