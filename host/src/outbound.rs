//! Outbound HTTP as Spin's `factor-outbound-http` does it: a component may
//! call only the hosts in its `allowed_outbound_hosts` (anything else fails
//! with `HttpRequestDenied`); plain-HTTP requests go through one pooled
//! keep-alive client shared by the whole app, so connections to the
//! Catalog are reused across requests; connect failures map to the same
//! wasi-http error codes as in Spin.

use anyhow::{bail, Context, Result};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// One `allowed_outbound_hosts` entry: `scheme://host[:port]`, where scheme,
/// host and port may be `*`, a host may be `*.suffix`, and a missing port
/// means the scheme's default port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Suffix(String),
    Exact(String),
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<Self> {
        let (scheme, rest) = entry.split_once("://").with_context(|| {
            format!("allowed_outbound_hosts entry `{entry}` needs a scheme, e.g. http://host:port")
        })?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains('/') {
            bail!("allowed_outbound_hosts entry `{entry}` must be scheme://host[:port] without a path");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                (host, Some(port))
            }
            _ => (authority, None),
        };
        let scheme = (scheme != "*").then(|| scheme.to_ascii_lowercase());
        let port = match port {
            Some("*") => None,
            Some(port) => Some(
                port.parse()
                    .with_context(|| format!("bad port in `{entry}`"))?,
            ),
            None => match scheme.as_deref().and_then(default_port) {
                Some(port) => Some(port),
                None => bail!("allowed_outbound_hosts entry `{entry}` needs a port"),
            },
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{suffix}"))
        } else {
            HostPattern::Exact(host)
        };
        Ok(Self { scheme, host, port })
    }

    pub fn allows(&self, uri: &http::Uri) -> bool {
        let Some(scheme) = uri.scheme_str() else {
            return false;
        };
        let Some(host) = uri.host() else { return false };
        let Some(default_port) = default_port(scheme).filter(|_| scheme.starts_with("http")) else {
            return false;
        };
        self.allows_address(scheme, host, uri.port_u16().unwrap_or(default_port))
    }

    /// Whether `scheme://host:port` is allowed (a database address, say).
    pub fn allows_address(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.scheme.as_deref().is_none_or(|s| s == scheme)
            && self.port.is_none_or(|p| p == port)
            && match &self.host {
                HostPattern::Any => true,
                HostPattern::Suffix(suffix) => host.ends_with(suffix.as_str()),
                HostPattern::Exact(exact) => *exact == host,
            }
    }
}

/// Resolves a component's `allowed_outbound_hosts` with the app's variables
/// as Spin does for each instance. An entry that resolves to nothing or to
/// something malformed stops the start: Spin 4 would skip or deny that one
/// entry, but Spin 3 (SpinKube's shim embeds 3.6.3) fails every outbound
/// request of the component when one entry does not parse, so an app that
/// starts here must not depend on either.
pub fn resolve_allowed_hosts(
    entries: &[String],
    expand: impl Fn(&str) -> Result<String>,
) -> Result<Vec<AllowedHost>> {
    entries
        .iter()
        .map(|entry| {
            if !entry.contains("{{") {
                return AllowedHost::parse(entry);
            }
            let expanded = expand(entry)?;
            AllowedHost::parse(&expanded).with_context(|| {
                format!(
                    "allowed_outbound_hosts entry `{entry}` resolves to {expanded:?}: Spin 3 then \
                     denies every outbound request of the component (Spin 4 skips an empty \
                     entry); leave the variable unset to keep its default"
                )
            })
        })
        .collect()
}

/// Checks `allowed_outbound_hosts` as Spin 3 does when it loads an app:
/// each template resolved with the variables' default values must be a
/// valid entry (an empty one is not); a template using a variable without
/// a default cannot be checked and passes. `defaults` expands a template
/// with the defaults, failing when a variable has none.
pub fn check_allowed_hosts_with_defaults(
    entries: &[String],
    defaults: impl Fn(&str) -> Result<String>,
) -> Result<()> {
    for entry in entries.iter().filter(|entry| entry.contains("{{")) {
        let Ok(resolved) = defaults(entry) else {
            continue;
        };
        AllowedHost::parse(&resolved).with_context(|| {
            // Spin 3.6.3's words, so the start-up error reads the same.
            format!(
                "`allowed_outbound_hosts` is malformed: using default variable value(s) with \
                 template {entry:?} results in invalid config {resolved:?}"
            )
        })?;
    }
    Ok(())
}

/// Plain-HTTP requests of the whole app: one pooled keep-alive client.
pub type SharedClient = Client<PlainConnector, WasiBody>;

