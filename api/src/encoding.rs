//! The content codings an answer can be sent in: negotiated from `Accept-Encoding` (br, then
//! gzip, else identity), and the compression itself. The premium table and the dashboard's
//! assets both compress once and serve the stored bytes.

use std::io::Write as _;

use bytes::Bytes;

/// gzip level: 6 is zlib's default, a good ratio at a speed that keeps up with a table per tick.
const GZIP_LEVEL: u32 = 6;
/// brotli quality: 11 is far too slow for a table per tick; 5 is about as fast as gzip 6 and
/// smaller.
const BROTLI_QUALITY: u32 = 5;

/// A content coding the answer can be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Br,
}

impl Encoding {
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Br => Some("br"),
        }
    }

    /// The best coding an `Accept-Encoding` value allows: br, then gzip (by q-value, br on a
    /// tie), else identity. Unparsable parts are ignored.
    pub fn negotiate(accept: Option<&str>) -> Encoding {
        let Some(accept) = accept else {
            return Encoding::Identity;
        };
        let (mut br, mut gzip, mut star) = (None, None, None);
        for part in accept.split(',') {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0f32;
            for param in it {
                if let Some((k, v)) = param.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
            match name.as_str() {
                "br" => br = Some(q),
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => star = Some(q),
                _ => {}
            }
        }
        let br = br.or(star).unwrap_or(0.0);
        let gzip = gzip.or(star).unwrap_or(0.0);
        if br > 0.0 && br >= gzip {
            Encoding::Br
        } else if gzip > 0.0 {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

/// `data` compressed with `encoding` (identity: a copy).
pub fn compress(data: &[u8], encoding: Encoding) -> Bytes {
    match encoding {
        Encoding::Identity => Bytes::copy_from_slice(data),
        Encoding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 6),
                flate2::Compression::new(GZIP_LEVEL),
            );
            enc.write_all(data).expect("writing to memory");
            Bytes::from(enc.finish().expect("writing to memory"))
        }
        Encoding::Br => {
            let mut out = Vec::with_capacity(data.len() / 8);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, BROTLI_QUALITY, 22);
                w.write_all(data).expect("writing to memory");
            }
            Bytes::from(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_picks_br_then_gzip_by_q() {
        use Encoding::*;
        assert_eq!(Encoding::negotiate(None), Identity);
        assert_eq!(Encoding::negotiate(Some("gzip, deflate, br")), Br);
        assert_eq!(Encoding::negotiate(Some("gzip")), Gzip);
        assert_eq!(Encoding::negotiate(Some("br;q=0.5, gzip;q=0.8")), Gzip);
        assert_eq!(Encoding::negotiate(Some("br;q=0, gzip;q=0")), Identity);
        assert_eq!(Encoding::negotiate(Some("*")), Br);
        assert_eq!(Encoding::negotiate(Some("*;q=0, gzip")), Gzip);
        assert_eq!(Encoding::negotiate(Some("identity")), Identity);
        assert_eq!(Encoding::negotiate(Some(";;q=x,,")), Identity);
    }

    #[test]
    fn compressed_bodies_decode_to_the_original() {
        use std::io::Read as _;
        let data = "{\"premiums\":[".repeat(200);
        let gz = compress(data.as_bytes(), Encoding::Gzip);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, data);
        let br = compress(data.as_bytes(), Encoding::Br);
        let mut out = String::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
