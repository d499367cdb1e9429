//! Keyset pagination for the order list (SPEC §3): newest first, `limit`
//! 1..=100 (default 20) and an opaque `cursor` naming the last order seen.
//! Keyset, not offset: a page costs the same however deep it is, and new
//! orders never shift or repeat entries across pages. Filters ("Finding
//! orders"): `status` (one or several, repeated or comma-separated),
//! `created_from` (inclusive) and `created_before` (exclusive), RFC 3339
//! UTC to the second as the API writes times; for operators, `user_id`.

use super::order::OrderStatus;
use super::order_request::FieldErrors;
use super::UserId;
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
/// Prefix inside a cursor, so the format can change without old cursors
/// being misread.
const CURSOR_VERSION: &str = "v1:";

/// Which page of orders to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Only orders with an id below this one (the previous page's last).
    pub before_id: Option<i64>,
    pub filter: OrderFilter,
}

/// Which orders a list shows, besides whose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Any of these statuses (none: all), each once, in life order.
    pub statuses: Vec<OrderStatus>,
    /// Created at or after this time (`YYYY-MM-DDTHH:MM:SSZ`).
    pub created_from: Option<String>,
    /// Created before this time.
    pub created_before: Option<String>,
    /// One user's orders (the operator's listing; a user's own list is
    /// always theirs alone).
    pub user: Option<UserId>,
}

/// Who lists: a user sees their own orders; an operator may name one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lister {
    User,
    Operator,
}

impl PageRequest {
    /// Reads `limit`, `cursor` and the filters from a query string
    /// (without `?`). Other parameters are ignored (`user_id` too, unless
    /// an operator lists); a repeated one counts once, the last, except
    /// `status`, whose values add up.
    pub fn from_query(query: &str, lister: Lister) -> Result<Self, FieldErrors> {
        let mut limit = None;
        let mut cursor = None;
        let mut statuses = Vec::new();
        let (mut from, mut before, mut user) = (None, None, None);
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "limit" => limit = Some(value.into_owned()),
                "cursor" => cursor = Some(value.into_owned()),
                "status" => statuses.push(value.into_owned()),
                "created_from" => from = Some(value.into_owned()),
                "created_before" => before = Some(value.into_owned()),
                "user_id" if lister == Lister::Operator => user = Some(value.into_owned()),
                _ => {}
            }
        }
        let mut errors = FieldErrors::new();
        let filter = OrderFilter::parse(&statuses, from, before, user, &mut errors);
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
            Ok(Self {
                limit,
                before_id,
                filter,
            })
        } else {
            Err(errors)
        }
    }

    /// The query string of the page after the order with id `last_id`:
    /// the same limit and filters.
    pub fn next_query(&self, last_id: i64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &self.limit.to_string());
        if !self.filter.statuses.is_empty() {
            let names: Vec<&str> = self.filter.statuses.iter().map(|s| s.as_str()).collect();
            query.append_pair("status", &names.join(","));
        }
        if let Some(from) = &self.filter.created_from {
            query.append_pair("created_from", from);
        }
        if let Some(before) = &self.filter.created_before {
            query.append_pair("created_before", before);
        }
        if let Some(user) = self.filter.user {
            query.append_pair("user_id", &user.get().to_string());
        }
        query.append_pair("cursor", &encode_cursor(last_id));
        query.finish()
    }
}

