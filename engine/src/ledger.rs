//! Accounts: cash, reserved cash, holdings and reserved holdings.
//!
//! A buy reserves cash before it reaches a book (quantity x limit or collar,
//! plus the highest fee it could pay); a sell reserves shares. A fill
//! converts the reservation; releasing an order returns what it did not use.
//!
//! Invariants: for every account `0 <= reserved_cash <= cash` and for every
//! holding `0 <= reserved <= quantity`; each reservation's remainder is part
//! of its account's reserved figure; total cash (fee account included) and
//! total shares per symbol change only through `deposit`, `withdraw` and
//! `issue_shares`. Every failure is an error value and changes nothing.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use thiserror::Error;

use crate::events::{RejectReason, Trade};
use crate::money::{Money, Overflow, Price};
use crate::order::Order;
use crate::types::{AccountId, OrderId, Side, Symbol};

/// Maker and taker fees in basis points of notional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fees {
    maker_bps: u32,
    taker_bps: u32,
}

impl Fees {
    /// What one trade moves: (notional, buyer's fee, seller's fee), exactly
    /// as settlement charges them (fees round up, per fill: splitting an
    /// order into small fills never avoids its fee).
    pub fn charges(&self, t: &Trade) -> Result<(Money, Money, Money), LedgerError> {
        let (buy_bps, sell_bps) = match t.taker_side {
            Side::Buy => (self.taker_bps, self.maker_bps),
            Side::Sell => (self.maker_bps, self.taker_bps),
        };
        let q = crate::types::Quantity::new(t.quantity).ok_or(LedgerError::NonPositiveAmount)?;
        let notional = t.price.checked_notional(q)?;
        Ok((notional, fee(notional, buy_bps)?, fee(notional, sell_bps)?))
    }
    /// Fees above 10% (1,000 bps) are refused as a configuration error.
    pub fn new(maker_bps: u32, taker_bps: u32) -> Result<Fees, LedgerError> {
        if maker_bps > 1_000 || taker_bps > 1_000 {
            return Err(LedgerError::FeeTooHigh);
        }
        Ok(Fees {
            maker_bps,
            taker_bps,
        })
    }
    pub const fn maker_bps(&self) -> u32 {
        self.maker_bps
    }
    pub const fn taker_bps(&self) -> u32 {
        self.taker_bps
    }
    fn max_bps(&self) -> u32 {
        self.maker_bps.max(self.taker_bps)
    }
}

/// The fee on `notional` at `bps`: rounded up to a whole minor unit.
fn fee(notional: Money, bps: u32) -> Result<Money, LedgerError> {
    Ok(notional.bps(bps, true)?)
}

/// Shares of one symbol held by an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holding {
    pub quantity: u64,
    pub reserved: u64,
}

impl Holding {
    pub fn available(&self) -> u64 {
        self.quantity - self.reserved
    }
}

/// One account's balances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    cash: Money,
    reserved_cash: Money,
    holdings: BTreeMap<Symbol, Holding>,
}

impl Account {
    /// Total cash, reserved part included.
    pub fn cash(&self) -> Money {
        self.cash
    }
    pub fn reserved_cash(&self) -> Money {
        self.reserved_cash
    }
    pub fn available_cash(&self) -> Money {
        Money::from_minor(self.cash.minor() - self.reserved_cash.minor())
    }
    pub fn holding(&self, symbol: Symbol) -> Holding {
        self.holdings.get(&symbol).copied().unwrap_or_default()
    }
    pub fn holdings(&self) -> impl Iterator<Item = (Symbol, Holding)> + '_ {
        self.holdings.iter().map(|(s, h)| (*s, *h))
    }
}

/// What an open order holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub account: AccountId,
    pub symbol: Symbol,
    pub side: Side,
    /// Cash still reserved (buys).
    pub cash: Money,
    /// Shares still reserved (sells).
    pub shares: u64,
}

