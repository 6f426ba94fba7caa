//! Fixed-point money and prices in integer minor units (cents).
//!
//! Invariant: no floating point ever holds an amount of money. Arithmetic is
//! checked; an overflow is an error value, never a wrap. Conversion to and
//! from decimal strings ("123.45") is exact and happens only at the edges.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::types::Quantity;

/// Number of decimal places in one major unit (2: cents).
pub const DECIMALS: u32 = 2;
/// Minor units per major unit (100 cents to the dollar).
pub const SCALE: i64 = 10i64.pow(DECIMALS);

/// Why a decimal string is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseAmountError {
    #[error("empty amount")]
    Empty,
    #[error("`{0}` is not a decimal number like 123.45")]
    Invalid(String),
    #[error("`{0}` has more than {DECIMALS} decimal places")]
    TooPrecise(String),
    #[error("`{0}` is too large")]
    Overflow(String),
    #[error("`{0}` must be greater than zero")]
    NotPositive(String),
}

/// An arithmetic result that does not fit in the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("amount overflow")]
pub struct Overflow;

fn parse_minor(s: &str) -> Result<i64, ParseAmountError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ParseAmountError::Empty);
    }
    let (neg, body) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !digits_ok(int_part)
        || !digits_ok(frac_part)
        || (body.contains('.') && frac_part.is_empty())
    {
        return Err(ParseAmountError::Invalid(s.to_string()));
    }
    if frac_part.len() > DECIMALS as usize {
        // Trailing zeros beyond the scale are harmless ("1.500").
        if frac_part[DECIMALS as usize..].bytes().any(|b| b != b'0') {
            return Err(ParseAmountError::TooPrecise(s.to_string()));
        }
    }
    let overflow = || ParseAmountError::Overflow(s.to_string());
    let mut value: i64 = 0;
    for b in int_part.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    let mut frac: i64 = 0;
    for i in 0..DECIMALS as usize {
        let d = frac_part
            .as_bytes()
            .get(i)
            .map_or(0, |b| i64::from(b - b'0'));
        frac = frac * 10 + d;
    }
    value = value
        .checked_mul(SCALE)
        .and_then(|v| v.checked_add(frac))
        .ok_or_else(overflow)?;
    Ok(if neg { -value } else { value })
}

fn fmt_minor(v: i64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let scale = SCALE as u64;
    write!(
        f,
        "{sign}{}.{:0width$}",
        a / scale,
        a % scale,
        width = DECIMALS as usize
    )
}

/// A price per share in minor units. Always > 0 once validated by an order;
/// the type itself allows zero so that "no price" sentinels are not needed.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(i64);

impl Price {
    pub const ZERO: Price = Price(0);
    pub const MAX: Price = Price(i64::MAX);

    /// A price from minor units (cents).
    pub const fn from_minor(minor: i64) -> Self {
        Price(minor)
    }
    pub const fn minor(self) -> i64 {
        self.0
    }
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }
    /// Is this price a whole multiple of `tick`?
    pub fn is_on_grid(self, tick: Price) -> bool {
        tick.0 > 0 && self.0 % tick.0 == 0
    }
    /// Notional value of `qty` shares at this price.
    pub fn checked_notional(self, qty: Quantity) -> Result<Money, Overflow> {
        i64::try_from(qty.get())
            .ok()
            .and_then(|q| self.0.checked_mul(q))
            .map(Money)
            .ok_or(Overflow)
    }
    pub fn checked_add(self, other: Price) -> Option<Price> {
        self.0.checked_add(other.0).map(Price)
    }
    pub fn checked_sub(self, other: Price) -> Option<Price> {
        self.0.checked_sub(other.0).map(Price)
    }
    /// Parse a strictly positive price such as "123.45".
    pub fn parse_positive(s: &str) -> Result<Price, ParseAmountError> {
        let p: Price = s.parse()?;
        if p.0 <= 0 {
            return Err(ParseAmountError::NotPositive(s.to_string()));
        }
        Ok(p)
    }
}

