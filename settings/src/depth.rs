//! Order-book depth (`[depth]`): the coins whose books are fetched every tick, and the slippage
//! that bounds the largest size.

use domain::{Coin, Decimal};
use serde::{Deserialize, Serialize};

use crate::error::{SettingsError, invalid};

/// Order-book depth (`[depth]`): the coins whose books are fetched every tick for premiums at a
/// size, and the slippage that bounds the largest size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepthSettings {
    #[serde(with = "crate::list")]
    pub coins: Vec<Coin>,
    /// The largest size is the one whose entry rate stays within this many basis points of the
    /// top-of-book entry rate.
    pub slippage_bp: Decimal,
}

impl Default for DepthSettings {
    fn default() -> Self {
        DepthSettings {
            coins: ["BTC", "ETH", "XRP"]
                .iter()
                .map(|c| Coin::parse(c).expect("valid default coin"))
                .collect(),
            slippage_bp: Decimal::new(10, 0),
        }
    }
}

impl DepthSettings {
    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if self.slippage_bp <= Decimal::ZERO {
            return invalid("depth.slippage_bp must be positive (basis points)");
        }
        Ok(())
    }
}
