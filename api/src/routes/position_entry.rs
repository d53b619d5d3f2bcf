//! A new position as a trader writes it: the request, its validation (every error names its
//! field), the foreign leg's units (per coin, or the instrument's quote and contract count,
//! converted with the registry's multiplier) and the check of the entry prices against the
//! market.

use cache::MarketsNow;
use chrono::Utc;
use domain::{
    Coin, Contract, Decimal, FxSource, Listing, Position, PositionSide, Price, Region, Units,
    Venue, VenuePair, entry_deviation,
};
use poem_openapi::{Enum, Object};

use crate::{
    error::ApiError,
    tracked::untracked,
    wire::{Dec, DecInput},
};

/// A new hedge: long `korea_qty` coins on a Korean spot venue, short `foreign_qty` on a foreign
/// perpetual. Decimals are strings (`"0.5"`), never JSON numbers.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OpenPositionRequest {
    /// A tracked coin, e.g. `BTC`.
    pub coin: String,
    /// bithumb or upbit.
    pub korea_venue: String,
    /// Coins bought on the Korean venue (> 0).
    pub korea_qty: DecInput,
    /// Korean entry price, KRW per coin (> 0).
    pub korea_entry: DecInput,
    /// binance, bybit or okx.
    pub foreign_venue: String,
    /// The foreign instrument as the venue names it (`1000PEPEUSDT`, `PEPE-USDT-SWAP`); by
    /// default the one the coin's premiums use. It must be a listing of `coin`.
    pub foreign_instrument: Option<String>,
    /// The units of `foreign_qty` and `foreign_entry`: `coin` (the default) or `contract`. The
    /// Korean leg is per coin either way (Korean markets quote one coin).
    pub units: Option<String>,
    /// Sold short on the foreign venue (> 0): coins, or with `units` = `contract` the venue's
    /// contract count (of `coins_per_contract` coins each).
    pub foreign_qty: DecInput,
    /// Foreign entry price (> 0): USD(T) per coin, or with `units` = `contract` the
    /// instrument's quote (per `price_multiplier` coins, e.g. 1,000 for `1000PEPEUSDT`).
    pub foreign_entry: DecInput,
    /// Leverage of the short leg, 1 to 125.
    pub leverage: u32,
    /// USD/KRW at entry (> 0).
    pub entry_usd_krw: DecInput,
}

/// The units of a foreign leg: `coin` (coins, USD(T) per coin) or `contract` (the
/// instrument's contract count and quoted price, as the venue shows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum PositionUnits {
    Coin,
    Contract,
}

impl From<Units> for PositionUnits {
    fn from(u: Units) -> Self {
        match u {
            Units::Coin => PositionUnits::Coin,
            Units::Contract => PositionUnits::Contract,
        }
    }
}

/// The foreign leg in its instrument's own units, beside the per-coin `foreign_qty` and
/// `foreign_entry`: `qty = foreign_qty / coins_per_contract`,
/// `entry = foreign_entry × price_multiplier`.
#[derive(Debug, Object)]
pub struct ContractView {
    /// The venue's symbol, e.g. `1000PEPEUSDT`.
    pub instrument: String,
    /// Coins one quoted price is for (1,000 for `1000PEPEUSDT`, 1 on OKX).
    pub price_multiplier: Dec,
    /// Coins per contract: the multiplier times OKX's contract value (`ctVal`).
    pub coins_per_contract: Dec,
    /// Contracts sold short.
    pub qty: Dec,
    /// The entry price as the instrument quotes it.
    pub entry: Dec,
}

/// The foreign leg of `p` in contracts, when its instrument is recorded.
pub(crate) fn contract_view(p: &Position) -> Option<ContractView> {
    let c = p.foreign_contract.as_ref()?;
    let leg = p.foreign_in_contracts()?.ok()?;
    Some(ContractView {
        instrument: c.instrument.clone(),
        price_multiplier: c.price_multiplier.into(),
        coins_per_contract: c.coins_per_contract.into(),
        qty: leg.quantity.into(),
        entry: leg.entry_price.into(),
    })
}

/// A validated request: the position (per coin) and its canonical form for the idempotency
/// check.
pub(crate) struct Entry {
    pub position: Position,
    pub canonical: String,
}

