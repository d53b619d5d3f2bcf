//! Premium streams share one Redis subscription per API process: many clients, the
//! `api.max_streams` limit, and a client too slow to keep up.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    sync::watch,
};

use crate::support::*;

/// Opens `GET path` on a raw socket and reads up to the end of the response head; returns the
/// socket and what was read (head and any body bytes after it).
async fn open_raw(app: &TestApp, path: &str, recv_buffer: Option<u32>) -> (TcpStream, String) {
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let mut tcp = socket.connect(addr).await.expect("connect to the API");
    tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains("\r\n\r\n") {
        let n = tcp.read(&mut buf).await.expect("read the response head");
        assert!(n > 0, "connection closed before the response head: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    (tcp, text)
}

/// Resident set size of this test process, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

async fn subscribers(app: &TestApp) -> i64 {
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(app.keys.premium_channel())
        .query_async::<Vec<(String, i64)>>(&mut app.conn.clone())
        .await
        .unwrap()
        .remove(0);
    n
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sse_clients_each_receive_updates_over_one_redis_subscription() {
    const CLIENTS: usize = 1_000;
    let app = spawn_app().await;
    let before = rss_kib();
    let connected = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(AtomicUsize::new(0));
    let (close_tx, close_rx) = watch::channel(false);
    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let (connected, received) = (connected.clone(), received.clone());
        let mut close = close_rx.clone();
        let coin = if i % 2 == 0 { "?coin=btc" } else { "" };
        let path = format!("/api/v1/premiums/stream{coin}");
        let (mut tcp, mut text) = open_raw(&app, &path, None).await;
        clients.push(tokio::spawn(async move {
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            connected.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 8192];
            while !text.contains("event: premium") {
                let n = tcp.read(&mut buf).await.unwrap();
                assert!(n > 0, "stream ended before an update: {text}");
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            received.fetch_add(1, Ordering::SeqCst);
            // Hold the stream open until the test has measured.
            let _ = close.wait_for(|c| *c).await;
            drop(tcp);
        }));
    }
    wait_until("every client is connected", Duration::from_secs(30), || {
        connected.load(Ordering::SeqCst) == CLIENTS
    })
    .await;
    assert_eq!(
        subscribers(&app).await,
        1,
        "one Redis subscriber for {CLIENTS} streams"
    );

    // Publish until every client has had an update (each publish reaches all of them; the
    // loop only covers scheduling delays).
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.load(Ordering::SeqCst) < CLIENTS {
        assert!(
            Instant::now() < deadline,
            "only {} of {CLIENTS} clients received an update",
            received.load(Ordering::SeqCst)
        );
        app.put_premiums(&[worked_example("BTC", 0), worked_example("ETH", 0)])
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = rss_kib();
    assert_eq!(subscribers(&app).await, 1);
    let growth_mib = (after.saturating_sub(before)) as f64 / 1024.0;
    eprintln!(
        "{CLIENTS} SSE clients: test process VmRSS {} MiB before, {} MiB with every stream open \
         (+{growth_mib:.1} MiB, client and server sides together)",
        before / 1024,
        after / 1024
    );
    assert!(
        growth_mib < 64.0,
        "{CLIENTS} streams (both ends in this process) grew RSS by {growth_mib:.1} MiB"
    );
    close_tx.send_replace(true);
    for c in clients {
        c.await.unwrap();
    }
}

#[tokio::test]
async fn a_stream_beyond_max_streams_answers_503_json() {
    let app = spawn_app_with(|s| s.api.max_streams = 2).await;
    let (first, _) = open_raw(&app, "/api/v1/premiums/stream", None).await;
    let (_second, head) = open_raw(&app, "/api/v1/premiums/stream?coin=ETH", None).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let msg = assert_error(
        &app.get("/api/v1/premiums/stream").await,
        503,
        "unavailable",
    );
    assert!(msg.contains("api.max_streams"), "{msg}");

    // A closed stream gives its slot back: the server notices the closed socket at its next
    // write (an update here; a keep-alive within 15 s otherwise).
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        app.put_premiums(&[worked_example("BTC", 0)]).await;
        let (tcp, head) = open_raw(&app, "/api/v1/premiums/stream", None).await;
        if head.starts_with("HTTP/1.1 200") {
            drop(tcp);
            break;
        }
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert!(
            Instant::now() < deadline,
            "the closed stream's slot was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_falls_behind_gets_a_final_lagged_event_and_the_stream_ends() {
    let app = spawn_app_with(|s| s.api.stream_buffer = 8).await;
    // A small receive buffer, and no reading while the updates are published: the server's
    // socket fills, its stream stops polling the broadcast and falls behind.
    let (mut tcp, mut text) = open_raw(&app, "/api/v1/premiums/stream", Some(4096)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = serde_json::to_string(&worked_example("BTC", 0)).unwrap();
    let mut conn = app.conn.clone();
    for _ in 0..10 {
        let mut pipe = redis::pipe();
        for _ in 0..1_000 {
            pipe.publish(app.keys.premium_channel(), &body).ignore();
        }
        let () = pipe.query_async(&mut conn).await.unwrap();
    }

    // Read it all: the premiums that fitted, then the final event, then the end of the body.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 64 * 1024];
    let mut premiums = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, tcp.read(&mut buf))
            .await
            .expect("the stream ends within 30 s")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        if n == 0 || text.ends_with("\r\n0\r\n\r\n") {
            break;
        }
        // Keep only the tail (one event is under 2 KiB).
        if text.len() > 64 * 1024 {
            let cut = text.len() - 4 * 1024;
            let cut = (cut..text.len())
                .find(|i| text.is_char_boundary(*i) && text[*i..].starts_with("\r\n"))
                .unwrap_or(cut);
            premiums += text[..cut].matches("event: premium").count();
            text = text[cut..].to_string();
        }
    }
    let error = text
        .find("event: error")
        .map(|i| &text[i..])
        .unwrap_or_else(|| panic!("no final error event in the tail: {text}"));
    let data = error
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    let end: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(end["code"], "lagged", "{end}");
    assert!(
        end["message"].as_str().unwrap().contains("fell behind by"),
        "{end}"
    );
    assert!(
        !error.contains("event: premium"),
        "the error event is the last one: {error}"
    );
    assert!(
        premiums < 10_000,
        "the slow client was not buffered without bound"
    );
}
