//! The dashboard at `/` in a real browser: headless Chromium (driven over the DevTools protocol
//! by `bench/src/cdp.rs`) loads the page served by the API while the simulator and a worker
//! run. It checks what a trader relies on: one row per available premium, values moving live,
//! sorting, the coin and pair filters, the chart drawing, the language toggle remembered, the
//! stream reconnecting by itself after the API restarts, and no console error. A screenshot is
//! written to `target/dashboard/dashboard.png` on every run, pass or fail.

use std::{collections::BTreeSet, path::PathBuf, str::FromStr, time::Duration};

use rust_decimal::Decimal;
use serde_json::Value;

use crate::cdp::{Browser, Page};
use crate::support::{TestEnv, eventually};

const W: u32 = 1400;
const H: u32 = 1000;

fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("dashboard").join("dashboard.png")
}

/// `coin|korea-foreign` of every available premium the API serves now.
/// Empty while the API answers otherwise (no registry in force yet: 503).
async fn available_keys(http: &reqwest::Client, base: &str) -> BTreeSet<String> {
    let body: Value = match http
        .get(format!("{base}/api/v1/premiums?available=true"))
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    };
    body["premiums"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{}|{}-{}",
                p["coin"].as_str().unwrap(),
                p["korea_venue"].as_str().unwrap(),
                p["foreign_venue"].as_str().unwrap()
            )
        })
        .collect()
}

/// The rows the page shows, in order, as `[key, coin, pair, rate, observed]`.
const ROWS_JS: &str = "[...document.querySelectorAll('#premiums tbody tr')].map(tr => \
    [tr.dataset.key, tr.dataset.coin, tr.dataset.pair, tr.dataset.rate, tr.dataset.observed])";

