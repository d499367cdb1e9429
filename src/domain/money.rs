//! Money as exact decimals with two places, the way Django's
//! `DecimalField(decimal_places=2)` stores and writes it. Never `f64`.

use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// Largest amount accepted or produced: far above any real basket, small
/// enough that sums of 100 lines × 100 000 units can never overflow.
const MAX_AMOUNT: Decimal = Decimal::from_parts(u32::MAX, u32::MAX, 0, false, 2); // ~1.8e17

/// A non-negative amount with at most two decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal number")]
    NotANumber,
    #[error("negative amount")]
    Negative,
    #[error("more than two decimal places")]
    TooPrecise,
    #[error("amount too large")]
    TooLarge,
}

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parses a plain decimal string such as `"999.99"` or `"5"`.
    /// Exponents, signs other than a leading `-`, and spaces are rejected.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let plain = !text.is_empty()
            && text
                .bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || b == b'.' || (i == 0 && b == b'-'));
        if !plain {
            return Err(MoneyError::NotANumber);
        }
        let value = Decimal::from_str(text).map_err(|_| MoneyError::NotANumber)?;
        Self::from_decimal(value)
    }

    /// Only the text the service itself writes for an amount ([`Display`]:
    /// digits without a superfluous leading zero, a point, exactly two
    /// places): what a peer sends back must be an amount it was given.
    ///
    /// [`Display`]: fmt::Display
    pub fn parse_exact(text: &str) -> Option<Self> {
        Self::parse(text)
            .ok()
            .filter(|money| money.to_string() == text)
    }

    fn from_decimal(value: Decimal) -> Result<Self, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        if value.normalize().scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        if value > MAX_AMOUNT {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money(value.abs()))
    }

    /// `self × quantity`, exact; `None` when the result would be too large.
    pub fn times(self, quantity: u32) -> Option<Money> {
        let product = self.0.checked_mul(Decimal::from(quantity))?;
        Self::from_decimal(product).ok()
    }

    /// `self + other`, exact; `None` when the result would be too large.
    pub fn plus(self, other: Money) -> Option<Money> {
        Self::from_decimal(self.0.checked_add(other.0)?).ok()
    }
}

impl Money {
    /// The exact decimal, with exactly two places.
    pub fn to_decimal(self) -> Decimal {
        let mut value = self.0;
        value.rescale(2);
        value
    }
}

impl fmt::Display for Money {
    /// Always exactly two decimals: `"1999.98"`, `"5.00"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_catalog_prices_exactly() {
        assert_eq!(Money::parse("999.99").unwrap().to_string(), "999.99");
        assert_eq!(Money::parse("5").unwrap().to_string(), "5.00");
        assert_eq!(Money::parse("0.1").unwrap().to_string(), "0.10");
        assert_eq!(Money::parse("0").unwrap().to_string(), "0.00");
        assert_eq!(Money::parse("12.50").unwrap().to_string(), "12.50");
    }

    #[test]
    fn rejects_what_is_not_a_plain_two_place_amount() {
        for bad in ["", "abc", "1e3", "+1", " 1", "1,00", "NaN", "1.2.3"] {
            assert_eq!(Money::parse(bad), Err(MoneyError::NotANumber), "{bad:?}");
        }
        assert_eq!(Money::parse("-1.00"), Err(MoneyError::Negative));
        assert_eq!(Money::parse("1.001"), Err(MoneyError::TooPrecise));
        assert_eq!(
            Money::parse("999999999999999999999"),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn arithmetic_is_exact_where_floats_are_not() {
        // 0.1 + 0.2 is 0.30000000000000004 in f64.
        let sum = Money::parse("0.1")
            .unwrap()
            .plus(Money::parse("0.2").unwrap())
            .unwrap();
        assert_eq!(sum.to_string(), "0.30");
        assert_eq!(
            Money::parse("999.99")
                .unwrap()
                .times(2)
                .unwrap()
                .to_string(),
            "1999.98"
        );
        assert_eq!(
            Money::parse("19.99")
                .unwrap()
                .times(100_000)
                .unwrap()
                .to_string(),
            "1999000.00"
        );
    }

    #[test]
    fn overflow_is_reported_not_wrapped() {
        let huge = Money::parse("100000000000000000").unwrap();
        assert_eq!(huge.times(100_000), None);
        assert_eq!(huge.plus(huge), None);
    }
}
