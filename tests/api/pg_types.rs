//! What Spin's PostgreSQL API converts, in both directions, on the runtime
//! under test: the same statements through `spin:postgres/postgres@4.0.0`
//! (the test-only `tests/pg_probe` component) on real Spin
//! (`TEST_RUNTIME=spin`) and on spin-host, each checked against one table,
//! so the two runtimes agree value for value. docs/decisions.md ("PostgreSQL
//! values through Spin") is this table in prose; the Order Service asks only
//! for what both convert.

use crate::helpers::{artifacts, pg_server, start, up_command, Runtime};
use serde_json::{json, Value};

/// `(what, statement, parameters, expected outcome)`; an outcome is the
/// first column of the first row as `kind value : column type`, or `error
/// <variant>`. Recorded from Spin 4.1 (`../shared/spin/spin`).
const CASES: &[(&str, &str, &str, &str)] = &[
    // Result columns.
    ("bool column", "SELECT true", "[]", "boolean true : boolean"),
    ("int2 column", "SELECT 7::int2", "[]", "int16 7 : int16"),
    ("int4 column", "SELECT 7::int4", "[]", "int32 7 : int32"),
    ("int8 column", "SELECT 7::int8", "[]", "int64 7 : int64"),
    (
        "float8 column",
        "SELECT 1.5::float8",
        "[]",
        "floating64 1.5 : floating64",
    ),
    ("text column", "SELECT 'a'::text", "[]", "str \"a\" : str"),
    (
        "varchar column",
        "SELECT 'a'::varchar",
        "[]",
        "str \"a\" : str",
    ),
    (
        "bytea column",
        "SELECT '\\x6869'::bytea",
        "[]",
        "binary [104,105] : binary",
    ),
    (
        "numeric column",
        "SELECT 12.30::numeric",
        "[]",
        "decimal \"12.30\" : decimal",
    ),
    (
        "numeric column, SPEC's largest total",
        "SELECT 123455554532109.00::numeric",
        "[]",
        "decimal \"123455554532109.00\" : decimal",
    ),
    (
        "numeric column past 28 digits",
        "SELECT 1e30::numeric",
        "[]",
        "error query-failed",
    ),
    (
        "timestamp column",
        "SELECT '2026-01-02 03:04:05.5'::timestamp",
        "[]",
        "datetime [2026,1,2,3,4,5,500000000] : datetime",
    ),
    (
        "timestamptz column",
        "SELECT '2026-01-02 03:04:05+00'::timestamptz",
        "[]",
        "error query-failed",
    ),
    (
        "timestamptz AT TIME ZONE 'UTC' (a timestamp)",
        "SELECT '2026-01-02 03:04:05+02'::timestamptz AT TIME ZONE 'UTC'",
        "[]",
        "datetime [2026,1,2,1,4,5,0] : datetime",
    ),
    (
        "-infinity timestamp column",
        "SELECT '-infinity'::timestamp",
        "[]",
        "error query-failed",
    ),
    (
        "date column",
        "SELECT '2026-01-02'::date",
        "[]",
        "date [2026,1,2] : date",
    ),
    (
        "time column",
        "SELECT '03:04:05'::time",
        "[]",
        "time [3,4,5,0] : time",
    ),
    (
        "uuid column",
        "SELECT '67e55044-10b1-426f-9247-bb680e5fe0c8'::uuid",
        "[]",
        "uuid \"67e55044-10b1-426f-9247-bb680e5fe0c8\" : uuid",
    ),
    (
        "jsonb column",
        "SELECT '{\"a\": 1}'::jsonb",
        "[]",
        "jsonb \"{\\\"a\\\":1}\" : jsonb",
    ),
    (
        "json column",
        "SELECT '{\"a\": 1}'::json",
        "[]",
        "unsupported : other(json)",
    ),
    (
        "void column",
        "SELECT pg_sleep(0)",
        "[]",
        "unsupported : other(void)",
    ),
    (
        "typed NULL column",
        "SELECT NULL::int8",
        "[]",
        "null : int64",
    ),
    // Parameters.
    (
        "int64 as bigint",
        "SELECT $1::bigint",
        "[[\"int64\", 5]]",
        "int64 5 : int64",
    ),
    (
        "int64 as integer",
        "SELECT $1::integer",
        "[[\"int64\", 5]]",
        "error query-failed",
    ),
    (
        "int32 as integer",
        "SELECT $1::integer",
        "[[\"int32\", 5]]",
        "int32 5 : int32",
    ),
    (
        "int32 as bigint",
        "SELECT $1::bigint",
        "[[\"int32\", 5]]",
        "error query-failed",
    ),
    (
        "str as text",
        "SELECT $1::text",
        "[[\"str\", \"x\"]]",
        "str \"x\" : str",
    ),
    (
        "str with NUL as text",
        "SELECT $1::text",
        "[[\"str\", \"a\\u0000b\"]]",
        "error query-failed",
    ),
    (
        "str as integer",
        "SELECT $1::integer",
        "[[\"str\", \"5\"]]",
        "error query-failed",
    ),
    (
        "str as jsonb",
        "SELECT $1::jsonb",
        "[[\"str\", \"{}\"]]",
        "error query-failed",
    ),
    (
        "str as text::jsonb",
        "SELECT $1::text::jsonb",
        "[[\"str\", \"{}\"]]",
        "jsonb \"{}\" : jsonb",
    ),
    (
        "decimal as numeric",
        "SELECT $1::numeric",
        "[[\"decimal\", \"12.30\"]]",
        "decimal \"12.30\" : decimal",
    ),
    (
        "bad decimal",
        "SELECT $1::numeric",
        "[[\"decimal\", \"twelve\"]]",
        "error bad-parameter",
    ),
    (
        "datetime as timestamp",
        "SELECT $1::timestamp",
        "[[\"datetime\", [2026,1,2,3,4,5,0]]]",
        "datetime [2026,1,2,3,4,5,0] : datetime",
    ),
    (
        "datetime as timestamptz",
        "SELECT $1::timestamptz AT TIME ZONE 'UTC'",
        "[[\"datetime\", [2026,1,2,3,4,5,0]]]",
        "error query-failed",
    ),
    (
        "timestamp (epoch seconds) as timestamptz",
        "SELECT $1::timestamptz AT TIME ZONE 'UTC'",
        "[[\"timestamp\", 1767323045]]",
        "datetime [2026,1,2,3,4,5,0] : datetime",
    ),
    (
        "date as date",
        "SELECT $1::date",
        "[[\"date\", [2026,1,2]]]",
        "date [2026,1,2] : date",
    ),
    (
        "time as time",
        "SELECT $1::time",
        "[[\"time\", [3,4,5,0]]]",
        "time [3,4,5,0] : time",
    ),
    (
        "uuid as uuid",
        "SELECT $1::uuid",
        "[[\"uuid\", \"67e55044-10b1-426f-9247-bb680e5fe0c8\"]]",
        "uuid \"67e55044-10b1-426f-9247-bb680e5fe0c8\" : uuid",
    ),
    (
        "jsonb as jsonb",
        "SELECT $1::jsonb",
        "[[\"jsonb\", \"[1]\"]]",
        "jsonb \"[1]\" : jsonb",
    ),
    (
        "null as integer",
        "SELECT $1::integer",
        "[[\"null\"]]",
        "null : int32",
    ),
    (
        "boolean as boolean",
        "SELECT $1::boolean",
        "[[\"boolean\", true]]",
        "boolean true : boolean",
    ),
];

