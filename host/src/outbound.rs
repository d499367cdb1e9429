//! Outbound HTTP policy: a component may call only the hosts in its
//! `allowed_outbound_hosts`; anything else fails with `HttpRequestDenied`,
//! as in Spin.

use anyhow::{bail, Context, Result};
use std::future::Future;
use std::sync::Arc;
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
            None => match scheme.as_deref() {
                Some("http") => Some(80),
                Some("https") => Some(443),
                _ => bail!("allowed_outbound_hosts entry `{entry}` needs a port"),
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
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        let port = uri.port_u16().unwrap_or(default_port);
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

/// The wasi-http hooks of one request: the allow-list check, then the
/// default sender.
pub struct OutboundPolicy {
    pub allowed: Arc<Vec<AllowedHost>>,
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        if !self.allowed.iter().any(|a| a.allows(request.uri())) {
            eprintln!(
                "spin-host: outbound request to {} denied: not in allowed_outbound_hosts",
                request.uri().authority().map_or("?", |a| a.as_str())
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
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
