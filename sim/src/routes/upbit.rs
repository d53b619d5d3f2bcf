//! Upbit (`https://api.upbit.com`): the `/v1` ticker API. Every answer carries
//! `remaining-req: group=ticker; min=600; sec=9`.

use domain::Venue;
use poem::{EndpointExt, middleware::SetHeader};

use super::{Routes, korea};

pub(super) fn routes() -> Routes {
    let remaining = SetHeader::new().overriding("remaining-req", "group=ticker; min=600; sec=9");
    korea::v1_routes()
        .with(remaining)
        .data(Venue::Upbit)
        .map_to_response()
        .boxed()
}
