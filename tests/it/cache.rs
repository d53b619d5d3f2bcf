//! What one computation leaves in the Redis cache, read back from the real Redis.

use std::time::Duration;

use chrono::Utc;
use domain::{Coin, JobKind, JobState, Venue, VenuePair};
use queue::{Job, PushOutcome};
use redis::AsyncCommands;

use crate::support::{TestEnv, job_reaches};

fn frozen_sim() -> sim::SimConfig {
    sim::SimConfig {
        step: Duration::ZERO,
        ..Default::default()
    }
}

/// Pushes a job of `tick` (manual: it runs now, whatever its tick) and waits until it is done.
async fn run_job(env: &TestEnv, kind: JobKind, venue: Option<Venue>, tick: i64) {
    let mut job = Job::for_tick(kind, venue, tick);
    job.manual = true;
    assert_eq!(env.enqueuer().push(&job).await.unwrap(), PushOutcome::New);
    job_reaches(env, &job.id, JobState::Done, Duration::from_secs(15)).await;
}

async fn premium_version(env: &TestEnv) -> i64 {
    env.cache()
        .premium_version()
        .await
        .unwrap()
        .map_or(0, |v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_computation_writes_its_premiums_and_skip_reasons_with_one_version_bump_and_its_history()
 {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    let fx = env
        .enqueuer()
        .trigger(JobKind::FetchFx, None)
        .await
        .unwrap();
    job_reaches(&env, &fx.id, JobState::Done, Duration::from_secs(15)).await;
    // Prices of Upbit and Binance only: upbit-binance has premiums, every other pair skips.
    let tick = Utc::now().timestamp();
    for v in [Venue::Upbit, Venue::Binance] {
        run_job(&env, JobKind::FetchTicker, Some(v), tick).await;
    }
    let before = premium_version(&env).await;
    run_job(&env, JobKind::ComputePremium, None, tick).await;
    let after = premium_version(&env).await;

    let cache = env.cache();
    let btc = Coin::parse("BTC").unwrap();
    let upbit_binance = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
    assert!(cache.premium(&btc, upbit_binance).await.unwrap().is_some());
    let mut skipped = 0;
    for pair in &env.settings.pairs {
        for coin in crate::support::DEFAULT_COINS {
            let coin = Coin::parse(coin).unwrap();
            if cache.skip(&coin, *pair).await.unwrap().is_some() {
                skipped += 1;
            }
        }
    }
    assert!(skipped > 1, "only {skipped} skip reasons were written");
    assert_eq!(
        after - before,
        1,
        "one computation ({skipped} skip reasons) bumps the premium version once"
    );
    let store = env.store().await;
    let at = chrono::DateTime::from_timestamp(tick, 0).unwrap();
    let rows = store
        .premium_rows(&btc, upbit_binance, at, at + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the tick's history row is written");
    worker.stop().await;
    env.cleanup().await;
}

/// Runs `read` with a Prometheus recorder of its own (other tests of this binary count
/// elsewhere) and returns what it read and the recorder's text.
async fn counted<T: Send + 'static>(
    read: impl std::future::Future<Output = T> + Send + 'static,
) -> (T, String) {
    tokio::task::spawn_blocking(move || {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out = metrics::with_local_recorder(&recorder, || rt.block_on(read));
        (out, handle.render())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_value_that_does_not_decode_is_counted_not_silently_missing_and_the_previous_format_still_reads()
 {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    run_job(
        &env,
        JobKind::FetchTicker,
        Some(Venue::Upbit),
        Utc::now().timestamp(),
    )
    .await;
    worker.stop().await;
    let cache = env.cache();
    let btc = Coin::parse("BTC").unwrap();
    let key = env.keys().ticker(Venue::Upbit, &btc);
    let mut conn = env.conn.clone();

    // This release's value says which format wrote it, and reads back as the simulator's price.
    let raw: String = conn.get(&key).await.unwrap();
    assert!(
        raw.starts_with(&format!("{{\"_v\":{},", cache::format::FORMAT)),
        "{raw}"
    );
    let ticker = cache.ticker(Venue::Upbit, &btc).await.unwrap().unwrap();
    let truth = env.sim_get("/upbit/v1/ticker?markets=KRW-BTC").await;
    let truth: rust_decimal::Decimal = truth[0]["trade_price"].to_string().parse().unwrap();
    assert_eq!(ticker.price.value(), truth);

    // The same value as the previous release wrote it (no `_v`) still reads.
    let mut previous: serde_json::Value = serde_json::from_str(&raw).unwrap();
    previous.as_object_mut().unwrap().remove("_v");
    let _: () = conn.set_ex(&key, previous.to_string(), 60).await.unwrap();
    assert_eq!(
        cache.ticker(Venue::Upbit, &btc).await.unwrap(),
        Some(ticker.clone())
    );
    assert_eq!(
        cache.tickers(&[(Venue::Upbit, btc.clone())]).await.unwrap(),
        [Some(ticker)]
    );

    // A value whose type changed under it reads as absent, but is counted, one by one read.
    let mut broken: serde_json::Value = serde_json::from_str(&raw).unwrap();
    broken["price"] = serde_json::json!({"was": "a decimal"});
    let _: () = conn.set_ex(&key, broken.to_string(), 60).await.unwrap();
    let reader = cache.clone();
    let coin = btc.clone();
    let ((one, many), text) = counted(async move {
        (
            reader.ticker(Venue::Upbit, &coin).await.unwrap(),
            reader
                .tickers(&[(Venue::Upbit, coin.clone())])
                .await
                .unwrap(),
        )
    })
    .await;
    assert_eq!((one, many), (None, vec![None]));
    assert!(
        text.lines()
            .any(|l| l == "premium_cache_decode_errors_total{kind=\"ticker\"} 2"),
        "{text}"
    );
    env.cleanup().await;
}