pub fn shared_client() -> SharedClient {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(PlainConnector)
}

/// TCP connections for the shared client, failing with Spin's error codes.
#[derive(Clone)]
pub struct PlainConnector;

impl tower_service::Service<http::Uri> for PlainConnector {
    type Response = TokioIo<TcpStream>;
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, HttpError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), HttpError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri.host().ok_or(HttpError::HttpRequestUriInvalid)?;
            let port = uri.port_u16().unwrap_or(80);
            let addresses: Vec<_> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| HttpError::DnsError {
                    rcode: Some("address not available".into()),
                    info_code: Some(0),
                })?
                .collect();
            let stream =
                tokio::time::timeout(Duration::from_secs(600), TcpStream::connect(&*addresses))
                    .await
                    .map_err(|_| HttpError::ConnectionTimeout)?
                    .map_err(|error| match error.kind() {
                        std::io::ErrorKind::AddrNotAvailable => HttpError::DnsError {
                            rcode: Some("address not available".into()),
                            info_code: Some(0),
                        },
                        _ => HttpError::ConnectionRefused,
                    })?;
            let _ = stream.set_nodelay(true);
            Ok(TokioIo::new(stream))
        })
    }
}

/// The wasi-http error a failed pooled request stands for.
fn request_error(error: hyper_util::client::legacy::Error) -> HttpError {
    use std::error::Error as _;
    let mut cause = error.source();
    while let Some(inner) = cause {
        if let Some(code) = inner.downcast_ref::<HttpError>() {
            return clone_connect_error(code);
        }
        cause = inner.source();
    }
    HttpError::HttpProtocolError
}

fn clone_connect_error(error: &HttpError) -> HttpError {
    match error {
        HttpError::ConnectionRefused => HttpError::ConnectionRefused,
        HttpError::ConnectionTimeout => HttpError::ConnectionTimeout,
        HttpError::HttpRequestUriInvalid => HttpError::HttpRequestUriInvalid,
        HttpError::DnsError { rcode, info_code } => HttpError::DnsError {
            rcode: rcode.clone(),
            info_code: *info_code,
        },
        _ => HttpError::HttpProtocolError,
    }
}

/// The port an entry without one means, per scheme (as in Spin).
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" => Some(5432),
        "redis" => Some(6379),
        "mysql" => Some(3306),
        _ => None,
    }
}

/// The wasi-http hooks of one request: the allow-list check, then the
/// app's pooled client (HTTPS falls back to Wasmtime's one-shot sender).
/// What Spin prints when a component reaches for a destination that
/// `allowed_outbound_hosts` does not allow (`scheme://host:port`, never
/// credentials), in Spin's words, so the logs read the same on both.
pub fn warn_disallowed(destination: &str) {
    eprintln!(
        "ERROR spin_runtime_factors: Outbound network destination not allowed: {destination}"
    );
    eprintln!(
        "Warning: A component tried to make an outbound network connection to disallowed \
         destination '{destination}'.\nTo allow this request, add 'allowed_outbound_hosts = \
         [\"{destination}\"]' to the manifest component section."
    );
}

