//! What every test here starts from: a simulator on a local port ([`TestSim`]), its answers, and
//! reading prices and lists out of JSON.

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use domain::{Decimal, Price};
use reqwest::{Method, header::HeaderMap};
use serde_json::Value;
use sim::{SimConfig, SimHandle, spawn};

pub(crate) struct TestSim {
    pub(crate) handle: SimHandle,
    pub(crate) http: reqwest::Client,
}

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
    pub(crate) elapsed: Duration,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl TestSim {
    pub(crate) async fn start(cfg: SimConfig) -> Self {
        let handle = spawn(cfg).await.expect("simulator starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        TestSim { handle, http }
    }

    pub(crate) async fn default() -> Self {
        Self::start(SimConfig::default()).await
    }

    /// A simulator whose prices move only through `POST /_sim/advance`.
    pub(crate) async fn frozen(seed: u64) -> Self {
        Self::start(SimConfig {
            seed,
            step: Duration::ZERO,
            ..SimConfig::default()
        })
        .await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url)
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        let started = Instant::now();
        let resp = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            text,
            elapsed: started.elapsed(),
        }
    }

    /// GET that must answer 200 with JSON.
    pub(crate) async fn json(&self, path: &str) -> Value {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
        reply.json()
    }

    pub(crate) async fn control(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .request(method.clone(), self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn post_ok(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.control(Method::POST, path, body.clone()).await;
        assert_eq!(status, 200, "POST {path} {body}: {answer}");
        answer
    }

    pub(crate) async fn delete(&self, path: &str) {
        let (status, answer) = self.control(Method::DELETE, path, Value::Null).await;
        assert_eq!(status, 200, "DELETE {path}: {answer}");
    }
}

/// A JSON string or number as a decimal.
pub(crate) fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => Decimal::from_str(s).unwrap_or_else(|e| panic!("{s:?}: {e}")),
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .unwrap_or_else(|e| panic!("{n}: {e}")),
        other => panic!("not a price: {other}"),
    }
}

pub(crate) fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer)
        .unwrap_or_else(|| panic!("no `{pointer}` in {v}"))
}

pub(crate) fn price(v: &Value, pointer: &str) -> Price {
    Price::new(dec(at(v, pointer))).unwrap_or_else(|e| panic!("{pointer}: {e}"))
}

pub(crate) fn rows(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

pub(crate) fn strs(v: &Value) -> Vec<String> {
    rows(v)
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// A frozen, noise-free simulator serving the realistic universe.
pub(crate) async fn realistic() -> TestSim {
    TestSim::start(SimConfig {
        seed: 7,
        step: Duration::ZERO,
        noise_pct: Decimal::ZERO,
        realistic: true,
        ..SimConfig::default()
    })
    .await
}
