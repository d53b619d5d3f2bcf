//! Faults: Redis restart and PostgreSQL outage while the pipeline runs.

use std::{sync::Arc, time::Duration};

use cache::Cache;
use chrono::Utc;
use domain::{Coin, Venue, VenuePair};
use redis::AsyncCommands;

use crate::{
    faults::{CuttableProxy, OwnRedis},
    support::{TestEnv, eventually},
};

fn sim_cfg() -> sim::SimConfig {
    sim::SimConfig {
        extra_coins: 10,
        ..Default::default()
    }
}

/// The newest premium's computation time.
async fn computed_at(cache: &Cache) -> Option<chrono::DateTime<Utc>> {
    let pair = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
    cache
        .premium(&Coin::parse("ETH").unwrap(), pair)
        .await
        .ok()
        .flatten()
        .map(|p| p.computed_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_recovers_by_itself_after_redis_restarts_empty() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let mut env = TestEnv::new(sim_cfg(), |_| {}).await;
    Arc::get_mut(&mut env.settings).unwrap().redis_url = url.clone();
    let worker = env.spawn_worker().await;
    let conn = keyspace::connect_redis(&url, Duration::from_secs(1))
        .await
        .unwrap();
    let cache = Cache::new(conn.clone(), &env.settings);
    let before = eventually(
        Duration::from_secs(15),
        "premiums before the restart",
        || async { computed_at(&cache).await },
    )
    .await;

    // Redis dies (SIGKILL) and comes back 3 s later with nothing in it: queues, cache, FX and
    // worker registrations are gone.
    redis.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.restart();
    let restarted = Utc::now();

    // Without restarting the worker and without anybody triggering anything, fresh premiums
    // flow again: compute-premium finds no FX rate, enqueues fetch-fx and meanwhile uses the
    // newest rate stored in PostgreSQL.
    let after = eventually(
        Duration::from_secs(10),
        "premiums after the restart",
        || async { computed_at(&cache).await.filter(|t| *t > restarted) },
    )
    .await;
    assert!(after > before);
    let _: () = conn.clone().flushall().await.unwrap_or(());
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_does_not_stop_live_premiums_and_lost_history_is_counted() {
    let proxy = CuttableProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let mut env = TestEnv::new(sim_cfg(), |_| {}).await;
    // Create the database directly, then send the worker through the proxy.
    let store = env.store().await;
    let proxied = env
        .database_url
        .replace("127.0.0.1:5432", &proxy.addr.to_string());
    Arc::get_mut(&mut env.settings).unwrap().database_url = proxied;
    let worker = env.spawn_worker().await;
    let cache = env.cache();
    let pair = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
    let eth = Coin::parse("ETH").unwrap();
    eventually(
        Duration::from_secs(15),
        "history rows before the outage",
        || async {
            let n = store
                .premium_rows(
                    &eth,
                    pair,
                    Utc::now() - chrono::Duration::minutes(1),
                    Utc::now(),
                )
                .await
                .unwrap()
                .len();
            (n >= 2).then_some(())
        },
    )
    .await;

    proxy.cut();
    let cut_at = Utc::now();
    // Live premiums keep coming from Redis while PostgreSQL is unreachable.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let latest = computed_at(&cache)
        .await
        .expect("a live premium during the outage");
    assert!(
        latest > cut_at + chrono::Duration::seconds(3),
        "premium stalled at {latest}"
    );
    let lost: Option<i64> = env
        .conn
        .clone()
        .hget(env.keys().counters(), "history_rows_lost:premiums")
        .await
        .unwrap();
    assert!(lost.unwrap_or(0) > 0, "lost history rows are counted");

    // History resumes when PostgreSQL is back, without restarting the worker.
    proxy.restore();
    let restored_at = Utc::now();
    eventually(
        Duration::from_secs(20),
        "history rows after the outage",
        || async {
            let rows = store
                .premium_rows(
                    &eth,
                    pair,
                    restored_at,
                    Utc::now() + chrono::Duration::seconds(5),
                )
                .await
                .unwrap();
            (!rows.is_empty()).then_some(())
        },
    )
    .await;
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_stopped_the_api_answers_503_json_within_a_second_and_recovers() {
    let mut redis = OwnRedis::start();
    let mut env = TestEnv::new(sim_cfg(), |_| {}).await;
    Arc::get_mut(&mut env.settings).unwrap().redis_url = redis.url();
    let worker = env.spawn_worker().await;
    let state = api::AppState::connect(env.settings.clone(), None)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let get = |path: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let started = std::time::Instant::now();
            let r = http.get(format!("{base}{path}")).send().await.unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body, started.elapsed())
        }
    };
    eventually(Duration::from_secs(15), "a premium served", || async {
        (get("/api/v1/premiums/BTC").await.0 == 200).then_some(())
    })
    .await;

    redis.kill();
    for path in [
        "/api/v1/premiums/BTC",
        "/api/v1/premiums",
        "/api/v1/jobs/stats",
    ] {
        let (status, body, took) = get(path).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(body["code"], "unavailable", "{path}: {body}");
        assert!(took < Duration::from_secs(1), "{path} took {took:?}");
    }
    redis.restart();
    // Same API process: it reconnects by itself and serves again once the worker has refilled
    // the (empty) cache.
    // Nobody triggers anything: the pipeline refills FX by itself.
    eventually(Duration::from_secs(15), "premiums served again", || async {
        (get("/api/v1/premiums/BTC").await.0 == 200).then_some(())
    })
    .await;
    let _ = stop.send(());
    let _ = server.await;
    worker.stop().await;
    env.cleanup().await;
}
