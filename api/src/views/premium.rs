//! The premium of one coin on one pair as the API answers it ([`PremiumView`], built from the
//! cached premium or the worker's skip reason), and the list of them (`GET /api/v1/premiums`).
//! Shared by the premium routes, the premium table (which serializes every row once per tick)
//! and the error body (which carries a [`SkipView`]).

use chrono::{DateTime, Utc};
use domain::{
    Coin, Premium, SkipReason, VenuePair,
    age::{Limits, Named},
    display_rate,
};
use poem_openapi::Object;

use crate::wire::{Dec, FxSourceName, MarketFlagName, PriceSourceName, Time, VenueName};

/// Why the worker did not compute a premium (a missing or stale input).
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SkipView {
    /// Which input, e.g. `upbit BTC ticker` or `usd/krw`.
    pub input: String,
    /// `missing`, `stale`, why no FX rate was usable, `unit error: …` (the sanity gate found
    /// a price a power of ten off its pair's median), or `last trade N ms old and no book to
    /// price it: …` (an illiquid Korean coin whose book is missing or one-sided).
    pub reason: String,
    /// Age of a stale input (of the last trade, for an old trade), milliseconds.
    pub age_ms: Option<i64>,
    /// Its freshness limit, milliseconds.
    pub limit_ms: Option<i64>,
    /// When the worker recorded this.
    pub at: Time,
}

impl From<SkipReason> for SkipView {
    fn from(s: SkipReason) -> Self {
        SkipView {
            input: s.input.to_string(),
            reason: s.reason.to_string(),
            age_ms: s.age_ms,
            limit_ms: s.limit_ms,
            at: s.at.into(),
        }
    }
}

/// The prices and FX a premium was computed from.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct InputsView {
    /// Korean venue's price, KRW: its last trade, or the middle of its best bid and ask when
    /// that trade is older than `freshness.ticker_ms` (`korea_price_source`).
    pub korea_krw: Dec,
    /// `last_trade` or `book_mid`: which price `korea_krw` is.
    pub korea_price_source: PriceSourceName,
    /// With `book_mid`: the old last trade's price the mid replaced, KRW.
    pub korea_trade_krw: Option<Dec>,
    pub korea_observed_at: Time,
    /// Foreign venue's price, USD(T).
    pub foreign_usd: Dec,
    pub foreign_observed_at: Time,
    /// USD/KRW in use.
    pub usd_krw: Dec,
    /// Where `usd_krw` comes from (the first fresh source of `fx_sources`).
    pub fx_source: FxSourceName,
    /// The source's own time for the rate (a Frankfurter rate: its ECB date at 15:00 UTC).
    pub fx_observed_at: Time,
    /// `now − fx_observed_at`, milliseconds.
    pub fx_age_ms: i64,
    /// How old this rate may get before the premium is stale, milliseconds: the source's
    /// `freshness.fx_secs`, counting ECB working days only for Frankfurter (so a Friday rate's
    /// limit spans the weekend).
    pub fx_limit_ms: i64,
    /// The Korean venue's own USDT/KRW price (basis of `usdt_rate`), when available.
    pub usdt_krw: Option<Dec>,
    /// When the Korean venue observed that USDT/KRW price.
    pub usdt_observed_at: Option<Time>,
    /// `now − usdt_observed_at`, milliseconds.
    pub usdt_age_ms: Option<i64>,
    /// The foreign instrument the price came from, e.g. `1000PEPEUSDT`.
    pub foreign_symbol: Option<String>,
    /// Coins per quoted unit of that instrument (1000 for `1000PEPEUSDT`); `foreign_usd` is
    /// already per coin.
    pub foreign_multiplier: Option<Dec>,
    /// When the coin last traded on the Korean venue, where the venue says so. The quote's
    /// freshness is judged on `korea_observed_at`; a trade older than `freshness.ticker_ms`
    /// makes the premium use the book mid (`korea_price_source`), or, without a book, no
    /// premium is computed (`skip`).
    pub korea_last_trade_at: Option<Time>,
    /// `now − korea_last_trade_at`, milliseconds.
    pub korea_last_trade_age_ms: Option<i64>,
    /// Best bid and ask of the Korean market, KRW per coin.
    pub korea_bid: Option<Dec>,
    pub korea_ask: Option<Dec>,
    /// Best bid and ask of the foreign market, USDT per coin (after the multiplier).
    pub foreign_bid: Option<Dec>,
    pub foreign_ask: Option<Dec>,
}

