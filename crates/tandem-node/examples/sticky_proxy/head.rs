//! Request and response heads: parsed (httparse) into owned forms, the
//! stickiness cookie found, the head sent to a real server written.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use crate::http::Refused;

/// The stickiness cookie.
pub(crate) const COOKIE: &str = "TANDEM_SRV";
/// Longest cookie value looked up (ours are 32 hex digits).
pub(crate) const COOKIE_MAX: usize = 64;
/// Most headers in a request or response head.
pub(crate) const MAX_HEADERS: usize = 64;
/// Hop-by-hop headers: never forwarded (RFC 9110 §7.6.1).
pub(crate) const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "transfer-encoding",
];

/// A parsed request head, owned.
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    /// Bytes of the head (what follows is the body's start).
    pub(crate) len: usize,
    pub(crate) content_length: u64,
}

impl Head {
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// The request head in `buf`, if complete.
pub(crate) fn parse_request(buf: &[u8], limit: usize) -> Result<Option<Head>, Refused> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Refused::HeadTooLarge { limit }),
        Err(e) => return Err(Refused::Malformed(e.to_string())),
    };
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return Err(Refused::Malformed("no request line".into()));
    };
    let headers: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    let mut content_length = None;
    for (name, value) in &headers {
        if !name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let parsed = std::str::from_utf8(value)
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| Refused::Malformed("Content-Length is not a number".into()))?;
        if content_length.is_some_and(|c| c != parsed) {
            return Err(Refused::Malformed("two different Content-Length".into()));
        }
        content_length = Some(parsed);
    }
    Ok(Some(Head {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        len,
        content_length: content_length.unwrap_or(0),
    }))
}

/// A response head, owned.
pub(crate) struct ResponseHead {
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) len: usize,
    /// None: chunked, or up to the close.
    pub(crate) content_length: Option<u64>,
}

pub(crate) fn parse_response(buf: &[u8]) -> Result<Option<ResponseHead>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let code = resp.code.ok_or("no status line")?;
    let headers: Vec<(String, Vec<u8>)> = resp
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    let content_length = if chunked {
        None
    } else {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| "Content-Length is not a number".to_string())
            })
            .transpose()?
    };
    Ok(Some(ResponseHead {
        code,
        reason: resp.reason.unwrap_or("").to_string(),
        headers,
        len,
        content_length,
    }))
}

/// The `TANDEM_SRV` value of the request's cookies, if any.
pub(crate) fn cookie_value(head: &Head) -> Option<&[u8]> {
    head.values("cookie")
        .flat_map(|v| v.split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (name, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
            let value = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            (name == COOKIE.as_bytes() && !value.is_empty() && value.len() <= COOKIE_MAX)
                .then_some(value)
        })
}

/// The head sent to the real server: the request line, the end-to-end
/// headers, `X-Forwarded-For`, `Connection: close`.
pub(crate) fn request_head(head: &Head, client: IpAddr, backend: SocketAddr) -> Vec<u8> {
    // Headers named by Connection are hop-by-hop too.
    let named: Vec<String> = head
        .values("connection")
        .flat_map(|v| v.split(|&b| b == b','))
        .filter_map(|n| std::str::from_utf8(n.trim_ascii()).ok())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut out = Vec::with_capacity(head.len + 128);
    let _ = write!(out, "{} {} HTTP/1.1\r\n", head.method, head.path);
    let mut forwarded_for: Option<Vec<u8>> = None;
    let mut host = false;
    for (name, value) in &head.headers {
        let lower = name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&lower.as_str()) || named.contains(&lower) {
            continue;
        }
        if lower == "x-forwarded-for" {
            let f = forwarded_for.get_or_insert_with(Vec::new);
            if !f.is_empty() {
                f.extend_from_slice(b", ");
            }
            f.extend_from_slice(value);
            continue;
        }
        host |= lower == "host";
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !host {
        let _ = write!(out, "Host: {backend}\r\n");
    }
    out.extend_from_slice(b"X-Forwarded-For: ");
    if let Some(f) = forwarded_for {
        out.extend_from_slice(&f);
        out.extend_from_slice(b", ");
    }
    let _ = write!(out, "{client}\r\n");
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out
}

pub(crate) fn error_response(code: u16, reason: &str, detail: &str) -> Vec<u8> {
    let body = format!("{code} {reason}: {detail}\n");
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    fn head(text: &str) -> Head {
        match parse_request(text.as_bytes(), 8192) {
            Ok(Some(h)) => h,
            Ok(None) => panic!("incomplete: {text:?}"),
            Err(e) => panic!("refused: {e}"),
        }
    }

    #[test]
    fn the_stickiness_cookie_is_found_among_others() {
        let h = head("GET / HTTP/1.1\r\nCookie: a=1; TANDEM_SRV=abc; b=2\r\n\r\n");
        assert_eq!(cookie_value(&h), Some(&b"abc"[..]));
        let h = head("GET / HTTP/1.1\r\nCookie: a=1\r\nCookie: TANDEM_SRV=\"q\"\r\n\r\n");
        assert_eq!(cookie_value(&h), Some(&b"q"[..]));
        for none in [
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nCookie: XTANDEM_SRV=abc\r\n\r\n",
            "GET / HTTP/1.1\r\nCookie: TANDEM_SRV=\r\n\r\n",
            "GET / HTTP/1.1\r\nCookie: TANDEM_SRV\r\n\r\n",
        ] {
            assert_eq!(cookie_value(&head(none)), None, "{none:?}");
        }
        let long = format!(
            "GET / HTTP/1.1\r\nCookie: TANDEM_SRV={}\r\n\r\n",
            "a".repeat(65)
        );
        assert_eq!(cookie_value(&head(&long)), None, "over {COOKIE_MAX} bytes");
    }

    #[test]
    fn content_length_must_be_one_number() {
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n").content_length,
            12
        );
        assert_eq!(
            head("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n")
                .content_length,
            3
        );
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse_request(bad.as_bytes(), 8192),
                    Err(Refused::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n", 8192),
            Ok(None)
        ));
    }

    #[test]
    fn hop_by_hop_headers_stay_here() {
        let h = head(
            "POST /p?q HTTP/1.0\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n\
             Keep-Alive: 5\r\nExpect: 100-continue\r\nX-Forwarded-For: 203.0.113.9\r\n\
             Accept: */*\r\nContent-Length: 0\r\n\r\n",
        );
        let out = request_head(
            &h,
            "192.0.2.7".parse().unwrap(),
            "198.51.100.1:80".parse().unwrap(),
        );
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "POST /p?q HTTP/1.1\r\nAccept: */*\r\nContent-Length: 0\r\nHost: 198.51.100.1:80\r\n\
             X-Forwarded-For: 203.0.113.9, 192.0.2.7\r\nConnection: close\r\n\r\n"
        );
    }
}
