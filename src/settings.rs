//! What every concern's settings share (a leaf): a Spin variable's value,
//! the error that names the variable (never echoing a secret), secrets that
//! never print, and the small parsers.

/// A variable is missing or has a value the service cannot use. The message
/// names the variable but never echoes a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable `{name}`: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

/// The error for variable `name`.
pub fn fail(name: &'static str, problem: &str) -> ConfigError {
    ConfigError {
        name,
        problem: problem.to_owned(),
    }
}

/// A variable's value, trimmed; empty when it is unset.
pub type Get<'a> = &'a dyn Fn(&'static str) -> Result<String, ConfigError>;

/// A secret setting (a token, a key, a connection string with its
/// password); never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// `http://` or `https://` and something after it.
pub fn is_http_url(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(scheme, rest)| (scheme == "http" || scheme == "https") && !rest.is_empty())
}

/// A whole number in `range`, `default` when empty.
pub fn parse_number(
    text: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, &'static str> {
    if text.is_empty() {
        return Ok(default);
    }
    match text.parse::<u64>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err("must be a whole number in the allowed range"),
    }
}