pub struct OutboundPolicy {
    pub allowed: Arc<Vec<AllowedHost>>,
    pub client: SharedClient,
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for OutboundPolicy {
    /// Each request is a client span, as Spin's `spin_outbound_http.send_request`
    /// (named by its method; `url.full`, `server.address`, `server.port`,
    /// the status and the bodies' lengths), and carries that span's
    /// `traceparent` when exporting.
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let span = tracing::info_span!(
            "spin_outbound_http.send_request",
            otel.kind = "client",
            url.full = %request.uri(),
            http.request.method = %request.method(),
            otel.name = %request.method(),
            http.response.status_code = tracing::field::Empty,
            server.address = tracing::field::Empty,
            server.port = tracing::field::Empty,
        );
        if !self.allowed.iter().any(|a| a.allows(request.uri())) {
            let uri = request.uri();
            let port = uri
                .port_u16()
                .or_else(|| default_port(uri.scheme_str().unwrap_or("http")));
            warn_disallowed(&format!(
                "{}://{}{}",
                uri.scheme_str().unwrap_or("http"),
                uri.host().unwrap_or("?"),
                port.map(|p| format!(":{p}")).unwrap_or_default()
            ));
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        span.in_scope(|| {
            crate::telemetry::inject_trace_context(request.headers_mut());
            if let Some(authority) = request.uri().authority() {
                span.record("server.address", authority.host());
                if let Some(port) = authority.port_u16() {
                    span.record("server.port", tracing::field::display(port));
                }
            }
            if let Some(length) = content_length(request.headers()) {
                span.set_attribute("http.request.header.content-length", length);
            }
        });
        let sent = self.send(request, options);
        let recorded = span.clone();
        Box::new(
            async move {
                let sent = Box::into_pin(sent).await;
                if let Ok((response, _)) = &sent {
                    recorded.record(
                        "http.response.status_code",
                        tracing::field::display(response.status().as_u16()),
                    );
                    if let Some(length) = content_length(response.headers()) {
                        recorded.set_attribute("http.response.header.content-length", length);
                    }
                }
                sent
            }
            .instrument(span),
        )
    }
}

impl OutboundPolicy {
    /// Sends an allowed request: plain HTTP through the shared pool,
    /// anything else through Wasmtime's one-shot sender.
    fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        if request.uri().scheme_str() != Some("http") {
            return Box::new(async move {
                let (response, io) =
                    wasmtime_wasi_http::default_send_request(request, options).await?;
                Ok((
                    response.map(BodyExt::boxed_unsync),
                    Box::new(io) as Box<dyn Future<Output = _> + Send>,
                ))
            });
        }
        let client = self.client.clone();
        let first_byte_timeout = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(Duration::from_secs(600));
        Box::new(async move {
            let response = tokio::time::timeout(first_byte_timeout, client.request(request))
                .await
                .map_err(|_| HttpError::ConnectionReadTimeout)?
                .map_err(request_error)?;
            let response = response.map(|body| body.map_err(HttpError::Hyper).boxed_unsync());
            let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

/// A `content-length` header's value, as Spin's spans record it.
fn content_length(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, url: &str) -> bool {
        AllowedHost::parse(entry)
            .unwrap()
            .allows(&url.parse().unwrap())
    }

    #[test]
    fn exact_entries_match_scheme_host_and_port() {
        assert!(allows(
            "http://127.0.0.1:9001",
            "http://127.0.0.1:9001/products/1/"
        ));
        assert!(allows("http://127.0.0.1:9001/", "http://127.0.0.1:9001/x"));
        assert!(!allows("http://127.0.0.1:9001", "http://127.0.0.1:9002/"));
        assert!(!allows("http://127.0.0.1:9001", "https://127.0.0.1:9001/"));
        assert!(!allows("http://127.0.0.1:9001", "http://localhost:9001/"));
        assert!(allows("http://catalog-service", "http://catalog-service/"));
        assert!(!allows(
            "http://catalog-service",
            "http://catalog-service:8080/"
        ));
    }

    #[test]
    fn wildcards() {
        assert!(allows("*://localhost:*", "https://localhost:1234/"));
        assert!(allows("https://*.example.com", "https://api.example.com/"));
        assert!(!allows(
            "https://*.example.com",
            "https://example.com.evil.net/"
        ));
        assert!(allows("http://*:*", "http://anything:1/"));
    }

    #[test]
    fn templates_resolve_like_spin_per_instance() {
        let expand = |t: &str| {
            Ok(match t {
                "{{ empty }}" => "",
                "{{ bad }}" => "not a url",
                _ => "http://catalog:9001",
            }
            .to_owned())
        };
        let entries = vec!["{{ good }}".to_owned(), "http://literal:1".to_owned()];
        let allowed = resolve_allowed_hosts(&entries, expand).unwrap();
        assert_eq!(allowed.len(), 2);
        assert!(allowed[0].allows(&"http://catalog:9001/x".parse().unwrap()));
        // Spin 3 fails every outbound request over one entry it cannot
        // parse: refused at start, however it came about.
        for bad in ["{{ empty }}", "{{ bad }}", "not a url"] {
            let entries = vec!["{{ good }}".to_owned(), bad.to_owned()];
            assert!(resolve_allowed_hosts(&entries, expand).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_are_checked_like_spin_3_at_load() {
        let defaults = |t: &str| match t {
            "{{ empty }}" => Ok(String::new()),
            "{{ required }}" => anyhow::bail!("no default"),
            _ => Ok("postgres://database.invalid".to_owned()),
        };
        let check = |entry: &str| check_allowed_hosts_with_defaults(&[entry.to_owned()], defaults);
        assert!(check("{{ host }}").is_ok());
        assert!(check("{{ required }}").is_ok(), "no default: not checked");
        let error = format!("{:#}", check("{{ empty }}").unwrap_err());
        assert!(error.contains("results in invalid config \"\""), "{error}");
    }

    #[test]
    fn malformed_entries_are_errors() {
        for bad in [
            "127.0.0.1:9001",
            "http://",
            "http://host/path",
            "http://host:port",
            "ftp://host",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }
}
