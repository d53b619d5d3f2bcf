//! History upkeep on the real PostgreSQL, with explicit dates (no waiting): partitions made
//! ahead and dropped whole at the retention boundary, rows before and after a maintenance
//! pass kept, minute and hour rollups equal to the OHLC of the raw rows they cover (also after
//! the spool replays late rows), the old-schema migration moving rows over.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use store::{PremiumHistoryRow, Store, Tiers};
use worker::spool::{Batch, Spool};

use crate::support::{TestEnv, history_row};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

const TIERS: Tiers = Tiers {
    raw_hours: 48,
    minute_days: 90,
    hour_days: 0,
};

/// A premium row of `coin` on upbit-binance; `usdt_rate` and the entry/exit rates only on
/// some rows, like the worker's (no USDT price, no books).
fn row(coin: &str, ts: DateTime<Utc>, rate: Decimal, usdt: bool) -> PremiumHistoryRow {
    PremiumHistoryRow {
        usdt_rate: usdt.then(|| rate - Decimal::new(3, 1)),
        entry_rate: usdt.then(|| rate + Decimal::new(5, 2)),
        exit_rate: usdt.then(|| rate - Decimal::new(5, 2)),
        ..history_row(coin, ts, rate)
    }
}

async fn partitions(store: &Store, table: &str) -> Vec<NaiveDate> {
    store
        .history_partitions()
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.0 == table)
        .map(|p| p.2)
        .collect()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_are_made_ahead_and_dropped_whole_at_the_retention_boundary() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let store = env.store().await;
    // Connecting made today's partitions and three days ahead (a fresh database takes inserts).
    let today = Utc::now().date_naive();
    let made = partitions(&store, "premiums").await;
    for d in 0..=3 {
        assert!(
            made.contains(&(today + chrono::Duration::days(d))),
            "{made:?}"
        );
    }
    // Rows of days nobody prepared: the insert makes their partition.
    for d in ["2030-01-06", "2030-01-07", "2030-01-08", "2030-01-09"] {
        let ts = t(&format!("{d}T12:00:00Z"));
        let n = store
            .insert_premium_rows(ts, &[row("BTC", ts, Decimal::ONE, true)])
            .await
            .unwrap();
        assert_eq!(n, 1, "{d}");
    }
    store
        .rollup(t("2030-01-06T12:00:00Z"), t("2030-01-06T12:01:00Z"))
        .await
        .unwrap();

    let timeout = Duration::from_secs(5);
    let now = t("2030-01-10T12:00:00Z");
    let done = store.maintain_history(now, TIERS, timeout).await.unwrap();
    // Ahead: yesterday to three days ahead of `now`.
    let premiums = partitions(&store, "premiums").await;
    for d in [
        "2030-01-09",
        "2030-01-10",
        "2030-01-11",
        "2030-01-12",
        "2030-01-13",
    ] {
        assert!(premiums.contains(&day(d)), "{d}: {premiums:?}");
    }
    assert!(done.created >= 4 * 4, "{done:?}");
    // Raw boundary 2030-01-08T12:00: the days that ended by then are dropped whole; the
    // 8th (ends 2030-01-09T00:00) still holds rows younger than 48 h and stays.
    assert!(!premiums.contains(&day("2030-01-06")), "{premiums:?}");
    assert!(!premiums.contains(&day("2030-01-07")), "{premiums:?}");
    assert!(premiums.contains(&day("2030-01-08")), "{premiums:?}");
    assert!(!premiums.contains(&today), "{premiums:?}");
    assert!(done.dropped.contains(&"premiums_p20300106".to_string()));
    assert!(
        done.dropped
            .contains(&"premium_ticks_p20300107".to_string())
    );
    assert_eq!(count(&store, "SELECT count(*) FROM premiums").await, 2);
    // The minute rollup of the 6th outlives its raw rows (kept 90 days).
    assert!(
        partitions(&store, "premium_1m")
            .await
            .contains(&day("2030-01-06"))
    );
    assert_eq!(count(&store, "SELECT count(*) FROM premium_1m").await, 1);
    // Hour rollups are kept (hour_days = 0): the month of the 6th is there.
    assert!(
        partitions(&store, "premium_1h")
            .await
            .contains(&day("2030-01-01"))
    );

    // Rows written after maintenance, on a day made ahead, and the ones from before survive a
    // second pass at the same time; a pass 91 days later drops the minute rollup too.
    let ts = t("2030-01-12T08:00:00Z");
    store
        .insert_premium_rows(ts, &[row("ETH", ts, Decimal::TWO, false)])
        .await
        .unwrap();
    store.maintain_history(now, TIERS, timeout).await.unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM premiums").await, 3);
    let later = t("2030-04-08T00:00:00Z");
    store.maintain_history(later, TIERS, timeout).await.unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM premium_1m").await, 0);
    assert_eq!(count(&store, "SELECT count(*) FROM premiums").await, 0);
    assert!(count(&store, "SELECT count(*) FROM premium_1h").await > 0);
    // With hour_days set, hour rollups go by whole months.
    let tiers = Tiers {
        hour_days: 30,
        ..TIERS
    };
    store.maintain_history(later, tiers, timeout).await.unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM premium_1h").await, 0);
    env.cleanup().await;
}