impl OrderFilter {
    fn parse(
        statuses: &[String],
        from: Option<String>,
        before: Option<String>,
        user: Option<String>,
        errors: &mut FieldErrors,
    ) -> Self {
        let mut filter = OrderFilter::default();
        let named: Vec<&str> = statuses.iter().flat_map(|v| v.split(',')).collect();
        let parsed: Option<Vec<OrderStatus>> =
            named.iter().map(|name| OrderStatus::parse(name)).collect();
        match parsed {
            Some(parsed) => {
                filter.statuses = OrderStatus::ALL
                    .into_iter()
                    .filter(|status| parsed.contains(status))
                    .collect();
            }
            None => {
                let all: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                errors.insert(
                    "status".into(),
                    vec![format!("Each status must be one of {}.", all.join(", "))],
                );
            }
        }
        for (field, value, slot) in [
            ("created_from", from, &mut filter.created_from),
            ("created_before", before, &mut filter.created_before),
        ] {
            match value {
                Some(time) if is_utc_time(&time) => *slot = Some(time),
                Some(_) => {
                    errors.insert(
                        field.into(),
                        vec![
                            "A UTC time as the API writes it is required: YYYY-MM-DDTHH:MM:SSZ."
                                .into(),
                        ],
                    );
                }
                None => {}
            }
        }
        if let Some(text) = user {
            let id = text
                .parse::<i64>()
                .ok()
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(UserId::new);
            match id {
                Some(id) => filter.user = Some(id),
                None => {
                    errors.insert(
                        "user_id".into(),
                        vec!["A positive integer is required.".into()],
                    );
                }
            }
        }
        filter
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` with every field in its range: the stored
/// form, so that SQLite's text order is time order.
fn is_utc_time(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let shape = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    let fields = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    );
    match fields {
        (Some(_), Some(month), Some(day), Some(hour), Some(minute), Some(second)) => {
            shape
                && (1..=12).contains(&month)
                && (1..=31).contains(&day)
                && hour < 24
                && minute < 60
                && second < 60
        }
        _ => false,
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
            PageRequest::from_query("", Lister::User),
            Ok(PageRequest {
                limit: 20,
                before_id: None,
                filter: OrderFilter::default(),
            })
        );
    }

    #[test]
    fn a_cursor_round_trips_and_other_parameters_are_ignored() {
        let cursor = encode_cursor(1234);
        let page =
            PageRequest::from_query(&format!("limit=5&x=1&cursor={cursor}"), Lister::User).unwrap();
        assert_eq!(page.limit, 5);
        assert_eq!(page.before_id, Some(1234));
    }

    #[test]
    fn limits_outside_1_to_100_are_invalid() {
        for bad in ["0", "101", "-1", "ten", "", "1.5", "99999999999"] {
            let errors =
                PageRequest::from_query(&format!("limit={bad}"), Lister::User).unwrap_err();
            assert!(errors.contains_key("limit"), "{bad}");
        }
        assert_eq!(
            PageRequest::from_query("limit=100", Lister::User)
                .unwrap()
                .limit,
            100
        );
        assert_eq!(
            PageRequest::from_query("limit=1", Lister::User)
                .unwrap()
                .limit,
            1
        );
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
            let errors =
                PageRequest::from_query(&format!("cursor={bad}"), Lister::User).unwrap_err();
            assert!(errors.contains_key("cursor"), "{bad:?}");
        }
    }

    #[test]
    fn filters_parse_and_carry_over_to_the_next_page() {
        let page = PageRequest::from_query(
            "status=SHIPPED,PAID&status=PAID&created_from=2026-01-01T00:00:00Z\
             &created_before=2026-02-01T00:00:00Z&user_id=7",
            Lister::Operator,
        )
        .unwrap();
        assert_eq!(
            page.filter.statuses,
            [OrderStatus::Paid, OrderStatus::Shipped]
        );
        assert_eq!(page.filter.user, UserId::new(7));
        let next = PageRequest::from_query(&page.next_query(40), Lister::Operator).unwrap();
        assert_eq!(next.filter, page.filter);
        assert_eq!(next.before_id, Some(40));
        // A user's own list never takes another user.
        let own = PageRequest::from_query("user_id=7", Lister::User).unwrap();
        assert_eq!(own.filter.user, None);
    }

    #[test]
    fn bad_filters_are_named() {
        for (query, field) in [
            ("status=paid", "status"),
            ("status=PAID,", "status"),
            ("created_from=2026-01-01", "created_from"),
            ("created_from=2026-13-01T00:00:00Z", "created_from"),
            ("created_before=2026-01-01T00:00:00+01:00", "created_before"),
            ("created_before=2026-01-01T24:00:00Z", "created_before"),
        ] {
            let errors = PageRequest::from_query(query, Lister::User).unwrap_err();
            assert!(errors.contains_key(field), "{query}: {errors:?}");
        }
        for bad in ["0", "-1", "+3", "x"] {
            let errors =
                PageRequest::from_query(&format!("user_id={bad}"), Lister::Operator).unwrap_err();
            assert!(errors.contains_key("user_id"), "{bad}");
        }
    }
}
