//! The simulated market's ground truth listing set: which venue lists which coin, under which
//! symbol, at which multiplier, in which state, and the truth `GET /_sim/universe` derives from
//! it for tests to check the app against. "Universe" here means what the simulated exchanges
//! list; it is neither the app's computation scope (`domain::selection::Scope`) nor the app's view of
//! which coins it computes (`domain::market::universe`).
//!
//! Two shapes:
//! - **basic** ([`ListingSet::basic`]): every venue lists every configured coin (BTC, ETH, XRP,
//!   SOL, DOGE, then `SIM001…`) one to one, all trading, no flags. The default, which the
//!   integration tests' fixed coin set relies on.
//! - **realistic** ([`ListingSet::realistic`], `SimConfig::realistic`): ~230 Upbit KRW markets,
//!   ~400 Bithumb, ~520 Binance perps (plus SETTLING ones), ~500 Bybit, ~250 OKX, overlapping the
//!   way real listings do (majors everywhere, a long tail listed on some venues only, Korean-only
//!   coins), built from a table of real tickers and generated ones, seeded. On top of that:
//!   multiplier contracts (`1000PEPE`, `SHIB1000`, `1MBABYDOGE`, `10000SATS`, `1000000MOG`, OKX
//!   `ctVal`), the non-multiplier `1INCH`, a ticker collision (Korean `TON` is Tokamak Network,
//!   foreign `TON` is Toncoin), a rename (`MATIC` → `POL`, Binance keeps `MATICUSDT` SETTLING),
//!   Korean coins under warning / caution / suspended deposits, a SETTLING Binance perp of a
//!   Korean-listed coin, OKX `suspend` and `preopen` rows, and illiquid Korean coins whose last
//!   trade is minutes old.
//!
//! A listing is priced from its *asset* (a coin of the price model): a foreign price is
//! `multiplier × asset price`, a Korean price is the asset's KRW price (always one coin). A
//! Korean listing whose ticker equals a foreign one but whose asset differs is a collision.
//!
//! Layout (each file uses only the ones listed before it): `data` the realistic shape's tables,
//! `listing` one instrument and its state, `listing_set` the [`ListingSet`] with its lookups and
//! listing changes (and the basic shape), `truth` the `/_sim/universe` answer, `build` the
//! realistic shape.

mod build;
mod data;
mod listing;
mod listing_set;
mod truth;

pub(crate) use listing::{CAUTION, DEPOSIT_SUSPENDED, Listing, WARNING};
pub(crate) use listing_set::{Change, ListingSet};
