//! Exports: orders, trades and prices as CSV, a row at a time. With
//! PostgreSQL the rows stream from the database through a cursor
//! (`Shared::exports`); in memory mode they come from the users' records
//! (trades as each user's fills) and the archive's price list.

use actors::ports::{ExportOrder, ExportQuery, ExportRow, ExportWhat, PortError};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::state::AppState;

/// The rows `q` asks for, oldest first.
pub fn rows(st: &AppState, q: ExportQuery) -> BoxStream<'static, Result<ExportRow, PortError>> {
    if let Some(e) = &st.exports {
        return e.export(q);
    }
    let in_range = move |ts: engine::Timestamp, s: engine::Symbol| {
        ts >= q.from && ts <= q.to && q.symbol.is_none_or(|x| x == s)
    };
    let accounts = match q.account {
        Some(a) => vec![a],
        None => st.records.accounts(),
    };
    let mut out: Vec<(engine::Timestamp, u64, ExportRow)> = Vec::new();
    match q.what {
        ExportWhat::Orders => {
            for a in accounts {
                let (mine, _) = st.records.page_of(
                    a,
                    |r| in_range(r.created_at, r.symbol),
                    |x, y| x.id.cmp(&y.id),
                    0,
                    usize::MAX,
                );
                for r in mine {
                    out.push((r.created_at, r.id.0, ExportRow::Order(order(&r))));
                }
            }
            out.sort_by_key(|(_, id, _)| *id);
        }
        ExportWhat::Trades => {
            for a in accounts {
                for f in st.records.fills_of(a) {
                    if !in_range(f.ts, f.symbol) {
                        continue;
                    }
                    let maker = f.liquidity == crate::records::Liquidity::Maker;
                    let (order, account) = (f.order, a);
                    let none = (engine::OrderId(0), engine::AccountId(0));
                    let ((mo, ma), (to, ta)) = if maker {
                        ((order, account), none)
                    } else {
                        (none, (order, account))
                    };
                    let trade = engine::Trade {
                        symbol: f.symbol,
                        seq: f.trade_seq,
                        maker_order: mo,
                        taker_order: to,
                        maker_account: ma,
                        taker_account: ta,
                        // The taker's side: this fill's, or the other.
                        taker_side: if maker { f.side.opposite() } else { f.side },
                        price: f.price,
                        quantity: f.quantity,
                        ts: f.ts,
                    };
                    out.push((f.ts, f.trade_seq, ExportRow::Fill { trade, maker }));
                }
            }
            out.sort_by_key(|(ts, seq, _)| (*ts, *seq));
        }
        ExportWhat::Prices => {
            let archive = st.archive.clone();
            let symbols: Vec<engine::Symbol> = match q.symbol {
                Some(s) => vec![s],
                None => st
                    .market
                    .directory()
                    .tickers()
                    .iter()
                    .map(|t| t.symbol())
                    .collect(),
            };
            return futures::stream::iter(symbols)
                .then(move |s| {
                    let archive = archive.clone();
                    async move {
                        let (list, _) = archive.prices(s, usize::MAX, 0).await?;
                        Ok::<_, PortError>(
                            list.into_iter()
                                .rev()
                                .filter(|e| e.ts >= q.from && e.ts <= q.to)
                                .map(move |e| ExportRow::Price(s, e))
                                .collect::<Vec<_>>(),
                        )
                    }
                })
                .flat_map(|r| match r {
                    Ok(v) => futures::stream::iter(v.into_iter().map(Ok).collect::<Vec<_>>()),
                    Err(e) => futures::stream::iter(vec![Err(e)]),
                })
                .boxed();
        }
    }
    futures::stream::iter(out.into_iter().map(|(_, _, r)| Ok(r))).boxed()
}

