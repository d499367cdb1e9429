//! Structured log lines, one JSON object per line: the access log on
//! stdout, events on stderr. A leaf: it knows nothing of orders, the
//! Catalog or storage; callers pass ids, codes and error texts only, never
//! a token, a key or a body.

use serde_json::{json, Value};
use std::cell::RefCell;
use std::io::Write;

thread_local! {
    /// The trace of the request this instance serves: Spin gives each
    /// request an instance of its own, so it is set once, at the start,
    /// and every line after (the follow-up's too) carries it.
    static TRACE: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Every line from now on carries `trace_id` and `span_id`, so the logs
/// of the services a trace crossed can be joined.
pub fn set_trace(trace_id: &str, span_id: &str) {
    TRACE.with(|trace| *trace.borrow_mut() = Some((trace_id.to_owned(), span_id.to_owned())));
}

fn add_trace(line: &mut Value) {
    TRACE.with(|trace| {
        if let Some((trace_id, span_id)) = &*trace.borrow() {
            line["trace_id"] = json!(trace_id);
            line["span_id"] = json!(span_id);
        }
    });
}

/// How bad an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    /// A request answered 5xx: exactly one such line per request.
    Error,
    /// Something only a person can fix (stock owed and not even recorded).
    Critical,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }
}

/// Writes `line` and its newline in one call: instances run concurrently
/// and share the host's stdout/stderr, and `eprintln!` would write the
/// pieces of a line separately, letting lines of two requests interleave.
fn write_line(mut out: impl Write, line: &Value) {
    let mut text = line.to_string();
    text.push('\n');
    let _ = out.write_all(text.as_bytes());
}

/// The per-request access log line (SPEC §6).
pub fn request(mut line: Value) {
    add_trace(&mut line);
    write_line(std::io::stdout().lock(), &line);
}

/// An event: `level`, `event` and `request_id` (when there is one), then
/// the members of `fields` (an object).
pub fn event(level: Level, name: &str, request_id: Option<&str>, fields: Value) {
    let mut line = json!({"level": level.as_str(), "event": name});
    if let Some(request_id) = request_id {
        line["request_id"] = json!(request_id);
    }
    add_trace(&mut line);
    if let Value::Object(fields) = fields {
        for (key, value) in fields {
            line[key] = value;
        }
    }
    write_line(std::io::stderr().lock(), &line);
}

/// An error and its causes as one text: `outer: inner: innermost`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // `#[error(transparent)]` and "x: {0}" wrappers repeat their source.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner: {0}")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn a_chain_names_every_cause_once() {
        let error = Outer(Inner(std::io::Error::other("disk gone")));
        assert_eq!(chain(&error), "outer: inner: disk gone");
    }
}
