//! What every concern's settings share (a leaf): where variables come
//! from ([`Variables`]: Spin's, or a map in tests), the error that names
//! the variable (never echoing a secret), secrets that never print, and the
//! small parsers. Each concern owns its settings type and parser beside its
//! code (`auth::settings`, `catalog`, `store::settings`, `event_stream`,
//! `orders::settings`, the payment and fulfilment handlers); a request reads
//! them once and hands them down.

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

/// Where settings are read from.
pub trait Variables {
    /// Variable `name`'s value, trimmed; empty when it is unset.
    fn get(&self, name: &'static str) -> Result<String, ConfigError>;
}

/// The Spin application's variables (SPEC §1): one host call each.
pub struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &'static str) -> Result<String, ConfigError> {
        match spin_sdk::variables::get(name) {
            Ok(value) => Ok(value.trim().to_owned()),
            Err(spin_sdk::variables::Error::Undefined(_)) => Ok(String::new()),
            Err(other) => Err(fail(name, &other.to_string())),
        }
    }
}

/// Variables from a list, for tests.
#[cfg(test)]
pub struct Fixed(pub Vec<(&'static str, String)>);

#[cfg(test)]
impl Fixed {
    pub fn of(pairs: &[(&'static str, &str)]) -> Self {
        Fixed(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
    }
}

#[cfg(test)]
impl Variables for Fixed {
    fn get(&self, name: &'static str) -> Result<String, ConfigError> {
        // The last value given wins, as with a variable set twice.
        Ok(self
            .0
            .iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default())
    }
}

/// `Some(value)` unless it is empty.
pub fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

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