/// Through `execute` instead of `query`: the same parameter conversion.
const EXECUTED: &[(&str, &str, &str, &str)] = &[
    (
        "execute: int64 as bigint",
        "SELECT $1::bigint",
        "[[\"int64\", 5]]",
        "changed 1",
    ),
    (
        "execute: int64 as integer",
        "SELECT $1::integer",
        "[[\"int64\", 5]]",
        "error query-failed",
    ),
    (
        "execute: bad decimal",
        "SELECT $1::numeric",
        "[[\"decimal\", \"x\"]]",
        "error value-conversion-failed",
    ),
];

/// The probe component served by the runtime under test.
async fn start_probe() -> (crate::helpers::Process, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = std::fs::read_to_string(artifacts().root.join("tests/pg_probe/spin.toml"))
        .unwrap()
        .replace(
            "source = \"../../target/wasm32-wasip2/release/pg_probe_component.wasm\"",
            &format!("source = {:?}", artifacts().pg_probe.display().to_string()),
        );
    std::fs::write(dir.path().join("spin.toml"), manifest).unwrap();
    let mut command = up_command(dir.path());
    command.env("SPIN_VARIABLE_DATABASE_HOST", &pg_server().address);
    let (child, address, _, _) = start(command, "Serving http://").await;
    (child, format!("http://{address}"), dir)
}