type Ohlc = (
    i64,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
);

/// The OHLC of rows (oldest first): count, rate OHLC, USDT OHLC, entry and exit closes.
fn ohlc(rows: &[&PremiumHistoryRow]) -> Ohlc {
    let rates: Vec<Decimal> = rows.iter().map(|r| r.rate).collect();
    let usdt: Vec<Decimal> = rows.iter().filter_map(|r| r.usdt_rate).collect();
    (
        rows.len() as i64,
        rates[0],
        *rates.iter().max().unwrap(),
        *rates.iter().min().unwrap(),
        *rates.last().unwrap(),
        usdt.first().copied(),
        usdt.iter().max().copied(),
        usdt.iter().min().copied(),
        usdt.last().copied(),
        rows.iter().rev().find_map(|r| r.entry_rate),
        rows.iter().rev().find_map(|r| r.exit_rate),
    )
}

async fn rolled(store: &Store, table: &str, coin: &str, bucket: DateTime<Utc>) -> Ohlc {
    let r: Ohlc = sqlx::query_as(&format!(
        "SELECT r.count::bigint, r.open, r.high, r.low, r.close, r.usdt_open, r.usdt_high, r.usdt_low,
                    r.usdt_close, r.entry_close, r.exit_close
               FROM {table} r JOIN coins c ON c.id = r.coin_id
              WHERE c.symbol = $1 AND r.bucket = $2"
    ))
    .bind(coin)
    .bind(bucket)
    .fetch_one(store.pool())
    .await
    .unwrap();
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_the_ohlc_of_the_raw_rows_they_cover_even_rows_replayed_late() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let store = env.store().await;
    let start = t("2030-02-01T09:58:00Z");
    // Three minutes around an hour boundary, two coins, 1 s ticks, a few ticks missing (an
    // outage) and written later through the spool.
    let missing = |s: i64| (100..110).contains(&s);
    let mut all: BTreeMap<(String, DateTime<Utc>), PremiumHistoryRow> = BTreeMap::new();
    for s in 0..180i64 {
        let ts = start + chrono::Duration::seconds(s);
        let rows: Vec<PremiumHistoryRow> = ["BTC", "ETH"]
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let wiggle = Decimal::from((s * 37 + i as i64 * 11) % 101 - 50);
                row(
                    c,
                    ts,
                    Decimal::new(125, 2) + wiggle / Decimal::from(1000),
                    s % 7 != 3,
                )
            })
            .collect();
        for r in &rows {
            all.insert((r.coin.clone(), ts), r.clone());
        }
        if !missing(s) {
            store.insert_premium_rows(ts, &rows).await.unwrap();
        }
    }
    store
        .rollup(start, start + chrono::Duration::minutes(3))
        .await
        .unwrap();
    // `late`: whether the outage's rows are in (replayed) and so in the expected OHLC.
    let check =
        |coin: &'static str, from: DateTime<Utc>, minutes: i64, table: &'static str, late: bool| {
            let all = &all;
            let store = &store;
            async move {
                let end = from + chrono::Duration::minutes(minutes);
                let rows: Vec<&PremiumHistoryRow> = all
                    .iter()
                    .filter(|((c, ts), _)| c == coin && *ts >= from && *ts < end)
                    .filter(|((_, ts), _)| !missing((*ts - start).num_seconds()) || late)
                    .map(|(_, r)| r)
                    .collect();
                assert_eq!(
                    rolled(store, table, coin, from).await,
                    ohlc(&rows),
                    "{table} {coin} {from}"
                );
            }
        };
    // Every minute and both hours of both coins.
    let check_all = |late: bool| {
        let check = &check;
        async move {
            for coin in ["BTC", "ETH"] {
                for m in 0..3 {
                    let minute = start + chrono::Duration::minutes(m);
                    check(coin, minute, 1, "premium_1m", late).await;
                }
                // 09:00–10:00 holds the first two minutes, 10:00–11:00 the third.
                check(coin, t("2030-02-01T09:00:00Z"), 60, "premium_1h", late).await;
                check(coin, t("2030-02-01T10:00:00Z"), 60, "premium_1h", late).await;
            }
        }
    };
    check_all(false).await;
    // Rolling again changes nothing (idempotent).
    let before = rolled(&store, "premium_1h", "BTC", t("2030-02-01T09:00:00Z")).await;
    store
        .rollup(start, start + chrono::Duration::minutes(3))
        .await
        .unwrap();
    assert_eq!(
        rolled(&store, "premium_1h", "BTC", t("2030-02-01T09:00:00Z")).await,
        before
    );

    // The outage's ticks come back through the spool, long after their minute was rolled:
    // the replay rolls their minute (09:59) and hour again.
    let spool = Spool::new(env.conn.clone(), env.keys(), store.clone(), 100);
    for s in (0..180i64).filter(|s| missing(*s)) {
        let ts = start + chrono::Duration::seconds(s);
        let rows = ["BTC", "ETH"]
            .iter()
            .map(|c| all[&(c.to_string(), ts)].clone())
            .collect();
        assert!(spool.append(&Batch::Premiums { ts, rows }).await.unwrap());
    }
    let r = spool.replay("replica-a").await.unwrap();
    assert_eq!(
        (r.batches, r.inserted, r.minutes_rolled),
        (10, 20, 1),
        "{r:?}"
    );
    check_all(true).await;
    assert_eq!(
        count(&store, "SELECT sum(count)::bigint FROM premium_1m").await,
        360
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partition_migration_moves_old_rows_over_without_loss() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    // The schema before it: the migrations up to 0003, then rows in the old text columns.
    let pool = database_migrated_before(&env.database_url, "20261130000004").await;
    sqlx::raw_sql(
        "INSERT INTO premiums VALUES
           ('BTC','upbit','binance','2026-11-20 10:00:01+00',1.234567891234,0.5,100,70,1400,'dunamu',1450,
            '2026-11-20 10:00:00+00','2026-11-20 10:00:01.04+00',1.3,1.1),
           ('ETH','bithumb','okx','2026-11-20 10:00:01+00',2.1,NULL,100,70,1400,'dunamu',1450,
            '2026-11-20 10:00:00+00','2026-11-20 10:00:01.04+00',NULL,NULL),
           ('BTC','upbit','binance','2026-11-28 23:59:59+00',1.5,0.6,100,70,1401,'erapi',NULL,
            '2026-11-28 23:59:58+00','2026-11-28 23:59:59.04+00',NULL,NULL);
         INSERT INTO tickers VALUES ('upbit','BTC',100,'2026-11-20 10:00:00+00','2026-11-20 10:00:00.1+00'),
                                    ('okx','SOL',10,'2026-11-21 10:00:00+00','2026-11-21 10:00:00.1+00');
         INSERT INTO fx_rates VALUES ('dunamu',1400,'2026-11-19 10:00:00+00','2026-11-19 10:00:00+00');",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    // Connecting applies the rest.
    let store = env.store().await;
    let btc = domain::Coin::parse("BTC").unwrap();
    let pair = domain::VenuePair::new(domain::Venue::Upbit, domain::Venue::Binance).unwrap();
    let rows = store
        .premium_rows(
            &btc,
            pair,
            t("2026-11-01T00:00:00Z"),
            t("2026-12-01T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].rate, Decimal::new(123456789, 8));
    assert_eq!(rows[0].usdt_rate, Some(Decimal::new(5, 1)));
    assert_eq!(rows[1].usd_krw, Decimal::from(1401));
    assert_eq!(count(&store, "SELECT count(*) FROM tickers").await, 2);
    assert_eq!(count(&store, "SELECT count(*) FROM fx_rates").await, 1);
    assert_eq!(count(&store, "SELECT count(*) FROM premium_ticks").await, 2);
    assert_eq!(count(&store, "SELECT count(*) FROM premium_1m").await, 3);
    assert_eq!(
        count(&store, "SELECT sum(count)::bigint FROM premium_1h").await,
        3
    );
    assert!(
        partitions(&store, "premiums")
            .await
            .contains(&day("2026-11-20"))
    );
    let latest = store.latest_fx().await.unwrap();
    assert_eq!(latest.len(), 1);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_runs_catch_up_minutes_no_run_rolled_from_their_mark() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let store = env.store().await;
    let start = t("2030-03-01T10:00:00Z");
    // Six minutes of raw rows, then no rollup run for ten minutes (no worker was up).
    for s in (0..360i64).step_by(10) {
        let ts = start + chrono::Duration::seconds(s);
        let r = row("BTC", ts, Decimal::new(100 + s, 2), true);
        store.insert_premium_rows(ts, &[r]).await.unwrap();
    }
    let minutes = |store: Store| async move {
        count(
            &store,
            "SELECT count(*) FROM premium_1m r JOIN coins c ON c.id = r.coin_id \
             WHERE c.symbol = 'BTC' AND r.bucket >= '2030-03-01T10:00:00Z'",
        )
        .await
    };
    let ctx = worker::jobs::Ctx::new(env.settings.clone(), env.conn.clone(), store.clone());
    let job =
        |at: &str| queue::Job::for_tick(domain::JobKind::RollupHistory, None, t(at).timestamp());
    let key = env.keys().history_rolled_until();
    let mut conn = env.conn.clone();
    // Without a mark a run rolls only its two trailing minutes (10:08–10:10): nothing here.
    worker::jobs::rollup_history::run(&ctx, &job("2030-03-01T10:10:05Z"))
        .await
        .unwrap();
    assert_eq!(minutes(store.clone()).await, 0);
    let mark: i64 = redis::AsyncCommands::get(&mut conn, &key).await.unwrap();
    assert_eq!(mark, t("2030-03-01T10:10:00Z").timestamp_millis());
    // The mark says the last run ended at 10:00: the next run rolls 10:00–10:11, every minute.
    let _: () = redis::AsyncCommands::set(&mut conn, &key, start.timestamp_millis())
        .await
        .unwrap();
    worker::jobs::rollup_history::run(&ctx, &job("2030-03-01T10:11:05Z"))
        .await
        .unwrap();
    assert_eq!(minutes(store.clone()).await, 6);
    let mark: i64 = redis::AsyncCommands::get(&mut conn, &key).await.unwrap();
    assert_eq!(mark, t("2030-03-01T10:11:00Z").timestamp_millis());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_korean_venues_history_rows_carry_its_own_usdt_krw() {
    use domain::{Coin, Venue, VenuePair};
    let env = TestEnv::new(
        sim::SimConfig {
            step: Duration::ZERO,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    // Two Korean venues, two KRW-USDT prices.
    let pinned = [
        (Venue::Upbit, Decimal::from(1_400)),
        (Venue::Bithumb, Decimal::from(1_450)),
    ];
    for (venue, price) in pinned {
        env.sim_post(
            "/_sim/prices",
            serde_json::json!({"venue": venue.as_str(), "coin": "USDT", "price": price.to_string()}),
        )
        .await;
    }
    let worker = env.spawn_worker().await;
    let store = env.store().await;
    let btc = Coin::parse("BTC").unwrap();
    for (venue, price) in pinned {
        let pair = VenuePair::new(venue, Venue::Binance).unwrap();
        let rows = crate::support::eventually(
            Duration::from_secs(20),
            &format!("BTC premium rows of {pair}"),
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
        for row in rows {
            assert_eq!(row.usdt_krw, Some(price), "{pair} at {}", row.ts);
        }
    }
    worker.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usdt_krw_migration_keeps_each_ticks_value_on_the_rows_it_belongs_to() {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    // The schema before it, with one tick of two Korean venues: the tick's USDT/KRW (1450) was
    // Upbit's (its row's tether premium says so), Bithumb's (1440) was not stored.
    let pool = database_migrated_before(&env.database_url, "20261207000002").await;
    // usdt_rate = (korea / (foreign × usdt_krw) − 1) × 100 at 8 dp: 1450 for Upbit, 1440 for
    // Bithumb.
    sqlx::raw_sql(
        "SELECT history_ensure_partitions('2026-11-20', '2026-11-20');
         INSERT INTO coins (id, symbol) VALUES (1, 'BTC');
         INSERT INTO premium_ticks VALUES
           ('2026-11-20 10:00:01+00', '2026-11-20 10:00:01.04+00', 1400, 'dunamu', 1450);
         INSERT INTO premiums (ts, observed_at, coin_id, korea_venue, foreign_venue, rate,
                               usdt_rate, korea_krw, foreign_usd) VALUES
           ('2026-11-20 10:00:01+00', '2026-11-20 10:00:00+00', 1, 2, 3, 2.04081633,
            -1.47783251, 100, 0.07),
           ('2026-11-20 10:00:01+00', '2026-11-20 10:00:00+00', 1, 1, 3, 2.04081633,
            -0.79365079, 100, 0.07);",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    // Connecting applies it.
    let store = env.store().await;
    let btc = domain::Coin::parse("BTC").unwrap();
    let usdt_krw = |korea| {
        let store = store.clone();
        let btc = btc.clone();
        async move {
            let pair = domain::VenuePair::new(korea, domain::Venue::Binance).unwrap();
            let rows = store
                .premium_rows(
                    &btc,
                    pair,
                    t("2026-11-20T00:00:00Z"),
                    t("2026-11-21T00:00:00Z"),
                )
                .await
                .unwrap();
            assert_eq!(rows.len(), 1, "{pair}");
            rows[0].usdt_krw
        }
    };
    assert_eq!(
        usdt_krw(domain::Venue::Upbit).await,
        Some(Decimal::from(1450))
    );
    assert_eq!(usdt_krw(domain::Venue::Bithumb).await, None);
    // The tick's value itself is kept.
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM premium_ticks WHERE usdt_krw = 1450"
        )
        .await,
        1
    );
    env.cleanup().await;
}

/// Creates the test's database at `url` with only the migrations older than `version` applied:
/// the schema a release before `version` left behind, for testing a migration on old rows.
async fn database_migrated_before(url: &str, version: &str) -> sqlx::PgPool {
    let (base, db) = url.rsplit_once('/').unwrap();
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{db}\""))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let dir = std::env::temp_dir().join(format!("ps-migrations-before-{version}-{db}"));
    std::fs::create_dir_all(&dir).unwrap();
    for f in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < version {
            std::fs::copy(&f, dir.join(&name)).unwrap();
        }
    }
    let old = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
    old.run(&pool).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    pool
}
