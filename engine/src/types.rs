//! Identifiers, quantities, timestamps and sides.
//!
//! All are small `Copy` values so the hot path never allocates.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use thiserror::Error;

/// Nanoseconds since the Unix epoch, passed in by callers: the engine never
/// reads a clock.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;
    pub const NANOS_PER_MINUTE: i64 = 60 * Self::NANOS_PER_SEC;
    pub const NANOS_PER_DAY: i64 = 86_400 * Self::NANOS_PER_SEC;

    pub const fn from_secs(s: i64) -> Self {
        Timestamp(s * Self::NANOS_PER_SEC)
    }
    pub const fn nanos(self) -> i64 {
        self.0
    }
    /// Days since 1970-01-01 (UTC) of this instant.
    pub const fn day(self) -> i64 {
        self.0.div_euclid(Self::NANOS_PER_DAY)
    }
    /// Start of the minute containing this instant.
    pub const fn minute_floor(self) -> Timestamp {
        Timestamp(self.0.div_euclid(Self::NANOS_PER_MINUTE) * Self::NANOS_PER_MINUTE)
    }
}

/// Identifies an account (one per user or agent).
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct AccountId(pub u64);

impl AccountId {
    /// The account fees are paid into.
    pub const FEES: AccountId = AccountId(u64::MAX);
    /// The market's own account: it holds the floats of listed symbols
    /// that no agent was given.
    pub const HOUSE: AccountId = AccountId(u64::MAX - 1);
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Identifies an order; unique across the market, assigned by the caller.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct OrderId(pub u64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A number of shares, always at least one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Quantity(NonZeroU64);

impl Quantity {
    /// `None` for zero: an order of nothing cannot exist.
    pub const fn new(n: u64) -> Option<Self> {
        match NonZeroU64::new(n) {
            Some(v) => Some(Quantity(v)),
            None => None,
        }
    }
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Buy or sell.
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
    /// The inverse of `as_str`.
    pub fn parse(s: &str) -> Option<Side> {
        [Side::Buy, Side::Sell]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// Why a string is not a symbol.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("symbol `{0}` must be 1 to {max} characters of A-Z (either case), 0-9, `.` or `-`, starting with a letter", max = Symbol::MAX_LEN)]
pub struct InvalidSymbol(pub String);

/// A ticker symbol such as `AAPL` or `BRK.B`, stored inline (no heap), so it
/// is `Copy` and cheap to hash and compare. Input is case-insensitive:
/// `Symbol::new("brk.b")` is `BRK.B` (symbols are always stored and shown in
/// upper case).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbol {
    len: u8,
    bytes: [u8; Symbol::MAX_LEN],
}

impl Symbol {
    pub const MAX_LEN: usize = 15;

    pub fn new(s: &str) -> Result<Self, InvalidSymbol> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= Self::MAX_LEN
            && b[0].is_ascii_alphabetic()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-');
        if !ok {
            return Err(InvalidSymbol(s.to_string()));
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        for (to, from) in bytes.iter_mut().zip(b) {
            *to = from.to_ascii_uppercase();
        }
        Ok(Symbol {
            len: b.len() as u8,
            bytes,
        })
    }

    /// The symbol's bytes (ASCII), without `as_str`'s UTF-8 check: for
    /// hashing and encoding in hot paths.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked in `new`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Ord for Symbol {
    /// Alphabetical, as the strings compare. The unused bytes are zero and a
    /// symbol never holds a zero byte, so comparing the whole arrays gives
    /// the strings' order without a UTF-8 check per comparison (which took
    /// 6% of a simulated day's instructions).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}
impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl FromStr for Symbol {
    type Err = InvalidSymbol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::new(s)
    }
}
impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.as_str())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Symbol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Symbol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Symbol::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_accept_tickers_and_reject_junk() {
        for s in ["A", "AAPL", "BRK.B", "X-1", "ABCDEFGHIJKLMNO"] {
            assert_eq!(Symbol::new(s).unwrap().as_str(), s);
        }
        for s in [
            "",
            "1ABC",
            "1abc",
            "A B",
            "ABCDEFGHIJKLMNOP",
            "É",
            "stock_1",
        ] {
            assert!(Symbol::new(s).is_err(), "{s:?} accepted");
        }
    }

    #[test]
    fn symbols_are_case_insensitive_and_stored_upper_case() {
        for (input, stored) in [("aapl", "AAPL"), ("Stock2", "STOCK2"), ("brk.b", "BRK.B")] {
            let s = Symbol::new(input).unwrap();
            assert_eq!(s.as_str(), stored);
            assert_eq!(s, Symbol::new(stored).unwrap());
        }
    }

    #[test]
    fn symbols_order_alphabetically() {
        let mut v: Vec<Symbol> = ["MSFT", "AAPL", "AA"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let names: Vec<&str> = v.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["AA", "AAPL", "MSFT"]);
    }

    proptest::proptest! {
        /// The byte-array order is the strings' order, and agrees with `==`.
        #[test]
        fn symbols_order_as_their_strings(a in "[A-Z][A-Z0-9.-]{0,14}", b in "[A-Z][A-Z0-9.-]{0,14}") {
            let (x, y) = (Symbol::new(&a).unwrap(), Symbol::new(&b).unwrap());
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
        }
    }

    #[test]
    fn zero_quantity_cannot_exist() {
        assert!(Quantity::new(0).is_none());
        assert_eq!(Quantity::new(5).unwrap().get(), 5);
    }

    #[test]
    fn minute_floor_truncates_to_the_minute() {
        let t = Timestamp(Timestamp::NANOS_PER_MINUTE * 3 + 17);
        assert_eq!(t.minute_floor(), Timestamp(Timestamp::NANOS_PER_MINUTE * 3));
    }
}