/// Parses and validates a new position; every error names its field. A foreign leg in
/// contracts is converted to coins here, with the multiplier the registry has now.
pub(crate) fn validate(
    settings: &settings::Settings,
    markets: &MarketsNow,
    req: &OpenPositionRequest,
) -> Result<Entry, ApiError> {
    let s = settings;
    let bad = |field: &str, msg: String| ApiError::bad_request(format!("{field}: {msg}"));
    let coin = Coin::parse(&req.coin).map_err(|e| bad("coin", e.to_string()))?;
    let venue = |field: &str, raw: &str, region: Region| -> Result<Venue, ApiError> {
        let enabled: Vec<&str> = s
            .venues_in(region)
            .into_iter()
            .map(|v| v.as_str())
            .collect();
        raw.parse::<Venue>()
            .ok()
            .filter(|v| v.region() == region && s.venues.contains(v))
            .ok_or_else(|| {
                bad(
                    field,
                    format!(
                        "`{raw}` is not an enabled venue here; expected one of: {}",
                        enabled.join(", ")
                    ),
                )
            })
    };
    let korea = venue("korea_venue", &req.korea_venue, Region::Korea)?;
    let foreign = venue("foreign_venue", &req.foreign_venue, Region::Foreign)?;
    let pair = VenuePair::new(korea, foreign).map_err(|e| bad("korea_venue", e))?;
    if !markets.tracks(&coin, pair) {
        return Err(bad(
            "coin",
            format!(
                "`{coin}` is not tracked on {pair}: {}",
                untracked(markets, s, &coin)
            ),
        ));
    }
    let units: Units = match &req.units {
        None => Units::Coin,
        Some(raw) => raw.trim().parse().map_err(|e| bad("units", e))?,
    };
    let listing = foreign_listing(markets, foreign, &coin, req.foreign_instrument.as_deref())?;
    let contract = listing.map(Contract::of);
    if units == Units::Contract && contract.is_none() {
        return Err(bad(
            "units",
            format!("contract units need the instrument, and {foreign} has no listing of {coin}"),
        ));
    }
    let positive = |field: &str, raw: &DecInput| -> Result<Decimal, ApiError> {
        let d = raw.parse(field).map_err(ApiError::bad_request)?;
        if d > Decimal::ZERO {
            Ok(d)
        } else {
            Err(bad(field, format!("must be positive, got {d}")))
        }
    };
    let price = |field: &str, raw: &DecInput| -> Result<Price, ApiError> {
        Price::new(positive(field, raw)?).map_err(|e| bad(field, e.to_string()))
    };
    if !(1..=125).contains(&req.leverage) {
        return Err(bad(
            "leverage",
            format!("must be between 1 and 125, got {}", req.leverage),
        ));
    }
    let written = PositionSide {
        quantity: positive("foreign_qty", &req.foreign_qty)?,
        entry_price: price("foreign_entry", &req.foreign_entry)?,
    };
    let foreign_leg = match (&contract, units) {
        (Some(c), Units::Contract) => c
            .per_coin(&written)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        _ => written,
    };
    let position = Position::open(
        0,
        coin,
        pair,
        PositionSide {
            quantity: positive("korea_qty", &req.korea_qty)?,
            entry_price: price("korea_entry", &req.korea_entry)?,
        },
        foreign_leg,
        req.leverage,
        price("entry_usd_krw", &req.entry_usd_krw)?,
        Utc::now(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?
    .held_on(units, contract);
    let mut canonical = canonical_request(&position);
    // Written only when they differ from the defaults, so a request from before they existed
    // keeps its canonical form (and its Idempotency-Key).
    if units != Units::Coin {
        canonical.push_str(&format!(";units={units}"));
    }
    if let Some(c) = req
        .foreign_instrument
        .as_ref()
        .and(position.foreign_contract.as_ref())
    {
        canonical.push_str(&format!(";foreign_instrument={}", c.instrument));
    }
    Ok(Entry {
        position,
        canonical,
    })
}

/// The listing `foreign_instrument` names on `venue` (any case), or by default the one the
/// coin's premiums use.
fn foreign_listing<'a>(
    markets: &'a MarketsNow,
    venue: Venue,
    coin: &Coin,
    raw: Option<&str>,
) -> Result<Option<&'a Listing>, ApiError> {
    let Some(raw) = raw else {
        return Ok(markets.registry.listing(venue, coin));
    };
    let bad = |msg: String| ApiError::bad_request(format!("foreign_instrument: {msg}"));
    let listings = markets.registry.listings(venue);
    let of_coin = || {
        let symbols: Vec<&str> = listings
            .iter()
            .filter(|l| &l.coin == coin && l.excluded.is_none())
            .map(|l| l.instrument.symbol.as_str())
            .collect();
        format!("{coin} on {venue} is {}", symbols.join(" or "))
    };
    let symbol = raw.trim();
    match listings
        .iter()
        .find(|l| l.instrument.symbol.eq_ignore_ascii_case(symbol))
    {
        None => Err(bad(format!(
            "`{symbol}` is not a {venue} market; {}",
            of_coin()
        ))),
        Some(l) if &l.coin != coin => Err(bad(format!(
            "`{symbol}` on {venue} is {}, not {coin}; {}",
            l.coin,
            of_coin()
        ))),
        Some(l) => match &l.excluded {
            Some(why) => Err(bad(format!("`{symbol}` on {venue} is not paired: {why}"))),
            None => Ok(Some(l)),
        },
    }
}

