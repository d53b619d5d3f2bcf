//! Upbit (`https://api.upbit.com`): the `/v1` ticker and order book API. Every answer carries
//! `remaining-req: group=<ticker|orderbook|market>; min=600; sec=9`.

use domain::Venue;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, http::HeaderValue};

use super::{fields::Routes, korean_v1};

pub(super) fn routes() -> Routes {
    korean_v1::routes()
        .data(Venue::Upbit)
        .around(|ep, req: Request| async move {
            let group = match req.uri().path() {
                p if p.ends_with("/orderbook") => "orderbook",
                p if p.contains("/market/") => "market",
                _ => "ticker",
            };
            let mut resp = ep.call(req).await?.into_response();
            let value = format!("group={group}; min=600; sec=9");
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert("remaining-req", v);
            }
            Ok(resp)
        })
        .map_to_response()
        .boxed()
}
