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
    let key = env.keys().tickers(Venue::Upbit);
    let mut conn = env.conn.clone();

    // This release's value says which format wrote it, and reads back as the simulator's price.
    let raw: String = conn.hget(&key, "BTC").await.unwrap();
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
    previous.as_object_mut().unwrap().remove("_w");
    let _: () = conn.hset(&key, "BTC", previous.to_string()).await.unwrap();
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
    let _: () = conn.hset(&key, "BTC", broken.to_string()).await.unwrap();
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

fn coin(c: &str) -> Coin {
    Coin::parse(c).unwrap()
}

fn upbit_binance() -> VenuePair {
    VenuePair::new(Venue::Upbit, Venue::Binance).unwrap()
}

fn ticker(venue: Venue, c: &str, p: &str) -> domain::Ticker {
    let now = Utc::now();
    domain::Ticker {
        venue,
        coin: coin(c),
        price: domain::Price::parse(p).unwrap(),
        observed_at: now,
        fetched_at: now,
        last_trade_at: None,
        book: None,
        book_error: None,
        funding: None,
    }
}

/// A premium of `c` on upbit-binance computed now.
fn premium(c: &str) -> domain::Premium {
    let now = Utc::now();
    let price = |p: &str| domain::Price::parse(p).unwrap();
    domain::Premium::compute(
        domain::PremiumInputs {
            coin: coin(c),
            pair: upbit_binance(),
            korea_krw: price("130000000"),
            korea_price_source: domain::PriceSource::LastTrade,
            korea_trade_krw: None,
            korea_observed_at: now,
            foreign_usd: price("89000"),
            foreign_observed_at: now,
            usd_krw: price("1440"),
            fx_source: domain::FxSource::Dunamu,
            fx_observed_at: now,
            usdt_krw: None,
            usdt_observed_at: None,
            foreign_symbol: None,
            foreign_multiplier: None,
            korea_last_trade_at: None,
            korea_book: None,
            foreign_book: None,
            funding: None,
        },
        now,
    )
    .unwrap()
}

