//! A small Chrome DevTools Protocol client: headless Chromium started as a child process, one
//! websocket to it, commands matched to their answers by id, and the page's console errors and
//! uncaught exceptions collected. Used by `premium-bench dashboard` and, through `#[path]`, by
//! the dashboard test in `tests/it/dashboard.rs`.
//!
//! Why hand-written rather than `chromiumoxide` or `headless_chrome`: both generate bindings for
//! the whole protocol, which adds minutes to a cold build of the test suite on this project's
//! 2-core machines, while the test and the bench need nine commands. A websocket
//! (tokio-tungstenite), JSON and a table of pending calls are all it takes.
//!
//! Chromium is `$CHROMIUM` or `chromium` on the `PATH` (Debian package `chromium`, installed by
//! `ops/tools.sh`), run as `--headless=new --no-sandbox --remote-debugging-port=0` with a fresh
//! profile in a temporary folder; the DevTools address is read from its stderr. Dropping the
//! [`Browser`] kills its process group and removes the folder, also when a test panicked.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// Longest wait for one protocol answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// A running headless Chromium and the connection to it.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    conn: Conn,
}

#[derive(Clone)]
struct Conn {
    out: mpsc::UnboundedSender<String>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
    /// Console errors, uncaught exceptions and error log entries, per session.
    errors: Arc<Mutex<Vec<(String, String)>>>,
}

impl Browser {
    /// Starts Chromium and connects to it; an error says what is missing or what went wrong.
    pub async fn launch(width: u32, height: u32) -> Result<Browser, String> {
        let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile = std::env::temp_dir().join(format!(
            "ps-chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&profile).map_err(|e| format!("{}: {e}", profile.display()))?;
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--headless=new",
            "--no-sandbox",
            "--remote-debugging-port=0",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--hide-scrollbars",
            "--mute-audio",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        // Its own process group: the renderer and GPU processes go with it on drop.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&profile);
                return Err(format!(
                    "cannot start `{bin}` ({e}): headless Chromium is needed; install it with \
                     `bash ops/tools.sh` (Debian package chromium) or set CHROMIUM"
                ));
            }
        };
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        // Reads stderr to its end, so Chromium never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let mut browser = Browser {
            child,
            profile,
            conn: Conn {
                out: mpsc::unbounded_channel().0,
                pending: Pending::default(),
                next_id: Arc::new(AtomicU64::new(1)),
                errors: Arc::default(),
            },
        };
        let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|_| {
                format!("`{bin}` printed no DevTools address within 30 s (did it start?)")
            })?;
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        .map_err(|_| format!("connecting to {url} timed out"))?
        .map_err(|e| format!("connecting to {url}: {e}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = out_rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        browser.conn.out = out_tx;
        let (pending, errors) = (browser.conn.pending.clone(), browser.conn.errors.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Ok(text) = msg.to_text() else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text) else {
                    continue;
                };
                if let Some(id) = v["id"].as_u64() {
                    if let Some(tx) = pending.lock().unwrap().remove(&id) {
                        let r = match v.get("error") {
                            Some(e) => Err(e.to_string()),
                            None => Ok(v["result"].clone()),
                        };
                        let _ = tx.send(r);
                    }
                } else if let Some(what) = page_error(&v) {
                    let session = v["sessionId"].as_str().unwrap_or_default().to_string();
                    errors.lock().unwrap().push((session, what));
                }
            }
            // The browser is gone: fail every call still waiting.
            for (_, tx) in pending.lock().unwrap().drain() {
                let _ = tx.send(Err("the browser closed the connection".into()));
            }
        });
        Ok(browser)
    }

    /// A new tab, with the runtime, the log and page events on, at `width` × `height` CSS pixels.
    pub async fn page(&self, width: u32, height: u32) -> Result<Page, String> {
        let target = self
            .conn
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target_id = target["targetId"].as_str().ok_or("no targetId")?;
        let attached = self
            .conn
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or("no sessionId")?
            .to_string();
        let page = Page {
            conn: self.conn.clone(),
            session,
        };
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            page.call(domain, json!({})).await?;
        }
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await?;
        Ok(page)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group of the Chromium started above (its own pgid, see `process_group(0)`).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A console error, an uncaught exception or an error log entry (a failed load), as text.