/// Ledger failures. Each leaves the ledger unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum LedgerError {
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    #[error("account {0} already exists")]
    AccountExists(AccountId),
    #[error("insufficient cash: {needed} needed, {available} available")]
    InsufficientCash { needed: Money, available: Money },
    #[error("insufficient holdings: {needed} shares needed, {available} available")]
    InsufficientHoldings { needed: u64, available: u64 },
    #[error("order {0} has no reservation")]
    UnknownReservation(OrderId),
    #[error("order {0} already has a reservation")]
    DuplicateReservation(OrderId),
    #[error("amount must be greater than zero")]
    NonPositiveAmount,
    #[error("fees above 1000 bps are not allowed")]
    FeeTooHigh,
    #[error("amount overflow")]
    Overflow,
}

impl From<Overflow> for LedgerError {
    fn from(_: Overflow) -> Self {
        LedgerError::Overflow
    }
}

impl LedgerError {
    pub fn reason(&self) -> RejectReason {
        match self {
            LedgerError::InsufficientCash { .. } => RejectReason::InsufficientCash,
            LedgerError::InsufficientHoldings { .. } => RejectReason::InsufficientHoldings,
            LedgerError::UnknownReservation(_) => RejectReason::UnknownOrder,
            LedgerError::DuplicateReservation(_) => RejectReason::DuplicateOrderId,
            LedgerError::UnknownAccount(_) | LedgerError::AccountExists(_) => {
                RejectReason::UnknownAccount
            }
            LedgerError::NonPositiveAmount | LedgerError::FeeTooHigh | LedgerError::Overflow => {
                RejectReason::Overflow
            }
        }
    }
}

/// What a release returned to its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    pub account: AccountId,
    pub cash: Money,
    pub shares: u64,
}

/// All accounts and open reservations.
#[derive(Clone, Debug)]
pub struct Ledger {
    fees: Fees,
    fee_account: AccountId,
    accounts: FxHashMap<AccountId, Account>,
    reservations: FxHashMap<OrderId, Reservation>,
}

impl Ledger {
    /// A ledger whose fees are collected into `fee_account` (opened here).
    pub fn new(fees: Fees, fee_account: AccountId) -> Ledger {
        let mut accounts = FxHashMap::default();
        accounts.insert(fee_account, Account::default());
        Ledger {
            fees,
            fee_account,
            accounts,
            reservations: FxHashMap::default(),
        }
    }

