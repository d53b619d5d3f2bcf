//! The admin bearer token: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time
//! with `settings.admin_token`. The token is never logged nor echoed in an answer.

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use subtle::ConstantTimeEq;

use crate::{
    error::{ADMIN_DISABLED, ApiError, ErrorCode},
    state::AppState,
};

/// Admin operations (manual triggers, retries, opening and closing positions) need the
/// server's `ADMIN_TOKEN` as a bearer token.
#[derive(SecurityScheme)]
#[oai(rename = "AdminToken", ty = "bearer", checker = "check_admin")]
pub struct AdminAuth(());

async fn check_admin(req: &Request, bearer: Bearer) -> poem::Result<()> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "application state is missing"))?;
    match state.settings.admin_token.as_ref() {
        None => Err(ApiError::new(ErrorCode::Unauthorized, ADMIN_DISABLED).into()),
        Some(token) if bool::from(token.expose().as_bytes().ct_eq(bearer.token.as_bytes())) => {
            Ok(())
        }
        Some(_) => Err(ApiError::new(ErrorCode::Unauthorized, "invalid admin token").into()),
    }
}
