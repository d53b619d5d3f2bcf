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
async fn a_60_s_postgres_outage_loses_no_history_row_and_live_premiums_keep_flowing() {
    let _heavy = crate::support::HEAVY.lock().await;
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
    tokio::time::sleep(Duration::from_secs(54)).await;
    let spooled = env.counter("history_rows_spooled:premiums").await;
    assert!(spooled > 0, "rows are spooled during the outage");
    let spool_len: u64 = redis::cmd("XLEN")
        .arg(env.keys().history_spool())
        .query_async(&mut env.conn.clone())
        .await
        .unwrap();
    let spool_bytes: u64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(env.keys().history_spool())
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut env.conn.clone())
        .await
        .unwrap();
    let ticker_rows = env.counter("history_rows_spooled:tickers").await;
    // The memory figure of docs/history.md: bytes per spooled row, measured on the stream.
    println!(
        "spool after 60 s: {spool_len} entries, {spooled} premium rows + {ticker_rows} ticker rows, \
         {spool_bytes} bytes ({:.0} bytes per row)",
        spool_bytes as f64 / (spooled + ticker_rows).max(1) as f64
    );

    // PostgreSQL back: the spool drains by itself, without restarting the worker.
    proxy.restore();
    let restored_at = Utc::now();
    eventually(Duration::from_secs(30), "the spool drained", || async {
        let n: u64 = redis::cmd("XLEN")
            .arg(env.keys().history_spool())
            .query_async(&mut env.conn.clone())
            .await
            .unwrap();
        (n == 0).then_some(())
    })
    .await;
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

    // Every tick of the outage whose compute-premium succeeded has exactly one row per tracked
    // (coin, pair): the worker's coins × pairs.
    let per_tick = env.settings.coins.to_string().split(',').count() * env.settings.pairs.len();
    let records = env.records();
    let (from, to) = (cut_at.timestamp(), restored_at.timestamp());
    let mut checked = 0;
    for tick in from..=to {
        let id = queue::Job::for_tick(domain::JobKind::ComputePremium, None, tick).id;
        let Some(rec) = records.get(&id).await.unwrap() else {
            continue;
        };
        if rec.state != domain::JobState::Done {
            continue;
        }
        let summary = rec.summary.unwrap_or_default();
        let computed: usize = summary
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert_eq!(computed, per_tick, "tick {tick}: {summary}");
        let (rows, distinct): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(DISTINCT (coin_id, korea_venue, foreign_venue))
               FROM premiums WHERE ts = to_timestamp($1)",
        )
        .bind(tick as f64)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(
            (rows, distinct),
            (per_tick as i64, per_tick as i64),
            "tick {tick}"
        );
        checked += 1;
    }
    assert!(checked >= 55, "only {checked} ticks of the outage computed");
    for table in ["premiums", "tickers", "fx_rates"] {
        assert_eq!(
            env.counter(&format!("history_rows_lost:{table}")).await,
            0,
            "{table}"
        );
        assert_eq!(
            env.counter(&format!("history_rows_replayed:{table}")).await,
            env.counter(&format!("history_rows_spooled:{table}")).await,
            "{table}"
        );
    }
    assert!(env.counter("history_rows_spooled:tickers").await > 0);
    // Tickers: every row of every fetch-ticker job of the outage is stored.
    let mut fetched = 0i64;
    for tick in from..=to {
        for venue in &env.settings.venues {
            let id = queue::Job::for_tick(domain::JobKind::FetchTicker, Some(*venue), tick).id;
            if let Some(rec) = records.get(&id).await.unwrap()
                && rec.state == domain::JobState::Done
            {
                let s = rec.summary.unwrap_or_default();
                fetched += s
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse::<i64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tickers WHERE fetched_at >= to_timestamp($1) AND fetched_at < to_timestamp($2)",
    )
    .bind(from as f64)
    .bind((to + 1) as f64)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(
        stored >= fetched,
        "{stored} ticker rows stored of {fetched} fetched"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_stopped_the_api_answers_503_json_within_a_second_and_recovers() {
    let mut redis = OwnRedis::start();
    let mut env = TestEnv::new(sim_cfg(), |_| {}).await;
    Arc::get_mut(&mut env.settings).unwrap().redis_url = redis.url();
    let worker = env.spawn_worker().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, server) = env.start_api(listener).await;
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
