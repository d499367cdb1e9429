//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the trace a
//! request belongs to, so that the gateway, this service, the Catalog and
//! the logs of each can be joined. A leaf: it knows nothing of requests
//! beyond two header values.
//!
//! An incoming `traceparent` is honoured when valid (its `tracestate`
//! travels with it); a missing or malformed one starts a new trace, as the
//! specification says (a malformed `tracestate` is dropped alone). This
//! request's work is one span of that trace, with its own id; each
//! outbound call is a child span with an id of its own.

use std::fmt::Write as _;

/// Longest `tracestate` passed on (the specification lets a vendor cut
/// it; 512 bytes is the size it says every vendor must propagate).
const MAX_TRACESTATE: usize = 512;

/// This request's place in a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, shared by every span of the trace.
    pub trace_id: String,
    /// 16 lowercase hex digits: this request's span.
    pub span_id: String,
    /// The caller's span, when it sent a valid `traceparent`.
    pub parent_id: Option<String>,
    /// `trace-flags`, passed on as received (a new trace is sampled: `01`).
    flags: u8,
    tracestate: Option<String>,
}

impl TraceContext {
    /// The request's trace from its `traceparent` and `tracestate` headers.
    pub fn from_headers(traceparent: Option<&str>, tracestate: Option<&str>) -> Self {
        match traceparent.and_then(parse_traceparent) {
            Some(parent) => TraceContext {
                trace_id: parent.trace_id,
                span_id: new_span_id(),
                parent_id: Some(parent.parent_id),
                flags: parent.flags,
                tracestate: tracestate
                    .filter(|state| acceptable_tracestate(state))
                    .map(str::to_owned),
            },
            None => TraceContext {
                trace_id: new_trace_id(),
                span_id: new_span_id(),
                parent_id: None,
                flags: SAMPLED,
                tracestate: None,
            },
        }
    }

    /// The `traceparent` naming this request's span as the parent: what
    /// a record of this request's work carries.
    pub fn traceparent(&self) -> String {
        format_traceparent(&self.trace_id, &self.span_id, self.flags)
    }

    /// Headers for one outbound call: a child span of this request's.
    pub fn outbound_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![(
            "traceparent",
            format_traceparent(&self.trace_id, &new_span_id(), self.flags),
        )];
        if let Some(state) = &self.tracestate {
            headers.push(("tracestate", state.clone()));
        }
        headers
    }
}

const SAMPLED: u8 = 0x01;

struct ParsedParent {
    trace_id: String,
    parent_id: String,
    flags: u8,
}

/// `version-traceid-parentid-flags`, by the specification's rules: lowercase
/// hex only; version `ff` is invalid; version `00` is exactly 55
/// characters; a later version may add fields after a `-`, and its first
/// four fields are read as version `00`'s; an all-zero trace id or parent
/// id is invalid.
fn parse_traceparent(value: &str) -> Option<ParsedParent> {
    let value = value.trim_matches([' ', '\t']);
    let version = value.get(..2)?;
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    let fixed = match value.len() {
        55 => value,
        longer if longer > 55 && version != "00" && value.as_bytes()[55] == b'-' => &value[..55],
        _ => return None,
    };
    let mut fields = fixed.split('-');
    let (_, trace_id, parent_id, flags) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let valid = trace_id.len() == 32
        && parent_id.len() == 16
        && flags.len() == 2
        && [trace_id, parent_id, flags].iter().all(|f| is_lower_hex(f))
        && trace_id.bytes().any(|b| b != b'0')
        && parent_id.bytes().any(|b| b != b'0');
    valid.then(|| ParsedParent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        flags: u8::from_str_radix(flags, 16).unwrap_or(0),
    })
}