fn order(r: &crate::records::OrderRecord) -> ExportOrder {
    ExportOrder {
        id: r.id,
        account: r.account,
        symbol: r.symbol,
        side: Some(r.side),
        order_type: Some(r.order_type),
        time_in_force: Some(r.time_in_force),
        quantity: r.quantity,
        limit_price: r.limit_price,
        status: r.status,
        filled: r.filled,
        remaining: r.quantity.saturating_sub(r.filled),
        reason: r.reason.map(|x| x.as_str().to_string()),
        client_order_id: r.client_order_id.map(|c| c.to_string()),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// The header line of `what`'s CSV.
pub fn header(what: ExportWhat) -> &'static str {
    match what {
        ExportWhat::Orders => {
            "id,time,user,symbol,side,type,time_in_force,quantity,limit_price,status,filled,remaining,reason,client_order_id,updated_at\n"
        }
        ExportWhat::Trades => {
            "trade_id,time,symbol,price,quantity,taker_side,maker_order,maker_account,taker_order,taker_account\n"
        }
        ExportWhat::Prices => "time,symbol,price,source\n",
    }
}

/// Append `row` as a CSV line to `out`. Every field is a number, a
/// symbol, a fixed word or an RFC 3339 time, except a client order id,
/// which is quoted. Fields are pushed straight into `out` (no `format!`
/// per field: an export writes millions of them).
pub fn line(row: &ExportRow, out: &mut String) {
    match row {
        ExportRow::Order(o) => {
            let mut f = Fields(out);
            f.int(o.id.0);
            f.time(o.created_at);
            f.int(o.account.0);
            f.text(o.symbol.as_str());
            f.text(o.side.map_or("", |s| s.as_str()));
            f.text(o.order_type.map_or("", |s| s.as_str()));
            f.text(o.time_in_force.map_or("", |s| s.as_str()));
            f.int(o.quantity);
            f.price(o.limit_price);
            f.text(o.status.as_str());
            f.int(o.filled);
            f.int(o.remaining);
            f.text(o.reason.as_deref().unwrap_or(""));
            match &o.client_order_id {
                Some(c) => {
                    f.0.push('"');
                    f.0.push_str(&c.replace('"', "\"\""));
                    f.0.push_str("\",");
                }
                None => f.0.push(','),
            }
            f.time(o.updated_at);
            f.end();
        }
        ExportRow::Trade(tr) => trade(out, tr, true, true),
        ExportRow::Fill { trade: tr, maker } => trade(out, tr, *maker, !*maker),
        ExportRow::Price(s, e) => {
            let mut f = Fields(out);
            f.time(e.ts);
            f.text(s.as_str());
            f.price(Some(e.price));
            f.text(&e.source.label());
            f.end();
        }
    }
}

/// A CSV line being written: each field followed by a comma, the last
/// one's replaced by the newline.
struct Fields<'a>(&'a mut String);

impl Fields<'_> {
    fn text(&mut self, v: &str) {
        self.0.push_str(v);
        self.0.push(',');
    }
    fn int(&mut self, v: u64) {
        self.text(itoa::Buffer::new().format(v));
    }
    fn time(&mut self, ts: engine::Timestamp) {
        engine::time::push_rfc3339(self.0, ts);
        self.0.push(',');
    }
    fn price(&mut self, p: Option<engine::Price>) {
        use std::fmt::Write;
        if let Some(p) = p {
            let _ = write!(self.0, "{p}");
        }
        self.0.push(',');
    }
    fn end(self) {
        self.0.pop();
        self.0.push('\n');
    }
}

fn trade(out: &mut String, tr: &engine::Trade, maker: bool, taker: bool) {
    let mut f = Fields(out);
    f.int(tr.seq);
    f.time(tr.ts);
    f.text(tr.symbol.as_str());
    f.price(Some(tr.price));
    f.int(tr.quantity);
    f.text(tr.taker_side.as_str());
    for (known, v) in [
        (maker, tr.maker_order.0),
        (maker, tr.maker_account.0),
        (taker, tr.taker_order.0),
        (taker, tr.taker_account.0),
    ] {
        if known {
            f.int(v);
        } else {
            f.text("");
        }
    }
    f.end();
}

/// The CSV of `q` as chunks of about 64 KiB: the header, then the rows.
pub fn csv(st: &AppState, q: ExportQuery) -> BoxStream<'static, Result<String, PortError>> {
    let head = futures::stream::iter([Ok(header(q.what).to_string())]);
    let body = rows(st, q).ready_chunks(512).map(|chunk| {
        let mut s = String::with_capacity(chunk.len() * 96);
        for r in chunk {
            line(&r?, &mut s);
        }
        Ok(s)
    });
    head.chain(body).boxed()
}

/// `[from, to]` of an export's query: RFC 3339 times or dates (a `to`
/// date is the whole day); open ends are unbounded.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(engine::Timestamp, engine::Timestamp), crate::ApiError> {
    use crate::routes::stocks::{parse_time, parse_until};
    Ok((
        from.map(|v| parse_time("from", v))
            .transpose()?
            .unwrap_or(engine::Timestamp(i64::MIN)),
        to.map(|v| parse_until("to", v))
            .transpose()?
            .unwrap_or(engine::Timestamp(i64::MAX)),
    ))
}
