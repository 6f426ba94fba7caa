//! Price CSV files in the code-challenge seed's format:
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

/// Read a price file. `strict`: the first malformed row is an error.
pub fn read_prices(input: impl Read, strict: bool) -> Result<PriceFile, RowError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Time,Stock,Price\n090000,ACME,10\n090130,ACME,10.25\n09:01:45,BETA,7.5\n";

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
