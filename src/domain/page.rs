//! Keyset pagination for the order list (SPEC §3): newest first, `limit`
//! 1..=100 (default 20) and an opaque `cursor` naming the last order seen.
//! Keyset, not offset: a page costs the same however deep it is, and new
//! orders never shift or repeat entries across pages.

use super::order_request::FieldErrors;
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// Prefix inside a cursor, so the format can change without old cursors
/// being misread.
const CURSOR_VERSION: &str = "v1:";

/// Which page of the caller's orders to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Only orders with an id below this one (the previous page's last).
    pub before_id: Option<i64>,
}

impl PageRequest {
    /// Reads `limit` and `cursor` from a query string (without `?`).
    /// Other parameters are ignored; a repeated one counts once, the last.
    pub fn from_query(query: &str) -> Result<Self, FieldErrors> {
        let mut limit = None;
        let mut cursor = None;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "limit" => limit = Some(value.into_owned()),
                "cursor" => cursor = Some(value.into_owned()),
                _ => {}
            }
        }
        let mut errors = FieldErrors::new();
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.insert(
                        "limit".into(),
                        vec![format!(
                            "Ensure this value is an integer between 1 and {MAX_LIMIT}."
                        )],
                    );
                    DEFAULT_LIMIT
                }
            },
        };
        let before_id = match cursor.as_deref() {
            None => None,
            Some(text) => {
                let decoded = decode_cursor(text);
                if decoded.is_none() {
                    errors.insert("cursor".into(), vec!["Invalid cursor.".into()]);
                }
                decoded
            }
        };
        if errors.is_empty() {
            Ok(Self { limit, before_id })
        } else {
            Err(errors)
        }
    }
}

/// The cursor that continues after the order with id `last_id`.
pub fn encode_cursor(last_id: i64) -> String {
    Base64UrlSafeNoPadding::encode_to_string(format!("{CURSOR_VERSION}{last_id}"))
        .expect("a short string always encodes")
}

fn decode_cursor(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    let bytes = Base64UrlSafeNoPadding::decode_to_vec(text, None).ok()?;
    let id = std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix(CURSOR_VERSION)?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse::<i64>().ok().filter(|id| *id >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_nothing_is_given() {
        assert_eq!(
            PageRequest::from_query(""),
            Ok(PageRequest {
                limit: 20,
                before_id: None
            })
        );
    }

    #[test]
    fn a_cursor_round_trips_and_other_parameters_are_ignored() {
        let cursor = encode_cursor(1234);
        let page = PageRequest::from_query(&format!("limit=5&x=1&cursor={cursor}")).unwrap();
        assert_eq!(page.limit, 5);
        assert_eq!(page.before_id, Some(1234));
    }

    #[test]
    fn limits_outside_1_to_100_are_invalid() {
        for bad in ["0", "101", "-1", "ten", "", "1.5", "99999999999"] {
            let errors = PageRequest::from_query(&format!("limit={bad}")).unwrap_err();
            assert!(errors.contains_key("limit"), "{bad}");
        }
        assert_eq!(PageRequest::from_query("limit=100").unwrap().limit, 100);
        assert_eq!(PageRequest::from_query("limit=1").unwrap().limit, 1);
    }

    #[test]
    fn tampered_cursors_are_invalid() {
        let other_version = Base64UrlSafeNoPadding::encode_to_string("v9:5").unwrap();
        let not_a_number = Base64UrlSafeNoPadding::encode_to_string("v1:5x").unwrap();
        let zero = Base64UrlSafeNoPadding::encode_to_string("v1:0").unwrap();
        for bad in [
            "",
            "!!!",
            "12",
            other_version.as_str(),
            not_a_number.as_str(),
            zero.as_str(),
        ] {
            let errors = PageRequest::from_query(&format!("cursor={bad}")).unwrap_err();
            assert!(errors.contains_key("cursor"), "{bad:?}");
        }
    }
}
