//! Interop check against a real redis-server (ignored by default: needs `redis-server` 7.x
//! on PATH). Run with `cargo test --lib cluster::wire -- --ignored`.
//!
//! Redis answers a valid MEET with a PONG and silently drops an invalid one (keeping the
//! link), so getting a PONG back proves Redis accepted the frame we encoded, and decoding it
//! proves we accept what Redis writes.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tests::{every_extension, gossip_entry};
use super::*;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port `p` such that `p` and its bus port `p + 10000` are both free right now.
fn free_port_pair() -> u16 {
    (0..200)
        .find_map(|_| {
            let probe = TcpListener::bind("127.0.0.1:0").ok()?;
            let p = probe.local_addr().ok()?.port().checked_sub(10000)?;
            TcpListener::bind(("127.0.0.1", p)).ok()?;
            Some(p)
        })
        .expect("no free port pair")
}

fn connect_with_retry(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("bus port {port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut prefix = [0u8; PREFIX_LEN];
    s.read_exact(&mut prefix)?;
    let len = frame_len(&prefix, 1 << 20).expect("bad frame from redis");
    let mut frame = prefix.to_vec();
    frame.resize(len, 0);
    s.read_exact(&mut frame[PREFIX_LEN..])?;
    Ok(frame)
}

fn meet() -> Message {
    let mut header = Header::new(MsgType::Meet, *b"0123456789abcdef0123456789abcdef01234567");
    header.port = 30001;
    header.cport = 40001;
    header.flags = node_flags::MASTER | node_flags::MYSELF;
    set_slot_bit(&mut header.myslots, 100, true);
    Message {
        header,
        body: Body::Gossip {
            entries: vec![gossip_entry(b'a')],
            extensions: every_extension(),
        },
    }
}

#[test]
#[ignore = "needs redis-server on PATH"]
fn redis_7_accepts_our_meet_and_we_accept_its_pong() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port_pair();
    let conf = dir.path().join("nodes.conf");
    let _server = Server(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--cluster-enabled", "yes"])
            .arg("--cluster-config-file")
            .arg(&conf)
            .arg("--dir")
            .arg(dir.path())
            .args(["--save", "", "--appendonly", "no"])
            .args(["--cluster-announce-hostname", "live.example"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server"),
    );
    let bus = port + 10000;

    let mut s = connect_with_retry(bus);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&encode(&meet())).unwrap();
    let pong = decode(&read_frame(&mut s).unwrap()).unwrap();
    assert_eq!(pong.header.msg_type, MsgType::Pong);
    assert_eq!((pong.header.port, pong.header.cport), (port, bus));
    let Body::Gossip { extensions, .. } = &pong.body else {
        panic!("{:?}", pong.body)
    };
    assert!(extensions.contains(&Extension::Hostname("live.example".into())));

    // A frame we reject is dropped by Redis too: an extension length that isn't a multiple
    // of 8 gets no PONG.
    let mut bad = encode(&meet());
    let first_ext = HEADER_LEN + GOSSIP_ENTRY_LEN;
    bad[first_ext..first_ext + 4].copy_from_slice(&20u32.to_be_bytes());
    assert!(matches!(decode(&bad), Err(WireError::BadExtension { .. })));
    let mut s = connect_with_retry(bus);
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    s.write_all(&bad).unwrap();
    let err = read_frame(&mut s).expect_err("redis answered an invalid frame");
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    // ...and only the frame is dropped: the link stays up and answers the next MEET.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&encode(&meet())).unwrap();
    let pong = decode(&read_frame(&mut s).unwrap()).unwrap();
    assert_eq!(pong.header.msg_type, MsgType::Pong);
}