fn page_error(v: &Value) -> Option<String> {
    let p = &v["params"];
    match v["method"].as_str()? {
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            Some(format!(
                "exception: {} {}",
                d["text"].as_str().unwrap_or_default(),
                d["exception"]["description"].as_str().unwrap_or_default()
            ))
        }
        "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
            let args: Vec<String> = p["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            x["value"]
                                .as_str()
                                .map(str::to_string)
                                .or_else(|| x["description"].as_str().map(str::to_string))
                                .unwrap_or_else(|| x["value"].to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(format!("console.error: {}", args.join(" ")))
        }
        "Log.entryAdded" if p["entry"]["level"] == "error" => Some(format!(
            "log: {} {}",
            p["entry"]["text"].as_str().unwrap_or_default(),
            p["entry"]["url"].as_str().unwrap_or_default()
        )),
        _ => None,
    }
}

impl Conn {
    async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.out
            .send(msg.to_string())
            .map_err(|_| format!("{method}: the browser connection is closed"))?;
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(r)) => r.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: no answer (connection closed)")),
            Err(_) => {
                self.pending.lock().unwrap().remove(&id);
                Err(format!("{method}: no answer within {CALL_TIMEOUT:?}"))
            }
        }
    }
}

/// One tab.
pub struct Page {
    conn: Conn,
    session: String,
}

impl Page {
    /// A protocol command in this tab's session.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.conn.call(Some(&self.session), method, params).await
    }

    /// Loads `url` (returns once the navigation is committed, not when the page is done).
    pub async fn navigate(&self, url: &str) -> Result<(), String> {
        let r = self.call("Page.navigate", json!({"url": url})).await?;
        match r["errorText"].as_str() {
            Some(e) if !e.is_empty() => Err(format!("navigating to {url}: {e}")),
            _ => Ok(()),
        }
    }

    /// The value of a JavaScript expression (promises awaited); a thrown exception is an error.
    pub async fn eval(&self, expression: &str) -> Result<Value, String> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(d) = r.get("exceptionDetails") {
            return Err(format!(
                "`{expression}` threw: {}",
                d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str())
                    .unwrap_or_default()
            ));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expression` every 100 ms until it is truthy (not null, false, 0 or "") and returns
    /// its value; an error after `timeout` names `what`. An exception (say, no `document.body`
    /// yet while a page loads) counts as not yet.
    pub async fn wait_for(
        &self,
        expression: &str,
        timeout: Duration,
        what: &str,
    ) -> Result<Value, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (v, thrown) = match self.eval(expression).await {
                Ok(v) => (v, None),
                Err(e) if e.contains("` threw: ") => (Value::Null, Some(e)),
                Err(e) => return Err(e),
            };
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if tokio::time::Instant::now() >= deadline {
                let last = thrown.map_or_else(|| v.to_string(), |e| format!("{v}; {e}"));
                return Err(format!(
                    "{what}: not within {timeout:?} (last value {last})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the viewport, written to `path` (its folder created).
    pub async fn screenshot(&self, path: &Path) -> Result<(), String> {
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().ok_or("no screenshot data")?)
            .map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Console errors, uncaught exceptions and failed loads of this tab so far; `clear` forgets
    /// them.
    pub fn errors(&self, clear: bool) -> Vec<String> {
        let mut all = self.conn.errors.lock().unwrap();
        let mine = all
            .iter()
            .filter(|(s, _)| *s == self.session)
            .map(|(_, e)| e.clone())
            .collect();
        if clear {
            all.retain(|(s, _)| *s != self.session);
        }
        mine
    }
}
