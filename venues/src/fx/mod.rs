//! USD/KRW sources, one module each, all behind [`FxClient`](crate::FxClient):
//! [`dunamu`] (Hana Bank posted rate, intraday), [`erapi`] (open.er-api.com, daily) and
//! [`frankfurter`] (ECB reference rate, working days). Each rate keeps its source's own time.

pub mod dunamu;
pub mod erapi;
pub mod frankfurter;

use chrono::Utc;
use domain::{FxRate, FxSource};

use crate::wire::Quote;

fn rate(source: FxSource, q: Quote) -> FxRate {
    FxRate {
        source,
        usd_krw: q.price,
        observed_at: q.observed_at,
        fetched_at: Utc::now(),
    }
}
