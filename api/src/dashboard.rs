//! The dashboard at `/`: one HTML page, its script and style, and the charting library (uPlot
//! 1.6.32, MIT, `assets/vendor/`, its licence beside it), all embedded in the binary so the page
//! works offline and the build needs no npm. The page reads the public API only
//! (`/api/v1/premiums` and its stream, history, FX, job stats); nothing here touches Redis.
//!
//! Each asset is compressed once per process (gzip and brotli, the premium table's coders in
//! `encoding.rs`) and served by `Accept-Encoding` with a strong `ETag`. The page names its
//! assets with a version query (`/assets/app.js?v=<hash of every asset>`), so an asset asked
//! with the current version is cacheable for a year (`immutable`) and the page itself is
//! revalidated on every load (`no-cache`, 304 on a matching `If-None-Match`).

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::LazyLock,
};

use bytes::Bytes;
use poem::{
    Request, Response, handler,
    http::{StatusCode, header},
    web::Path,
};

use crate::{
    encoding::{Encoding, compress},
    etag::none_match_hits,
};

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const UPLOT_JS: &str = include_str!("../assets/vendor/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/vendor/uPlot.min.css");

/// What the page may load: only this origin (scripts, styles, the API), `data:` images (the
/// empty favicon). uPlot sizes its elements through `style`, hence `'unsafe-inline'` for styles
/// only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// One embedded file, in each encoding.
struct Asset {
    content_type: &'static str,
    etag: String,
    identity: Bytes,
    gzip: Bytes,
    br: Bytes,
}

impl Asset {
    fn new(content_type: &'static str, body: String) -> Self {
        let mut h = DefaultHasher::new();
        body.hash(&mut h);
        let identity = Bytes::from(body);
        Asset {
            content_type,
            etag: format!("\"{:016x}\"", h.finish()),
            gzip: compress(&identity, Encoding::Gzip),
            br: compress(&identity, Encoding::Br),
            identity,
        }
    }
}

struct Assets {
    /// The version the page names its assets with (`?v=`): a hash of all of them.
    version: String,
    index: Asset,
    app_js: Asset,
    app_css: Asset,
    uplot_js: Asset,
}

/// Built on the first request (a few milliseconds of compression, once per process).
static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    let css = format!("{UPLOT_CSS}\n{APP_CSS}");
    let mut h = DefaultHasher::new();
    (APP_JS, &css, UPLOT_JS).hash(&mut h);
    let version = format!("{:012x}", h.finish() & 0xffff_ffff_ffff);
    Assets {
        version: version.clone(),
        index: Asset::new(
            "text/html; charset=utf-8",
            INDEX.replace("{{VERSION}}", &version),
        ),
        app_js: Asset::new("text/javascript; charset=utf-8", APP_JS.to_string()),
        app_css: Asset::new("text/css; charset=utf-8", css),
        uplot_js: Asset::new("text/javascript; charset=utf-8", UPLOT_JS.to_string()),
    }
});

/// `GET /`: the page.
#[handler]
pub(crate) fn index(req: &Request) -> Response {
    respond(req, &ASSETS.index, "no-cache")
}

/// `GET /assets/{name}`: its script, style and charting library.
#[handler]
pub(crate) fn asset(req: &Request, Path(name): Path<String>) -> Response {
    let a = match name.as_str() {
        "app.js" => &ASSETS.app_js,
        "app.css" => &ASSETS.app_css,
        "uplot.js" => &ASSETS.uplot_js,
        _ => {
            return Response::builder()
                .status(StatusCode::NOT_FOUND)
                .content_type("application/json")
                .body(format!(
                    "{{\"code\":\"not_found\",\"message\":\"no asset `{}`: app.js, app.css, uplot.js\"}}",
                    name.escape_default()
                ));
        }
    };
    let current = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("v=")))
        .is_some_and(|v| v == ASSETS.version);
    // Only the URL the current page names may be kept for good; any other is revalidated.
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    respond(req, a, cache)
}

fn respond(req: &Request, a: &Asset, cache: &str) -> Response {
    let builder = Response::builder()
        .header(header::ETAG, a.etag.as_str())
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "Accept-Encoding")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, CSP)
        .header(header::REFERRER_POLICY, "no-referrer");
    if let Some(inm) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && none_match_hits(inm, &a.etag)
    {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    let accept = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (body, used) = match Encoding::negotiate(accept) {
        Encoding::Br => (a.br.clone(), Encoding::Br),
        Encoding::Gzip => (a.gzip.clone(), Encoding::Gzip),
        Encoding::Identity => (a.identity.clone(), Encoding::Identity),
    };
    let builder = match used.header() {
        Some(coding) => builder.header(header::CONTENT_ENCODING, coding),
        None => builder,
    };
    builder.content_type(a.content_type).body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_its_assets_with_the_current_version() {
        let v = &ASSETS.version;
        assert_eq!(v.len(), 12, "{v}");
        let page = std::str::from_utf8(&ASSETS.index.identity).unwrap();
        for name in ["app.js", "app.css", "uplot.js"] {
            assert!(
                page.contains(&format!("/assets/{name}?v={v}\"")),
                "{name} is not named with ?v={v}"
            );
        }
        assert!(!page.contains("{{VERSION}}"));
    }

    #[test]
    fn every_asset_decodes_to_itself_in_every_encoding() {
        use std::io::Read;
        for a in [
            &ASSETS.index,
            &ASSETS.app_js,
            &ASSETS.app_css,
            &ASSETS.uplot_js,
        ] {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(a.gzip.as_ref())
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, a.identity.as_ref());
            let mut out = Vec::new();
            brotli::Decompressor::new(a.br.as_ref(), 4096)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, a.identity.as_ref());
            assert!(a.br.len() < a.identity.len());
        }
    }
}