impl FromStr for Price {
    type Err = ParseAmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_minor(s).map(Price)
    }
}
impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_minor(self.0, f)
    }
}
impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Price({self})")
    }
}

/// An amount of money in minor units. Signed so that P&L and changes can be
/// expressed; balances are kept non-negative by the ledger.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_minor(minor: i64) -> Self {
        Money(minor)
    }
    /// Whole major units (dollars).
    pub const fn from_major(major: i64) -> Self {
        Money(major * SCALE)
    }
    pub const fn minor(self) -> i64 {
        self.0
    }
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
    pub fn checked_add(self, o: Money) -> Result<Money, Overflow> {
        self.0.checked_add(o.0).map(Money).ok_or(Overflow)
    }
    pub fn checked_sub(self, o: Money) -> Result<Money, Overflow> {
        self.0.checked_sub(o.0).map(Money).ok_or(Overflow)
    }
    /// `self * bps / 10_000`, rounded toward zero (`up = false`) or away
    /// from zero (`up = true`). Used for fees.
    pub fn bps(self, bps: u32, up: bool) -> Result<Money, Overflow> {
        let num = i128::from(self.0) * i128::from(bps);
        let mut q = num / 10_000;
        if up && num % 10_000 != 0 {
            q += num.signum();
        }
        i64::try_from(q).map(Money).map_err(|_| Overflow)
    }
}

impl FromStr for Money {
    type Err = ParseAmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_minor(s).map(Money)
    }
}
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_minor(self.0, f)
    }
}
impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}
impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_round_trip_exactly() {
        for s in [
            "0.00",
            "0.01",
            "1.00",
            "123.45",
            "-5.10",
            "92233720368547758.07",
        ] {
            let m: Money = s.parse().unwrap();
            assert_eq!(m.to_string(), s);
        }
        assert_eq!("123.45".parse::<Price>().unwrap().minor(), 12345);
        assert_eq!("7".parse::<Price>().unwrap().minor(), 700);
        assert_eq!("7.5".parse::<Price>().unwrap().minor(), 750);
        assert_eq!("7.500".parse::<Price>().unwrap().minor(), 750);
    }

    #[test]
    fn malformed_or_too_precise_amounts_are_errors() {
        for s in ["", " ", "abc", "1.2.3", "1.", ".", "--1", "1e5", "12,50"] {
            assert!(s.parse::<Money>().is_err(), "{s:?} parsed");
        }
        assert!(matches!(
            "1.234".parse::<Price>(),
            Err(ParseAmountError::TooPrecise(_))
        ));
        assert!(matches!(
            "99999999999999999999".parse::<Money>(),
            Err(ParseAmountError::Overflow(_))
        ));
        assert!(matches!(
            Price::parse_positive("0"),
            Err(ParseAmountError::NotPositive(_))
        ));
        assert!(matches!(
            Price::parse_positive("-1.00"),
            Err(ParseAmountError::NotPositive(_))
        ));
    }

    #[test]
    fn notional_is_exact_and_overflow_is_an_error() {
        let p = Price::from_minor(12345);
        assert_eq!(
            p.checked_notional(Quantity::new(3).unwrap()).unwrap(),
            Money::from_minor(37035)
        );
        assert_eq!(
            Price::MAX.checked_notional(Quantity::new(2).unwrap()),
            Err(Overflow)
        );
    }

    #[test]
    fn basis_points_round_as_asked() {
        let m = Money::from_minor(10_001);
        assert_eq!(m.bps(10, false).unwrap(), Money::from_minor(10));
        assert_eq!(m.bps(10, true).unwrap(), Money::from_minor(11));
        assert_eq!(
            Money::from_minor(10_000).bps(10, true).unwrap(),
            Money::from_minor(10)
        );
    }

    #[test]
    fn grid_check_needs_a_positive_tick() {
        assert!(Price::from_minor(1050).is_on_grid(Price::from_minor(5)));
        assert!(!Price::from_minor(1051).is_on_grid(Price::from_minor(5)));
        assert!(!Price::from_minor(1050).is_on_grid(Price::ZERO));
    }
}
