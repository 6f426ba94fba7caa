//! CSV files: price files in the code-challenge seed's format, and order
//! files (`read_orders`, below). Price files:
//!
//! ```text
//! Time,Stock,Price
//! 090000,ACME,10
//! 090130,ACME,10.25
//! ```
//!
//! `Time` is `hhmmss` (or `hh:mm:ss`), `Stock` a symbol in either case
//! (`stock1` is `STOCK1`), `Price` an integer or a decimal with at most two
//! places. A malformed row is reported with its line number; in strict mode
//! the first one stops the read, otherwise it is skipped and counted. Rows
//! must be in time order (`to_ticks` names the first that is not), unless
//! the caller asks for them to be sorted.

use std::collections::BTreeMap;
use std::io::Read;

use actors::{Origin, PriceTick};
use engine::{Price, Symbol, Timestamp};

/// One good row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceRow {
    pub line: u64,
    /// Seconds since midnight.
    pub time: i64,
    pub symbol: Symbol,
    pub price: Price,
}

/// A row that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

/// What a read produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriceFile {
    pub rows: Vec<PriceRow>,
    /// Malformed rows skipped (empty in strict mode).
    pub skipped: Vec<RowError>,
}

fn parse_time(s: &str) -> Option<i64> {
    let digits: String = s.chars().filter(|c| *c != ':').collect();
    if digits.len() != 6
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (s.contains(':') && s.len() != 8)
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits[r].parse::<i64>().ok();
    let (h, m, sec) = (n(0..2)?, n(2..4)?, n(4..6)?);
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

/// A CSV reader (fields trimmed, rows of any length) and the file's header.
fn open<R: Read>(input: R) -> Result<(csv::Reader<R>, csv::StringRecord), RowError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = rdr
        .headers()
        .map_err(|e| RowError {
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    Ok((rdr, header))
}

/// Read a price file. `strict`: the first malformed row is an error.
pub fn read_prices(input: impl Read, strict: bool) -> Result<PriceFile, RowError> {
    let (mut rdr, header) = open(input)?;
    let names: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    if names != ["time", "stock", "price"] {
        return Err(RowError {
            line: 1,
            message: format!(
                "the header must be `Time,Stock,Price`, found `{}`",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        });
    }
    let mut out = PriceFile::default();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let row = rec.map_err(|e| e.to_string()).and_then(|r| {
            if r.len() != 3 {
                return Err(format!(
                    "expected 3 fields (Time,Stock,Price), found {}",
                    r.len()
                ));
            }
            let time =
                parse_time(&r[0]).ok_or_else(|| format!("time `{}` is not hhmmss", &r[0]))?;
            let symbol = Symbol::new(&r[1]).map_err(|e| e.to_string())?;
            let price = Price::parse_positive(&r[2]).map_err(|e| format!("price: {e}"))?;
            Ok(PriceRow {
                line,
                time,
                symbol,
                price,
            })
        });
        match row {
            Ok(r) => out.rows.push(r),
            Err(message) if strict => return Err(RowError { line, message }),
            Err(message) => out.skipped.push(RowError { line, message }),
        }
    }
    Ok(out)
}

fn hhmmss(secs: i64) -> String {
    format!("{:02}{:02}{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// The rows as ticks (origin `Replay`) on the day starting at `day_start`,
/// numbered per symbol. The rows must be in time order: the first row
/// earlier than the one before it is an error naming its line, unless
/// `sort` (then rows with equal times keep their file order).
pub fn to_ticks(
    rows: &[PriceRow],
    day_start: Timestamp,
    sort: bool,
) -> Result<Vec<PriceTick>, RowError> {
    let mut sorted: Vec<&PriceRow> = rows.iter().collect();
    if sort {
        sorted.sort_by_key(|r| r.time);
    } else if let Some(w) = sorted.windows(2).find(|w| w[1].time < w[0].time) {
        return Err(RowError {
            line: w[1].line,
            message: format!(
                "time {} is earlier than {} on line {}: the file must be in time order (or pass --sort)",
                hhmmss(w[1].time),
                hhmmss(w[0].time),
                w[0].line
            ),
        });
    }
    let mut seq: BTreeMap<Symbol, u64> = BTreeMap::new();
    Ok(sorted
        .into_iter()
        .map(|r| {
            let s = seq.entry(r.symbol).or_default();
            *s += 1;
            PriceTick {
                symbol: r.symbol,
                price: r.price,
                ts: Timestamp(day_start.nanos() + r.time * 1_000_000_000),
                seq: *s,
                origin: Origin::Replay,
                quantity: None,
            }
        })
        .collect())
}

/// The columns of an order file, in order; `user` only in files an admin
/// imports for many users.
pub const ORDER_COLUMNS: [&str; 7] = [
    "time",
    "user",
    "symbol",
    "side",
    "type",
    "quantity",
    "limit_price",
];

/// One good row of an order file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub line: u64,
    /// When the order was placed (RFC 3339 in the file).
    pub time: Timestamp,
    /// The user's name (files with a `user` column).
    pub user: Option<String>,
    pub symbol: Symbol,
    pub side: engine::Side,
    pub order_type: engine::OrderType,
    pub quantity: u64,
    /// Set for limit orders, empty for market orders.
    pub limit_price: Option<Price>,
}

/// What a read of an order file produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFile {
    /// Whether the file has the `user` column.
    pub has_user: bool,
    pub rows: Vec<OrderRow>,
    /// Malformed rows skipped (empty in strict mode).
    pub skipped: Vec<RowError>,
}

/// Check an order file's header: `time,user,symbol,side,type,quantity,
/// limit_price`, or the same without `user`. The error names the first
/// column that is wrong (or missing, or extra).
pub fn order_header(names: &[&str]) -> Result<bool, RowError> {
    let has_user = names.get(1).is_some_and(|n| n.eq_ignore_ascii_case("user"));
    let want: Vec<&str> = ORDER_COLUMNS
        .iter()
        .copied()
        .filter(|c| has_user || *c != "user")
        .collect();
    let wrong = (0..want.len().max(names.len())).find(|&i| match (want.get(i), names.get(i)) {
        (Some(w), Some(n)) => !n.eq_ignore_ascii_case(w),
        _ => true,
    });
    match wrong {
        None => Ok(has_user),
        Some(i) => Err(RowError {
            line: 1,
            message: match (want.get(i), names.get(i)) {
                (Some(w), Some(n)) => format!("column {} must be `{w}`, found `{n}`", i + 1),
                (Some(w), None) => format!("column {} (`{w}`) is missing", i + 1),
                (None, n) => format!(
                    "column {} (`{}`) is not one the file may have",
                    i + 1,
                    n.unwrap_or(&"")
                ),
            } + &format!(" (the header is `{}`)", want.join(",")),
        }),
    }
}

fn order_row(r: &csv::StringRecord, has_user: bool, line: u64) -> Result<OrderRow, String> {
    let n = if has_user { 7 } else { 6 };
    if r.len() != n {
        return Err(format!("expected {n} fields, found {}", r.len()));
    }
    // The columns after `time` move one to the right with `user`.
    let o = usize::from(has_user);
    let (time_f, symbol_f, side_f, type_f, quantity_f, limit) =
        (&r[0], &r[o + 1], &r[o + 2], &r[o + 3], &r[o + 4], &r[o + 5]);
    let time = engine::time::parse_rfc3339(time_f)
        .ok_or_else(|| format!("time `{}` is not RFC 3339", time_f))?;
    let user = has_user.then(|| r[1].to_string());
    if user.as_deref().is_some_and(str::is_empty) {
        return Err("user is empty".into());
    }
    let symbol = Symbol::new(symbol_f).map_err(|e| format!("symbol: {e}"))?;
    let side = engine::Side::parse(&side_f.to_ascii_lowercase())
        .ok_or_else(|| format!("side `{}` is not buy or sell", side_f))?;
    let order_type = engine::OrderType::parse(&type_f.to_ascii_lowercase())
        .ok_or_else(|| format!("type `{}` is not market or limit", type_f))?;
    let quantity = quantity_f
        .parse::<u64>()
        .ok()
        .filter(|q| *q > 0)
        .ok_or_else(|| format!("quantity `{}` is not a whole number above 0", quantity_f))?;
    let limit_price = match (order_type, limit.is_empty()) {
        (engine::OrderType::Market, true) => None,
        (engine::OrderType::Market, false) => {
            return Err("a market order has no limit_price".into());
        }
        (engine::OrderType::Limit, true) => return Err("a limit order needs a limit_price".into()),
        (engine::OrderType::Limit, false) => {
            Some(Price::parse_positive(limit).map_err(|e| format!("limit_price: {e}"))?)
        }
    };
    Ok(OrderRow {
        line,
        time,
        user,
        symbol,
        side,
        order_type,
        quantity,
        limit_price,
    })
}

/// Read an order file. `strict`: the first malformed row is an error;
/// otherwise malformed rows are skipped and reported with their lines.
pub fn read_orders(input: impl Read, strict: bool) -> Result<OrderFile, RowError> {
    let (mut rdr, header) = open(input)?;
    let has_user = order_header(&header.iter().collect::<Vec<_>>())?;
    let mut out = OrderFile {
        has_user,
        ..OrderFile::default()
    };
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        match rec
            .map_err(|e| e.to_string())
            .and_then(|r| order_row(&r, has_user, line))
        {
            Ok(r) => out.rows.push(r),
            Err(message) if strict => return Err(RowError { line, message }),
            Err(message) => out.skipped.push(RowError { line, message }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Time,Stock,Price\n090000,ACME,10\n090130,ACME,10.25\n09:01:45,BETA,7.5\n";

    const ORDERS: &str = "time,user,symbol,side,type,quantity,limit_price
2026-01-05T09:00:00Z,ann,acme,buy,limit,10,99.50
2026-01-05T09:00:01.250Z,bob,ACME,SELL,market,3,
";

    #[test]
    fn order_rows_parse_with_and_without_the_user_column() {
        let f = read_orders(ORDERS.as_bytes(), true).unwrap();
        assert!(f.has_user);
        assert_eq!(f.rows.len(), 2);
        let r = &f.rows[0];
        assert_eq!(
            (r.user.as_deref(), r.symbol.as_str(), r.side, r.quantity),
            (Some("ann"), "ACME", engine::Side::Buy, 10)
        );
        assert_eq!(r.limit_price, Some(Price::from_minor(9_950)));
        assert_eq!(f.rows[1].order_type, engine::OrderType::Market);
        assert_eq!(f.rows[1].limit_price, None);
        assert_eq!(f.rows[1].time, Timestamp(1_767_603_601_250_000_000));
        let own = "time,symbol,side,type,quantity,limit_price\n2026-01-05T09:00:00Z,ACME,buy,limit,1,1.00\n";
        let f = read_orders(own.as_bytes(), true).unwrap();
        assert!(!f.has_user);
        assert_eq!(f.rows[0].user, None);
    }

    #[test]
    fn a_bad_order_header_names_the_column() {
        for (header, want) in [
            (
                "time,user,symbol,side,kind,quantity,limit_price",
                "column 5 must be `type`, found `kind`",
            ),
            (
                "time,user,symbol,side,type,quantity",
                "column 7 (`limit_price`) is missing",
            ),
            (
                "time,symbol,side,type,quantity,limit_price,extra",
                "column 7 (`extra`) is not one",
            ),
            (
                "Time,Stock,Price",
                "column 2 must be `symbol`, found `Stock`",
            ),
        ] {
            let e = read_orders(format!("{header}\n").as_bytes(), false).unwrap_err();
            assert_eq!(e.line, 1);
            assert!(e.message.contains(want), "{header}: {e}");
        }
    }

    #[test]
    fn bad_order_rows_are_counted_with_their_lines_or_stop_a_strict_read() {
        let text = "time,user,symbol,side,type,quantity,limit_price
2026-01-05T09:00:00Z,ann,ACME,buy,limit,10,99.50
yesterday,ann,ACME,buy,limit,10,99.50
2026-01-05T09:00:02Z,ann,ACME,hold,limit,10,99.50
2026-01-05T09:00:03Z,ann,ACME,buy,stop,10,99.50
2026-01-05T09:00:04Z,ann,ACME,buy,limit,0,99.50
2026-01-05T09:00:05Z,ann,ACME,buy,limit,10,
2026-01-05T09:00:06Z,ann,ACME,buy,market,10,99.50
2026-01-05T09:00:07Z,,ACME,buy,market,10,
2026-01-05T09:00:08Z,ann,ACME,buy,limit,10,-1
2026-01-05T09:00:09Z,ann,ACME,buy,limit,10
2026-01-05T09:00:10Z,ann,ACME,sell,market,1,
";
        let f = read_orders(text.as_bytes(), false).unwrap();
        assert_eq!(f.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 12]);
        assert_eq!(
            f.skipped.iter().map(|e| e.line).collect::<Vec<_>>(),
            (3..=11).collect::<Vec<_>>()
        );
        assert!(
            f.skipped[0].message.contains("RFC 3339"),
            "{}",
            f.skipped[0]
        );
        let e = read_orders(text.as_bytes(), true).unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn good_rows_parse_with_integer_and_decimal_prices() {
        let f = read_prices(GOOD.as_bytes(), true).unwrap();
        assert_eq!(f.rows.len(), 3);
        assert_eq!(f.rows[0].price, Price::from_minor(1_000));
        assert_eq!(f.rows[1].time, 9 * 3600 + 90);
        assert_eq!(f.rows[2].price, Price::from_minor(750));
        assert_eq!(f.rows[2].line, 4);
    }

    #[test]
    fn malformed_rows_are_skipped_and_reported_with_line_numbers() {
        let text = "Time,Stock,Price\n090000,ACME,10\n9am,ACME,10\n090100,ac_me,10\n090200,ACME,-1\n090300,ACME,1.234\n090400,ACME\n090500,ACME,11\n";
        let f = read_prices(text.as_bytes(), false).unwrap();
        assert_eq!(f.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 8]);
        assert_eq!(
            f.skipped.iter().map(|e| e.line).collect::<Vec<_>>(),
            [3, 4, 5, 6, 7]
        );
        let e = read_prices(text.as_bytes(), true).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("hhmmss"), "{e}");
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let e = read_prices("time,symbol,price\n".as_bytes(), false).unwrap_err();
        assert!(e.message.contains("Time,Stock,Price"), "{e}");
    }

    #[test]
    fn symbols_in_either_case_are_upper_cased() {
        let f = read_prices("Time,Stock,Price\n090006,stock2,10\n".as_bytes(), true).unwrap();
        assert_eq!(f.rows[0].symbol.as_str(), "STOCK2");
    }

    #[test]
    fn a_file_out_of_time_order_is_an_error_naming_the_line() {
        let text = "Time,Stock,Price\n090000,ACME,10\n090500,ACME,11\n090400,ACME,12\n";
        let f = read_prices(text.as_bytes(), true).unwrap();
        let e = to_ticks(&f.rows, Timestamp(0), false).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(
            e.message.contains("090400") && e.message.contains("--sort"),
            "{e}"
        );
        let sorted = to_ticks(&f.rows, Timestamp(0), true).unwrap();
        assert_eq!(sorted[2].price, Price::from_minor(1_100));
    }

    #[test]
    fn ticks_come_in_time_order_numbered_per_symbol() {
        let text =
            "Time,Stock,Price\n090200,ACME,12\n090000,ACME,10\n090100,BETA,5\n090100,ACME,11\n";
        let f = read_prices(text.as_bytes(), true).unwrap();
        let t = to_ticks(&f.rows, Timestamp(0), true).unwrap();
        let got: Vec<(&str, i64, u64)> = t
            .iter()
            .map(|t| (t.symbol.as_str(), t.price.minor(), t.seq))
            .collect();
        assert_eq!(
            got,
            [
                ("ACME", 1000, 1),
                ("BETA", 500, 1),
                ("ACME", 1100, 2),
                ("ACME", 1200, 3)
            ]
        );
    }
}
