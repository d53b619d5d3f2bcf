//! The ground truth `GET /_sim/universe` answers: which coins each Korean × foreign pair has in
//! common, the collisions, renames, flags, multipliers and listing counts, derived from the
//! [`ListingSet`].

use std::collections::{BTreeMap, BTreeSet};

use domain::{Region, Venue};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::listing_set::ListingSet;

impl ListingSet {
    /// Korean coins whose ticker a foreign venue uses for a different asset.
    fn collisions(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for k in Venue::ALL
            .into_iter()
            .filter(|v| v.region() == Region::Korea)
        {
            for l in self.listings(k) {
                let clash = Venue::ALL
                    .into_iter()
                    .filter(|v| v.region() == Region::Foreign)
                    .any(|f| {
                        self.listings(f)
                            .iter()
                            .any(|x| x.coin == l.coin && x.asset != l.asset)
                    });
                if clash {
                    out.insert(l.coin.clone());
                }
            }
        }
        out
    }

    /// `GET /_sim/universe`.
    pub(crate) fn truth(&self) -> Value {
        let mut pairs = serde_json::Map::new();
        for k in [Venue::Upbit, Venue::Bithumb] {
            for f in [Venue::Binance, Venue::Bybit, Venue::Okx] {
                let foreign: BTreeSet<&str> = self
                    .listings(f)
                    .iter()
                    .filter(|l| l.status.trading())
                    .map(|l| l.asset.as_str())
                    .collect();
                let coins: BTreeSet<&str> = self
                    .listings(k)
                    .iter()
                    .filter(|l| l.status.trading() && l.coin == l.asset)
                    .filter(|l| foreign.contains(l.asset.as_str()))
                    .map(|l| l.coin.as_str())
                    .collect();
                pairs.insert(format!("{k}-{f}"), json!(coins));
            }
        }
        let mut multiplied = serde_json::Map::new();
        for f in [Venue::Binance, Venue::Bybit, Venue::Okx] {
            let m: BTreeMap<&str, String> = self
                .listings(f)
                .iter()
                .filter(|l| l.mult != Decimal::ONE)
                .map(|l| (l.coin.as_str(), l.mult.normalize().to_string()))
                .collect();
            multiplied.insert(f.to_string(), json!(m));
        }
        let contract_values: BTreeMap<&str, String> = self
            .listings(Venue::Okx)
            .iter()
            .filter(|l| l.ct_val >= Decimal::from(1_000))
            .map(|l| (l.coin.as_str(), l.ct_val.normalize().to_string()))
            .collect();
        let counts: BTreeMap<&str, usize> = Venue::ALL
            .into_iter()
            .map(|v| (v.as_str(), self.listings(v).len()))
            .collect();
        json!({
            "realistic": self.realistic,
            "pairs": pairs,
            "collisions": self.collisions(),
            "renamed": self.renamed,
            "flagged": self.flagged,
            "illiquid": self.illiquid.keys().collect::<Vec<_>>(),
            "multiplied": multiplied,
            "contract_values": {"okx": contract_values},
            "listings": counts,
        })
    }
}
