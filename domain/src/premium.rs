//! The kimchi premium of a coin on a pair: its inputs, the last-price and tether premiums and
//! the executable (book) premiums, computed with the formula in [`crate::rate`].

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    BookTop, Coin, Funding, FxSource, Price, PriceSource, VenuePair,
    rate::{PremiumError, premium_rate},
};

/// Everything a premium is computed from, with the times the inputs were observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumInputs {
    pub coin: Coin,
    pub pair: VenuePair,
    /// The Korean price the premium uses: the last trade, or the book mid when that trade is
    /// older than the freshness limit (`korea_price_source`).
    pub korea_krw: Price,
    /// Which price `korea_krw` is. Values cached before this field existed were last trades.
    #[serde(default)]
    pub korea_price_source: PriceSource,
    /// The last trade's price when the book mid replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub korea_trade_krw: Option<Price>,
    pub korea_observed_at: DateTime<Utc>,
    pub foreign_usd: Price,
    pub foreign_observed_at: DateTime<Utc>,
    pub usd_krw: Price,
    pub fx_source: FxSource,
    pub fx_observed_at: DateTime<Utc>,
    /// The Korean venue's own KRW-USDT price, for the tether premium; `None` when unavailable.
    pub usdt_krw: Option<Price>,
    pub usdt_observed_at: Option<DateTime<Utc>>,
    /// The foreign instrument the price came from (`1000PEPEUSDT`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_symbol: Option<String>,
    /// Coins per quoted unit of that instrument; `foreign_usd` is already per coin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_multiplier: Option<Decimal>,
    /// When the coin last traded on the Korean venue, where the venue says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub korea_last_trade_at: Option<DateTime<Utc>>,
    /// Best bid and ask of the Korean market (KRW per coin), when its book was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub korea_book: Option<BookTop>,
    /// Best bid and ask of the foreign market (USDT per coin, after the multiplier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_book: Option<BookTop>,
    /// The foreign perpetual's funding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding: Option<Funding>,
}

/// A computed premium on both bases, with its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Premium {
    #[serde(flatten)]
    pub inputs: PremiumInputs,
    /// `foreign_usd × usd_krw`.
    pub foreign_krw: Decimal,
    /// Premium on the official FX basis, percent, full precision.
    pub rate: Decimal,
    /// Premium on the USDT basis ("tether premium"), percent, full precision.
    pub usdt_rate: Option<Decimal>,
    /// The oldest observation time among the price inputs (the premium is as old as that).
    pub observed_at: DateTime<Utc>,
    pub computed_at: DateTime<Utc>,
    /// Market flags of both legs (warning, caution, suspended deposits, foreign not trading,
    /// suspect).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<crate::MarketFlag>,
    /// Why the sanity gate flagged it `suspect` (how far from its pair's median).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspect: Option<String>,
    /// Entry and exit premiums from both books, when both were fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<Executable>,
    /// Why `executable` is missing (`upbit BTC book: crossed book: …`, `binance BTC book:
    /// missing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable_skip: Option<String>,
}

/// Taker fees of the two legs, as fractions (10 bp = `0.001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fees {
    pub korea: Decimal,
    pub foreign: Decimal,
}

/// What entering and exiting the hedge yields, in percent, at the top of both books.
///
/// - `entry_rate = (korea_ask − foreign_bid × fx) / (foreign_bid × fx) × 100` (buy Korea, short
///   abroad);
/// - `exit_rate = (korea_bid − foreign_ask × fx) / (foreign_ask × fx) × 100` (sell Korea, cover
///   abroad);
/// - the `_net` variants pay both taker fees: the Korean price is `ask × (1 + fee)` on entry and
///   `bid × (1 − fee)` on exit, the foreign one `bid × (1 − fee)` on entry and `ask × (1 + fee)`
///   on exit;
/// - the `usdt_` variants use the Korean venue's USDT/KRW as `fx`.
///
/// With both books uncrossed, `entry_rate ≥ exit_rate`: the spread is the cost of a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executable {
    pub entry_rate: Decimal,
    pub exit_rate: Decimal,
    pub entry_rate_net: Decimal,
    pub exit_rate_net: Decimal,
    pub usdt_entry_rate: Option<Decimal>,
    pub usdt_exit_rate: Option<Decimal>,
    pub usdt_entry_rate_net: Option<Decimal>,
    pub usdt_exit_rate_net: Option<Decimal>,
}

/// `price × (1 + fee)` (a buy) or `price × (1 − fee)` (a sell), still a price.
fn with_fee(price: Price, fee: Decimal, buy: bool) -> Result<Price, PremiumError> {
    let factor = if buy {
        Decimal::ONE + fee
    } else {
        Decimal::ONE - fee
    };
    let v = price
        .value()
        .checked_mul(factor)
        .ok_or(PremiumError::Overflow)?;
    Price::new(v).map_err(|_| PremiumError::Overflow)
}

