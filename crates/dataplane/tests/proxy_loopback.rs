//! The proxy data plane on loopback: tiny backends that answer with their own name,
//! a VIP in 127.0.0.0/8, and clients that check where their connection landed.
//!
//! Each test takes its own 127.N.0.0/16 block, so the tests run in parallel without
//! sharing an address; every wait is bounded by [`BOUND`].

// Integration tests: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hopwatch_dataplane::{DataPlane, Error, Prefix, ProxyConfig, ProxyPlane};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

const BOUND: Duration = Duration::from_secs(5);

/// A backend at `addr` that writes `name\n` on each connection, then echoes until EOF.
struct Backend {
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn backend(addr: SocketAddr, name: &'static str) -> Backend {
    let listener = TcpListener::bind(addr).await.unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                if conn
                    .write_all(format!("{name}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                let mut buf = [0u8; 512];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Backend { task }
}

/// A lab in 127.`block`.0.0/16: backends ws1 and ws2 at .0.4 and .0.5, the VIP at
/// .15.15, all on one free port.
struct Lab {
    vip: Prefix,
    port: u16,
    ws1: IpAddr,
    ws2: IpAddr,
    _backends: Vec<Backend>,
}

async fn lab(block: u8) -> (Lab, ProxyPlane) {
    let ws1: IpAddr = format!("127.{block}.0.4").parse().unwrap();
    let ws2: IpAddr = format!("127.{block}.0.5").parse().unwrap();
    let vip: Prefix = format!("127.{block}.15.15/32").parse().unwrap();
    // The kernel picks a free port on ws1; ws2 and the VIP are other addresses of this
    // test's own block, so the same port is free there too.
    let probe = TcpListener::bind((ws1, 0)).await.unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let backends = vec![
        backend(SocketAddr::new(ws1, port), "ws1").await,
        backend(SocketAddr::new(ws2, port), "ws2").await,
    ];
    let plane = ProxyPlane::new(ProxyConfig {
        ports: vec![port],
        ..ProxyConfig::default()
    });
    let lab = Lab {
        vip,
        port,
        ws1,
        ws2,
        _backends: backends,
    };
    (lab, plane)
}

impl Lab {
    fn vip_addr(&self) -> SocketAddr {
        SocketAddr::new(self.vip.addr(), self.port)
    }

    /// Connects to the VIP (from `from`, when given) and reads the backend's name.
    async fn connect(&self, from: Option<SocketAddr>) -> (TcpStream, String) {
        let vip = self.vip_addr();
        tokio::time::timeout(BOUND, async move {
            let socket = TcpSocket::new_v4().unwrap();
            if let Some(from) = from {
                socket.set_reuseaddr(true).unwrap();
                socket.bind(from).unwrap();
            }
            let mut conn = socket.connect(vip).await.unwrap();
            let name = read_line(&mut conn).await;
            (conn, name)
        })
        .await
        .expect("the VIP answers within the bound")
    }

    async fn name_via_vip(&self) -> String {
        let (conn, name) = self.connect(None).await;
        abort(conn);
        name
    }
}

async fn read_line(conn: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while conn.read(&mut byte).await.unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Closes with a RST, so the client's address and port can be used again at once.
fn abort(conn: TcpStream) {
    socket2::SockRef::from(&conn)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

/// Waits (bounded) until the peer closes `conn`: EOF or a reset.
async fn closed_by_peer(conn: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(BOUND, conn.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn a_connection_to_the_vip_reaches_the_programmed_next_hop() {
    let (lab, mut plane) = lab(61).await;
    plane.program(lab.vip, vec![lab.ws2]).await.unwrap();
    assert_eq!(lab.name_via_vip().await, "ws2");
    let (mut conn, _) = lab.connect(None).await;
    conn.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    tokio::time::timeout(BOUND, conn.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"ping", "bytes flow both ways through the VIP");
    plane.shutdown().await.unwrap();
}

#[tokio::test]
async fn after_a_next_hop_change_every_new_connection_goes_to_the_new_one() {
    let (lab, mut plane) = lab(62).await;
    plane.program(lab.vip, vec![lab.ws1]).await.unwrap();
    for _ in 0..5 {
        assert_eq!(lab.name_via_vip().await, "ws1");
    }
    plane.program(lab.vip, vec![lab.ws2]).await.unwrap();
    for _ in 0..20 {
        assert_eq!(lab.name_via_vip().await, "ws2");
    }
    assert_eq!(plane.describe().routes.get(&lab.vip), Some(&vec![lab.ws2]));
    plane.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_existing_connection_to_a_next_hop_that_left_is_closed() {
    let (lab, mut plane) = lab(63).await;
    plane.program(lab.vip, vec![lab.ws1]).await.unwrap();
    let (mut old, name) = lab.connect(None).await;
    assert_eq!(name, "ws1");
    plane.program(lab.vip, vec![lab.ws2]).await.unwrap();
    assert!(
        closed_by_peer(&mut old).await,
        "the connection to ws1 was closed"
    );
    plane.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_to_a_next_hop_that_left_may_finish_within_the_drain_grace() {
    let (lab, mut plane) = lab(70).await;
    plane.program(lab.vip, vec![lab.ws1]).await.unwrap();
    let (mut old, name) = lab.connect(None).await;
    assert_eq!(name, "ws1");
    plane.program(lab.vip, vec![lab.ws2]).await.unwrap();
    // A request in flight at the move still gets its answer...
    old.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    tokio::time::timeout(BOUND, old.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"ping");
    // ...while new connections already go to ws2, and the old one ends after the grace.
    assert_eq!(lab.name_via_vip().await, "ws2");
    assert!(
        closed_by_peer(&mut old).await,
        "the connection to ws1 was closed after the grace"
    );
    plane.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_to_a_next_hop_that_stays_in_the_set_survives_a_change() {
    let (lab, mut plane) = lab(64).await;
    plane.program(lab.vip, vec![lab.ws1]).await.unwrap();
    let (mut kept, name) = lab.connect(None).await;
    assert_eq!(name, "ws1");
    plane
        .program(lab.vip, vec![lab.ws1, lab.ws2])
        .await
        .unwrap();
    kept.write_all(b"still").await.unwrap();
    let mut echo = [0u8; 5];
    tokio::time::timeout(BOUND, kept.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"still");
    let open = &plane.describe().connections[&lab.vip];
    assert_eq!(open[&lab.ws1], 1, "{open:?}");
    plane.shutdown().await.unwrap();
}

#[tokio::test]
async fn ecmp_spreads_distinct_flows_over_both_next_hops_and_each_flow_is_stable() {
    let (lab, mut plane) = lab(65).await;
    plane
        .program(lab.vip, vec![lab.ws1, lab.ws2])
        .await
        .unwrap();
    let mut seen = Vec::new();
    for i in 0..24u8 {
        // A distinct client address per flow; the kernel picks the port.
        let from = SocketAddr::new(format!("127.65.100.{}", i + 1).parse().unwrap(), 0);
        let (conn, name) = lab.connect(Some(from)).await;
        let flow = conn.local_addr().unwrap();
        abort(conn);
        seen.push((flow, name));
    }
    let to_ws1 = seen.iter().filter(|(_, n)| n == "ws1").count();
    assert!(
        (1..seen.len()).contains(&to_ws1),
        "both next hops get flows: {seen:?}"
    );
    for (flow, name) in &seen {
        let (conn, again) = lab.connect(Some(*flow)).await;
        abort(conn);
        assert_eq!(&again, name, "flow {flow} goes where it went before");
    }
    plane.shutdown().await.unwrap();
}

#[tokio::test]
async fn after_remove_new_connections_are_refused_and_existing_ones_closed() {
    let (lab, mut plane) = lab(66).await;
    plane.program(lab.vip, vec![lab.ws1]).await.unwrap();
    let (mut existing, _) = lab.connect(None).await;
    plane.remove(lab.vip).await.unwrap();
    let refused = TcpStream::connect(lab.vip_addr()).await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    assert!(closed_by_peer(&mut existing).await);
    assert!(plane.describe().routes.is_empty());
    plane.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_while_the_vip_has_no_next_hop_is_closed_at_once() {
    let (lab, mut plane) = lab(67).await;
    plane.program(lab.vip, vec![]).await.unwrap();
    let mut conn = tokio::time::timeout(BOUND, TcpStream::connect(lab.vip_addr()))
        .await
        .unwrap()
        .unwrap();
    assert!(closed_by_peer(&mut conn).await);
    plane.program(lab.vip, vec![lab.ws1]).await.unwrap();
    assert_eq!(lab.name_via_vip().await, "ws1");
    plane.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_every_vip_and_refuses_later_programming() {
    let (lab, mut plane) = lab(68).await;
    plane.program(lab.vip, vec![lab.ws1]).await.unwrap();
    plane.shutdown().await.unwrap();
    assert!(TcpStream::connect(lab.vip_addr()).await.is_err());
    assert!(matches!(
        plane.program(lab.vip, vec![lab.ws1]).await,
        Err(Error::ShutDown)
    ));
}

#[tokio::test]
async fn the_proxy_refuses_a_prefix_that_is_not_a_host_route() {
    let (lab, mut plane) = lab(69).await;
    let wide: Prefix = "127.69.15.0/24".parse().unwrap();
    assert!(matches!(
        plane.program(wide, vec![lab.ws1]).await,
        Err(Error::NotAHostPrefix { .. })
    ));
}
