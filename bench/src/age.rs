//! Premium age when read: at random instants (0–100 ms apart), read the current premium of
//! every configured coin and take now − `observed_at` (the older of its two ticker
//! observations). Three readers, interleaved: Redis on the default pair (`Cache::premium`),
//! Redis on every configured pair (`Cache::premiums`, one MGET), and the API
//! (`GET /api/v1/premiums/{coin}`, client-side age, so HTTP time is included).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use rand::Rng;
use settings::Settings;

use crate::stats::summarize;

#[derive(clap::Args)]
pub struct Args {
    /// How long to sample, seconds.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Wait until every coin has a premium, at most this many seconds, before sampling.
    #[arg(long, default_value_t = 30)]
    warmup_secs: u64,
    /// Base URL of the API (`http://127.0.0.1:8080`); Redis only when absent.
    #[arg(long)]
    api: Option<String>,
    /// Target p99, seconds (printed as PASS/FAIL).
    #[arg(long, default_value_t = 1.2)]
    target_p99: f64,
}

#[derive(Default)]
struct Reader {
    ages_ms: Vec<f64>,
    /// computed_at − observed_at: how long the pipeline took to publish what it observed.
    lags_ms: Vec<f64>,
    missing: u64,
    errors: u64,
}

fn age_ms(now: DateTime<Utc>, observed: DateTime<Utc>) -> f64 {
    (now - observed).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

pub async fn run(a: Args) -> Result<(), String> {
    let settings = Arc::new(Settings::load(None).map_err(|e| e.to_string())?);
    let conn = keyspace::connect_redis(&settings.redis_url, Duration::from_secs(2))
        .await
        .map_err(|e| format!("redis: {e}"))?;
    let cache = cache::Cache::new(conn.clone(), &settings);
    let pair = settings.pairs[0];
    // What the workers track: the universe in force (every coin with `coins = "auto"`).
    let markets = cache::Markets::new(conn, keyspace::Keys::new(&settings.redis_prefix));
    let registry_deadline = tokio::time::Instant::now() + Duration::from_secs(a.warmup_secs);
    let tracked = loop {
        if let Some(m) = markets.current().await.map_err(|e| e.to_string())? {
            break m;
        }
        if tokio::time::Instant::now() >= registry_deadline {
            return Err("no market registry within the warm-up: is a worker running?".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let all: Vec<(domain::Coin, domain::VenuePair)> = tracked
        .universe
        .iter()
        .flat_map(|(p, cs)| cs.iter().map(move |c| (c.clone(), *p)))
        .collect();
    // Single-coin reads sample the default pair's first coins (majors first when tracked).
    let on_pair = tracked.universe.get(&pair).cloned().unwrap_or_default();
    let mut coins: Vec<domain::Coin> = ["BTC", "ETH", "XRP", "SOL", "DOGE"]
        .iter()
        .filter_map(|c| domain::Coin::parse(c).ok())
        .filter(|c| on_pair.contains(c))
        .collect();
    if coins.is_empty() {
        coins = on_pair.iter().take(5).cloned().collect();
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;

    // Warm-up: every coin has a premium on the default pair.
    let warm_deadline = tokio::time::Instant::now() + Duration::from_secs(a.warmup_secs);
    loop {
        let wanted: Vec<_> = coins.iter().map(|c| (c.clone(), pair)).collect();
        let got = cache.premiums(&wanted).await.map_err(|e| e.to_string())?;
        if got.iter().all(Option::is_some) {
            break;
        }
        if tokio::time::Instant::now() >= warm_deadline {
            return Err(format!(
                "no premium for every coin on {pair} within {} s of warm-up",
                a.warmup_secs
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut redis_one = Reader::default();
    let mut redis_all = Reader::default();
    let mut api = Reader::default();
    let mut rng = rand::rng();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(a.secs);
    let mut rounds = 0u64;
    while tokio::time::Instant::now() < deadline && rounds < 10_000_000 {
        rounds += 1;
        tokio::time::sleep(Duration::from_micros(rng.random_range(0..100_000))).await;
        for coin in &coins {
            match cache.premium(coin, pair).await {
                Ok(Some(p)) => {
                    redis_one.ages_ms.push(age_ms(Utc::now(), p.observed_at));
                    redis_one.lags_ms.push(age_ms(p.computed_at, p.observed_at));
                }
                Ok(None) => redis_one.missing += 1,
                Err(_) => redis_one.errors += 1,
            }
        }
        match cache.premiums(&all).await {
            Ok(ps) => {
                let now = Utc::now();
                for p in ps {
                    match p {
                        Some(p) => {
                            redis_all.ages_ms.push(age_ms(now, p.observed_at));
                            redis_all.lags_ms.push(age_ms(p.computed_at, p.observed_at));
                        }
                        None => redis_all.missing += 1,
                    }
                }
            }
            Err(_) => redis_all.errors += 1,
        }
        if let Some(base) = &a.api {
            for coin in &coins {
                let url = format!("{base}/api/v1/premiums/{coin}");
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let v: serde_json::Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => {
                                api.errors += 1;
                                continue;
                            }
                        };
                        let now = Utc::now();
                        let time_in = |v: &serde_json::Value, k: &str| {
                            v.get(k)
                                .and_then(|t| t.as_str())
                                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                                .map(|t| t.with_timezone(&Utc))
                        };
                        // The prices' age, as Redis' `observed_at` is: the answer's own
                        // `observed_at` is the oldest input, FX (minutes to a day) included.
                        let inputs = v.get("inputs").cloned().unwrap_or_default();
                        let prices = time_in(&inputs, "korea_observed_at")
                            .zip(time_in(&inputs, "foreign_observed_at"))
                            .map(|(k, f)| k.min(f));
                        match (prices, time_in(&v, "computed_at")) {
                            (Some(o), c) => {
                                api.ages_ms.push(age_ms(now, o));
                                if let Some(c) = c {
                                    api.lags_ms.push(age_ms(c, o));
                                }
                            }
                            (None, _) => api.missing += 1,
                        }
                    }
                    Ok(r) if r.status().as_u16() == 404 => api.missing += 1,
                    _ => api.errors += 1,
                }
            }
        }
    }

    println!();
    println!(
        "premium age when read (now − observed_at), {} s of random instants, {} tracked (coin, pair), single reads of {} on the default pair {pair}",
        a.secs,
        all.len(),
        coins
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    println!(
        "| reader | reads | missing | errors | p50 ms | p90 ms | p99 ms | max ms | p99 ≤ {:.0} ms | publish lag p50 / p99 / max ms |",
        a.target_p99 * 1000.0
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
    let mut rows = vec![
        (format!("redis, {pair}"), redis_one),
        ("redis, all pairs (MGET)".to_string(), redis_all),
    ];
    if a.api.is_some() {
        rows.push((format!("api GET /api/v1/premiums/{{coin}} ({pair})"), api));
    }
    for (name, mut r) in rows {
        let lag = summarize(&mut r.lags_ms)
            .map(|l| format!("{:.0} / {:.0} / {:.0}", l.p50, l.p99, l.max))
            .unwrap_or_else(|| "–".into());
        match summarize(&mut r.ages_ms) {
            Some(s) => println!(
                "| {name} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {lag} |",
                s.n,
                r.missing,
                r.errors,
                s.p50,
                s.p90,
                s.p99,
                s.max,
                if s.p99 <= a.target_p99 * 1000.0 && r.missing == 0 {
                    "PASS"
                } else {
                    "FAIL"
                }
            ),
            None => println!(
                "| {name} | 0 | {} | {} | – | – | – | – | FAIL | – |",
                r.missing, r.errors
            ),
        }
    }
    println!(
        "(age = read time − observed_at, observed_at = the older ticker observation; at a 1 s cadence it is at least uniform over [lag, lag + 1 s]; publish lag = computed_at − observed_at)"
    );
    Ok(())
}
