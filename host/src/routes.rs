//! Spin HTTP trigger routes: exact (`/health`) or prefix wildcard
//! (`/orders/...`), and the headers Spin sets for a matched request.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// As written in the manifest, e.g. `/orders/...`.
    raw: String,
    /// The path without the wildcard, e.g. `/orders`.
    prefix: String,
    wildcard: bool,
}

impl Route {
    pub fn parse(raw: &str) -> Result<Self> {
        if !raw.starts_with('/') {
            bail!("route `{raw}` must start with /");
        }
        if raw.contains(':') {
            bail!("route `{raw}`: named path segments are not supported by spin-host");
        }
        let (prefix, wildcard) = match raw.strip_suffix("/...") {
            Some(prefix) => (prefix, true),
            None if raw == "/..." => ("", true),
            None => (raw.trim_end_matches('/'), false),
        };
        if prefix.contains("...") {
            bail!("route `{raw}`: `...` is only allowed at the end");
        }
        Ok(Self {
            raw: raw.to_owned(),
            prefix: prefix.to_owned(),
            wildcard,
        })
    }

    /// The part of `path` after the route's prefix (Spin's `path-info`),
    /// or `None` when the route does not match.
    pub fn path_info<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        let matches = if self.wildcard {
            rest.is_empty() || rest.starts_with('/')
        } else {
            rest.is_empty()
        };
        matches.then_some(if self.wildcard { rest } else { "" })
    }

    /// More specific routes win, as in Spin: exact beats wildcard, longer
    /// prefix beats shorter.
    pub fn specificity(&self) -> (usize, bool) {
        (self.prefix.len(), !self.wildcard)
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The headers Spin adds to every request it hands a component.
    pub fn spin_headers(
        &self,
        path_info: &str,
        full_url: String,
        client_addr: std::net::SocketAddr,
    ) -> [(&'static str, String); 7] {
        let component_route = if self.prefix.is_empty() {
            "/"
        } else {
            &self.prefix
        };
        [
            ("spin-path-info", path_info.to_owned()),
            ("spin-full-url", full_url),
            ("spin-matched-route", self.raw.clone()),
            ("spin-base-path", "/".to_owned()),
            ("spin-raw-component-route", self.raw.clone()),
            ("spin-component-route", component_route.to_owned()),
            ("spin-client-addr", client_addr.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_routes_match_the_prefix_and_below() {
        let route = Route::parse("/orders/...").unwrap();
        assert_eq!(route.path_info("/orders"), Some(""));
        assert_eq!(route.path_info("/orders/"), Some("/"));
        assert_eq!(route.path_info("/orders/health/"), Some("/health/"));
        assert_eq!(route.path_info("/ordersx"), None);
        assert_eq!(route.path_info("/catalog/x"), None);
    }

    #[test]
    fn exact_routes_match_only_themselves() {
        let route = Route::parse("/health").unwrap();
        assert_eq!(route.path_info("/health"), Some(""));
        assert_eq!(route.path_info("/health/"), None);
        assert_eq!(route.path_info("/health/x"), None);
    }

    #[test]
    fn headers_match_what_spin_sets() {
        let route = Route::parse("/foo/...").unwrap();
        let headers = route.spin_headers(
            "/bar",
            "https://fermyon.dev/foo/bar?key1=value1".into(),
            "127.0.0.1:8777".parse().unwrap(),
        );
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("spin-path-info"), "/bar");
        assert_eq!(
            get("spin-full-url"),
            "https://fermyon.dev/foo/bar?key1=value1"
        );
        assert_eq!(get("spin-matched-route"), "/foo/...");
        assert_eq!(get("spin-base-path"), "/");
        assert_eq!(get("spin-raw-component-route"), "/foo/...");
        assert_eq!(get("spin-component-route"), "/foo");
        assert_eq!(get("spin-client-addr"), "127.0.0.1:8777");
    }

    #[test]
    fn rejects_unsupported_syntax() {
        assert!(Route::parse("orders").is_err());
        assert!(Route::parse("/users/:id/...").is_err());
        assert!(Route::parse("/a/.../b").is_err());
    }
}