fn is_lower_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Passed on only when short and printable (it is copied into outbound
/// requests and must not carry anything a header could not).
fn acceptable_tracestate(state: &str) -> bool {
    !state.is_empty()
        && state.len() <= MAX_TRACESTATE
        && state.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn format_traceparent(trace_id: &str, span_id: &str, flags: u8) -> String {
    format!("00-{trace_id}-{span_id}-{flags:02x}")
}

fn new_trace_id() -> String {
    hex(&uuid::Uuid::new_v4().as_u128().to_be_bytes())
}

/// 8 random bytes, never all zero.
fn new_span_id() -> String {
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    hex(&random.max(1).to_be_bytes())
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT: &str = "00f067aa0ba902b7";

    #[test]
    fn a_valid_traceparent_is_continued_with_a_span_of_our_own() {
        let header = format!("00-{TRACE}-{PARENT}-01");
        let trace = TraceContext::from_headers(Some(&header), Some("congo=t61rcWkgMzE"));
        assert_eq!(trace.trace_id, TRACE);
        assert_eq!(trace.parent_id.as_deref(), Some(PARENT));
        assert_ne!(trace.span_id, PARENT);
        assert_eq!(
            trace.traceparent(),
            format!("00-{TRACE}-{}-01", trace.span_id)
        );
        let outbound = trace.outbound_headers();
        let (_, child) = &outbound[0];
        assert!(child.starts_with(&format!("00-{TRACE}-")) && child.ends_with("-01"));
        assert!(!child.contains(PARENT) && !child.contains(&trace.span_id));
        assert_eq!(outbound[1], ("tracestate", "congo=t61rcWkgMzE".to_owned()));
    }

    #[test]
    fn flags_are_passed_on_as_received() {
        let header = format!("00-{TRACE}-{PARENT}-00");
        let trace = TraceContext::from_headers(Some(&header), None);
        assert!(trace.traceparent().ends_with("-00"));
        assert!(trace.outbound_headers()[0].1.ends_with("-00"));
        assert_eq!(trace.outbound_headers().len(), 1, "no tracestate sent");
    }

    #[test]
    fn a_later_version_is_read_as_version_00() {
        let header = format!("cc-{TRACE}-{PARENT}-01-what-the-future-adds");
        let trace = TraceContext::from_headers(Some(&header), None);
        assert_eq!(trace.trace_id, TRACE);
        // What we send is version 00, the one we know.
        assert!(trace.traceparent().starts_with("00-"));
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace_and_drops_its_state() {
        for header in [
            String::new(),
            "garbage".to_owned(),
            format!("ff-{TRACE}-{PARENT}-01"),
            format!("00-{TRACE}-{PARENT}-01-extra"),
            format!("00-{}-{PARENT}-01", TRACE.to_uppercase()),
            format!("00-{}-{PARENT}-01", "0".repeat(32)),
            format!("00-{TRACE}-{}-01", "0".repeat(16)),
            format!("00-{TRACE}-{PARENT}-1"),
            format!("00-{TRACE}-{PARENT}-0g"),
            format!("00_{TRACE}_{PARENT}_01"),
            format!("00-{}-{PARENT}-01", &TRACE[1..]),
            format!("cc-{TRACE}-{PARENT}-01x"),
        ] {
            let trace = TraceContext::from_headers(Some(&header), Some("congo=t61rcWkgMzE"));
            assert_ne!(trace.trace_id, TRACE, "{header:?}");
            assert_eq!(trace.parent_id, None, "{header:?}");
            assert_eq!(trace.outbound_headers().len(), 1, "{header:?}");
            assert!(parse_traceparent(&trace.traceparent()).is_some());
        }
    }

    #[test]
    fn none_starts_a_new_sampled_trace() {
        let one = TraceContext::from_headers(None, None);
        let two = TraceContext::from_headers(None, None);
        assert_ne!(one.trace_id, two.trace_id);
        assert_eq!(one.trace_id.len(), 32);
        assert_eq!(one.span_id.len(), 16);
        assert!(one.traceparent().ends_with("-01"));
        assert!(parse_traceparent(&one.traceparent()).is_some());
    }

    #[test]
    fn an_unfit_tracestate_is_dropped_alone() {
        let header = format!("00-{TRACE}-{PARENT}-01");
        for state in ["", "a=b\r\nx: y", &"k=v,".repeat(200)] {
            let trace = TraceContext::from_headers(Some(&header), Some(state));
            assert_eq!(trace.trace_id, TRACE);
            assert_eq!(trace.outbound_headers().len(), 1, "{state:?}");
        }
    }
}
