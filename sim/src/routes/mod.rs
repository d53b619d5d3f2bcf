//! The upstreams' request paths, one module per venue or FX provider, each mounted under its
//! prefix. Bodies keep the upstream's field names and JSON types (see
//! `shared/notes/market-apis.md`): strings where the venue sends strings, numbers where it sends
//! numbers.

use std::sync::Arc;

use domain::{FxSource, Venue};
use poem::{Endpoint, EndpointExt, Response, Route};

use crate::{faulted::Faulted, prefix::Prefix, state::Sim};

mod binance;
mod bithumb;
mod bybit;
mod dunamu;
mod erapi;
mod fields;
mod frankfurter;
mod korean_v1;
mod okx;
mod upbit;

/// Every prefix's routes behind its fault wrapper, plus the control API under `/_sim`.
pub(crate) fn build(sim: Arc<Sim>) -> impl Endpoint<Output = Response> {
    let mut route = Route::new();
    for prefix in Prefix::ALL {
        let inner = match prefix {
            Prefix::Venue(Venue::Bithumb) => bithumb::routes(),
            Prefix::Venue(Venue::Upbit) => upbit::routes(),
            Prefix::Venue(Venue::Binance) => binance::routes(),
            Prefix::Venue(Venue::Bybit) => bybit::routes(),
            Prefix::Venue(Venue::Okx) => okx::routes(),
            Prefix::Fx(FxSource::Dunamu) => dunamu::routes(),
            Prefix::Fx(FxSource::Erapi) => erapi::routes(),
            Prefix::Fx(FxSource::Frankfurter) => frankfurter::routes(),
        };
        let faulted = Faulted {
            prefix,
            inner,
            sim: sim.clone(),
        };
        route = route.nest(format!("/{prefix}"), faulted);
    }
    let bot = crate::telegram::Bot::default();
    route
        .nest("/telegram", crate::telegram::routes())
        .nest(
            "/_sim",
            crate::control::routes().nest("/telegram", crate::telegram::control_routes()),
        )
        .data(sim)
        .data(bot)
}
