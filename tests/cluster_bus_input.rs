//! Hostile input on the cluster bus port (client port + 10000) of a node in a formed 3-node
//! cluster: frames built by hand, byte by byte, as Redis 7.0's `clusterMsg` (2256-byte header:
//! "RCmb", totlen u32 BE, ver u16 = 1, port, type, count, epochs, offset, sender name, slot
//! bitmap, ...). After each bad frame the node must still answer PING, the cluster must stay
//! ok, and the bus must still accept connections. Slotcache must also close the bad link;
//! Redis (the oracle for "stays healthy", `CLUSTER_KIND=redis`) closes only some of them.
mod common;
use common::cluster::{kind, shared, Cluster, Kind, CLUSTER_DEADLINE};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    shared(&C, || Cluster::start(3, kind()))
}

/// Size of the fixed part of a Redis 7.0 `clusterMsg` (everything before the data union).
const HEADER_LEN: usize = 2256;
const PING: u16 = 0;

/// A `clusterMsg` header from an unknown primary, as Redis 7.0 lays it out.
fn header(totlen: u32, ver: u16, msg_type: u16, count: u16, port: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(b"RCmb");
    h.extend_from_slice(&totlen.to_be_bytes());
    h.extend_from_slice(&ver.to_be_bytes());
    h.extend_from_slice(&port.to_be_bytes()); // sender's client port
    h.extend_from_slice(&msg_type.to_be_bytes());
    h.extend_from_slice(&count.to_be_bytes()); // gossip entries that follow
    h.extend_from_slice(&1u64.to_be_bytes()); // currentEpoch
    h.extend_from_slice(&1u64.to_be_bytes()); // configEpoch
    h.extend_from_slice(&0u64.to_be_bytes()); // replication offset
    h.extend_from_slice(b"f00dfacef00dfacef00dfacef00dfacef00dface"); // sender name
    h.extend_from_slice(&[0u8; 16384 / 8]); // myslots
    h.extend_from_slice(&[0u8; 40]); // slaveof: none
    h.extend_from_slice(&[0u8; 46]); // myip: let the receiver see it
    h.extend_from_slice(&0u16.to_be_bytes()); // extensions
    h.extend_from_slice(&[0u8; 30]); // unused
    h.extend_from_slice(&0u16.to_be_bytes()); // pport
    h.extend_from_slice(&(port + 10000).to_be_bytes()); // cport
    h.extend_from_slice(&1u16.to_be_bytes()); // flags: primary
    h.push(0); // state
    h.extend_from_slice(&[0u8; 3]); // mflags
    assert_eq!(h.len(), HEADER_LEN);
    h
}

fn valid_ping() -> Vec<u8> {
    header(HEADER_LEN as u32, 1, PING, 0, 7999)
}

fn bus(c: &Cluster) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", c.nodes[0].bus_port())).expect("bus accepts");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// Reads until EOF (or a reset) within the deadline, discarding data; true if closed.
fn closed_within_deadline(s: &mut TcpStream) -> bool {
    let start = Instant::now();
    let mut b = [0u8; 65536];
    while start.elapsed() < CLUSTER_DEADLINE {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// Sends `bytes` on a fresh bus connection, then checks the node and the cluster. `closes`:
/// whether Redis itself drops the link for this input (slotcache always must).
fn send_bad(bytes: &[u8], closes_in_redis: bool) {
    let c = cluster();
    let mut s = bus(c);
    // The peer may close while we still write: that is fine.
    let _ = s.write_all(bytes);
    if kind() == Kind::Slotcache || closes_in_redis {
        assert!(closed_within_deadline(&mut s), "the bad link stays open");
    }
    assert_healthy(c);
    drop(s);
    assert_healthy(c);
}

fn assert_healthy(c: &Cluster) {
    let n = &c.nodes[0];
    assert!(n.ping(), "node stopped answering PING:\n{}", n.log_tail());
    for node in &c.nodes {
        assert_eq!(
            node.cluster_info_field("cluster_state").as_deref(),
            Some("ok"),
            "node {}",
            node.port
        );
    }
    TcpStream::connect(("127.0.0.1", n.bus_port())).expect("bus port accepts");
}

#[test]
fn well_formed_ping_from_an_unknown_node_gets_a_pong() {
    // The control: the same builder with nothing broken is a valid message.
    let c = cluster();
    let mut s = bus(c);
    s.set_read_timeout(Some(CLUSTER_DEADLINE)).unwrap();
    s.write_all(&valid_ping()).unwrap();
    let mut head = [0u8; 14];
    s.read_exact(&mut head).expect("a PONG");
    assert_eq!(&head[..4], b"RCmb");
    let totlen = u32::from_be_bytes(head[4..8].try_into().unwrap()) as usize;
    assert!(totlen >= HEADER_LEN, "{totlen}");
    assert_eq!(u16::from_be_bytes([head[8], head[9]]), 1, "version");
    assert_eq!(u16::from_be_bytes([head[12], head[13]]), 1, "type PONG");
    let mut rest = vec![0u8; totlen - head.len()];
    s.read_exact(&mut rest).expect("the whole PONG");
    // Unknown senders are not added by a PING (only MEET does that).
    assert_eq!(c.nodes[0].nodes().len(), 3);
    assert_healthy(c);
}

#[test]
fn wrong_signature() {
    let mut f = valid_ping();
    f[..4].copy_from_slice(b"RCmX");
    send_bad(&f, true);
}

#[test]
fn wrong_version() {
    let f = header(HEADER_LEN as u32, 99, PING, 0, 7999);
    send_bad(&f, false);
}

#[test]
fn totlen_smaller_than_the_header() {
    let mut f = valid_ping();
    f[4..8].copy_from_slice(&100u32.to_be_bytes());
    send_bad(&f, true);
    let mut f = valid_ping();
    f[4..8].copy_from_slice(&8u32.to_be_bytes());
    send_bad(&f, true);
}

#[test]
fn totlen_of_four_gibibytes() {
    let mut f = valid_ping();
    f[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    send_bad(&f[..64], false);
}

#[test]
fn ping_announcing_gossip_it_does_not_carry() {
    let f = header(HEADER_LEN as u32, 1, PING, 1000, 7999);
    send_bad(&f, false);
}

#[test]
fn random_bytes() {
    let mut junk: Vec<u8> = (0..8192).map(|_| rand::random::<u8>()).collect();
    junk[0] = b'X'; // never the signature by chance
    send_bad(&junk, true);
}

#[test]
fn half_a_frame_then_close() {
    let c = cluster();
    let mut s = bus(c);
    s.write_all(&valid_ping()[..HEADER_LEN / 2]).unwrap();
    s.shutdown(Shutdown::Both).unwrap();
    drop(s);
    assert_healthy(c);
    // and once more with only the first 6 bytes of the length prefix
    let mut s = bus(c);
    s.write_all(&valid_ping()[..6]).unwrap();
    drop(s);
    assert_healthy(c);
}