fn skip(c: &str) -> domain::SkipReason {
    domain::SkipReason {
        coin: coin(c),
        pair: upbit_binance(),
        input: domain::SkipInput::Ticker {
            venue: Venue::Upbit,
            coin: coin(c),
        },
        reason: domain::SkipCause::Missing,
        age_ms: None,
        limit_ms: None,
        at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_is_one_hash_per_venue_and_a_computation_a_few_keys_per_pair_with_one_publish() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let cache = env.cache();
    let keys = env.keys();
    let mut conn = env.conn.clone();
    let mut pubsub = redis::Client::open(crate::support::REDIS_URL)
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    pubsub.subscribe(keys.premium_channel()).await.unwrap();

    cache
        .put_tickers(&[
            ticker(Venue::Upbit, "BTC", "130000000"),
            ticker(Venue::Upbit, "ETH", "5000000"),
            ticker(Venue::Binance, "BTC", "89000"),
        ])
        .await
        .unwrap();
    cache
        .put_tick(
            &[premium("BTC"), premium("ETH")],
            &[skip("XRP"), skip("SOL")],
        )
        .await
        .unwrap();

    // The layout read back: a hash per venue and per pair, nothing per coin.
    let mut found = env.prefix_keys().await;
    found.sort();
    let p = env.prefix.as_str();
    let mut expected = vec![
        format!("{p}:tickers:upbit"),
        format!("{p}:tickers:binance"),
        format!("{p}:premiums:upbit-binance"),
        format!("{p}:premium-skips:upbit-binance"),
        format!("{p}:premium-history:upbit-binance"),
        format!("{p}:premium-version"),
    ];
    expected.sort();
    assert_eq!(found, expected);
    let upbit: Vec<String> = conn.hkeys(keys.tickers(Venue::Upbit)).await.unwrap();
    assert_eq!(upbit.len(), 2, "{upbit:?}");
    let ttl: i64 = conn.ttl(keys.tickers(Venue::Upbit)).await.unwrap();
    assert!(ttl > 0 && ttl <= 5, "the venue's hash expires: ttl {ttl}");
    let skips: Vec<String> = conn
        .hkeys(keys.premium_skips(upbit_binance()))
        .await
        .unwrap();
    assert_eq!(skips.len(), 2, "{skips:?}");
    let history: u64 = redis::cmd("XLEN")
        .arg(keys.premium_history(upbit_binance()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(history, 1, "one history entry per computation");

    // Read as before: one coin, many in order.
    let btc = cache.ticker(Venue::Upbit, &coin("BTC")).await.unwrap();
    assert_eq!(btc.unwrap().price.value().to_string(), "130000000");
    let many = cache
        .tickers(&[
            (Venue::Binance, coin("BTC")),
            (Venue::Upbit, coin("XRP")),
            (Venue::Upbit, coin("ETH")),
        ])
        .await
        .unwrap();
    let got: Vec<Option<String>> = many
        .iter()
        .map(|t| t.as_ref().map(|t| format!("{} {}", t.venue, t.coin)))
        .collect();
    assert_eq!(
        got,
        [Some("binance BTC".into()), None, Some("upbit ETH".into())]
    );

    // One message per computation, carrying its premiums.
    let mut messages = pubsub.on_message();
    let msg = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::next(&mut messages),
    )
    .await
    .expect("a premium update")
    .unwrap();
    let body: Vec<serde_json::Value> =
        serde_json::from_str(&msg.get_payload::<String>().unwrap()).unwrap();
    let coins: Vec<&str> = body.iter().map(|p| p["coin"].as_str().unwrap()).collect();
    assert_eq!(coins, ["BTC", "ETH"]);
    drop(messages);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_reasons_appear_and_clear_and_a_premium_no_longer_written_is_not_served_past_its_ttl()
{
    let env = TestEnv::new(frozen_sim(), |s| {
        s.worker.cron = false;
        s.cache.premium_secs = 1;
    })
    .await;
    let cache = env.cache();
    let keys = env.keys();
    let mut conn = env.conn.clone();
    let pair = upbit_binance();

    cache
        .put_tick(&[premium("ETH")], &[skip("BTC")])
        .await
        .unwrap();
    assert!(cache.skip(&coin("BTC"), pair).await.unwrap().is_some());
    // BTC's premium is computed again: its skip reason goes in the same write.
    cache
        .put_tick(&[premium("BTC"), premium("ETH")], &[])
        .await
        .unwrap();
    assert!(cache.skip(&coin("BTC"), pair).await.unwrap().is_none());
    assert!(
        !conn
            .hexists::<_, _, bool>(keys.premium_skips(pair), "BTC")
            .await
            .unwrap()
    );
    assert!(cache.premium(&coin("BTC"), pair).await.unwrap().is_some());

    // Then BTC is skipped tick after tick while ETH's premiums keep the pair's hash alive: past
    // the premium TTL (1 s here) BTC's last premium is no longer served, though still stored.
    let until = std::time::Instant::now() + Duration::from_millis(2_500);
    while std::time::Instant::now() < until {
        cache
            .put_tick(&[premium("ETH")], &[skip("BTC")])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        conn.hexists::<_, _, bool>(keys.premiums(pair), "BTC")
            .await
            .unwrap(),
        "the field is still in the renewed hash"
    );
    assert_eq!(cache.premium(&coin("BTC"), pair).await.unwrap(), None);
    let both = cache
        .premiums(&[(coin("BTC"), pair), (coin("ETH"), pair)])
        .await
        .unwrap();
    assert!(both[0].is_none() && both[1].is_some(), "{both:?}");
    assert!(cache.skip(&coin("BTC"), pair).await.unwrap().is_some());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compute_is_woken_when_the_last_fetch_of_its_tick_lands_not_by_polling() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let cache = env.cache();
    let tick = Utc::now().timestamp();
    assert!(!cache.tick_fetched(tick, Venue::Upbit, 2).await.unwrap());
    // The waiter blocks on a connection of its own, far longer than the test waits.
    let mut waiting = keyspace::connect_redis(crate::support::REDIS_URL, Duration::from_secs(60))
        .await
        .unwrap();
    let waiter = cache.clone();
    let mut woken = tokio::spawn(async move {
        waiter
            .wait_for_tick(&mut waiting, tick, Duration::from_secs(30))
            .await
    });
    // One venue of two: still waiting.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut woken)
            .await
            .is_err(),
        "woken before the tick's last fetch"
    );
    // The last one (a failed fetch signals the same way) completes the set and wakes it.
    assert!(cache.tick_fetched(tick, Venue::Binance, 2).await.unwrap());
    let all = tokio::time::timeout(Duration::from_secs(10), woken)
        .await
        .expect("woken by the last fetch, not by its 30 s timeout")
        .unwrap()
        .unwrap();
    assert!(all, "the wait ended because every venue was fetched");
    // A computation that starts after the set completed does not wait at all.
    cache.tick_fetched(tick + 1, Venue::Upbit, 1).await.unwrap();
    let mut conn = keyspace::connect_redis(crate::support::REDIS_URL, Duration::from_secs(60))
        .await
        .unwrap();
    let late = tokio::time::timeout(
        Duration::from_secs(10),
        cache.wait_for_tick(&mut conn, tick + 1, Duration::from_secs(30)),
    )
    .await
    .expect("not blocked")
    .unwrap();
    assert!(late);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_that_fails_still_ends_its_ticks_wait() {
    // Binance is enabled but its simulator answers 500: the fetch fails, compute must not wait
    // for it.
    let env = TestEnv::new(frozen_sim(), |s| {
        s.worker.cron = false;
        s.venues = vec![Venue::Upbit, Venue::Binance];
        s.pairs = vec![upbit_binance()];
    })
    .await;
    let worker = env.spawn_worker().await;
    env.wait_for_workers(1).await;
    env.sim_post(
        "/_sim/faults",
        serde_json::json!({"venue": "binance", "error_rate": 1.0, "status": 500}),
    )
    .await;
    let tick = Utc::now().timestamp();
    for v in [Venue::Upbit, Venue::Binance] {
        let job = Job::for_tick(JobKind::FetchTicker, Some(v), tick);
        env.enqueuer().push(&job).await.unwrap();
    }
    let mut conn = env.conn.clone();
    let fetched: Vec<String> = crate::support::eventually(
        Duration::from_secs(20),
        "both fetches to finish with the tick",
        || {
            let mut conn = conn.clone();
            let key = env.keys().tick_fetched(tick);
            async move {
                let mut m: Vec<String> = conn.smembers(&key).await.ok()?;
                m.sort();
                (m.len() == 2).then_some(m)
            }
        },
    )
    .await;
    assert_eq!(fetched, ["binance", "upbit"]);
    let ready: i64 = conn.exists(env.keys().tick_ready(tick)).await.unwrap();
    assert_eq!(ready, 1, "the tick's ready signal was pushed");
    let upbit = env
        .cache()
        .ticker(Venue::Upbit, &coin("BTC"))
        .await
        .unwrap();
    assert!(
        upbit.is_some(),
        "upbit's fetch succeeded (a registry was in force)"
    );
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coin_a_venue_stops_answering_for_is_unavailable_within_the_ttl_while_its_pair_lives_on()
{
    let env = TestEnv::new(frozen_sim(), |_| {}).await;
    let worker = env.spawn_worker().await;
    let cache = env.cache();
    let pair = upbit_binance();
    for c in ["BTC", "ETH"] {
        crate::support::eventually(Duration::from_secs(20), "a premium", || async {
            cache.premium(&coin(c), pair).await.unwrap()
        })
        .await;
    }
    // Upbit now answers BTC at zero (rejected): BTC's ticker and premium are no longer written,
    // every other coin's still are, so both hashes stay alive.
    env.sim_post(
        "/_sim/faults",
        serde_json::json!({"venue": "upbit", "zero_price": "BTC"}),
    )
    .await;
    crate::support::eventually(
        Duration::from_secs(15),
        "BTC's premium and upbit ticker to be gone",
        || async {
            let p = cache.premium(&coin("BTC"), pair).await.unwrap();
            let t = cache.ticker(Venue::Upbit, &coin("BTC")).await.unwrap();
            (p.is_none() && t.is_none()).then_some(())
        },
    )
    .await;
    let mut conn = env.conn.clone();
    let keys = env.keys();
    let stored: (bool, bool) = redis::pipe()
        .hexists(keys.premiums(pair), "BTC")
        .hexists(keys.tickers(Venue::Upbit), "BTC")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        stored,
        (true, true),
        "expired by their write time, not by a TTL"
    );
    assert!(cache.premium(&coin("ETH"), pair).await.unwrap().is_some());
    assert!(cache.skip(&coin("BTC"), pair).await.unwrap().is_some());
    env.sim_post("/_sim/faults", serde_json::json!({"venue": "upbit"}))
        .await;
    worker.stop().await;
    env.cleanup().await;
}
