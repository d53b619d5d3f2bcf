//! [`ListingSet`]: which venue lists which coin, under which symbol, in which state, and the
//! changes `POST /_sim/listings` makes to it. The basic shape is built here, the realistic one
//! in `build.rs`, the ground truth answer in `truth.rs`.

use std::collections::BTreeMap;

use domain::{Region, Venue};
use rust_decimal::Decimal;

use super::listing::{AssetMeta, Listing, Status, listed_ms, native_symbol, plain, title};

/// The simulated market's listings: every venue's instruments and the facts about its coins
/// (names, renames, flags, illiquidity). One per simulator, behind `Sim`'s lock.
#[derive(Debug, Clone)]
pub(crate) struct ListingSet {
    pub realistic: bool,
    /// Asset key → names; base prices live in the price model.
    pub assets: BTreeMap<String, AssetMeta>,
    pub(super) listings: BTreeMap<Venue, Vec<Listing>>,
    /// Old ticker → new ticker.
    pub renamed: BTreeMap<String, String>,
    /// Korean coin → flags ([`WARNING`](super::listing::WARNING),
    /// [`CAUTION`](super::listing::CAUTION),
    /// [`DEPOSIT_SUSPENDED`](super::listing::DEPOSIT_SUSPENDED)).
    pub flagged: BTreeMap<String, Vec<&'static str>>,
    /// Korean coin → how far its last trade lags, ms.
    pub illiquid: BTreeMap<String, i64>,
}

/// The result of `POST /_sim/listings`.
#[derive(Debug)]
pub(crate) enum Change {
    Listed(Listing),
    Delisted(Listing),
}

impl ListingSet {
    /// Every venue lists every coin of the model, one to one, trading.
    pub(crate) fn basic(coins: &[String]) -> Self {
        let mut listings = BTreeMap::new();
        for venue in Venue::ALL {
            let rows = coins
                .iter()
                .enumerate()
                .map(|(i, c)| plain(c, c, listed_ms(c, i)))
                .collect();
            listings.insert(venue, rows);
        }
        ListingSet {
            realistic: false,
            assets: coins
                .iter()
                .map(|c| {
                    let meta = AssetMeta {
                        english: c.clone(),
                        korean: c.clone(),
                    };
                    (c.clone(), meta)
                })
                .collect(),
            listings,
            renamed: BTreeMap::new(),
            flagged: BTreeMap::new(),
            illiquid: BTreeMap::new(),
        }
    }

    pub(crate) fn listings(&self, venue: Venue) -> &[Listing] {
        self.listings.get(&venue).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The listing of `venue` whose native base (or, failing that, coin) is `symbol`.
    pub(crate) fn find(&self, venue: Venue, symbol: &str) -> Option<&Listing> {
        let rows = self.listings(venue);
        rows.iter()
            .find(|l| l.native == symbol)
            .or_else(|| rows.iter().find(|l| l.coin == symbol))
    }

    pub(crate) fn meta(&self, asset: &str) -> Option<&AssetMeta> {
        self.assets.get(asset)
    }

    /// Lists `coin` on `venue` (a re-listing of a SETTLING perp trades again); the caller adds
    /// the asset to the price model when it is new.
    pub(crate) fn list(
        &mut self,
        venue: Venue,
        coin: &str,
        mult: Decimal,
    ) -> Result<Change, String> {
        let native = native_symbol(venue, coin, mult);
        let asset = self.asset_for(coin);
        let rows = self.listings.entry(venue).or_default();
        if let Some(l) = rows
            .iter_mut()
            .find(|l| l.native == native || l.coin == coin)
        {
            if l.status.trading() {
                return Err(format!("`{venue}` already lists `{}`", l.native));
            }
            l.status = Status::Trading;
            return Ok(Change::Listed(l.clone()));
        }
        let mut l = plain(&native, coin, chrono::Utc::now().timestamp_millis());
        l.asset = asset;
        l.mult = if venue == Venue::Okx || venue.region() == Region::Korea {
            Decimal::ONE
        } else {
            mult
        };
        if venue == Venue::Okx {
            l.ct_val = mult;
        }
        rows.push(l.clone());
        Ok(Change::Listed(l))
    }

    /// Delists `symbol` (native base or coin) from `venue`: Binance keeps it as SETTLING, every
    /// other venue drops it.
    pub(crate) fn delist(&mut self, venue: Venue, symbol: &str) -> Result<Change, String> {
        let rows = self.listings.entry(venue).or_default();
        let pos = rows
            .iter()
            .position(|l| l.native == symbol)
            .or_else(|| rows.iter().position(|l| l.coin == symbol))
            .ok_or_else(|| format!("`{venue}` does not list `{symbol}`"))?;
        if venue == Venue::Binance {
            if rows[pos].status == Status::Settling {
                return Err(format!("`{venue}` already delisted `{symbol}`"));
            }
            rows[pos].status = Status::Settling;
            return Ok(Change::Delisted(rows[pos].clone()));
        }
        Ok(Change::Delisted(rows.remove(pos)))
    }

    /// The asset a newly listed `coin` is: the one every other venue already prices under that
    /// ticker (a foreign one first), else a new asset of that name.
    fn asset_for(&self, coin: &str) -> String {
        for v in [
            Venue::Binance,
            Venue::Bybit,
            Venue::Okx,
            Venue::Upbit,
            Venue::Bithumb,
        ] {
            if let Some(l) = self.listings(v).iter().find(|l| l.coin == coin) {
                return l.asset.clone();
            }
        }
        coin.to_string()
    }

    /// Registers names for a new asset.
    pub(crate) fn add_asset(&mut self, key: &str) {
        self.assets
            .entry(key.to_string())
            .or_insert_with(|| AssetMeta {
                english: title(key),
                korean: title(key),
            });
    }
}
