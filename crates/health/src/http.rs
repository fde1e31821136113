//! A minimal HTTP/1.1 client side: build one `GET`, read one response.
//!
//! Hand-written rather than hyper because a health probe needs very little (one
//! request, a status, maybe a substring of the body, and whether the connection can
//! be reused) and because the checker must own the raw `TcpStream` between probes to
//! watch it for EOF/RST while idle (see [`crate::checker`]).
//!
//! Network input never panics and is bounded: the head may be at most
//! [`MAX_HEAD`] bytes, a body at most [`MAX_BODY`]. The reader is generic over
//! `AsyncRead` so that tests feed it arbitrary bytes without a socket.
//!
//! Framing, per RFC 9112 section 6.3: 1xx responses are skipped; 204 and 304 have no
//! body; `Transfer-Encoding: chunked` wins over `Content-Length`; a response with
//! neither is read to EOF. The connection is reusable only when the response was
//! framed, HTTP/1.1 (or 1.0 with `keep-alive`), without `Connection: close`, and
//! nothing followed it.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Most bytes of a response head (status line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Most bytes of a response body that are read (and, if matched, kept).
pub const MAX_BODY: usize = 1024 * 1024;
/// Most informational (1xx) responses skipped before the final one.
const MAX_INFORMATIONAL: usize = 4;
/// Most bytes of a chunk-size line or a trailer line.
const MAX_LINE: usize = 1024;

/// Why a response could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The peer closed the connection before a complete response.
    #[error("connection closed by the backend{}", if *.partial { " in the middle of a response" } else { "" })]
    Closed {
        /// Whether part of a response had arrived.
        partial: bool,
    },
    /// A read failed (typically a reset).
    #[error("read: {0}")]
    Io(#[from] std::io::Error),
    /// The response is not HTTP/1.x as we read it.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// The head or body is larger than we read.
    #[error("response {0} too large")]
    TooLarge(&'static str),
}

/// The parts of a response head that matter to a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// `Content-Length`, if present (and consistent).
    pub content_length: Option<u64>,
    /// The last transfer coding is `chunked`.
    pub chunked: bool,
    /// A `Transfer-Encoding` header is present.
    pub has_transfer_encoding: bool,
    /// `Connection: close`.
    pub close: bool,
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
}

/// What a probe learns from a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The final status code.
    pub status: u16,
    /// The body, if asked for (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
    /// Whether another request may be sent on this connection.
    pub reusable: bool,
}

/// The bytes of `GET path HTTP/1.1` with a `Host` header; keep-alive is HTTP/1.1's
/// default so no `Connection` header is sent.
pub fn request(host: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hopwatch-health\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
}

/// Where the head ends: the index just past the empty line (`\r\n\r\n` or `\n\n`).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let next = i + off + 1;
        match buf.get(next..) {
            Some([b'\n', ..]) => return Some(next + 1),
            Some([b'\r', b'\n', ..]) => return Some(next + 2),
            _ => i = next,
        }
    }
    None
}

/// Lines of `bytes` split at `\n`, without the `\r` before it.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a response head (everything up to and including the empty line). Pure.
pub fn parse_head(head: &[u8]) -> Result<Head, HttpError> {
    let mut lines = lines(head);
    let status_line = lines.next().unwrap_or_default();
    let (minor_version, status) = match status_line {
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            b'1',
            b'.',
            minor @ (b'0' | b'1'),
            b' ',
            d1,
            d2,
            d3,
            rest @ ..,
        ] if d1.is_ascii_digit()
            && d2.is_ascii_digit()
            && d3.is_ascii_digit()
            && matches!(rest.first(), None | Some(b' ')) =>
        {
            let status =
                u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0');
            (minor - b'0', status)
        }
        _ => return Err(HttpError::Malformed("bad status line")),
    };
    let mut parsed = Head {
        status,
        minor_version,
        content_length: None,
        chunked: false,
        has_transfer_encoding: false,
        close: false,
        keep_alive: false,
    };
    for line in lines {
        if line.is_empty() {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            return Err(HttpError::Malformed("obsolete header line folding"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HttpError::Malformed("header line without a colon"))?;
        let (name, value) = line.split_at(colon);
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(HttpError::Malformed("bad header name"));
        }
        let value = trim(value.get(1..).unwrap_or_default());
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in value.split(|&b| b == b',') {
                let part = trim(part);
                if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                    return Err(HttpError::Malformed("bad Content-Length"));
                }
                let n = part.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                if parsed.content_length.is_some_and(|old| old != n) {
                    return Err(HttpError::Malformed("conflicting Content-Length"));
                }
                parsed.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            parsed.has_transfer_encoding = true;
            let last = value
                .split(|&b| b == b',')
                .map(trim)
                .rfind(|c| !c.is_empty());
            parsed.chunked = last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in value.split(|&b| b == b',').map(trim) {
                parsed.close |= option.eq_ignore_ascii_case(b"close");
                parsed.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    Ok(parsed)
}

/// Parses a chunk-size line (`1a;ext=x`) to the size. Pure.
pub fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .map(trim)
        .unwrap_or_default();
    if digits.is_empty() || digits.len() > 15 {
        return Err(HttpError::Malformed("bad chunk size"));
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let v = char::from(d)
            .to_digit(16)
            .ok_or(HttpError::Malformed("bad chunk size"))?;
        Ok(n * 16 + u64::from(v))
    })
}

