//! What the venue handlers render: one coin's [`Quote`] on one venue (with the book drawn around
//! it) and a venue's [`Board`] of quotes taken at one instant. The shared state makes them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::book::{Book, Liquidity, Spec, synth};

/// One coin's price on one venue, as a handler renders it.
#[derive(Debug, Clone)]
pub(crate) struct Quote {
    pub symbol: String,
    pub price: Decimal,
    /// Step-0 price: the "opening" / "previous close" fields.
    pub open: Decimal,
    /// Decimals of this coin's price on this venue (one tick is `10^-dp`).
    pub dp: u32,
    /// 24 h volume in coins.
    pub volume: Decimal,
    /// How long ago the last trade was, ms (illiquid coins; 0 otherwise).
    pub lag_ms: i64,
    /// Seed × venue × symbol × step: what the synthetic book is drawn from.
    pub key: u64,
    pub liquidity: Liquidity,
    /// Decimals of a book size in price units.
    pub size_dp: u32,
    /// Price units per book size unit (OKX `ctVal`: sizes in contracts), else 1.
    pub contract: Decimal,
    /// A pinned book (`POST /_sim/prices` with `book`), served instead of the synthetic one.
    pub pinned_book: Option<Arc<Book>>,
}

impl Quote {
    /// The first `levels` levels per side of this quote's book: the pinned one, or one drawn
    /// around the price. Empty when the price is zero (`zero_price`).
    pub(crate) fn book(&self, levels: usize) -> Book {
        if self.price <= Decimal::ZERO {
            return Book::default();
        }
        if let Some(b) = &self.pinned_book {
            return b.truncated(levels);
        }
        let spec = Spec {
            key: self.key,
            price: self.price,
            dp: self.dp,
            volume: self.volume,
            liquidity: self.liquidity,
            size_dp: self.size_dp,
            contract: self.contract,
            korean: self.size_dp == KOREAN_SIZE_DP,
        };
        synth(&spec, levels)
    }

    /// Best bid and best ask (price, size), zeros on an empty side.
    pub(crate) fn top(&self) -> ((Decimal, Decimal), (Decimal, Decimal)) {
        let b = self.book(1);
        let zero = (Decimal::ZERO, Decimal::ZERO);
        (b.best_bid().unwrap_or(zero), b.best_ask().unwrap_or(zero))
    }
}

/// Korean book sizes are coins with 8 decimals.
pub(crate) const KOREAN_SIZE_DP: u32 = 8;

/// Quotes of one venue taken at one instant.
#[derive(Debug)]
pub(crate) struct Board {
    pub quotes: Vec<Quote>,
    pub now: DateTime<Utc>,
    /// The random-walk step the quotes were taken at.
    pub step: u64,
}
