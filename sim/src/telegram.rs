//! A fake Telegram Bot API: `POST /telegram/bot<token>/sendMessage` as Telegram answers it,
//! recording every message it accepts, with failures on demand. Controlled under
//! `/_sim/telegram` (see the crate docs).
//!
//! Telegram's answers: `{"ok":true,"result":{"message_id","date","chat":{"id"},"text"}}`; an
//! unknown token is HTTP 401 `{"ok":false,"error_code":401,"description":"Unauthorized"}`; a
//! missing chat or text is 400 `Bad Request: …`; flood control is 429 with
//! `parameters.retry_after` (and, here, a `Retry-After` header too).

use std::sync::{Arc, Mutex};

use poem::{
    Response, Route, handler,
    http::StatusCode,
    web::{Data, Json, Path},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::reply::json_response;

/// The token the fake Bot API accepts until `POST /_sim/telegram {"valid_token": …}` changes it.
pub const DEFAULT_TOKEN: &str = "123456:test-bot-token";

/// A message the fake Bot API accepted.
#[derive(Debug, Clone)]
struct Sent {
    message_id: u64,
    chat_id: String,
    text: String,
    date: i64,
}

#[derive(Debug)]
struct State {
    valid_token: String,
    sent: Vec<Sent>,
    /// The next `fail_count` calls answer `fail_status` (429 with `retry_after`).
    fail_status: u16,
    fail_count: u32,
    retry_after: u64,
    /// Calls refused for a bad token (visible to tests).
    unauthorized: u32,
    /// How long each call takes before it is answered (and its message accepted): a send in
    /// progress, for tests that stop a worker mid-send.
    latency_ms: u64,
    /// Calls received and not answered yet (visible to tests: a send in progress).
    in_flight: u32,
}

/// The fake Bot API's state, shared by its routes and the control routes.
#[derive(Clone)]
pub(crate) struct Bot(Arc<Mutex<State>>);

impl Bot {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Bot {
    fn default() -> Self {
        Bot(Arc::new(Mutex::new(State {
            valid_token: DEFAULT_TOKEN.into(),
            sent: Vec::new(),
            fail_status: 503,
            fail_count: 0,
            retry_after: 1,
            unauthorized: 0,
            latency_ms: 0,
            in_flight: 0,
        })))
    }
}

fn telegram_error(status: StatusCode, description: &str, extra: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(p) = extra {
        body["parameters"] = p;
    }
    json_response(status, &body)
}

#[handler]
async fn send_message(
    bot: Data<&Bot>,
    Path(path_bot): Path<String>,
    body: Json<Value>,
) -> Response {
    let latency = {
        let mut st = bot.state();
        st.in_flight += 1;
        st.latency_ms
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let mut st = bot.state();
    st.in_flight -= 1;
    if path_bot.strip_prefix("bot") != Some(st.valid_token.as_str()) {
        st.unauthorized += 1;
        return telegram_error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    if st.fail_count > 0 {
        st.fail_count -= 1;
        let status = StatusCode::from_u16(st.fail_status).unwrap_or(StatusCode::BAD_GATEWAY);
        if status == StatusCode::TOO_MANY_REQUESTS {
            let ra = st.retry_after;
            let mut r = telegram_error(
                status,
                &format!("Too Many Requests: retry after {ra}"),
                Some(json!({"retry_after": ra})),
            );
            r.headers_mut().insert(
                "retry-after",
                ra.to_string().parse().expect("a number is a header value"),
            );
            return r;
        }
        return telegram_error(status, "Bad Gateway", None);
    }
    let chat_id = match &body.0["chat_id"] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return telegram_error(
                StatusCode::BAD_REQUEST,
                "Bad Request: chat_id is empty",
                None,
            );
        }
    };
    let Some(text) = body.0["text"].as_str().filter(|t| !t.is_empty()) else {
        return telegram_error(
            StatusCode::BAD_REQUEST,
            "Bad Request: message text is empty",
            None,
        );
    };
    let sent = Sent {
        message_id: st.sent.len() as u64 + 1,
        chat_id,
        text: text.to_string(),
        date: chrono::Utc::now().timestamp(),
    };
    st.sent.push(sent.clone());
    json_response(
        StatusCode::OK,
        &json!({"ok": true, "result": {
            "message_id": sent.message_id,
            "date": sent.date,
            "chat": {"id": sent.chat_id},
            "text": sent.text,
        }}),
    )
}

/// The Bot API paths, mounted under `/telegram`.
pub(crate) fn routes() -> Route {
    Route::new().at("/:bot/sendMessage", poem::post(send_message))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    valid_token: Option<String>,
    fail_status: Option<u16>,
    fail_count: Option<u32>,
    retry_after: Option<u64>,
    latency_ms: Option<u64>,
}

#[handler]
fn messages(bot: Data<&Bot>) -> Response {
    let st = bot.state();
    let list: Vec<Value> = st
        .sent
        .iter()
        .map(|s| json!({"message_id": s.message_id, "chat_id": s.chat_id, "text": s.text, "date": s.date}))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"messages": list, "unauthorized": st.unauthorized, "in_flight": st.in_flight}),
    )
}

#[handler]
fn clear(bot: Data<&Bot>) -> Response {
    let mut st = bot.state();
    st.sent.clear();
    st.unauthorized = 0;
    json_response(StatusCode::OK, &json!({"cleared": true}))
}

#[handler]
fn control(bot: Data<&Bot>, body: Json<Value>) -> Response {
    let c: Control = match serde_json::from_value(body.0) {
        Ok(c) => c,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
    };
    let mut st = bot.state();
    if let Some(t) = c.valid_token {
        st.valid_token = t;
    }
    if let Some(s) = c.fail_status {
        if StatusCode::from_u16(s).is_err() || s < 400 {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "fail_status must be an HTTP error status (400–599)"}),
            );
        }
        st.fail_status = s;
    }
    if let Some(n) = c.fail_count {
        st.fail_count = n;
    }
    if let Some(r) = c.retry_after {
        st.retry_after = r;
    }
    if let Some(l) = c.latency_ms {
        st.latency_ms = l;
    }
    json_response(
        StatusCode::OK,
        &json!({"fail_status": st.fail_status, "fail_count": st.fail_count, "retry_after": st.retry_after, "latency_ms": st.latency_ms}),
    )
}

/// The control paths, mounted under `/_sim/telegram`.
pub(crate) fn control_routes() -> Route {
    Route::new()
        .at("/", poem::post(control))
        .at("/messages", poem::get(messages).delete(clear))
}
