//! The dashboard's page and assets as HTTP resources: served at `/` beside the API (which keeps
//! `/docs`, `/openapi.json`, `/health/*` and `/metrics`), compressed by `Accept-Encoding`,
//! versioned and cached, revalidated by `ETag`. The page itself is driven in a browser by
//! `tests/it/dashboard.rs`.

use std::io::Read;

use reqwest::{Method, header};

use crate::support::{assert_error, spawn_app};

#[tokio::test]
async fn the_page_and_its_assets_are_served_compressed_versioned_and_revalidated() {
    let app = spawn_app().await;
    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    assert!(h.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(!h.contains_key(header::CONTENT_ENCODING));
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains("<table id=\"premiums\""), "{html}");

    // Revalidation and compression.
    let again = app
        .http
        .get(app.url("/"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let br = app
        .http
        .get(app.url("/"))
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(br.headers()[header::VARY], "Accept-Encoding");
    let body = br.bytes().await.unwrap();
    let mut decoded = String::new();
    brotli::Decompressor::new(body.as_ref(), 4096)
        .read_to_string(&mut decoded)
        .unwrap();
    assert_eq!(decoded, html);

    // Every asset the page names: cached for good under its version, revalidated otherwise.
    let names: Vec<&str> = html
        .split("\"/assets/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in names {
        let r = app
            .http
            .get(app.url(&format!("/assets/{name}")))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(
            r.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        let unversioned = name.split('?').next().unwrap();
        let r = app
            .http
            .get(app.url(&format!("/assets/{unversioned}?v=old")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
    }
    assert_error(&app.get("/assets/secret.txt").await, 404, "not_found");
    assert_error(
        &app.call(Method::POST, "/", None, None).await,
        405,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn swagger_ui_the_document_health_and_metrics_stay_where_they_were() {
    let app = spawn_app().await;
    for path in ["/docs", "/openapi.json", "/health/live", "/metrics"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    assert_error(&app.get("/nothing-here").await, 404, "not_found");
}
