//! A tiny HTTP responder for the injector's tests, on loopback only: it answers like
//! `hopwatch web` (`{"hostname":..,"ip":..,"timestampmilli":..}`), or stalls, or
//! answers garbage, or closes at once. It runs on its own thread and runtime, so that
//! the injector under test has its own, and [`Responder::stop`] kills it the way
//! SIGKILL would: the listener and every open connection close at once.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the responder answers.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// JSON with the current name, keep-alive unless asked to close.
    Json,
    /// JSON, after this long.
    Stall(Duration),
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// Close without a byte.
    Close,
}

/// A running responder; dropping it stops it too.
pub struct Responder {
    /// Where it listens.
    pub addr: SocketAddr,
    name: Arc<Mutex<String>>,
    accepts: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    /// Listens on `addr` (port 0: any) and answers as `name`.
    pub fn start(addr: &str, name: &str, mode: Mode) -> Self {
        let std_listener = std::net::TcpListener::bind(addr).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let name = Arc::new(Mutex::new(name.to_string()));
        let accepts = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (n, a) = (Arc::clone(&name), Arc::clone(&accepts));
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            continue;
                        };
                        a.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(serve(stream, Arc::clone(&n), mode, addr));
                    }
                };
                tokio::select! {
                    _ = stopped => {}
                    () = serve => {}
                }
            });
            // Dropping the runtime drops every connection task: their sockets close.
            drop(rt);
        });
        Self {
            addr,
            name,
            accepts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The URL of its root.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Answers with another name from now on.
    pub fn set_name(&self, name: &str) {
        *self.name.lock().unwrap() = name.to_string();
    }

    /// Connections accepted so far.
    pub fn accepts(&self) -> u64 {
        self.accepts.load(Ordering::Relaxed)
    }

    /// Stops at once: the listener and every connection close.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve(mut stream: TcpStream, name: Arc<Mutex<String>>, mode: Mode, addr: SocketAddr) {
    let mut buf = Vec::with_capacity(1024);
    loop {
        // Read one request head (bounded).
        let close = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                buf.drain(..end + 4);
                break head.contains("connection: close");
            }
            if buf.len() > 8192 {
                return;
            }
            let mut chunk = [0u8; 1024];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        match mode {
            Mode::Garbage => {
                let _ = stream.write_all(b"SSH-2.0-not-http\r\n\r\n").await;
                return;
            }
            Mode::Close => return,
            Mode::Stall(d) => tokio::time::sleep(d).await,
            Mode::Json => {}
        }
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let body = format!(
            r#"{{"hostname":"{}","ip":"{}","timestampmilli":{ms}}}"#,
            name.lock().unwrap(),
            addr.ip()
        );
        let connection = if close { "Connection: close\r\n" } else { "" };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{connection}\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() || close {
            return;
        }
    }
}