/// The probe's answer as one short line: the value and the column type
/// the runtime reported (`kind value : type`).
fn outcome(answer: &Value) -> String {
    if let Some(variant) = answer["error"].as_str() {
        return format!("error {variant}");
    }
    if let Some(changed) = answer["ok"].as_u64() {
        return format!("changed {changed}");
    }
    let column = answer["ok"]["columns"][0]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("dbdatatype::");
    let cell = &answer["ok"]["rows"][0][0];
    match cell.as_array().map(Vec::as_slice) {
        Some([kind]) => format!("{} : {column}", kind.as_str().unwrap()),
        Some([kind, value]) => format!("{} {value} : {column}", kind.as_str().unwrap()),
        _ => format!("no value: {answer}"),
    }
}

#[tokio::test]
async fn the_runtime_converts_postgres_values_as_the_table_says() {
    let url = pg_server().create_database();
    let (_probe, address, _dir) = start_probe().await;
    let client = reqwest::Client::new();
    let mut differences = Vec::new();
    let cases = CASES
        .iter()
        .map(|case| ("query", case))
        .chain(EXECUTED.iter().map(|case| ("execute", case)));
    for (op, (what, sql, params, expected)) in cases {
        let params: Value = serde_json::from_str(params).unwrap();
        let answer: Value = client
            .post(format!("{address}/"))
            .json(&json!({"url": url, "op": op, "sql": sql, "params": params}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let actual = outcome(&answer);
        if std::env::var_os("PG_TYPES_PRINT").is_some() {
            eprintln!("{what}: {actual} | {answer}");
        }
        if actual != *expected {
            differences.push(format!(
                "{what}: expected `{expected}`, got `{actual}` ({answer})"
            ));
        }
    }
    // A query that yields no rows: Spin 4.1 never answers it (the request
    // hangs); Spin 3.6.3 answers it with no rows; spin-host fails it at
    // once, so the component's tests fail on spin-host where Spin 4.1 would
    // hang. The Order Service never sends one (its runner wraps each
    // statement to answer a row, harmless on Spin 3).
    let no_rows = client
        .post(format!("{address}/"))
        .timeout(std::time::Duration::from_secs(5))
        .json(&json!({"url": url, "op": "query", "sql": "SELECT 1 WHERE false", "params": []}))
        .send()
        .await;
    match crate::helpers::runtime() {
        Runtime::Spin if crate::helpers::spin_major() >= 4 => assert!(
            no_rows.as_ref().is_err_and(|e| e.is_timeout()),
            "Spin 4 answered a query with no rows: {no_rows:?}"
        ),
        Runtime::Spin => {
            let answer: Value = no_rows.unwrap().json().await.unwrap();
            assert_eq!(answer["ok"]["rows"], json!([]), "{answer}");
        }
        Runtime::SpinHost => {
            let answer: Value = no_rows.unwrap().json().await.unwrap();
            assert_eq!(outcome(&answer), "error other", "{answer}");
        }
    }
    assert!(
        differences.is_empty(),
        "{:?} differs from the table:\n{}",
        crate::helpers::runtime(),
        differences.join("\n")
    );
}
