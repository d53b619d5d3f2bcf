//! `dashboard`: the dashboard page as a browser sees it, measured in headless Chromium
//! (`cdp.rs`): time to the first full table (the page's `table-complete` performance mark, set
//! when the first `/api/v1/premiums` answer is on screen, from navigation start) and the bytes
//! transferred with compression (Resource Timing `transferSize`: the page, its script, style and
//! charting library, and the first API calls: the table, FX and job stats; the live stream is
//! left out, it never ends). The first load uses an empty cache; `--reloads` more loads follow
//! with the cache warm. Prints one JSON object; `--screenshot` keeps a PNG of the first load.

use std::{path::PathBuf, time::Duration};

use serde_json::{Value, json};

use crate::cdp::Browser;

#[derive(clap::Args)]
pub struct Args {
    /// The page, e.g. `http://127.0.0.1:8080/`.
    #[arg(long)]
    url: String,
    /// Loads with a warm cache after the first.
    #[arg(long, default_value_t = 5)]
    reloads: usize,
    /// Where to write a screenshot of the first load.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    #[arg(long, default_value_t = 1400)]
    width: u32,
    #[arg(long, default_value_t = 1000)]
    height: u32,
}

/// Time to the table, the rows shown, and every resource with its transfer size, of the load in
/// the page.
const MEASURE_JS: &str = "(() => {
  const mark = performance.getEntriesByName('table-complete')[0];
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').map(r => ({
    name: new URL(r.name).pathname, transfer: r.transferSize, encoded: r.encodedBodySize,
    decoded: r.decodedBodySize }));
  return { table_ms: mark ? mark.startTime : null,
    rows: document.querySelectorAll('#premiums tbody tr').length,
    resources: [{ name: '/', transfer: nav.transferSize, encoded: nav.encodedBodySize,
      decoded: nav.decodedBodySize }].concat(res) };
})()";

pub async fn run(a: Args) -> Result<(), String> {
    let browser = Browser::launch(a.width, a.height).await?;
    let page = browser.page(a.width, a.height).await?;
    let mut loads = Vec::new();
    for i in 0..=a.reloads {
        page.navigate(&a.url).await?;
        page.wait_for(
            "document.body.dataset.ready === '1'",
            Duration::from_secs(30),
            "the table on screen",
        )
        .await?;
        // The status strip's first calls go out with the table; let them finish.
        page.wait_for(
            "['/api/v1/fx', '/api/v1/jobs/stats'].every(p => performance.getEntriesByType('resource')\
             .some(r => new URL(r.name).pathname === p && r.responseEnd > 0))",
            Duration::from_secs(10),
            "the status calls answered",
        )
        .await?;
        let m = page.eval(MEASURE_JS).await?;
        if i == 0
            && let Some(path) = &a.screenshot
        {
            // Wait until the stream has delivered (the live badge is on) for the picture.
            let _ = page
                .wait_for("__dash.events > 0", Duration::from_secs(5), "a live update")
                .await;
            page.screenshot(path).await?;
        }
        loads.push(m);
    }
    let errors = page.errors(false);
    let first = &loads[0];
    let total = |m: &Value, field: &str| -> u64 {
        m["resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter(|r| r["name"] != "/api/v1/premiums/stream")
                    .map(|r| r[field].as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    };
    let mut warm: Vec<f64> = loads[1..]
        .iter()
        .filter_map(|m| m["table_ms"].as_f64())
        .collect();
    warm.sort_by(f64::total_cmp);
    let out = json!({
        "rows": first["rows"],
        "cold_table_ms": first["table_ms"],
        "warm_table_ms_median": warm.get(warm.len() / 2),
        "warm_table_ms_max": warm.last(),
        "transfer_bytes": total(first, "transfer"),
        "encoded_bytes": total(first, "encoded"),
        "decoded_bytes": total(first, "decoded"),
        "warm_transfer_bytes": total(loads.last().unwrap_or(first), "transfer"),
        "resources": first["resources"],
        "console_errors": errors,
    });
    println!("{out}");
    Ok(())
}
