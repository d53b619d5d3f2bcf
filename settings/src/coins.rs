//! Which coins are tracked (`coins`, `coins_exclude`, top-level fields of `Settings`): `"auto"`
//! or an explicit list, minus the exclusions. The coins this gives on each pair are computed in
//! `universe.rs`.

use domain::CoinSelection;

use crate::error::{SettingsError, invalid};

pub(crate) fn validate_selection(coins: &CoinSelection) -> Result<(), SettingsError> {
    if let CoinSelection::List(coins) = coins
        && coins.is_empty()
    {
        return invalid(
            "coins is empty: track at least one coin, e.g. coins = \"BTC,ETH\", or \"auto\"",
        );
    }
    Ok(())
}