impl Executable {
    /// Entry and exit premiums from both tops of book at `usd_krw` (and `usdt_krw` when known).
    pub fn compute(
        korea: &BookTop,
        foreign: &BookTop,
        usd_krw: Price,
        usdt_krw: Option<Price>,
        fees: Fees,
    ) -> Result<Self, PremiumError> {
        let entry = |fx| premium_rate(korea.ask, foreign.bid, fx);
        let exit = |fx| premium_rate(korea.bid, foreign.ask, fx);
        let (k_buy, f_sell) = (
            with_fee(korea.ask, fees.korea, true)?,
            with_fee(foreign.bid, fees.foreign, false)?,
        );
        let (k_sell, f_buy) = (
            with_fee(korea.bid, fees.korea, false)?,
            with_fee(foreign.ask, fees.foreign, true)?,
        );
        let entry_net = |fx| premium_rate(k_buy, f_sell, fx);
        let exit_net = |fx| premium_rate(k_sell, f_buy, fx);
        let usdt = |f: &dyn Fn(Price) -> Result<Decimal, PremiumError>| usdt_krw.map(f).transpose();
        Ok(Executable {
            entry_rate: entry(usd_krw)?,
            exit_rate: exit(usd_krw)?,
            entry_rate_net: entry_net(usd_krw)?,
            exit_rate_net: exit_net(usd_krw)?,
            usdt_entry_rate: usdt(&entry)?,
            usdt_exit_rate: usdt(&exit)?,
            usdt_entry_rate_net: usdt(&entry_net)?,
            usdt_exit_rate_net: usdt(&exit_net)?,
        })
    }
}

impl Premium {
    pub fn compute(
        inputs: PremiumInputs,
        computed_at: DateTime<Utc>,
    ) -> Result<Self, PremiumError> {
        let rate = premium_rate(inputs.korea_krw, inputs.foreign_usd, inputs.usd_krw)?;
        let usdt_rate = match inputs.usdt_krw {
            Some(u) => Some(premium_rate(inputs.korea_krw, inputs.foreign_usd, u)?),
            None => None,
        };
        let foreign_krw = inputs
            .foreign_usd
            .value()
            .checked_mul(inputs.usd_krw.value())
            .ok_or(PremiumError::Overflow)?;
        let observed_at = inputs.korea_observed_at.min(inputs.foreign_observed_at);
        Ok(Premium {
            inputs,
            foreign_krw,
            rate,
            usdt_rate,
            observed_at,
            computed_at,
            flags: Vec::new(),
            suspect: None,
            executable: None,
            executable_skip: None,
        })
    }

    /// Adds the entry and exit premiums when both books are in the inputs.
    pub fn with_books(mut self, fees: Fees) -> Result<Self, PremiumError> {
        if let (Some(k), Some(f)) = (&self.inputs.korea_book, &self.inputs.foreign_book) {
            self.executable = Some(Executable::compute(
                k,
                f,
                self.inputs.usd_krw,
                self.inputs.usdt_krw,
                fees,
            )?);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use crate::rate::tests::{p, price};

    #[test]
    fn entry_buys_korea_at_the_ask_and_exit_sells_at_the_bid_net_of_fees() {
        let korea = BookTop::new(dec!(129_550_000), dec!(1), dec!(129_560_000), dec!(1)).unwrap();
        let foreign = BookTop::new(dec!(89_277.0), dec!(1), dec!(89_277.2), dec!(1)).unwrap();
        let fx = p(dec!(1432.6));
        let fees = Fees {
            korea: dec!(0.0005),
            foreign: dec!(0.0004),
        };
        let e = Executable::compute(&korea, &foreign, fx, Some(p(dec!(1450))), fees).unwrap();
        let rate = |k: Decimal, f: Decimal, fx: Decimal| (k - f * fx) / (f * fx) * dec!(100);
        assert_eq!(
            e.entry_rate,
            rate(dec!(129_560_000), dec!(89_277.0), dec!(1432.6))
        );
        assert_eq!(
            e.exit_rate,
            rate(dec!(129_550_000), dec!(89_277.2), dec!(1432.6))
        );
        assert_eq!(
            e.entry_rate_net,
            rate(
                dec!(129_560_000) * dec!(1.0005),
                dec!(89_277.0) * dec!(0.9996),
                dec!(1432.6)
            )
        );
        assert_eq!(
            e.exit_rate_net,
            rate(
                dec!(129_550_000) * dec!(0.9995),
                dec!(89_277.2) * dec!(1.0004),
                dec!(1432.6)
            )
        );
        assert_eq!(
            e.usdt_entry_rate,
            Some(rate(dec!(129_560_000), dec!(89_277.0), dec!(1450)))
        );
        assert!(e.entry_rate > e.exit_rate);
        assert!(e.entry_rate_net > e.entry_rate && e.exit_rate_net < e.exit_rate);
    }

    proptest! {
        #[test]
        fn uncrossed_books_enter_at_or_above_their_exit(
            kb in price(), kspread in 1i64..1_000_000, fb in price(), fspread in 1i64..1_000_000, fx in price()
        ) {
            let korea = BookTop::new(kb, Decimal::ONE, kb + Decimal::new(kspread, 4), Decimal::ONE).unwrap();
            let foreign = BookTop::new(fb, Decimal::ONE, fb + Decimal::new(fspread, 4), Decimal::ONE).unwrap();
            if let Ok(e) = Executable::compute(&korea, &foreign, p(fx), None, Fees::default()) {
                prop_assert!(e.entry_rate >= e.exit_rate, "{e:?}");
            }
        }
    }
}
