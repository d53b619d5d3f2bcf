//! [`JsonBytes`]: a JSON answer already serialized, documented as its schema type.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::IntoResponse;
use poem_openapi::{
    payload::Payload,
    registry::{MetaSchemaRef, Registry},
    types::Type,
};

/// A JSON answer already serialized (and possibly compressed), documented as `T`: the premium
/// table (built once per tick and shared by every reader) and history answers (written with
/// serde straight into bytes: poem-openapi's `Json` first builds a `serde_json::Value` tree,
/// which for a long history answer would cost more than the rest of the answer).
pub struct JsonBytes<T>(pub Bytes, PhantomData<fn() -> T>);

impl<T> JsonBytes<T> {
    pub fn new(body: Bytes) -> Self {
        JsonBytes(body, PhantomData)
    }
}

impl<T: Type + Send> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + Send> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0)
    }
}