fn rows(v: &Value) -> Vec<Vec<String>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_every_available_premium_live_sorts_filters_charts_and_reconnects_in_chromium()
 {
    let env = TestEnv::new(sim::SimConfig::default(), |_| {}).await;
    let worker = env.spawn_worker().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let (stop, server) = env.start_api(listener).await;
    // Every default coin on every pair, and a few seconds of 1 s history for the chart.
    let pairs = env.settings.pairs.len();
    eventually(
        Duration::from_secs(30),
        "every premium available",
        || async { (available_keys(&env.http, &base).await.len() == 5 * pairs).then_some(()) },
    )
    .await;

    let browser = Browser::launch(W, H)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page = browser.page(W, H).await.unwrap();
    let checked = check_page(&env, &page, &base).await;
    // The screenshot is taken whatever the checks found.
    let shot = screenshot_path();
    let taken = page.screenshot(&shot).await;
    if let Err(e) = checked {
        panic!("{e} (screenshot: {}, {taken:?})", shot.display());
    }
    taken.unwrap();
    eprintln!("dashboard screenshot: {}", shot.display());

    // The API goes away and comes back on the same address: the page shows it and reconnects.
    let _ = stop.send(());
    let _ = server.await;
    page.wait_for(
        "document.getElementById('live').dataset.state !== 'live'",
        Duration::from_secs(10),
        "the dropped stream is shown",
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (stop, server) = env.start_api(listener).await;
    let live = page
        .wait_for(
            "document.getElementById('live').dataset.state === 'live' && __dash.reconnects >= 1 \
             && document.getElementById('live').textContent",
            Duration::from_secs(30),
            "the stream reconnected by itself",
        )
        .await
        .unwrap();
    assert!(live.as_str().unwrap().contains("1"), "{live}");
    let events = page.eval("__dash.events").await.unwrap();
    page.wait_for(
        &format!("__dash.events > {events}"),
        Duration::from_secs(10),
        "updates after the reconnect",
    )
    .await
    .unwrap();

    drop(page);
    drop(browser);
    let _ = stop.send(());
    let _ = server.await;
    drop(worker);
    env.cleanup().await;
}

async fn check_page(env: &TestEnv, page: &Page, base: &str) -> Result<(), String> {
    page.navigate(&format!("{base}/")).await?;
    page.wait_for(
        "document.body.dataset.ready === '1'",
        Duration::from_secs(20),
        "the table loaded",
    )
    .await?;

    // One row per available premium of /api/v1/premiums (the same set, whatever moment).
    let mut last = (BTreeSet::new(), BTreeSet::new());
    let mut same = false;
    for _ in 0..50 {
        let shown: BTreeSet<String> = rows(&page.eval(ROWS_JS).await?)
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        let served = available_keys(&env.http, base).await;
        if !shown.is_empty() && shown == served {
            same = true;
            break;
        }
        last = (shown, served);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !same {
        return Err(format!(
            "rows shown {:?} ≠ available premiums {:?}",
            last.0, last.1
        ));
    }

    // A value changes within 3 s, from the stream (the table itself is re-read every 30 s).
    let before: Vec<(String, String)> = rows(&page.eval(ROWS_JS).await?)
        .into_iter()
        .map(|r| (r[0].clone(), r[4].clone()))
        .collect();
    let changed = format!(
        "(() => {{ const b = new Map({}); return [...document.querySelectorAll('#premiums tbody tr')]\
         .some(tr => b.has(tr.dataset.key) && b.get(tr.dataset.key) !== tr.dataset.observed); }})()",
        serde_json::to_string(&before).unwrap()
    );
    page.wait_for(&changed, Duration::from_secs(3), "a value updated live")
        .await?;
    let events = page.eval("__dash.events").await?;
    if events.as_u64().unwrap_or(0) == 0 {
        return Err(format!("no stream event counted ({events})"));
    }

    // Sorting by premium, both ways, and by coin.
    for _ in 0..2 {
        page.eval("document.querySelector('th[data-col=rate]').click()")
            .await?;
        let dir = page
            .eval("document.querySelector('th[data-col=rate]').dataset.dir")
            .await?;
        let shown = rows(&page.eval(ROWS_JS).await?);
        let rates: Vec<Decimal> = shown
            .iter()
            .map(|r| Decimal::from_str(&r[3]).map_err(|e| format!("rate `{}`: {e}", r[3])))
            .collect::<Result<_, _>>()?;
        let ordered = rates.windows(2).all(|w| match dir.as_str() {
            Some("asc") => w[0] <= w[1],
            Some("desc") => w[0] >= w[1],
            _ => false,
        });
        if !ordered || rates.len() < 2 {
            return Err(format!("rows not sorted by rate {dir}: {rates:?}"));
        }
    }
    page.eval("document.querySelector('th[data-col=coin]').click()")
        .await?;
    let coins: Vec<String> = rows(&page.eval(ROWS_JS).await?)
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    if !coins.windows(2).all(|w| w[0] <= w[1]) {
        return Err(format!("rows not sorted by coin ascending: {coins:?}"));
    }

    // The coin filter (case-insensitive), then the pair filter on top of it.
    page.eval(
        "(() => { const i = document.getElementById('f-coin'); i.value = 'btc'; \
         i.dispatchEvent(new Event('input')); })()",
    )
    .await?;
    let btc_served = available_keys(&env.http, base)
        .await
        .into_iter()
        .filter(|k| k.starts_with("BTC|"))
        .count();
    let shown = rows(&page.eval(ROWS_JS).await?);
    if shown.iter().any(|r| r[1] != "BTC") || shown.len() != btc_served {
        return Err(format!(
            "coin filter BTC shows {shown:?}, {btc_served} BTC premiums served"
        ));
    }
    let pair = page
        .eval(
            "(() => { const s = document.getElementById('f-pair'); s.value = s.options[1].value; \
             s.dispatchEvent(new Event('change')); return s.value; })()",
        )
        .await?;
    let shown = rows(&page.eval(ROWS_JS).await?);
    if shown.len() != 1 || shown[0][1] != "BTC" || Some(shown[0][2].as_str()) != pair.as_str() {
        return Err(format!("coin BTC and pair {pair} show {shown:?}"));
    }

    // The chart of BTC on that pair: 1 s history plus the live tail, drawn on its canvas.
    page.eval("document.querySelector('#premiums tbody tr').click()")
        .await?;
    page.eval("document.querySelector('.intervals button[data-iv=\"1s\"]').click()")
        .await?;
    page.wait_for(
        "__dash.chartPoints >= 2",
        Duration::from_secs(10),
        "the chart has points",
    )
    .await?;
    // Pixels of the premium line's colour (#4c8dff), beyond axes and grid.
    let pixels = page
        .wait_for(
            "(() => { const c = document.querySelector('#chart canvas'); if (!c) return 0; \
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; \
             for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && Math.abs(d[i] - 0x4c) < 40 \
             && Math.abs(d[i + 1] - 0x8d) < 40 && Math.abs(d[i + 2] - 0xff) < 40) n++; \
             return n > 20 ? n : 0; })()",
            Duration::from_secs(10),
            "the premium line drawn on the chart canvas",
        )
        .await?;
    eprintln!("chart: {pixels} pixels of the premium line");

    // Korean labels, remembered across a reload.
    page.eval("document.getElementById('lang').click()").await?;
    let label = page
        .eval("document.querySelector('th[data-col=rate]').textContent")
        .await?;
    if label != "김프 %" {
        return Err(format!("after the toggle the premium column reads {label}"));
    }
    page.navigate(&format!("{base}/")).await?;
    page.wait_for(
        "document.body.dataset.ready === '1' && document.documentElement.lang === 'ko' \
         && document.querySelector('th[data-col=rate]').textContent === '김프 %'",
        Duration::from_secs(20),
        "Korean labels after a reload",
    )
    .await?;
    // Show the whole table (and a chart) in the screenshot.
    page.eval(
        "(() => { document.querySelector('#premiums tbody tr').click(); \
         document.querySelector('th[data-col=rate]').click(); })()",
    )
    .await?;
    page.wait_for(
        "__dash.chartPoints >= 2",
        Duration::from_secs(10),
        "the chart after the reload",
    )
    .await?;

    // An alert's link opens the page filtered on its row, with the row's chart.
    let (coin, pair) = before
        .first()
        .map(|(key, _)| key.split_once('|').unwrap())
        .ok_or("no row to link to")?;
    page.navigate(&format!("{base}/?coin={coin}&pair={pair}"))
        .await?;
    page.wait_for(
        &format!(
            "document.body.dataset.ready === '1' && __dash.chartPoints >= 1 \
             && document.getElementById('f-pair').value === '{pair}' \
             && [...document.querySelectorAll('#premiums tbody tr')].every((tr) => \
                  tr.dataset.pair === '{pair}' && tr.dataset.coin.includes('{coin}'))"
        ),
        Duration::from_secs(20),
        "the linked row and its chart",
    )
    .await?;

    let errors = page.errors(false);
    if !errors.is_empty() {
        return Err(format!("console errors: {errors:?}"));
    }
    Ok(())
}