/// The premium of one coin on one pair. When no premium is cached, `available` is false, the
/// numbers are null and `skip` says why when the worker recorded it.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PremiumView {
    pub coin: String,
    pub korea_venue: VenueName,
    pub foreign_venue: VenueName,
    /// Whether a current premium is cached.
    pub available: bool,
    /// True when missing, or when any input is older than its own freshness limit: the prices
    /// and the USDT/KRW `freshness.ticker_ms`, the FX rate `inputs.fx_limit_ms`.
    pub stale: bool,
    /// The inputs past their limits (`upbit BTC ticker`, `usd/krw (frankfurter)`, `upbit USDT
    /// ticker`); empty when fresh or when no premium is cached.
    pub stale_inputs: Vec<String>,
    /// `(korea_krw − foreign_usd × usd_krw) / (foreign_usd × usd_krw) × 100`, full precision.
    pub rate: Option<Dec>,
    /// `rate` rounded half-up to 2 decimal places.
    pub rate_display: Option<Dec>,
    /// The same with USD/KRW replaced by the Korean venue's USDT/KRW ("tether premium").
    pub usdt_rate: Option<Dec>,
    pub usdt_rate_display: Option<Dec>,
    /// `foreign_usd × usd_krw`.
    pub foreign_krw: Option<Dec>,
    pub inputs: Option<InputsView>,
    /// The oldest observation the premium is built on, the FX rate (and the USDT/KRW of
    /// `usdt_rate`) included: a premium is as old as its oldest input.
    pub observed_at: Option<Time>,
    /// Which input that is (`usd/krw (dunamu)`, `upbit BTC ticker`).
    pub oldest_input: Option<String>,
    pub computed_at: Option<Time>,
    /// `now − observed_at`, milliseconds. Each input's own age is in `inputs`.
    pub age_ms: Option<i64>,
    /// Why the worker computed no premium: when none is cached, or when the cached one is
    /// stale and the worker recorded why since (e.g. a frozen venue's `stale` ticker).
    pub skip: Option<SkipView>,
    /// Market flags of either leg (warning, caution, suspended deposits or withdrawals, foreign
    /// market not trading, suspect); empty when none or when no premium is cached.
    pub flags: Vec<MarketFlagName>,
    /// With the `suspect` flag: why the sanity gate flagged the premium (how far from its
    /// pair's median). A real market event or a mapping error; the premium is served either way.
    pub suspect_reason: Option<String>,
    /// Entering the hedge: buy Korea at its ask, short abroad at its bid:
    /// `(korea_ask − foreign_bid × usd_krw) / (foreign_bid × usd_krw) × 100`.
    pub entry_rate: Option<Dec>,
    /// Exiting it: sell Korea at its bid, cover abroad at its ask:
    /// `(korea_bid − foreign_ask × usd_krw) / (foreign_ask × usd_krw) × 100`.
    pub exit_rate: Option<Dec>,
    /// The same after both venues' taker fees (`fees.<venue>`): Korean price × (1 ± fee),
    /// foreign price × (1 ∓ fee).
    pub entry_rate_net: Option<Dec>,
    pub exit_rate_net: Option<Dec>,
    /// The four above with the Korean venue's USDT/KRW in place of USD/KRW.
    pub usdt_entry_rate: Option<Dec>,
    pub usdt_exit_rate: Option<Dec>,
    pub usdt_entry_rate_net: Option<Dec>,
    pub usdt_exit_rate_net: Option<Dec>,
    /// Why the entry and exit rates are missing (a crossed, zero or missing book).
    pub executable_skip: Option<String>,
    /// The foreign perpetual's funding rate for the next settlement, a fraction (`0.0001` =
    /// 0.01 %); longs pay shorts when positive.
    pub funding_rate: Option<Dec>,
    pub next_funding_at: Option<Time>,
    pub funding_interval_hours: Option<u32>,
    /// `?size_krw=N` only: both legs filled through the fetched books for N KRW.
    pub at_size: Option<AtSizeView>,
}

/// A premium at a size: average fills of both legs through the books.
#[derive(Debug, Clone, Object)]
pub struct AtSizeView {
    pub size_krw: Dec,
    /// Coins bought in Korea and shorted abroad.
    pub qty: Dec,
    pub korea_avg_ask: Dec,
    pub foreign_avg_bid: Dec,
    pub entry_rate: Dec,
    pub korea_avg_bid: Dec,
    pub foreign_avg_ask: Dec,
    pub exit_rate: Dec,
    /// The top-of-book entry rate (from these books).
    pub top_entry_rate: Dec,
    /// The largest size whose entry rate stays within `depth.slippage_bp` of the top-of-book
    /// entry rate.
    pub max_size_krw: Dec,
    pub slippage_bp: Dec,
    /// The largest size the fetched books can fill on both legs.
    pub depth_krw: Dec,
}