/// The request as the idempotency check compares it: the validated fields, decimals
/// normalized, so `"0.5"` and `"0.50"` are the same request.
fn canonical_request(p: &Position) -> String {
    format!(
        "coin={};korea_venue={};foreign_venue={};korea_qty={};korea_entry={};foreign_qty={};\
         foreign_entry={};leverage={};entry_usd_krw={}",
        p.coin,
        p.pair.korea,
        p.pair.foreign,
        p.korea.quantity.normalize(),
        p.korea.entry_price.value().normalize(),
        p.foreign.quantity.normalize(),
        p.foreign.entry_price.value().normalize(),
        p.leverage,
        p.entry_usd_krw.value().normalize(),
    )
}

/// The market an entry is checked against: any cached ticker, whatever its age (a unit error
/// is off by orders of magnitude, not by a few seconds' move), and the USD/KRW in use.
pub(crate) struct Market {
    pub korea: Option<Price>,
    pub foreign: Option<Price>,
    pub usd_krw: Option<(Price, FxSource)>,
}

/// Refuses an entry price more than 50 % from the market (a unit or typing error), naming the
/// field, the price given and the market's, both in the units the request used. A price
/// without a market to compare with is accepted.
pub(crate) fn check_against_market(p: &Position, market: &Market) -> Result<(), ApiError> {
    let foreign_units = |per_coin: Price| -> Price {
        match (&p.foreign_contract, p.units) {
            (Some(c), Units::Contract) => c.quoted(per_coin).unwrap_or(per_coin),
            _ => per_coin,
        }
    };
    let foreign_what = match (&p.foreign_contract, p.units) {
        (Some(c), Units::Contract) => format!(
            "{} {}, USD(T) per {} coins as `units` = contract",
            p.pair.foreign,
            c.instrument,
            c.price_multiplier.normalize()
        ),
        _ => format!("{} {}, USD(T) per coin", p.pair.foreign, p.coin),
    };
    // The likely mistake: a multiplier instrument's quote sent per coin.
    let foreign_hint = match (&p.foreign_contract, p.units) {
        (Some(c), Units::Coin) if c.price_multiplier != Decimal::ONE => format!(
            "; `{}` quotes {} coins: send `\"units\": \"contract\"` to enter its quote and \
             contract count",
            c.instrument,
            c.price_multiplier.normalize()
        ),
        _ => String::new(),
    };
    let checks = [
        (
            "korea_entry",
            p.korea.entry_price,
            market.korea,
            format!("{} {}, KRW per coin", p.pair.korea, p.coin),
            String::new(),
        ),
        (
            "foreign_entry",
            foreign_units(p.foreign.entry_price),
            market.foreign.map(foreign_units),
            foreign_what,
            foreign_hint,
        ),
        (
            "entry_usd_krw",
            p.entry_usd_krw,
            market.usd_krw.map(|(rate, _)| rate),
            market
                .usd_krw
                .map(|(_, source)| format!("USD/KRW from {source}"))
                .unwrap_or_default(),
            String::new(),
        ),
    ];
    for (field, given, market, what, hint) in checks {
        let Some(market) = market else { continue };
        if entry_deviation(given, market).is_some() {
            let times = (given.value() / market.value())
                .round_sf(3)
                .unwrap_or_default()
                .normalize();
            return Err(ApiError::bad_request(format!(
                "{field}: {} is {times} times the market price {} ({what}); entry prices more \
                 than 50 % from the market are refused as unit or typing errors{hint}",
                given.value().normalize(),
                market.value().normalize(),
            )));
        }
    }
    Ok(())
}
