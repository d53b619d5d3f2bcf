//! Premium alerts end to end: rules through the API, crossings of the simulated premium seen by
//! worker replicas, deliveries to the test's own webhook receiver (signatures checked with the
//! `hmac`/`sha2` crates here, not the project's signer) and to the simulator's fake Telegram.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine;
use hmac::{Hmac, Mac};
use redis::AsyncCommands;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{ChildGuard, TestEnv, eventually, signal};

const ADMIN: &str = "alerts-test-admin-token";
/// The alert secret key of the tests (base64 of 32 bytes).
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const TELEGRAM_TOKEN: &str = "123456:test-bot-token";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// A fresh `whsec_` secret and its key bytes.
pub(crate) fn whsec() -> (String, Vec<u8>) {
    let key: Vec<u8> = ulid::Ulid::generate()
        .to_bytes()
        .iter()
        .chain(ulid::Ulid::generate().to_bytes().iter())
        .copied()
        .collect();
    (format!("whsec_{}", b64().encode(&key)), key)
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    status: u16,
}

/// The test's webhook receiver: records every request and answers `status`.
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        use poem::{EndpointExt, Request, Response, Route, handler, http::StatusCode, web::Data};
        #[derive(Clone)]
        struct St {
            got: Arc<Mutex<Vec<Received>>>,
            status: Arc<AtomicU16>,
        }
        #[handler]
        async fn hook(req: &Request, body: poem::Body, st: Data<&St>) -> Response {
            let h = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let status = st.status.load(Ordering::SeqCst);
            let body = body.into_vec().await.unwrap_or_default();
            st.got.lock().unwrap().push(Received {
                id: h("webhook-id"),
                timestamp: h("webhook-timestamp"),
                signature: h("webhook-signature"),
                body,
                status,
            });
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .body("")
        }
        let st = St {
            got: Arc::new(Mutex::new(Vec::new())),
            status: Arc::new(AtomicU16::new(200)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Route::new().at("/hook", poem::post(hook)).data(st.clone());
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async move {
                        let _ = rx.await;
                    },
                    Some(Duration::from_secs(1)),
                )
                .await;
        });
        Receiver {
            url,
            got: st.got,
            status: st.status,
            stop: Some(tx),
        }
    }

    /// The JSON bodies received so far.
    pub(crate) fn bodies(&self) -> Vec<Value> {
        self.got()
            .iter()
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect()
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Checks a Standard Webhooks signature with an HMAC of our own.
fn verifies(r: &Received, key: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{}.{}.", r.id, r.timestamp).as_bytes());
    mac.update(&r.body);
    let expected = format!("v1,{}", b64().encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

pub(crate) fn alert_settings(s: &mut settings::Settings) {
    s.admin_token = Some(settings::Secret::new(ADMIN));
    s.alerts.secret_key = Some(settings::Secret::new(SECRET_KEY));
    s.alerts.telegram_bot_token = Some(settings::Secret::new(TELEGRAM_TOKEN));
    s.public_url = Some("https://kimp.example".into());
}

/// A quiet simulator: no noise, so the premium is what the test sets.
pub(crate) fn sim_cfg() -> sim::SimConfig {
    sim::SimConfig {
        noise_pct: domain::Decimal::ZERO,
        extra_coins: 0,
        ..Default::default()
    }
}

pub(crate) struct Api {
    pub(crate) base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    http: reqwest::Client,
}

impl Api {
    pub(crate) async fn start(env: &TestEnv) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, _server) = env.start_api(listener).await;
        Api {
            base,
            stop: Some(stop),
            http: env.http.clone(),
        }
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    pub(crate) async fn create(&self, body: Value) -> i64 {
        let (status, text) = self
            .call(reqwest::Method::POST, "/api/v1/alerts", Some(body))
            .await;
        assert_eq!(status, 201, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()["id"]
            .as_i64()
            .unwrap()
    }

    /// `GET /api/v1/alerts/{id}`: the rule with its firings, or None when it does not answer one.
    pub(crate) async fn rule(&self, id: i64) -> Option<Value> {
        let (_, text) = self
            .call(reqwest::Method::GET, &format!("/api/v1/alerts/{id}"), None)
            .await;
        serde_json::from_str(&text).ok()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub(crate) async fn set_premium(env: &TestEnv, pct: &str) {
    env.sim_post("/_sim/config", json!({"premium_pct": pct}))
        .await;
}

/// Waits until the cached BTC upbit-binance premium is on the wanted side of `level`.
async fn premium_is(env: &TestEnv, above: bool, level: f64) {
    let cache = env.cache();
    let pair = domain::VenuePair::new(domain::Venue::Upbit, domain::Venue::Binance).unwrap();
    let btc = domain::Coin::parse("BTC").unwrap();
    eventually(
        Duration::from_secs(30),
        &format!(
            "BTC premium {} {level}",
            if above { "above" } else { "below" }
        ),
        || async {
            let p = cache.premium(&btc, pair).await.ok()??;
            let r: f64 = p.rate.try_into().ok()?;
            (if above { r > level } else { r < level }).then_some(())
        },
    )
    .await;
}

/// Waits until the rule's armed state for BTC says armed again (the premium came back).
async fn rearmed(env: &TestEnv, rule: i64) {
    let key = env.keys().alert_state(rule);
    eventually(Duration::from_secs(20), "the rule to re-arm", || {
        let mut conn = env.conn.clone();
        let key = key.clone();
        async move {
            let armed: Option<String> = conn.hget(key, "BTC:armed").await.ok()?;
            (armed.as_deref() == Some("1")).then_some(())
        }
    })
    .await;
}

fn data(r: &Received) -> Value {
    serde_json::from_slice::<Value>(&r.body).unwrap()["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_deliver_one_signed_webhook_per_crossing() {
    let _heavy = crate::support::HEAVY.lock().await;
    let env = TestEnv::new(sim_cfg(), alert_settings).await;
    let api = Api::start(&env).await;
    let receiver = Receiver::start().await;
    let (secret, key) = whsec();
    let workers = [
        env.spawn_worker().await,
        env.spawn_worker().await,
        env.spawn_worker().await,
    ];
    env.wait_for_workers(3).await;
    premium_is(&env, false, 2.0).await;
    let rule = api
        .create(json!({
            "coin": "BTC", "pair": "upbit-binance", "metric": "rate", "op": "above",
            "threshold": "2.5", "cooldown": 1,
            "target": {"webhook": {"url": receiver.url, "secret": secret}}
        }))
        .await;
    rearmed_or_new(&env, rule).await;

    for crossing in 1..=2usize {
        set_premium(&env, "3.0").await;
        eventually(
            Duration::from_secs(30),
            &format!("webhook of crossing {crossing}"),
            || async {
                let ids: BTreeSet<String> = receiver.got().into_iter().map(|r| r.id).collect();
                (ids.len() >= crossing).then_some(())
            },
        )
        .await;
        set_premium(&env, "1.5").await;
        premium_is(&env, false, 2.0).await;
        rearmed(&env, rule).await;
    }
    // Several more ticks below the threshold: nothing else may arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let got = receiver.got();
    let ids: BTreeSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "one webhook-id per crossing: {ids:?}");
    assert_eq!(got.len(), 2, "each crossing delivered once: {got:?}");
    for r in &got {
        assert!(verifies(r, &key), "signature of {} verifies", r.id);
        let d = data(r);
        assert_eq!(d["coin"], "BTC");
        assert_eq!(d["pair"], "upbit-binance");
        assert_eq!(d["metric"], "rate");
        assert_eq!(d["threshold"], "2.5");
        let v: f64 = d["value"].as_str().unwrap().parse().unwrap();
        assert!(v >= 2.5, "fired at {v}");
        assert!(d["inputs"]["usd_krw"].is_string() && d["inputs"]["fx_source"].is_string());
        assert_eq!(
            d["link"],
            "https://kimp.example/?coin=BTC&pair=upbit-binance"
        );
        assert!(
            d["text"]
                .as_str()
                .unwrap()
                .starts_with("BTC rate above 2.5 %")
        );
    }
    // A wrong key does not verify (the check can fail).
    assert!(!verifies(&got[0], b"another key entirely, 32 bytes!!"));

    // The rule shows its firings, delivered.
    let (status, text) = api
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/alerts/{rule}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let view: Value = serde_json::from_str(&text).unwrap();
    let firings = view["firings"].as_array().unwrap();
    assert_eq!(firings.len(), 2, "{view}");
    assert!(firings.iter().all(|f| f["state"] == "delivered"), "{view}");
    assert!(!text.contains(&secret[6..]), "the secret is never returned");

    for w in workers {
        w.stop().await;
    }
    drop(api);
    env.cleanup().await;
}

/// A new rule starts armed; wait until the workers have loaded it (a first evaluation).
async fn rearmed_or_new(env: &TestEnv, rule: i64) {
    let key = env.keys().alert_state(rule);
    eventually(Duration::from_secs(20), "the rule to be evaluated", || {
        let mut conn = env.conn.clone();
        let key = key.clone();
        async move {
            let armed: Option<String> = conn.hget(key, "BTC:armed").await.ok()?;
            armed.map(|_| ())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_down_for_20_s_with_its_worker_killed_is_delivered_later_with_the_same_id() {
    let _heavy = crate::support::HEAVY.lock().await;
    let env = TestEnv::new(sim_cfg(), |s| {
        alert_settings(s);
        s.retry.deliver_alert = settings::RetryPolicy {
            max_attempts: 30,
            // The first wait is 1–2 s: a durable retry (a task scheduled in Redis), not one in place.
            base_ms: 2_000,
            cap_ms: 4_000,
        };
    })
    .await;
    let api = Api::start(&env).await;
    let receiver = Receiver::start().await;
    receiver.status.store(503, Ordering::SeqCst);
    let (secret, key) = whsec();
    let mut children: Vec<ChildGuard> = (0..3)
        .map(|_| ChildGuard(env.spawn_worker_process()))
        .collect();
    env.wait_for_workers(3).await;
    premium_is(&env, false, 2.0).await;
    let rule = api
        .create(json!({
            "coin": "BTC", "pair": "upbit-binance", "metric": "rate", "op": "above",
            "threshold": "2.5",
            "target": {"webhook": {"url": receiver.url, "secret": secret}}
        }))
        .await;
    rearmed_or_new(&env, rule).await;
    set_premium(&env, "3.0").await;

    // The first attempt fails (503): its record names the worker that ran it.
    let first = eventually(
        Duration::from_secs(30),
        "a first failed attempt",
        || async { receiver.got().first().cloned() },
    )
    .await;
    let down_until = Instant::now() + Duration::from_secs(20);
    let record = crate::support::job_reaches(
        &env,
        &first.id,
        domain::JobState::Scheduled,
        Duration::from_secs(10),
    )
    .await;
    let worker = record
        .worker
        .clone()
        .expect("the attempt's worker is recorded");
    let victim = children
        .iter()
        .position(|c| worker.contains(&format!("-{}-", c.id())))
        .unwrap_or_else(|| panic!("worker {worker} is one of the children"));
    signal(&children[victim], "KILL");
    let _ = children[victim].wait();
    children.remove(victim);

    tokio::time::sleep(down_until.saturating_duration_since(Instant::now())).await;
    receiver.status.store(200, Ordering::SeqCst);
    let delivered = eventually(
        Duration::from_secs(30),
        "the delivery after the receiver returned",
        || async { receiver.got().into_iter().find(|r| r.status == 200) },
    )
    .await;
    let done = crate::support::job_reaches(
        &env,
        &first.id,
        domain::JobState::Done,
        Duration::from_secs(10),
    )
    .await;

    let got = receiver.got();
    let ids: BTreeSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        1,
        "every attempt carries the same webhook-id: {ids:?}"
    );
    assert_eq!(delivered.id, first.id);
    assert!(got.len() >= 3, "retried while down: {} attempts", got.len());
    assert_eq!(
        got.iter().filter(|r| r.status == 200).count(),
        1,
        "delivered once"
    );
    assert!(got.iter().all(|r| verifies(r, &key)));
    assert_eq!(
        data(&delivered),
        data(&first),
        "the same message every attempt"
    );
    assert_ne!(done.worker.as_deref(), Some(worker.as_str()));

    drop(children);
    drop(api);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_premium_oscillating_around_the_threshold_fires_once_per_cooldown() {
    let _heavy = crate::support::HEAVY.lock().await;
    let env = TestEnv::new(sim_cfg(), alert_settings).await;
    let api = Api::start(&env).await;
    let receiver = Receiver::start().await;
    let (secret, _) = whsec();
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    // Start well below (both rules armed), then oscillate ±0.1 around the threshold.
    set_premium(&env, "2.0").await;
    premium_is(&env, false, 2.1).await;
    // Default hysteresis (0.2): ±0.1 never re-arms it. A tiny hysteresis: cooldown bounds it.
    let sticky = api
        .create(json!({
            "coin": "BTC", "pair": "upbit-binance", "metric": "rate", "op": "above",
            "threshold": "2.5", "cooldown": 4,
            "target": {"webhook": {"url": receiver.url, "secret": secret}}
        }))
        .await;
    let loose = api
        .create(json!({
            "coin": "BTC", "pair": "upbit-binance", "metric": "rate", "op": "above",
            "threshold": "2.5", "hysteresis": "0.05", "cooldown": 4,
            "target": {"webhook": {"url": receiver.url, "secret": secret}}
        }))
        .await;
    rearmed(&env, sticky).await;
    rearmed(&env, loose).await;

    let started = Instant::now();
    let mut high = true;
    while started.elapsed() < Duration::from_secs(14) {
        set_premium(&env, if high { "2.6" } else { "2.4" }).await;
        high = !high;
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    }
    set_premium(&env, "2.4").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The cooldown runs on the tick clock (the firing's `tick`), like the ticks themselves.
    let mut by_rule: BTreeMap<i64, Vec<(String, f64)>> = BTreeMap::new();
    for r in receiver.got() {
        let d = data(&r);
        by_rule
            .entry(d["rule_id"].as_i64().unwrap())
            .or_default()
            .push((r.id.clone(), d["tick"].as_i64().unwrap() as f64));
    }
    let sticky_firings = by_rule.get(&sticky).cloned().unwrap_or_default();
    assert_eq!(
        sticky_firings.len(),
        1,
        "±0.1 inside the 0.2 hysteresis fires once: {sticky_firings:?}"
    );
    let mut loose_firings = by_rule.get(&loose).cloned().unwrap_or_default();
    loose_firings.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert!(
        loose_firings.len() >= 2,
        "re-armed each swing, it fires again after its cooldown: {loose_firings:?}"
    );
    for w in loose_firings.windows(2) {
        assert!(
            w[1].1 - w[0].1 >= 4.0,
            "two firings within the 4 s cooldown: {loose_firings:?}"
        );
    }
    let ticks_high = 7;
    assert!(
        loose_firings.len() < ticks_high,
        "not every tick: {loose_firings:?}"
    );

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_rules_are_validated_field_by_field_and_secrets_never_come_back() {
    let env = TestEnv::new(sim_cfg(), alert_settings).await;
    let api = Api::start(&env).await;
    let (secret, _) = whsec();
    let good = json!({
        "coin": "BTC", "pair": "upbit-binance", "metric": "rate", "op": "above",
        "threshold": "3.0",
        "target": {"webhook": {"url": "https://hooks.example.com/p?token=abc", "secret": secret}}
    });
    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    let cases = [
        (with("coin", json!("bt c")), "coin"),
        (with("pair", json!("upbit-nowhere")), "pair"),
        (with("pair", json!("bithumb-okx")), "pair"),
        (with("metric", json!("price")), "metric"),
        (with("op", json!("sideways")), "op"),
        (with("threshold", json!(3.0)), "threshold"),
        (with("threshold", json!("three")), "threshold"),
        (with("hysteresis", json!("-1")), "hysteresis"),
        (with("cooldown", json!(10_000_000)), "cooldown"),
        (with("language", json!("fr")), "language"),
        (with("target", json!({})), "target"),
        (
            with(
                "target",
                json!({"webhook": {"url": "ftp://x", "secret": secret}}),
            ),
            "target.webhook.url",
        ),
        (
            with(
                "target",
                json!({"webhook": {"url": "https://x.example", "secret": "hunter2"}}),
            ),
            "target.webhook.secret",
        ),
        (
            with("target", json!({"telegram": {"chat_id": "not a chat"}})),
            "target.telegram.chat_id",
        ),
    ];
    for (body, field) in cases {
        let (status, text) = api
            .call(reqwest::Method::POST, "/api/v1/alerts", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {text}");
        let msg = serde_json::from_str::<Value>(&text).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(msg.starts_with(&format!("{field}: ")), "{field}: {msg}");
        assert!(!msg.contains("hunter2") && !msg.contains(&secret[6..]));
    }
    // A coin the pair does not track is refused (it would never fire), with why; this needs the
    // market registry a worker puts in force.
    let worker = env.spawn_worker().await;
    premium_is(&env, false, 2.0).await;
    for (coin, why) in [
        ("NOPE", "is not tracked on upbit-binance"),
        ("BTCC", "BTC"), // the closest known name is offered
    ] {
        let body = with("coin", json!(coin));
        let (status, text) = api
            .call(reqwest::Method::POST, "/api/v1/alerts", Some(body))
            .await;
        assert_eq!(status, 400, "{coin}: {text}");
        let msg = serde_json::from_str::<Value>(&text).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            msg.starts_with("coin: ") && msg.contains(why),
            "{coin}: {msg}"
        );
    }
    // Admin only.
    let r = env
        .http
        .get(format!("{}/api/v1/alerts", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let id = api.create(good.clone()).await;
    let tg = api
        .create(json!({
            "coin": "*", "pair": "upbit-binance", "metric": "usdt_rate", "op": "below",
            "threshold": "-1", "language": "ko", "target": {"telegram": {"chat_id": "-100123"}}
        }))
        .await;
    let (status, list) = api.call(reqwest::Method::GET, "/api/v1/alerts", None).await;
    assert_eq!(status, 200);
    let (_, one) = api
        .call(reqwest::Method::GET, &format!("/api/v1/alerts/{id}"), None)
        .await;
    for text in [&list, &one] {
        assert!(
            !text.contains(&secret[6..]) && !text.contains("whsec_"),
            "{text}"
        );
        assert!(
            !text.contains("token=abc"),
            "the URL's query is not shown: {text}"
        );
    }
    let view: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(view["target"]["webhook"]["secret_set"], true);
    assert_eq!(view["hysteresis"], "0.2");
    assert_eq!(view["cooldown"], 300);
    let listed: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(listed["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(listed["alerts"][1]["coin"], "*");
    assert_eq!(
        listed["alerts"][1]["target"]["telegram"]["chat_id"],
        "-100123"
    );

    // Stored encrypted: the database row holds neither the secret nor its key.
    let store = env.store().await;
    let raw: Vec<u8> = sqlx::query_scalar("SELECT webhook_secret FROM alert_rules WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let key_b64 = &secret.as_bytes()[6..];
    assert!(!raw.windows(6).any(|w| w == b"whsec_"));
    assert!(!raw.windows(key_b64.len()).any(|w| w == key_b64));

    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/alerts/{tg}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, text) = api
        .call(reqwest::Method::GET, &format!("/api/v1/alerts/{tg}"), None)
        .await;
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("alert_not_found"));

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn telegram_alerts_go_through_the_fake_bot_api_and_a_bad_token_is_a_visible_permanent_error()
{
    let _heavy = crate::support::HEAVY.lock().await;
    let env = TestEnv::new(sim_cfg(), |s| {
        alert_settings(s);
        s.alerts.telegram_bot_token = Some(settings::Secret::new(sim::telegram::DEFAULT_TOKEN));
        s.alerts.language = domain::Language::Ko;
        s.retry.deliver_alert = settings::RetryPolicy {
            max_attempts: 6,
            base_ms: 200,
            cap_ms: 400,
        };
    })
    .await;
    let api = Api::start(&env).await;
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    premium_is(&env, false, 2.0).await;
    // Telegram is down for the first two calls: the delivery is retried.
    env.sim_post(
        "/_sim/telegram",
        json!({"fail_status": 503, "fail_count": 2}),
    )
    .await;
    let rule = api
        .create(json!({
            "coin": "BTC", "pair": "upbit-binance", "metric": "rate", "op": "above",
            "threshold": "2.5", "cooldown": 1, "target": {"telegram": {"chat_id": "-100777"}}
        }))
        .await;
    rearmed(&env, rule).await;
    set_premium(&env, "3.0").await;
    let sent = eventually(Duration::from_secs(30), "a Telegram message", || async {
        let m = env.sim_get("/_sim/telegram/messages").await;
        m["messages"].as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["chat_id"], "-100777");
    let text = sent[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("BTC 김치 프리미엄 2.5 % 이상: 현재 "),
        "{text}"
    );
    assert!(
        text.contains("환율") && text.contains("https://kimp.example/?coin=BTC&pair=upbit-binance")
    );

    // The bot token is wrong: the delivery fails at once (not retried), and says why.
    env.sim_post(
        "/_sim/telegram",
        json!({"valid_token": "654321:another-token"}),
    )
    .await;
    set_premium(&env, "1.5").await;
    premium_is(&env, false, 2.0).await;
    rearmed(&env, rule).await;
    set_premium(&env, "3.0").await;
    let failed = eventually(Duration::from_secs(30), "the failed delivery", || async {
        let v = api.rule(rule).await?;
        v["firings"]
            .as_array()?
            .iter()
            .find(|f| f["state"] == "failed")
            .cloned()
    })
    .await;
    let error = failed["last_error"].as_str().unwrap();
    assert!(
        error.contains("Telegram refused the bot token (HTTP 401"),
        "{error}"
    );
    assert!(!error.contains(sim::telegram::DEFAULT_TOKEN));
    assert_eq!(failed["attempts"], 1, "a bad token is permanent: {failed}");
    let job = failed["job_id"].as_str().unwrap();
    let (status, record) = api
        .call(reqwest::Method::GET, &format!("/api/v1/jobs/{job}"), None)
        .await;
    assert_eq!(status, 200, "{record}");
    let record: Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["state"], "failed", "{record}");
    assert_eq!(record["kind"], "deliver-alert");
    let m = env.sim_get("/_sim/telegram/messages").await;
    assert_eq!(m["messages"].as_array().unwrap().len(), 1);
    assert_eq!(m["unauthorized"], 1);

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_answering_410_gone_disables_its_rule() {
    let env = TestEnv::new(sim_cfg(), alert_settings).await;
    let api = Api::start(&env).await;
    let receiver = Receiver::start().await;
    receiver.status.store(410, Ordering::SeqCst);
    let (secret, _) = whsec();
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    premium_is(&env, false, 2.0).await;
    let rule = api
        .create(json!({
            "coin": "BTC", "pair": "upbit-binance", "metric": "rate", "op": "above",
            "threshold": "2.5", "cooldown": 0,
            "target": {"webhook": {"url": receiver.url, "secret": secret}}
        }))
        .await;
    rearmed(&env, rule).await;
    set_premium(&env, "3.0").await;
    let view = eventually(Duration::from_secs(30), "the rule disabled", || async {
        let v = api.rule(rule).await?;
        v["disabled_at"].is_string().then_some(v)
    })
    .await;
    assert!(
        view["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410 Gone"),
        "{view}"
    );
    assert_eq!(view["firings"][0]["state"], "failed", "{view}");
    // Disabled: it fires no more, however often the premium crosses again.
    set_premium(&env, "1.5").await;
    premium_is(&env, false, 2.0).await;
    set_premium(&env, "3.0").await;
    premium_is(&env, true, 2.6).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.got().len(), 1, "one attempt, then nothing");

    worker.stop().await;
    drop(api);
    env.cleanup().await;
}