impl PremiumView {
    pub(crate) fn build(
        coin: &Coin,
        pair: VenuePair,
        premium: Option<Premium>,
        skip: Option<SkipReason>,
        now: DateTime<Utc>,
        freshness: &settings::Freshness,
    ) -> Self {
        let skip_at = skip.as_ref().map(|s| s.at);
        let mut view = PremiumView {
            coin: coin.to_string(),
            korea_venue: pair.korea.into(),
            foreign_venue: pair.foreign.into(),
            available: false,
            stale: true,
            stale_inputs: Vec::new(),
            rate: None,
            rate_display: None,
            usdt_rate: None,
            usdt_rate_display: None,
            foreign_krw: None,
            inputs: None,
            observed_at: None,
            oldest_input: None,
            computed_at: None,
            age_ms: None,
            skip: skip.map(SkipView::from),
            flags: Vec::new(),
            suspect_reason: None,
            entry_rate: None,
            exit_rate: None,
            entry_rate_net: None,
            exit_rate_net: None,
            usdt_entry_rate: None,
            usdt_exit_rate: None,
            usdt_entry_rate_net: None,
            usdt_exit_rate_net: None,
            executable_skip: None,
            funding_rate: None,
            next_funding_at: None,
            funding_interval_hours: None,
            at_size: None,
        };
        if let Some(p) = premium {
            let limits = Limits {
                ticker: std::time::Duration::from_millis(freshness.ticker_ms),
                fx: freshness.fx_limit(p.inputs.fx_source),
            };
            let age = p.age(now, limits);
            view.available = true;
            view.stale = age.is_stale();
            view.stale_inputs = age
                .stale
                .iter()
                .map(|i| Named(*i, &p).to_string())
                .collect();
            view.oldest_input = Some(Named(age.oldest, &p).to_string());
            // A stale cached premium keeps the worker's skip reason when it was recorded since
            // (a frozen venue's quote: the worker skipped it, the cache still holds it).
            let recorded_since = skip_at.is_some_and(|at| at >= p.computed_at);
            if !(view.stale && recorded_since) {
                view.skip = None;
            }
            let i = p.inputs;
            view.rate = Some(p.rate.into());
            view.rate_display = Some(display_rate(p.rate).into());
            view.usdt_rate = p.usdt_rate.map(Dec);
            view.usdt_rate_display = p.usdt_rate.map(|r| Dec(display_rate(r)));
            view.foreign_krw = Some(p.foreign_krw.into());
            view.observed_at = Some(age.observed_at.into());
            view.computed_at = Some(p.computed_at.into());
            view.age_ms = Some(age.age_ms);
            view.flags = p.flags.iter().map(|f| MarketFlagName::from(*f)).collect();
            view.suspect_reason = p.suspect.clone();
            if let Some(e) = p.executable {
                view.entry_rate = Some(e.entry_rate.into());
                view.exit_rate = Some(e.exit_rate.into());
                view.entry_rate_net = Some(e.entry_rate_net.into());
                view.exit_rate_net = Some(e.exit_rate_net.into());
                view.usdt_entry_rate = e.usdt_entry_rate.map(Dec);
                view.usdt_exit_rate = e.usdt_exit_rate.map(Dec);
                view.usdt_entry_rate_net = e.usdt_entry_rate_net.map(Dec);
                view.usdt_exit_rate_net = e.usdt_exit_rate_net.map(Dec);
            }
            view.executable_skip = p.executable_skip.clone();
            if let Some(f) = i.funding {
                view.funding_rate = Some(f.rate.into());
                view.next_funding_at = Some(f.next_funding_at.into());
                view.funding_interval_hours = f.interval_hours;
            }
            view.inputs = Some(InputsView {
                korea_krw: i.korea_krw.into(),
                korea_price_source: i.korea_price_source.into(),
                korea_trade_krw: i.korea_trade_krw.map(Dec::from),
                korea_observed_at: i.korea_observed_at.into(),
                foreign_usd: i.foreign_usd.into(),
                foreign_observed_at: i.foreign_observed_at.into(),
                usd_krw: i.usd_krw.into(),
                fx_source: i.fx_source.into(),
                fx_observed_at: i.fx_observed_at.into(),
                fx_age_ms: age.fx_age_ms,
                fx_limit_ms: age.fx_limit_ms,
                usdt_krw: i.usdt_krw.map(Dec::from),
                usdt_observed_at: i.usdt_observed_at.map(Time::from),
                usdt_age_ms: i
                    .usdt_observed_at
                    .map(|at| (now - at).num_milliseconds().max(0)),
                foreign_symbol: i.foreign_symbol.clone(),
                foreign_multiplier: i.foreign_multiplier.map(|m| m.normalize().into()),
                korea_last_trade_at: i.korea_last_trade_at.map(Time::from),
                korea_last_trade_age_ms: i
                    .korea_last_trade_at
                    .map(|at| (now - at).num_milliseconds().max(0)),
                korea_bid: i.korea_book.map(|b| b.bid.into()),
                korea_ask: i.korea_book.map(|b| b.ask.into()),
                foreign_bid: i.foreign_book.map(|b| b.bid.into()),
                foreign_ask: i.foreign_book.map(|b| b.ask.into()),
            });
        }
        view
    }
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PremiumsView {
    /// When this answer was assembled.
    pub as_of: Time,
    /// One entry per tracked coin × configured pair, coins in the configured order.
    pub premiums: Vec<PremiumView>,
}