/// A buffered reader with bounded reads.
pub struct Reader<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[pos..]` is not yet consumed.
    pos: usize,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self::with_buffer(inner, Vec::new())
    }

    /// Wraps `inner`, reading into `buf` (emptied first; grown to 1 KiB if smaller),
    /// so that a caller reading many responses allocates once.
    pub fn with_buffer(inner: R, mut buf: Vec<u8>) -> Self {
        buf.clear();
        if buf.capacity() < 1024 {
            buf.reserve(1024);
        }
        Self { inner, buf, pos: 0 }
    }

    /// The buffer, for the next [`Reader::with_buffer`]. A buffer a huge response
    /// grew is dropped rather than kept.
    pub fn into_buffer(mut self) -> Vec<u8> {
        if self.buf.capacity() > 64 * 1024 {
            return Vec::new();
        }
        self.buf.clear();
        self.buf
    }

    fn unread(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }

    /// Reads more bytes; `Ok(0)` at EOF.
    async fn fill(&mut self) -> Result<usize, HttpError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 512 {
            self.buf.reserve(4096);
        }
        Ok(self.inner.read_buf(&mut self.buf).await?)
    }

    /// Reads up to and including the next `\n`, at most `max` bytes; returns the line
    /// without its line ending.
    async fn read_line(&mut self, max: usize) -> Result<Vec<u8>, HttpError> {
        loop {
            if let Some(i) = self.unread().iter().position(|&b| b == b'\n') {
                let line = self.unread().get(..i).unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
                self.consume(i + 1);
                return Ok(line);
            }
            if self.unread().len() > max {
                return Err(HttpError::TooLarge("line"));
            }
            if self.fill().await? == 0 {
                return Err(HttpError::Closed { partial: true });
            }
        }
    }

    /// Reads `n` body bytes, appending to `body` while it holds less than [`MAX_BODY`].
    async fn read_exact_into(
        &mut self,
        mut n: u64,
        body: &mut Vec<u8>,
        keep: bool,
    ) -> Result<(), HttpError> {
        while n > 0 {
            if self.unread().is_empty() && self.fill().await? == 0 {
                return Err(HttpError::Closed { partial: true });
            }
            let take = usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(self.unread().len());
            if keep {
                let room = MAX_BODY.saturating_sub(body.len()).min(take);
                body.extend_from_slice(self.unread().get(..room).unwrap_or_default());
            }
            self.consume(take);
            n -= take as u64;
        }
        Ok(())
    }

    /// Reads one complete response (skipping 1xx ones). The body is kept only if
    /// `keep_body`.
    pub async fn read_response(&mut self, keep_body: bool) -> Result<Response, HttpError> {
        let mut informational = 0;
        let head = loop {
            let end = loop {
                if let Some(end) = find_head_end(self.unread()) {
                    break end;
                }
                if self.unread().len() > MAX_HEAD {
                    return Err(HttpError::TooLarge("head"));
                }
                if self.fill().await? == 0 {
                    let partial = !self.unread().is_empty();
                    return Err(HttpError::Closed { partial });
                }
            };
            if end > MAX_HEAD {
                return Err(HttpError::TooLarge("head"));
            }
            let head = parse_head(self.unread().get(..end).unwrap_or_default())?;
            self.consume(end);
            if (100..200).contains(&head.status) && head.status != 101 {
                informational += 1;
                if informational > MAX_INFORMATIONAL {
                    return Err(HttpError::Malformed("too many informational responses"));
                }
                continue;
            }
            break head;
        };
        let mut body = Vec::new();
        let mut framed = true;
        if head.status == 204 || head.status == 304 || head.status == 101 {
            framed = head.status != 101;
        } else if head.chunked {
            let mut total: u64 = 0;
            loop {
                let size = parse_chunk_size(&self.read_line(MAX_LINE).await?)?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    let mut trailers = 0;
                    while !self.read_line(MAX_LINE).await?.is_empty() {
                        trailers += 1;
                        if trailers > 64 {
                            return Err(HttpError::TooLarge("trailer"));
                        }
                    }
                    break;
                }
                total = total.saturating_add(size);
                if total > MAX_BODY as u64 {
                    return Err(HttpError::TooLarge("body"));
                }
                self.read_exact_into(size, &mut body, keep_body).await?;
                if !self.read_line(2).await?.is_empty() {
                    return Err(HttpError::Malformed("chunk not followed by CRLF"));
                }
            }
        } else if head.has_transfer_encoding {
            return Err(HttpError::Malformed("unsupported transfer coding"));
        } else if let Some(n) = head.content_length {
            if n > MAX_BODY as u64 {
                return Err(HttpError::TooLarge("body"));
            }
            self.read_exact_into(n, &mut body, keep_body).await?;
        } else {
            // Delimited by EOF; bounded all the same.
            framed = false;
            let mut total = 0usize;
            loop {
                let len = self.unread().len();
                total = total.saturating_add(len);
                if total > MAX_BODY {
                    return Err(HttpError::TooLarge("body"));
                }
                if keep_body {
                    body.extend_from_slice(self.unread());
                }
                self.consume(len);
                if self.fill().await? == 0 {
                    break;
                }
            }
        }
        let persistent = if head.minor_version == 1 {
            !head.close
        } else {
            head.keep_alive && !head.close
        };
        Ok(Response {
            status: head.status,
            body,
            reusable: framed && persistent && self.unread().is_empty(),
        })
    }
}

/// Whether `haystack` contains `needle` (an empty needle is always found).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], keep: bool) -> Result<Response, HttpError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime builds");
        rt.block_on(Reader::new(bytes).read_response(keep))
    }

    fn ok(status: u16, body: &[u8], reusable: bool) -> Response {
        Response {
            status,
            body: body.to_vec(),
            reusable,
        }
    }

    #[test]
    fn responses_are_framed_as_rfc_9112_says() {
        #[rustfmt::skip]
        let table: &[(&[u8], Response)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", ok(200, b"ok", true)),
            (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", ok(200, b"ok", true)),
            (b"HTTP/1.1 503 Service Unavailable\r\ncontent-length:0\r\n\r\n", ok(503, b"", true)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", ok(200, b"ok", false)),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", ok(200, b"ok", false)),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive\r\n\r\nok", ok(200, b"ok", true)),
            (b"HTTP/1.1 200 OK\r\n\r\nuntil eof", ok(200, b"until eof", false)),
            (b"HTTP/1.1 204 No Content\r\n\r\n", ok(204, b"", true)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", ok(200, b"ok", true)),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", ok(200, b"x", true)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;x=y\r\n!!!\r\n0\r\nT: v\r\n\r\n", ok(200, b"ok!!!", true)),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n1\r\nA\r\n0\r\n\r\n", ok(200, b"A", true)),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", ok(200, b"ok", false)),
            (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", ok(200, b"", true)),
        ];
        for (bytes, expected) in table {
            let got = read(bytes, true)
                .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(bytes)));
            assert_eq!(&got, expected, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn malformed_or_truncated_responses_are_errors() {
        #[rustfmt::skip]
        let table: &[(&[u8], &str)] = &[
            (b"", "closed by the backend"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", "in the middle"),
            (b"HTTP/1.1 200 OK\r\nContent", "in the middle"),
            (b"HTTP/2 200 OK\r\n\r\n", "bad status line"),
            (b"SSH-2.0-OpenSSH\r\n\r\n", "bad status line"),
            (b"HTTP/1.1 2000 OK\r\n\r\n", "bad status line"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok", "conflicting"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "bad Content-Length"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n", "body too large"),
            (b"HTTP/1.1 200 OK\r\n folded\r\n\r\n", "folding"),
            (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "bad header name"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n", "CRLF"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer coding"),
        ];
        for (bytes, needle) in table {
            let message = match read(bytes, true) {
                Ok(r) => panic!("{:?} read as {r:?}", String::from_utf8_lossy(bytes)),
                Err(e) => e.to_string(),
            };
            assert!(
                message.contains(needle),
                "{:?}: {message:?} should mention {needle:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn an_endless_head_is_cut_off() {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'a', MAX_HEAD * 2));
        assert!(matches!(
            read(&bytes, false),
            Err(HttpError::TooLarge("head"))
        ));
    }

    #[test]
    fn an_unframed_body_is_bounded() {
        let mut bytes = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'a', MAX_BODY + 10));
        assert!(matches!(
            read(&bytes, true),
            Err(HttpError::TooLarge("body"))
        ));
    }

    #[test]
    fn the_request_is_a_keep_alive_get_with_a_host_header() {
        assert_eq!(
            request("10.10.0.4:8080", "/health"),
            b"GET /health HTTP/1.1\r\nHost: 10.10.0.4:8080\r\nUser-Agent: hopwatch-health\r\nAccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn substrings_are_found() {
        assert!(contains(b"status: ok", b"ok"));
        assert!(contains(b"x", b""));
        assert!(!contains(b"o", b"ok"));
    }

    proptest::proptest! {
        #[test]
        fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = read(&bytes, true);
        }

        #[test]
        fn reading_arbitrary_bytes_after_a_valid_status_line_never_panics(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n".to_vec();
            bytes.extend(tail);
            let _ = read(&bytes, true);
        }
    }
}