    pub fn fees(&self) -> Fees {
        self.fees
    }
    pub fn fee_account(&self) -> AccountId {
        self.fee_account
    }
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }
    /// Account ids in ascending order (deterministic iteration).
    pub fn account_ids(&self) -> Vec<AccountId> {
        let mut ids: Vec<AccountId> = self.accounts.keys().copied().collect();
        ids.sort_unstable();
        ids
    }
    /// Number of accounts, fee account included.
    pub fn account_ids_len(&self) -> usize {
        self.accounts.len()
    }
    pub fn reservation(&self, order: OrderId) -> Option<Reservation> {
        self.reservations.get(&order).copied()
    }
    pub fn open_reservations(&self) -> usize {
        self.reservations.len()
    }

    pub fn open(&mut self, id: AccountId) -> Result<(), LedgerError> {
        if self.accounts.contains_key(&id) {
            return Err(LedgerError::AccountExists(id));
        }
        self.accounts.insert(id, Account::default());
        Ok(())
    }

    pub fn deposit(&mut self, id: AccountId, amount: Money) -> Result<(), LedgerError> {
        if amount.minor() <= 0 {
            return Err(LedgerError::NonPositiveAmount);
        }
        let acc = self
            .accounts
            .get_mut(&id)
            .ok_or(LedgerError::UnknownAccount(id))?;
        acc.cash = acc.cash.checked_add(amount)?;
        Ok(())
    }

    /// Take available (unreserved) cash out of the market.
    pub fn withdraw(&mut self, id: AccountId, amount: Money) -> Result<(), LedgerError> {
        if amount.minor() <= 0 {
            return Err(LedgerError::NonPositiveAmount);
        }
        let acc = self
            .accounts
            .get_mut(&id)
            .ok_or(LedgerError::UnknownAccount(id))?;
        if acc.available_cash() < amount {
            return Err(LedgerError::InsufficientCash {
                needed: amount,
                available: acc.available_cash(),
            });
        }
        acc.cash = acc.cash.checked_sub(amount)?;
        Ok(())
    }

    /// Create `qty` new shares of `symbol` in `id` (a listing's float).
    pub fn issue_shares(
        &mut self,
        id: AccountId,
        symbol: Symbol,
        qty: u64,
    ) -> Result<(), LedgerError> {
        if qty == 0 {
            return Err(LedgerError::NonPositiveAmount);
        }
        let acc = self
            .accounts
            .get_mut(&id)
            .ok_or(LedgerError::UnknownAccount(id))?;
        let h = acc.holdings.entry(symbol).or_default();
        h.quantity = h.quantity.checked_add(qty).ok_or(LedgerError::Overflow)?;
        Ok(())
    }

    /// Cash a buy of `qty` at `price` must hold back: notional plus the
    /// highest fee it could be charged. Fees round up per fill, so `n`
    /// fills can cost up to `n - 1` minor units more than the fee on the
    /// whole; an order fills at most `qty` times (a share each), so the
    /// reservation covers `qty - 1` more (released when the order ends).
    pub fn buy_requirement(&self, price: Price, qty: u64) -> Result<Money, LedgerError> {
        let q = crate::types::Quantity::new(qty).ok_or(LedgerError::NonPositiveAmount)?;
        let notional = price.checked_notional(q)?;
        let bps = self.fees.max_bps();
        let rounding = if bps == 0 {
            Money::ZERO
        } else {
            Money::from_minor(i64::try_from(qty - 1).map_err(|_| LedgerError::Overflow)?)
        };
        Ok(notional
            .checked_add(fee(notional, bps)?)?
            .checked_add(rounding)?)
    }

    /// Reserve what `order` needs: cash for a buy (at its limit or collar),
    /// shares for a sell.
    pub fn reserve(&mut self, order: &Order) -> Result<(), LedgerError> {
        let id = order.id();
        if self.reservations.contains_key(&id) {
            return Err(LedgerError::DuplicateReservation(id));
        }
        let qty = order.quantity().get();
        let need = match order.side() {
            Side::Buy => self.buy_requirement(order.price(), qty)?,
            Side::Sell => Money::ZERO,
        };
        let acc = self
            .accounts
            .get_mut(&order.account())
            .ok_or(LedgerError::UnknownAccount(order.account()))?;
        let mut res = Reservation {
            account: order.account(),
            symbol: order.symbol(),
            side: order.side(),
            cash: Money::ZERO,
            shares: 0,
        };
        match order.side() {
            Side::Buy => {
                let available = acc.available_cash();
                if available < need {
                    return Err(LedgerError::InsufficientCash {
                        needed: need,
                        available,
                    });
                }
                acc.reserved_cash = acc.reserved_cash.checked_add(need)?;
                res.cash = need;
            }
            Side::Sell => {
                let available = acc.holding(order.symbol()).available();
                if available < qty {
                    return Err(LedgerError::InsufficientHoldings {
                        needed: qty,
                        available,
                    });
                }
                acc.holdings.entry(order.symbol()).or_default().reserved += qty;
                res.shares = qty;
            }
        }
        self.reservations.insert(id, res);
        Ok(())
    }

    /// Re-size an open order's reservation for a replace: what it now needs
    /// for `remaining` shares at `price`. Grows only if the account can pay.
    pub fn resize(
        &mut self,
        order: OrderId,
        price: Price,
        remaining: u64,
    ) -> Result<(), LedgerError> {
        let res = *self
            .reservations
            .get(&order)
            .ok_or(LedgerError::UnknownReservation(order))?;
        let acc = self
            .accounts
            .get(&res.account)
            .ok_or(LedgerError::UnknownAccount(res.account))?;
        match res.side {
            Side::Buy => {
                let need = self.buy_requirement(price, remaining)?;
                let extra = need.checked_sub(res.cash)?;
                if extra > acc.available_cash() {
                    return Err(LedgerError::InsufficientCash {
                        needed: extra,
                        available: acc.available_cash(),
                    });
                }
                let acc = self
                    .accounts
                    .get_mut(&res.account)
                    .ok_or(LedgerError::UnknownAccount(res.account))?;
                acc.reserved_cash = acc.reserved_cash.checked_add(extra)?;
                if let Some(r) = self.reservations.get_mut(&order) {
                    r.cash = need;
                }
            }
            Side::Sell => {
                let h = acc.holding(res.symbol);
                if remaining > res.shares && remaining - res.shares > h.available() {
                    return Err(LedgerError::InsufficientHoldings {
                        needed: remaining - res.shares,
                        available: h.available(),
                    });
                }
                let acc = self
                    .accounts
                    .get_mut(&res.account)
                    .ok_or(LedgerError::UnknownAccount(res.account))?;
                let h = acc.holdings.entry(res.symbol).or_default();
                h.reserved = h.reserved - res.shares + remaining;
                if let Some(r) = self.reservations.get_mut(&order) {
                    r.shares = remaining;
                }
            }
        }
        Ok(())
    }

    /// Settle one trade for both sides, charging fees into the fee account.
    /// Either both sides settle or nothing changes.
    pub fn settle(&mut self, t: &Trade) -> Result<(), LedgerError> {
        let (buy_order, buyer) = t.buyer();
        let (sell_order, seller) = t.seller();
        let (buy_bps, sell_bps) = match t.taker_side {
            Side::Buy => (self.fees.taker_bps, self.fees.maker_bps),
            Side::Sell => (self.fees.maker_bps, self.fees.taker_bps),
        };
        let q = crate::types::Quantity::new(t.quantity).ok_or(LedgerError::NonPositiveAmount)?;
        let notional = t.price.checked_notional(q)?;
        let buy_fee = fee(notional, buy_bps)?;
        let sell_fee = fee(notional, sell_bps)?;
        let cost = notional.checked_add(buy_fee)?;
        let proceeds = notional.checked_sub(sell_fee)?;

        // Check everything first.
        let br = self
            .reservations
            .get(&buy_order)
            .ok_or(LedgerError::UnknownReservation(buy_order))?;
        if br.cash < cost || br.account != buyer {
            return Err(LedgerError::InsufficientCash {
                needed: cost,
                available: br.cash,
            });
        }
        let sr = self
            .reservations
            .get(&sell_order)
            .ok_or(LedgerError::UnknownReservation(sell_order))?;
        if sr.shares < t.quantity || sr.account != seller {
            return Err(LedgerError::InsufficientHoldings {
                needed: t.quantity,
                available: sr.shares,
            });
        }
        if !self.accounts.contains_key(&buyer) || !self.accounts.contains_key(&seller) {
            return Err(LedgerError::UnknownAccount(
                if self.accounts.contains_key(&buyer) {
                    seller
                } else {
                    buyer
                },
            ));
        }

        if let Some(r) = self.reservations.get_mut(&buy_order) {
            r.cash = Money::from_minor(r.cash.minor() - cost.minor());
        }
        if let Some(r) = self.reservations.get_mut(&sell_order) {
            r.shares -= t.quantity;
        }
        if let Some(b) = self.accounts.get_mut(&buyer) {
            b.reserved_cash = Money::from_minor(b.reserved_cash.minor() - cost.minor());
            b.cash = Money::from_minor(b.cash.minor() - cost.minor());
            b.holdings.entry(t.symbol).or_default().quantity += t.quantity;
        }
        if let Some(s) = self.accounts.get_mut(&seller) {
            let h = s.holdings.entry(t.symbol).or_default();
            h.reserved -= t.quantity;
            h.quantity -= t.quantity;
            s.cash = Money::from_minor(s.cash.minor() + proceeds.minor());
        }
        if let Some(f) = self.accounts.get_mut(&self.fee_account) {
            f.cash = Money::from_minor(f.cash.minor() + buy_fee.minor() + sell_fee.minor());
        }
        Ok(())
    }

    /// Settle one side of a trade: the buyer's (`Side::Buy`) or the
    /// seller's (`Side::Sell`), charging that side's fee into this ledger's
    /// fee account. For accounts kept in different ledgers (actors): each
    /// ledger settles its own side, and the sum over ledgers is conserved.
    pub fn settle_side(&mut self, t: &Trade, side: Side) -> Result<(), LedgerError> {
        let (order, account) = match side {
            Side::Buy => t.buyer(),
            Side::Sell => t.seller(),
        };
        let bps = if side == t.taker_side {
            self.fees.taker_bps
        } else {
            self.fees.maker_bps
        };
        let q = crate::types::Quantity::new(t.quantity).ok_or(LedgerError::NonPositiveAmount)?;
        let notional = t.price.checked_notional(q)?;
        let fee = fee(notional, bps)?;
        let r = self
            .reservations
            .get(&order)
            .ok_or(LedgerError::UnknownReservation(order))?;
        if !self.accounts.contains_key(&account) || r.account != account {
            return Err(LedgerError::UnknownAccount(account));
        }
        match side {
            Side::Buy => {
                let cost = notional.checked_add(fee)?;
                if r.cash < cost {
                    return Err(LedgerError::InsufficientCash {
                        needed: cost,
                        available: r.cash,
                    });
                }
                if let Some(r) = self.reservations.get_mut(&order) {
                    r.cash = Money::from_minor(r.cash.minor() - cost.minor());
                }
                if let Some(b) = self.accounts.get_mut(&account) {
                    b.reserved_cash = Money::from_minor(b.reserved_cash.minor() - cost.minor());
                    b.cash = Money::from_minor(b.cash.minor() - cost.minor());
                    b.holdings.entry(t.symbol).or_default().quantity += t.quantity;
                }
            }
            Side::Sell => {
                if r.shares < t.quantity {
                    return Err(LedgerError::InsufficientHoldings {
                        needed: t.quantity,
                        available: r.shares,
                    });
                }
                let proceeds = notional.checked_sub(fee)?;
                if let Some(r) = self.reservations.get_mut(&order) {
                    r.shares -= t.quantity;
                }
                if let Some(s) = self.accounts.get_mut(&account) {
                    let h = s.holdings.entry(t.symbol).or_default();
                    h.reserved -= t.quantity;
                    h.quantity -= t.quantity;
                    s.cash = Money::from_minor(s.cash.minor() + proceeds.minor());
                }
            }
        }
        if let Some(f) = self.accounts.get_mut(&self.fee_account) {
            f.cash = Money::from_minor(f.cash.minor() + fee.minor());
        }
        Ok(())
    }

    /// Does this ledger hold `id`?
    pub fn has_account(&self, id: AccountId) -> bool {
        self.accounts.contains_key(&id)
    }

    /// Close an order's reservation, returning what it still held.
    pub fn release(&mut self, order: OrderId) -> Result<Released, LedgerError> {
        let res = self
            .reservations
            .remove(&order)
            .ok_or(LedgerError::UnknownReservation(order))?;
        if let Some(acc) = self.accounts.get_mut(&res.account) {
            acc.reserved_cash = Money::from_minor(acc.reserved_cash.minor() - res.cash.minor());
            if res.shares > 0 {
                if let Some(h) = acc.holdings.get_mut(&res.symbol) {
                    h.reserved -= res.shares;
                }
            }
        }
        Ok(Released {
            account: res.account,
            cash: res.cash,
            shares: res.shares,
        })
    }

    /// Total cash over every account, fee account included.
    pub fn total_cash(&self) -> Money {
        self.accounts.values().map(|a| a.cash).sum()
    }
    /// Total shares of `symbol` over every account.
    pub fn total_shares(&self, symbol: Symbol) -> u64 {
        self.accounts
            .values()
            .map(|a| a.holding(symbol).quantity)
            .sum()
    }

    /// Check the ledger's invariants; `Err` names the first broken one.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut cash_by_acc: FxHashMap<AccountId, i64> = FxHashMap::default();
        let mut shares_by_acc: FxHashMap<(AccountId, Symbol), u64> = FxHashMap::default();
        for r in self.reservations.values() {
            *cash_by_acc.entry(r.account).or_default() += r.cash.minor();
            *shares_by_acc.entry((r.account, r.symbol)).or_default() += r.shares;
        }
        for (id, a) in &self.accounts {
            if a.cash.is_negative() || a.reserved_cash.is_negative() || a.reserved_cash > a.cash {
                return Err(format!(
                    "account {id}: cash {} reserved {}",
                    a.cash, a.reserved_cash
                ));
            }
            if cash_by_acc.get(id).copied().unwrap_or(0) != a.reserved_cash.minor() {
                return Err(format!(
                    "account {id}: reserved cash disagrees with reservations"
                ));
            }
            for (s, h) in &a.holdings {
                if h.reserved > h.quantity {
                    return Err(format!(
                        "account {id}: {s} reserved {} > held {}",
                        h.reserved, h.quantity
                    ));
                }
                if shares_by_acc.get(&(*id, *s)).copied().unwrap_or(0) != h.reserved {
                    return Err(format!(
                        "account {id}: reserved {s} disagrees with reservations"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::TimeInForce;
    use crate::types::Timestamp;

    const FEE: AccountId = AccountId(0);
    const A: AccountId = AccountId(1);
    const B: AccountId = AccountId(2);

    fn sym() -> Symbol {
        Symbol::new("XYZ").unwrap()
    }
    fn ledger(maker: u32, taker: u32) -> Ledger {
        let mut l = Ledger::new(Fees::new(maker, taker).unwrap(), FEE);
        l.open(A).unwrap();
        l.open(B).unwrap();
        l.deposit(A, Money::from_major(1_000)).unwrap();
        l.issue_shares(B, sym(), 100).unwrap();
        l
    }
    fn order(id: u64, acc: AccountId, side: Side, qty: u64, px: i64) -> Order {
        Order::limit(
            OrderId(id),
            acc,
            sym(),
            side,
            qty,
            Price::from_minor(px),
            TimeInForce::Gtc,
            Price::from_minor(1),
            Timestamp(0),
        )
        .unwrap()
    }
    fn trade(buy: u64, sell: u64, taker: Side, qty: u64, px: i64) -> Trade {
        let (maker_order, maker_account, taker_order, taker_account) = match taker {
            Side::Buy => (OrderId(sell), B, OrderId(buy), A),
            Side::Sell => (OrderId(buy), A, OrderId(sell), B),
        };
        Trade {
            symbol: sym(),
            seq: 1,
            price: Price::from_minor(px),
            quantity: qty,
            maker_order,
            maker_account,
            taker_order,
            taker_account,
            taker_side: taker,
            ts: Timestamp(0),
        }
    }

    #[test]
    fn a_buy_reserves_notional_plus_the_highest_fee() {
        let mut l = ledger(10, 20);
        l.reserve(&order(1, A, Side::Buy, 10, 1_000)).unwrap();
        // 10 x 10.00 = 100.00, plus 20 bps = 0.20, plus 0.09: a cent for
        // each fill after the first (fees round up per fill).
        assert_eq!(
            l.account(A).unwrap().reserved_cash(),
            Money::from_minor(10_029)
        );
        assert_eq!(
            l.account(A).unwrap().available_cash(),
            Money::from_minor(100_000 - 10_029)
        );
        l.check_invariants().unwrap();
        // Without fees there is nothing to round.
        let mut l = ledger(0, 0);
        l.reserve(&order(1, A, Side::Buy, 10, 1_000)).unwrap();
        assert_eq!(
            l.account(A).unwrap().reserved_cash(),
            Money::from_minor(10_000)
        );
    }

    #[test]
    fn splitting_an_order_into_small_fills_never_avoids_the_fee() {
        // 3 bps of a 10.00 fill is 0.003: rounded up, a cent per fill.
        let mut l = ledger(3, 3);
        l.reserve(&order(1, A, Side::Buy, 10, 1_000)).unwrap();
        l.reserve(&order(2, B, Side::Sell, 10, 1_000)).unwrap();
        let total = l.total_cash();
        for _ in 0..10 {
            l.settle(&trade(1, 2, Side::Buy, 1, 1_000)).unwrap();
        }
        assert_eq!(l.account(FEE).unwrap().cash(), Money::from_minor(20));
        assert_eq!(
            l.account(A).unwrap().cash(),
            Money::from_minor(100_000 - 10 * 1_001)
        );
        assert_eq!(l.account(B).unwrap().cash(), Money::from_minor(10 * 999));
        assert_eq!(l.total_cash(), total);
        // The reservation covered every fill; what is left goes back.
        let left = l.release(OrderId(1)).unwrap();
        assert_eq!(left.cash, Money::from_minor(10_012 - 10_010));
        l.check_invariants().unwrap();
    }

    #[test]
    fn a_buy_beyond_available_cash_is_refused_and_changes_nothing() {
        let mut l = ledger(0, 0);
        let before = l.account(A).unwrap().clone();
        let err = l
            .reserve(&order(1, A, Side::Buy, 1_001, 10_000))
            .unwrap_err();
        assert!(matches!(err, LedgerError::InsufficientCash { .. }));
        assert_eq!(l.account(A).unwrap(), &before);
        assert_eq!(l.open_reservations(), 0);
    }

    #[test]
    fn a_sell_reserves_shares_and_cannot_oversell() {
        let mut l = ledger(0, 0);
        l.reserve(&order(1, B, Side::Sell, 60, 100)).unwrap();
        assert_eq!(l.account(B).unwrap().holding(sym()).reserved, 60);
        let err = l.reserve(&order(2, B, Side::Sell, 41, 100)).unwrap_err();
        assert_eq!(
            err,
            LedgerError::InsufficientHoldings {
                needed: 41,
                available: 40
            }
        );
    }

    #[test]
    fn settlement_moves_cash_and_shares_and_collects_fees() {
        let mut l = ledger(10, 30);
        l.reserve(&order(1, A, Side::Buy, 10, 1_000)).unwrap();
        l.reserve(&order(2, B, Side::Sell, 10, 1_000)).unwrap();
        let total = l.total_cash();
        l.settle(&trade(1, 2, Side::Buy, 10, 1_000)).unwrap();
        // Buyer is taker: pays 100.00 + 0.30; seller is maker: gets 100.00 - 0.10.
        assert_eq!(
            l.account(A).unwrap().cash(),
            Money::from_minor(100_000 - 10_030)
        );
        assert_eq!(l.account(B).unwrap().cash(), Money::from_minor(9_990));
        assert_eq!(l.account(FEE).unwrap().cash(), Money::from_minor(40));
        assert_eq!(l.account(A).unwrap().holding(sym()).quantity, 10);
        assert_eq!(l.account(B).unwrap().holding(sym()).quantity, 90);
        assert_eq!(l.total_cash(), total);
        assert_eq!(l.total_shares(sym()), 100);
        l.check_invariants().unwrap();
    }

    #[test]
    fn settling_each_side_in_its_own_ledger_conserves_the_total() {
        let mut whole = ledger(10, 30);
        let mut buy_side = ledger(10, 30);
        let mut sell_side = ledger(10, 30);
        for l in [&mut whole, &mut buy_side, &mut sell_side] {
            l.reserve(&order(1, A, Side::Buy, 10, 1_000)).unwrap();
            l.reserve(&order(2, B, Side::Sell, 10, 1_000)).unwrap();
        }
        let t = trade(1, 2, Side::Sell, 10, 1_000);
        whole.settle(&t).unwrap();
        buy_side.settle_side(&t, Side::Buy).unwrap();
        sell_side.settle_side(&t, Side::Sell).unwrap();
        assert_eq!(buy_side.account(A), whole.account(A));
        assert_eq!(sell_side.account(B), whole.account(B));
        let fees = buy_side.account(FEE).unwrap().cash().minor()
            + sell_side.account(FEE).unwrap().cash().minor();
        assert_eq!(fees, whole.account(FEE).unwrap().cash().minor());
    }

    #[test]
    fn release_returns_exactly_what_was_not_used() {
        let mut l = ledger(0, 0);
        l.reserve(&order(1, A, Side::Buy, 10, 1_000)).unwrap();
        l.reserve(&order(2, B, Side::Sell, 4, 900)).unwrap();
        // Filled 4 at the maker's 9.00: the buyer's price improvement stays reserved until release.
        l.settle(&trade(1, 2, Side::Buy, 4, 900)).unwrap();
        let r = l.release(OrderId(1)).unwrap();
        assert_eq!(r.cash, Money::from_minor(10_000 - 3_600));
        assert_eq!(l.account(A).unwrap().reserved_cash(), Money::ZERO);
        assert_eq!(l.release(OrderId(2)).unwrap().shares, 0);
        assert!(matches!(
            l.release(OrderId(1)),
            Err(LedgerError::UnknownReservation(_))
        ));
        l.check_invariants().unwrap();
    }

    #[test]
    fn settlement_without_cover_is_refused_and_changes_nothing() {
        let mut l = ledger(0, 0);
        l.reserve(&order(1, A, Side::Buy, 1, 1_000)).unwrap();
        l.reserve(&order(2, B, Side::Sell, 10, 1_000)).unwrap();
        let before = (l.account(A).unwrap().clone(), l.account(B).unwrap().clone());
        assert!(l.settle(&trade(1, 2, Side::Buy, 5, 1_000)).is_err());
        assert_eq!(
            (l.account(A).unwrap().clone(), l.account(B).unwrap().clone()),
            before
        );
    }

    #[test]
    fn resize_grows_only_when_affordable_and_shrinks_freely() {
        let mut l = ledger(0, 0);
        l.reserve(&order(1, A, Side::Buy, 10, 1_000)).unwrap();
        l.resize(OrderId(1), Price::from_minor(2_000), 10).unwrap();
        assert_eq!(
            l.account(A).unwrap().reserved_cash(),
            Money::from_minor(20_000)
        );
        assert!(l.resize(OrderId(1), Price::from_minor(20_000), 10).is_err());
        assert_eq!(
            l.account(A).unwrap().reserved_cash(),
            Money::from_minor(20_000)
        );
        l.resize(OrderId(1), Price::from_minor(500), 2).unwrap();
        assert_eq!(
            l.account(A).unwrap().reserved_cash(),
            Money::from_minor(1_000)
        );
        l.check_invariants().unwrap();
    }

    #[test]
    fn deposits_withdrawals_and_issues_are_checked() {
        let mut l = ledger(0, 0);
        assert_eq!(
            l.deposit(A, Money::ZERO),
            Err(LedgerError::NonPositiveAmount)
        );
        assert_eq!(
            l.deposit(AccountId(77), Money::from_major(1)),
            Err(LedgerError::UnknownAccount(AccountId(77)))
        );
        assert_eq!(l.open(A), Err(LedgerError::AccountExists(A)));
        l.reserve(&order(1, A, Side::Buy, 1, 90_000)).unwrap();
        assert!(matches!(
            l.withdraw(A, Money::from_major(200)),
            Err(LedgerError::InsufficientCash { .. })
        ));
        l.withdraw(A, Money::from_major(100)).unwrap();
        assert_eq!(l.account(A).unwrap().cash(), Money::from_major(900));
        assert_eq!(
            l.issue_shares(B, sym(), 0),
            Err(LedgerError::NonPositiveAmount)
        );
    }

    #[test]
    fn fees_above_ten_percent_are_a_configuration_error() {
        assert_eq!(Fees::new(1_001, 0), Err(LedgerError::FeeTooHigh));
        assert!(Fees::new(1_000, 1_000).is_ok());
    }
}
