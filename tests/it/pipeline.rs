//! The pipeline in one process: cron → apalis-redis → worker → cache, history and records.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use domain::JobState;
use domain::{Coin, FxSource, JobKind, Price, Venue, VenuePair, premium_rate};
use queue::{Job, PushOutcome};
use redis::AsyncCommands;
use rust_decimal::Decimal;
use serde_json::json;

use crate::support::{HEAVY, TestEnv, eventually, job_reaches};

/// A market that does not move (one step), with ten coins beyond the defaults.
pub(crate) fn frozen_sim() -> sim::SimConfig {
    sim::SimConfig {
        step: Duration::ZERO,
        extra_coins: 10,
        ..Default::default()
    }
}

fn dec(v: &serde_json::Value) -> Decimal {
    match v {
        serde_json::Value::String(s) => s.parse().unwrap(),
        serde_json::Value::Number(n) => n.to_string().parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn premiums_in_redis_and_postgres_match_an_independent_computation() {
    let env = TestEnv::new(frozen_sim(), |_| {}).await;
    let worker = env.spawn_worker().await;
    let pair = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
    let btc = Coin::parse("BTC").unwrap();
    let cache = env.cache();
    let premium = eventually(
        Duration::from_secs(15),
        "a BTC premium in Redis",
        || async { cache.premium(&btc, pair).await.unwrap() },
    )
    .await;

    // The simulator's own answers, read the way a person would read them.
    let upbit = env.sim_get("/upbit/v1/ticker?markets=KRW-BTC").await;
    let binance = env
        .sim_get("/binance/fapi/v1/premiumIndex?symbol=BTCUSDT")
        .await;
    let dunamu = env
        .sim_get("/dunamu/v1/forex/recent?codes=FRX.KRWUSD")
        .await;
    let korea = dec(&upbit[0]["trade_price"]);
    let foreign = dec(&binance["markPrice"]);
    let fx = dec(&dunamu[0]["basePrice"]);
    let expected = (korea - foreign * fx) / (foreign * fx) * Decimal::ONE_HUNDRED;
    assert_eq!(premium.inputs.korea_krw.value(), korea);
    assert_eq!(premium.inputs.foreign_usd.value(), foreign);
    assert_eq!(premium.inputs.usd_krw.value(), fx);
    assert_eq!(premium.inputs.fx_source, FxSource::Dunamu);
    assert_eq!(premium.rate, expected);
    assert_eq!(
        premium.rate,
        premium_rate(
            Price::new(korea).unwrap(),
            Price::new(foreign).unwrap(),
            Price::new(fx).unwrap()
        )
        .unwrap()
    );
    // The simulator was configured at 1.5 %.
    assert!(
        (premium.rate - Decimal::new(15, 1)).abs() < Decimal::new(3, 1),
        "{}",
        premium.rate
    );
    let usdt = dec(&env.sim_get("/upbit/v1/ticker?markets=KRW-USDT").await[0]["trade_price"]);
    assert_eq!(
        premium.usdt_rate,
        Some((korea - foreign * usdt) / (foreign * usdt) * Decimal::ONE_HUNDRED)
    );
    // Each Korean venue's premium uses its own KRW-USDT price for the tether premium.
    let bithumb_pair = VenuePair::new(Venue::Bithumb, Venue::Binance).unwrap();
    let bithumb = cache
        .premium(&btc, bithumb_pair)
        .await
        .unwrap()
        .expect("bithumb premium");
    let bithumb_usdt =
        dec(&env.sim_get("/bithumb/v1/ticker?markets=KRW-USDT").await[0]["trade_price"]);
    assert_eq!(
        bithumb.inputs.usdt_krw.map(|p| p.value()),
        Some(bithumb_usdt)
    );

    // PostgreSQL holds the same numbers, one row per tick.
    let store = env.store().await;
    let rows = eventually(
        Duration::from_secs(10),
        "premium rows in PostgreSQL",
        || async {
            let rows = store
                .premium_rows(
                    &btc,
                    pair,
                    Utc::now() - chrono::Duration::minutes(5),
                    Utc::now(),
                )
                .await
                .unwrap();
            (rows.len() >= 2).then_some(rows)
        },
    )
    .await;
    for row in &rows {
        assert_eq!(row.korea_krw, korea);
        assert_eq!(row.foreign_usd, foreign);
        assert_eq!(row.usd_krw, fx);
        // History keeps rates at store::RATE_SCALE decimal places.
        assert_eq!(row.rate, store::round_rate(expected));
    }
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_price_or_stale_input_never_produces_a_premium_and_the_reason_is_recorded() {
    let env = TestEnv::new(frozen_sim(), |s| {
        s.freshness.ticker_ms = 1_500;
        s.http.timeout_ms = 500;
    })
    .await;
    // Upbit sends BTC at zero; Bybit stops answering (its tickers go stale); Bithumb sends
    // garbage.
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "bithumb", "malformed": true}),
    )
    .await;
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "upbit", "zero_price": "BTC"}),
    )
    .await;
    env.sim_post("/_sim/faults", json!({"venue": "bybit", "hang": true}))
        .await;
    let worker = env.spawn_worker().await;
    let cache = env.cache();
    let btc = Coin::parse("BTC").unwrap();
    let eth = Coin::parse("ETH").unwrap();
    let upbit_binance = VenuePair::new(Venue::Upbit, Venue::Binance).unwrap();
    let upbit_bybit = VenuePair::new(Venue::Upbit, Venue::Bybit).unwrap();

    // Other coins on the same pair are computed.
    eventually(Duration::from_secs(15), "an ETH premium", || async {
        cache.premium(&eth, upbit_binance).await.unwrap()
    })
    .await;
    let skip = eventually(Duration::from_secs(10), "a skip reason for BTC", || async {
        cache.skip(&btc, upbit_binance).await.unwrap()
    })
    .await;
    assert_eq!(skip.input, "upbit BTC ticker");
    assert_eq!(skip.reason, "missing");
    assert!(cache.premium(&btc, upbit_binance).await.unwrap().is_none());

    // Bybit prices were never fetched: missing, never a premium.
    let skip = eventually(Duration::from_secs(10), "bybit skip recorded", || async {
        cache.skip(&eth, upbit_bybit).await.unwrap()
    })
    .await;
    assert_eq!(skip.input, "bybit ETH ticker");
    assert!(cache.premium(&eth, upbit_bybit).await.unwrap().is_none());

    // Garbage never becomes a price.
    let bithumb_binance = VenuePair::new(Venue::Bithumb, Venue::Binance).unwrap();
    let skip = eventually(
        Duration::from_secs(10),
        "a skip reason for bithumb",
        || async { cache.skip(&eth, bithumb_binance).await.unwrap() },
    )
    .await;
    assert_eq!(
        (
            skip.input.to_string().as_str(),
            skip.reason.to_string().as_str()
        ),
        ("bithumb ETH ticker", "missing")
    );
    assert!(
        cache
            .premium(&eth, bithumb_binance)
            .await
            .unwrap()
            .is_none()
    );

    // A ticker that goes stale stops producing premiums, and says why.
    env.sim_post("/_sim/faults", json!({"venue": "binance", "hang": true}))
        .await;
    let skip = eventually(
        Duration::from_secs(15),
        "a stale binance ticker",
        || async {
            cache
                .skip(&eth, upbit_binance)
                .await
                .unwrap()
                .filter(|s| s.reason == "stale")
        },
    )
    .await;
    assert_eq!(skip.input, "binance ETH ticker");
    assert!(skip.age_ms.unwrap() > 1_500);

    // No premium row was ever written for the zero-priced coin or the hanging venue.
    let store = env.store().await;
    let from = Utc::now() - chrono::Duration::minutes(5);
    assert!(
        store
            .premium_rows(&btc, upbit_binance, from, Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .premium_rows(&eth, upbit_bybit, from, Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    env.sim_post("/_sim/faults", json!({"venue": "bybit"}))
        .await;
    env.sim_post("/_sim/faults", json!({"venue": "binance"}))
        .await;
    worker.stop().await;
    env.cleanup().await;
}

/// Waits until the job's record satisfies `until`.
async fn record_where(
    env: &TestEnv,
    id: &str,
    until: impl Fn(&queue::JobRecord) -> bool,
    timeout: Duration,
) -> queue::JobRecord {
    let records = env.records();
    eventually(timeout, "the job to reach the expected state", || async {
        records.get(id).await.unwrap().filter(|r| until(r))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_not_retried_before_it_says() {
    let env = TestEnv::new(frozen_sim(), |s| {
        s.fx_sources = vec![FxSource::Dunamu];
        s.worker.cron = false;
        s.retry.fetch_fx.base_ms = 400;
        s.retry.fetch_fx.max_attempts = 3;
    })
    .await;
    env.sim_post(
        "/_sim/faults",
        json!({"venue": "dunamu", "rate_limit_retry_after": 3}),
    )
    .await;
    let worker = env.spawn_worker().await;
    let t = env
        .enqueuer()
        .trigger(JobKind::FetchFx, None)
        .await
        .unwrap();
    let first_failure = record_where(
        &env,
        &t.id,
        |r| r.state == JobState::Scheduled && r.attempts == 1,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(first_failure.error_class.as_deref(), Some("rate_limited"));
    let failed_at = first_failure.updated_ms;
    assert!(first_failure.next_run_ms.unwrap() - failed_at >= 3_000);
    env.sim_post("/_sim/faults", json!({"venue": "dunamu"}))
        .await;
    let done = record_where(
        &env,
        &t.id,
        |r| r.state == JobState::Done,
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(done.attempts, 2);
    let second_start = done.started_ms.unwrap();
    assert!(
        second_start - failed_at >= 3_000,
        "retried {} ms after a Retry-After of 3 s",
        second_start - failed_at
    );
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_the_same_tick_twice_makes_one_job() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let enq = env.enqueuer();
    let job = Job::for_tick(JobKind::ComputePremium, None, Utc::now().timestamp());
    assert_eq!(enq.push(&job).await.unwrap(), PushOutcome::New);
    assert_eq!(enq.push(&job).await.unwrap(), PushOutcome::Duplicate);
    assert_eq!(enq.push(&job).await.unwrap(), PushOutcome::Duplicate);
    let (scheduled, active) = enq.depth(JobKind::ComputePremium).await.unwrap();
    assert_eq!(scheduled + active, 1);
    let rec = env.records().get(&job.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Queued);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stays_bounded_after_a_thousand_ticks() {
    const TICKS: i64 = 1_000;
    let _heavy = HEAVY.lock().await;
    let mut env = TestEnv::new(frozen_sim(), |s| {
        s.worker.cron = false;
        s.worker.concurrency = 32;
        for v in Venue::ALL {
            s.rate_limits.insert(v, 100_000);
        }
        s.venues = vec![Venue::Upbit, Venue::Binance];
        s.pairs = vec![VenuePair::new(Venue::Upbit, Venue::Binance).unwrap()];
        s.usdt_venue = Venue::Upbit;
        // The recent history is a capped sorted set; a small cap shows the cap at work.
        s.cache.history_len = 100;
    })
    .await;
    // Shorter than `validate` allows (60 s, the dedup window), so the test need not wait a minute.
    std::sync::Arc::get_mut(&mut env.settings)
        .unwrap()
        .retention
        .job_records_secs = 5;
    let worker = env.spawn_worker().await;
    let enq = env.enqueuer();
    // An FX rate first (no cron here), so that premiums are computed.
    let fx = enq.trigger(JobKind::FetchFx, None).await.unwrap();
    job_reaches(&env, &fx.id, JobState::Done, Duration::from_secs(10)).await;
    let start = Utc::now().timestamp();
    let mut ids = Vec::new();
    for i in 0..TICKS {
        // Ticks pushed faster than real time: marked manual so that none is dropped as late
        // or waits for its second to come.
        for mut job in [
            Job::for_tick(JobKind::FetchTicker, Some(Venue::Upbit), start - i),
            Job::for_tick(JobKind::FetchTicker, Some(Venue::Binance), start - i),
            Job::for_tick(JobKind::ComputePremium, None, start - i),
        ] {
            job.manual = true;
            assert_eq!(enq.push(&job).await.unwrap(), PushOutcome::New);
            ids.push(job.id);
        }
    }
    // Wait until every job has run: the queues are empty and no record is queued or running.
    // (Records themselves expire 5 s after their job, so they cannot be counted at the end.)
    let records = env.records();
    eventually(
        Duration::from_secs(240),
        "all 3,000 jobs finished",
        || async {
            let (ts, ta) = enq.depth(JobKind::FetchTicker).await.unwrap();
            let (cs, ca) = enq.depth(JobKind::ComputePremium).await.unwrap();
            let counts: HashMap<_, _> = records.counts(None).await.unwrap().into_iter().collect();
            let open = counts[&JobState::Queued]
                + counts[&JobState::Running]
                + counts[&JobState::Scheduled];
            (ts + ta + cs + ca + open == 0).then_some(())
        },
    )
    .await;
    // The work was done: one premium row per tick.
    let store = env.store().await;
    let rows = store
        .premium_rows(
            &Coin::parse("BTC").unwrap(),
            VenuePair::new(Venue::Upbit, Venue::Binance).unwrap(),
            Utc::now() - chrono::Duration::seconds(TICKS + 60),
            Utc::now() + chrono::Duration::seconds(60),
        )
        .await
        .unwrap();
    assert!(
        rows.len() as i64 > TICKS * 9 / 10,
        "{} premium rows for {TICKS} ticks",
        rows.len()
    );

    // Past the retention window (5 s here) the janitor of the running worker deletes apalis'
    // task data, the records expire and their index entries are trimmed.
    let keys = eventually(
        Duration::from_secs(60),
        "the finished jobs to be swept",
        || async {
            let keys = env.prefix_keys().await;
            (keys.len() < 100).then_some(keys)
        },
    )
    .await;
    // What is left does not grow with the number of ticks: queues, caches, counters.
    let mut conn = env.conn.clone();
    let mut bytes = 0u64;
    for k in &keys {
        let n: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(k)
            .query_async(&mut conn)
            .await
            .unwrap();
        bytes += n.unwrap_or(0);
    }
    let history: u64 = redis::cmd("XLEN")
        .arg(
            env.keys()
                .premium_history(VenuePair::new(Venue::Upbit, Venue::Binance).unwrap()),
        )
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(history, 100, "the recent history is capped");
    assert!(
        bytes < 512 * 1024,
        "{bytes} bytes left under the prefix in {} keys",
        keys.len()
    );
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_20000_due_jobs_drains_without_wedging_the_queue() {
    const N: i64 = 20_000;
    let _heavy = HEAVY.lock().await;
    let env = TestEnv::new(frozen_sim(), |s| {
        s.worker.cron = false;
        s.worker.concurrency = 32;
    })
    .await;
    // Every worker was stuck while ticks kept coming: 20,000 compute-premium tasks are due at
    // once (pushed in bulk, as apalis would have stored them). apalis-redis 1.0 alone dies on
    // this (`too many results to unpack` past ~8,000 due ids).
    let cfg = queue::queue_config(&env.settings, JobKind::ComputePremium);
    let now = Utc::now().timestamp();
    let mut conn = env.conn.clone();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1_000) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|i| {
                let job = Job::for_tick(JobKind::ComputePremium, None, now - N + i);
                apalis::prelude::TaskBuilder::new(serde_json::to_vec(&job).unwrap())
                    .task_id(apalis::prelude::TaskId::from_string(job.task_id()))
                    .build()
            })
            .collect();
        let (e, s) = apalis_redis::queries::push_tasks(&mut conn, &cfg, &tasks)
            .await
            .unwrap();
        assert_eq!(e + s, chunk.len() as u32);
    }
    let worker = env.spawn_worker().await;
    let records = env.records();
    eventually(
        Duration::from_secs(180),
        "all 20,000 jobs finished",
        || async {
            let counts: HashMap<_, _> = records
                .counts(Some(JobKind::ComputePremium))
                .await
                .unwrap()
                .into_iter()
                .collect();
            let finished = counts[&JobState::Done] + counts[&JobState::Failed];
            (finished == N as u64).then_some(())
        },
    )
    .await;
    // Old ticks were dropped as too late, not computed; the queue is empty and still works.
    let counts: HashMap<_, _> = records
        .counts(Some(JobKind::ComputePremium))
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(counts[&JobState::Failed] > 19_000, "{counts:?}");
    let enq = env.enqueuer();
    assert_eq!(enq.depth(JobKind::ComputePremium).await.unwrap(), (0, 0));
    let fresh = Job::for_tick(JobKind::ComputePremium, None, Utc::now().timestamp());
    enq.push(&fresh).await.unwrap();
    job_reaches(&env, &fresh.id, JobState::Done, Duration::from_secs(10)).await;
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_id_without_task_data_does_not_wedge_the_queue() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    // An id in the active list with no data makes apalis-redis' fetch fail for every worker of
    // the queue; the janitor's repair removes it.
    let cfg = queue::queue_config(&env.settings, JobKind::FetchFx);
    let _: () = env
        .conn
        .clone()
        .rpush(cfg.active_jobs_list(), "fetch-fx:ghost")
        .await
        .unwrap();
    let worker = env.spawn_worker().await;
    let t = env
        .enqueuer()
        .trigger(JobKind::FetchFx, None)
        .await
        .unwrap();
    job_reaches(&env, &t.id, JobState::Done, Duration::from_secs(15)).await;
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_janitor_keeps_a_finished_task_that_is_back_in_the_queue() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let cfg = queue::queue_config(&env.settings, JobKind::FetchFx);
    let mut conn = env.conn.clone();
    let gc = format!("{}:gc", env.prefix);
    for (id, status) in [("fetch-fx:1", "Done"), ("fetch-fx:2", "Running")] {
        let _: () = conn.hset(cfg.job_data_hash(), id, "{}").await.unwrap();
        let _: () = conn
            .hset(format!("{}:{id}", cfg.job_meta_hash()), "status", status)
            .await
            .unwrap();
        let _: () = conn.zadd(&gc, format!("fetch-fx|{id}"), 0).await.unwrap();
    }
    let swept = queue::janitor::sweep(&env.conn, &env.settings, 100)
        .await
        .unwrap();
    assert_eq!((swept.tasks, swept.postponed), (1, 1));
    let done: bool = conn
        .hexists(cfg.job_data_hash(), "fetch-fx:1")
        .await
        .unwrap();
    let running: bool = conn
        .hexists(cfg.job_data_hash(), "fetch-fx:2")
        .await
        .unwrap();
    assert!(!done && running);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_missed_while_no_replica_runs_are_counted_once() {
    let env = TestEnv::new(frozen_sim(), |_| {}).await;
    let counter = |kind: &'static str| {
        let (mut conn, key) = (env.conn.clone(), env.keys().counters());
        async move {
            let n: Option<i64> = conn
                .hget(key, format!("missed_ticks:{kind}"))
                .await
                .unwrap();
            n.unwrap_or(0)
        }
    };
    let first = env.spawn_worker().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.stop().await;
    assert_eq!(counter("compute-premium").await, 0);
    // No replica for 4 s, then two come back at once: the gap is counted, once.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (a, b) = tokio::join!(env.spawn_worker(), env.spawn_worker());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let missed = counter("compute-premium").await;
    assert!(
        (3..=6).contains(&missed),
        "missed {missed} compute-premium ticks in a ~4 s gap"
    );
    assert_eq!(
        counter("fetch-ticker").await,
        missed,
        "every 1 s kind missed the same ticks"
    );
    a.stop().await;
    b.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_whose_task_is_gone_is_abandoned_after_the_bound_and_a_pending_one_is_not() {
    let env = TestEnv::new(frozen_sim(), |s| s.worker.cron = false).await;
    let records = env.records();
    let keys = env.keys();
    let mut conn = env.conn.clone();
    let now = Utc::now().timestamp_millis();
    // A record with no task behind it (a crash between the push and the record, a failover
    // that lost the task), one whose task waits in the queue (no worker runs), and an index
    // entry whose record is gone.
    let orphan = Job::for_tick(JobKind::FetchFx, None, 1_763_800_200);
    records.create(&orphan, 3, now).await.unwrap();
    let pending = Job::for_tick(JobKind::FetchFx, None, 1_763_800_210);
    assert_eq!(
        env.enqueuer().push(&pending).await.unwrap(),
        PushOutcome::New
    );
    let queued_index = keys.jobs_index(None, Some(JobState::Queued));
    let _: () = conn.zadd(&queued_index, "ghost", now).await.unwrap();

    // Time is an argument: nothing moves before the bound, one record after it.
    let bound = env.settings.retention.abandon_after_secs as i64 * 1000;
    let early = queue::janitor::abandon_stale(&env.conn, &env.settings, now + bound - 1_000, 100)
        .await
        .unwrap();
    assert_eq!(early, 0);
    let late = queue::janitor::abandon_stale(&env.conn, &env.settings, now + bound + 1_000, 100)
        .await
        .unwrap();
    assert_eq!(late, 1);

    let rec = records.get(&orphan.id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Abandoned, "{rec:?}");
    assert_eq!(rec.error_class.as_deref(), Some("abandoned"));
    let ttl: i64 = conn.ttl(keys.job(&orphan.id)).await.unwrap();
    assert!(
        ttl > 0,
        "an abandoned record expires like a finished one (ttl {ttl})"
    );
    let listed = records
        .list(Some(JobKind::FetchFx), Some(JobState::Abandoned), 10, None)
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        vec![orphan.id.as_str()]
    );
    let still = records.get(&pending.id).await.unwrap().unwrap();
    assert_eq!(still.state, JobState::Queued, "its task is still pending");
    let ghost: Option<f64> = conn.zscore(&queued_index, "ghost").await.unwrap();
    assert_eq!(ghost, None, "index entries without a record are dropped");
    let queued: Vec<String> = conn.zrange(&queued_index, 0, -1).await.unwrap();
    assert_eq!(queued, vec![pending.id.clone()]);
    env.cleanup().await;
}
