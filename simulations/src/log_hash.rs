//! `LogHasher`: FNV-1a (64 bit) over the canonical encoding of every tick
//! and event of a run, in log order. Two runs with the same hash played the
//! same market; the golden and determinism tests compare it.

use actors::PriceTick;
use engine::{Event, Symbol};

/// FNV-1a, 64 bit: stable across platforms and Rust versions.
#[derive(Clone, Copy, Debug)]
pub struct LogHasher(u64);

impl Default for LogHasher {
    fn default() -> Self {
        LogHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl LogHasher {
    pub fn bytes(&mut self, b: &[u8]) {
        for x in b {
            self.0 ^= u64::from(*x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn finish(&self) -> u64 {
        self.0
    }
    pub fn tick(&mut self, t: &PriceTick) {
        self.bytes(b"T");
        self.bytes(t.symbol.as_bytes());
        self.i64(t.price.minor());
        self.i64(t.ts.nanos());
    }
    pub fn event(&mut self, s: Symbol, e: &Event) {
        self.bytes(s.as_bytes());
        match *e {
            Event::Accepted {
                order,
                account,
                side,
                price,
                quantity,
                ts,
            } => {
                self.bytes(b"A");
                self.u64(order.0);
                self.u64(account.0);
                self.bytes(&[side as u8]);
                self.i64(price.minor());
                self.u64(quantity);
                self.i64(ts.nanos());
            }
            Event::Rejected {
                order,
                account,
                reason,
                ts,
            } => {
                self.bytes(b"R");
                self.u64(order.0);
                self.u64(account.0);
                self.bytes(reason.as_str().as_bytes());
                self.i64(ts.nanos());
            }
            Event::Trade(t) => {
                self.bytes(b"X");
                self.u64(t.seq);
                self.i64(t.price.minor());
                self.u64(t.quantity);
                self.u64(t.maker_order.0);
                self.u64(t.taker_order.0);
                self.i64(t.ts.nanos());
            }
            Event::PartiallyFilled {
                order,
                filled,
                remaining,
                ..
            } => {
                self.bytes(b"P");
                self.u64(order.0);
                self.u64(filled);
                self.u64(remaining);
            }
            Event::Filled { order, .. } => {
                self.bytes(b"F");
                self.u64(order.0);
            }
            Event::Cancelled {
                order,
                remaining,
                reason,
                ..
            } => {
                self.bytes(b"C");
                self.u64(order.0);
                self.u64(remaining);
                self.bytes(reason.as_str().as_bytes());
            }
            Event::Expired {
                order, remaining, ..
            } => {
                self.bytes(b"E");
                self.u64(order.0);
                self.u64(remaining);
            }
            Event::Replaced {
                order,
                price,
                remaining,
                ..
            } => {
                self.bytes(b"M");
                self.u64(order.0);
                self.i64(price.minor());
                self.u64(remaining);
            }
        }
    }
}
