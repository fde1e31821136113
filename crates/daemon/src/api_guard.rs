//! What keeps web pages away from the two APIs.
//!
//! The APIs listen on loopback by default, and an operator's browser can reach
//! loopback (or an SSH tunnel to a watcher's API). A page it opens may send
//! `fetch(url, {method: 'POST', mode: 'no-cors', body})`: the browser does not let
//! the page read the answer, but it sends the request, with a "simple" content
//! type (`text/plain`, a form's encoding) and an `Origin` header. A page on a name
//! that the attacker then points at 127.0.0.1 (DNS rebinding) reaches the API with
//! that name as `Host`, and may even read the answers. So:
//!
//! | request | answer | why |
//! | --- | --- | --- |
//! | with an `Origin` header | 403 | browsers send it on every cross-origin POST; `ctl`, `curl`, scripts and Prometheus never do |
//! | with a `Host` that is a name other than `localhost`, or an address that is neither the API's own nor a loopback one (any address when it listens on all) | 403 | DNS rebinding reaches the API under the page's own name; a client that dials the API's address names it. A loopback address with any port is allowed: an SSH tunnel |
//! | a POST (any method but GET and HEAD) without `Content-Type: application/json` | 415 | a page cannot send that content type cross-origin without a CORS preflight, which the APIs never grant |
//!
//! A request without `Host` (HTTP/1.0 style) is let through: browsers always send
//! one. Each refusal is a JSON error like every other ([`crate::api_serve::error`]).

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// `router` behind the checks above, for an API listening on `listen`.
pub fn refuse_browsers(router: Router, listen: SocketAddr) -> Router {
    router.layer(axum::middleware::from_fn_with_state(listen, guard))
}

async fn guard(State(listen): State<SocketAddr>, req: Request, next: Next) -> Response {
    match verdict(listen.ip(), req.method(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err((code, msg)) => crate::api_serve::error(code, &msg),
    }
}

/// Whether a request may reach the API's routes; the refusal otherwise.
pub fn verdict(
    listen: IpAddr,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), (StatusCode, String)> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return Err((
            StatusCode::FORBIDDEN,
            format!(
                "cross-origin request refused (Origin: {}): the API takes no requests \
                 from web pages",
                String::from_utf8_lossy(origin.as_bytes())
            ),
        ));
    }
    if let Some(host) = headers.get(header::HOST) {
        let host = String::from_utf8_lossy(host.as_bytes());
        if !host_allowed(&host, listen) {
            return Err((
                StatusCode::FORBIDDEN,
                format!(
                    "Host {host} refused: call the API by its address or localhost (a \
                     name other than localhost could be DNS rebinding)"
                ),
            ));
        }
    }
    if !matches!(*method, Method::GET | Method::HEAD) && !is_json(headers) {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a request that changes state needs Content-Type: application/json".into(),
        ));
    }
    Ok(())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether `host` (a `Host` header: `name`, `name:port`, `[v6]:port`) names the
/// API: `localhost`, a loopback address, the API's own address, or any address
/// when the API listens on all.
fn host_allowed(host: &str, listen: IpAddr) -> bool {
    let name = without_port(host.trim());
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let Ok(ip) = name.parse::<IpAddr>() else {
        return false;
    };
    ip == listen || ip.is_loopback() || listen.is_unspecified()
}

fn without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        // One colon: `name:port`. More: a bare IPv6 address (not valid in Host, but
        // then it is judged as the address it is).
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("a header value"));
        }
        h
    }

    fn code(listen: &str, method: Method, pairs: &[(&'static str, &'static str)]) -> u16 {
        match verdict(
            listen.parse().expect("an address"),
            &method,
            &headers(pairs),
        ) {
            Ok(()) => 200,
            Err((c, _)) => c.as_u16(),
        }
    }

    #[test]
    fn hosts_are_addresses_or_localhost() {
        let l = "127.0.0.1";
        assert_eq!(code(l, Method::GET, &[("host", "127.0.0.1:9179")]), 200);
        assert_eq!(code(l, Method::GET, &[("host", "localhost:19179")]), 200);
        assert_eq!(code(l, Method::GET, &[("host", "LOCALHOST")]), 200);
        assert_eq!(code(l, Method::GET, &[("host", "[::1]:9179")]), 200);
        assert_eq!(code(l, Method::GET, &[]), 200);
        assert_eq!(code(l, Method::GET, &[("host", "evil.example")]), 403);
        assert_eq!(
            code(l, Method::GET, &[("host", "127.0.0.1.nip.io:9179")]),
            403
        );
        assert_eq!(code(l, Method::GET, &[("host", "10.0.0.9:9179")]), 403);
        let own = "10.10.0.7";
        assert_eq!(code(own, Method::GET, &[("host", "10.10.0.7:9179")]), 200);
        assert_eq!(code(own, Method::GET, &[("host", "127.0.0.1:9179")]), 200);
        assert_eq!(code(own, Method::GET, &[("host", "10.10.0.8:9179")]), 403);
        let all = "0.0.0.0";
        assert_eq!(code(all, Method::GET, &[("host", "10.10.0.8:9179")]), 200);
        assert_eq!(code(all, Method::GET, &[("host", "watch1:9179")]), 403);
    }

    #[test]
    fn an_origin_is_refused_and_a_post_must_be_json() {
        let l = "127.0.0.1";
        assert_eq!(
            code(l, Method::GET, &[("origin", "http://evil.example")]),
            403
        );
        assert_eq!(code(l, Method::POST, &[("origin", "null")]), 403);
        assert_eq!(code(l, Method::POST, &[]), 415);
        assert_eq!(
            code(l, Method::POST, &[("content-type", "text/plain")]),
            415
        );
        assert_eq!(
            code(
                l,
                Method::POST,
                &[("content-type", "application/json; charset=utf-8")]
            ),
            200
        );
        assert_eq!(
            code(l, Method::DELETE, &[("content-type", "application/json")]),
            200
        );
    }
}
