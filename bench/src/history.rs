//! `history-insert` and `history-query` (for `bench/history.sh`).
//!
//! - `history-insert`: the store's insert path at full speed: ticks of `--rows` premium rows
//!   (694 = the full simulated universe) written one after the other through
//!   `Store::insert_premium_rows` (one statement per tick, like `compute-premium`), for
//!   `--secs` seconds, starting at `--start` (a day far from the bench's generated data) so
//!   that nothing conflicts. Prints rows/s sustained and the per-tick latency.
//! - `history-query`: `GET /api/v1/premiums/{coin}/history` with the given query string,
//!   `--requests` times in sequence, coins round-robin; prints the latency percentiles.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use store::{PremiumHistoryRow, Store};

use crate::stats::summarize;

#[derive(clap::Args)]
pub struct InsertArgs {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Premium rows per tick (694: every coin × pair of the simulated universe).
    #[arg(long, default_value_t = 694)]
    rows: usize,
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// The first tick (RFC 3339).
    #[arg(long)]
    start: DateTime<Utc>,
}

pub async fn insert(a: InsertArgs) -> Result<(), String> {
    let store = Store::connect(&a.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let pairs = [("upbit", "binance"), ("bithumb", "bybit")];
    let coins: Vec<String> = (1..=a.rows.div_ceil(2))
        .map(|i| format!("INS{i:03}"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(a.secs);
    let mut latencies = Vec::new();
    let mut rows = 0u64;
    let started = Instant::now();
    let mut tick = 0i64;
    while Instant::now() < deadline {
        let ts = a.start + chrono::Duration::seconds(tick);
        let batch: Vec<PremiumHistoryRow> = coins
            .iter()
            .flat_map(|c| pairs.iter().map(move |p| (c, p)))
            .take(a.rows)
            .enumerate()
            .map(|(i, (c, (k, f)))| {
                let rate = Decimal::new(125_000_000 + ((tick * 7919 + i as i64) % 100_000), 8);
                PremiumHistoryRow {
                    coin: c.clone(),
                    korea: (*k).into(),
                    foreign: (*f).into(),
                    rate,
                    usdt_rate: Some(rate - Decimal::new(3, 1)),
                    korea_krw: Decimal::new(129_555_000 + i as i64, 0),
                    foreign_usd: Decimal::new(892_771, 1),
                    usd_krw: Decimal::new(14_326, 1),
                    fx_source: "dunamu".into(),
                    usdt_krw: Some(Decimal::new(1_440, 0)),
                    observed_at: ts,
                    computed_at: ts,
                    entry_rate: Some(rate + Decimal::new(15, 2)),
                    exit_rate: Some(rate - Decimal::new(15, 2)),
                }
            })
            .collect();
        let t0 = Instant::now();
        rows += store
            .insert_premium_rows(ts, &batch)
            .await
            .map_err(|e| e.to_string())?;
        latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
        tick += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let s = summarize(&mut latencies).ok_or("no tick inserted")?;
    println!(
        "insert: {rows} rows in {tick} ticks of {} rows, {secs:.1} s: {:.0} rows/s; per tick p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        a.rows,
        rows as f64 / secs,
        s.p50,
        s.p99,
        s.max
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct QueryArgs {
    /// The API's base URL, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    api: String,
    /// Coins, comma-separated, asked round-robin.
    #[arg(long)]
    coins: String,
    /// The query string (without `?`), e.g. `interval=1h&from=…&to=…`.
    #[arg(long)]
    query: String,
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// A label for the output line.
    #[arg(long)]
    label: String,
}

pub async fn query(a: QueryArgs) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let coins: Vec<&str> = a.coins.split(',').collect();
    let mut latencies = Vec::new();
    let mut buckets = 0usize;
    let mut size = 0usize;
    // One warm-up request per coin (connection, plan cache), not counted.
    for c in &coins {
        let url = format!("{}/api/v1/premiums/{c}/history?{}", a.api, a.query);
        http.get(&url).send().await.map_err(|e| e.to_string())?;
    }
    for i in 0..a.requests {
        let c = coins[i % coins.len()];
        let url = format!("{}/api/v1/premiums/{c}/history?{}", a.api, a.query);
        let t0 = Instant::now();
        let resp = http.get(&url).send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        // Timed to the last byte received; the client's own parsing is not the server's time.
        latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
        size = text.len();
        let body: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{url}: {status}: {body}"));
        }
        buckets = body["buckets"].as_array().map_or(0, Vec::len);
    }
    let s = summarize(&mut latencies).ok_or("no request")?;
    println!(
        "query {}: {} requests, {buckets} buckets ({:.0} KB) each: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        a.label,
        s.n,
        size as f64 / 1000.0,
        s.p50,
        s.p90,
        s.p99,
        s.max
    );
    Ok(())
}
