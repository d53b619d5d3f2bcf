//! Redis or PostgreSQL going away (and Redis coming back), through a TCP proxy in front of the
//! real service (which other tests use in parallel, so it is never stopped).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use store::Store;
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

use crate::support::*;

/// Forwards a local port to a real service; `stop` closes the port and every connection.
struct Proxy {
    port: u16,
    target: &'static str,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            target,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let tasks = self.tasks.clone();
        let target = self.target;
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    continue;
                };
                let pipe = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    async fn restart(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn reads_answer_503_within_a_second_while_redis_is_down_and_recover_after() {
    let proxy = Proxy::start("127.0.0.1:6379").await;
    let url = format!("redis://127.0.0.1:{}/", proxy.port);
    let (mut s, db_name) = test_settings();
    s.redis_url = url.clone();
    let settings = Arc::new(s);
    let store = Store::connect(&settings.database_url).await.unwrap();
    let conn = keyspace::connect_redis(&url, api::state::IO_TIMEOUT)
        .await
        .unwrap();
    put_plain_markets(&conn, &settings).await;
    let state = api::AppState::new(settings.clone(), conn.clone(), store.clone(), None);
    let app = start(state, settings, conn, store, db_name).await;
    app.get_ok("/api/v1/premiums").await;

    proxy.stop();
    // Give the aborted tasks a moment to close their sockets.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for path in [
        "/api/v1/premiums",
        "/api/v1/premiums/BTC",
        "/api/v1/tickers",
        "/api/v1/fx",
        "/api/v1/jobs",
        "/api/v1/jobs/stats",
        "/api/v1/premiums/stream",
    ] {
        let started = Instant::now();
        let answer = app.get(path).await;
        let took = started.elapsed();
        let msg = assert_error(&answer, 503, "unavailable");
        assert!(msg.contains("Redis"), "{path}: {msg}");
        assert!(took < Duration::from_secs(1), "{path} took {took:?}");
    }
    let (status, body) = app.get("/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"][0]["ok"], false);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("premium_cluster_redis_up 0")
    );

    // Redis is back: the same process answers again without a restart.
    proxy.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = app.get("/api/v1/premiums").await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after Redis came back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn postgres_backed_reads_answer_503_within_a_second_while_postgres_is_down() {
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let (s, db_name) = test_settings();
    let settings = Arc::new(s);
    let via_proxy = format!("postgres://postgres@127.0.0.1:{}/{db_name}", proxy.port);
    let store = Store::connect(&via_proxy).await.unwrap();
    let conn = keyspace::connect_redis(REDIS_URL, Duration::from_secs(5))
        .await
        .unwrap();
    put_plain_markets(&conn, &settings).await;
    let state = api::AppState::new(settings.clone(), conn.clone(), store.clone(), None);
    let app = start(state, settings, conn, store, db_name).await;
    app.get_ok("/api/v1/positions").await;

    proxy.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for path in [
        "/api/v1/positions",
        "/api/v1/positions/1",
        "/api/v1/premiums/BTC/history?from=2025-01-01T00:00:00Z&to=2025-01-01T00:05:00Z&interval=1m",
    ] {
        let started = Instant::now();
        let answer = app.get(path).await;
        let took = started.elapsed();
        let msg = assert_error(&answer, 503, "unavailable");
        assert!(msg.contains("PostgreSQL"), "{path}: {msg}");
        assert!(took < Duration::from_secs(1), "{path} took {took:?}");
    }
    // Live premiums come from Redis and keep flowing.
    app.get_ok("/api/v1/premiums").await;
    let (status, body) = app.get("/health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"][1]["name"], "postgres");
    assert_eq!(body["checks"][1]["ok"], false);
}
