//! MULTI/EXEC atomicity and WATCH invalidation by another client's write, by expiry, by
//! FLUSHALL; EXEC replies in RESP2 and RESP3.
mod common;
use common::{resp, wait_for, Server};
use redis::Commands;

#[test]
fn watch_is_spoiled_by_another_client() {
    let s = Server::start(&[]);
    let mut a = s.client();
    let mut b = s.client();
    let _: () = a.set("balance", 10).unwrap();
    let _: () = redis::cmd("WATCH").arg("balance").query(&mut a).unwrap();
    let _: () = b.set("balance", 99).unwrap();
    let r: Option<Vec<i64>> = redis::pipe()
        .atomic()
        .incr("balance", 1)
        .query(&mut a)
        .unwrap();
    assert_eq!(r, None, "EXEC must fail after a watched key changed");
    assert_eq!(a.get::<_, i64>("balance").unwrap(), 99);
    // Without interference the transaction runs.
    let _: () = redis::cmd("WATCH").arg("balance").query(&mut a).unwrap();
    let r: Option<Vec<i64>> = redis::pipe()
        .atomic()
        .incr("balance", 1)
        .query(&mut a)
        .unwrap();
    assert_eq!(r, Some(vec![100]));
}

#[test]
fn watch_is_spoiled_by_expiry_and_flush() {
    let s = Server::start(&[]);
    let mut a = s.client();
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg(1)
        .arg("PX")
        .arg(100)
        .query(&mut a)
        .unwrap();
    let _: () = redis::cmd("WATCH").arg("t").query(&mut a).unwrap();
    let mut b = s.client();
    wait_for("t to expire", || {
        b.get::<_, Option<i64>>("t")
            .unwrap()
            .is_none()
            .then_some(())
    });
    let r: Option<Vec<String>> = redis::pipe()
        .atomic()
        .set("t", 2)
        .ignore()
        .get("t")
        .query(&mut a)
        .unwrap();
    assert_eq!(r, None);
    let _: () = a.set("f", 1).unwrap();
    let _: () = redis::cmd("WATCH").arg("f").query(&mut a).unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut b).unwrap();
    let r: Option<Vec<String>> = redis::pipe().atomic().get("f").query(&mut a).unwrap();
    assert_eq!(r, None);
}

#[test]
fn exec_is_atomic_against_concurrent_writers() {
    let s = Server::start(&[]);
    let url = s.url();
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                for _ in 0..200 {
                    let (x, y): (i64, i64) = redis::pipe()
                        .atomic()
                        .incr("x", 1)
                        .incr("y", 1)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(x, y, "both counters move together inside EXEC");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut c = s.client();
    assert_eq!(c.get::<_, i64>("x").unwrap(), 800);
}

#[test]
fn exec_replies_in_resp3() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert!(c.reply(&resp(&[b"HELLO", b"3"]), 10).starts_with('%'));
    c.send(&resp(&[b"MULTI"]));
    c.send(&resp(&[b"SET", b"k", b"v"]));
    c.send(&resp(&[b"GET", b"nope"]));
    let want = "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n_\r\n";
    assert_eq!(c.reply(&resp(&[b"EXEC"]), want.len()), want);
    // Wait for WATCH to be applied before the other client writes.
    assert_eq!(c.reply(&resp(&[b"WATCH", b"k"]), 5), "+OK\r\n");
    let mut other = s.client();
    let _: () = other.set("k", "changed").unwrap();
    c.send(&resp(&[b"MULTI"]));
    c.send(&resp(&[b"GET", b"k"]));
    let want = "+OK\r\n+QUEUED\r\n_\r\n";
    assert_eq!(c.reply(&resp(&[b"EXEC"]), want.len()), want);
}

#[test]
fn watching_a_key_already_expired_is_no_change_when_it_goes() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut c)
        .unwrap();
    // A key past its TTL, not yet deleted (active expiry is off and nothing read it):
    // the 5 ms only let its 1 ms TTL pass.
    let _: () = redis::cmd("SET")
        .arg("y")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut c)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let _: () = redis::cmd("WATCH")
        .arg("y")
        .arg("missing")
        .query(&mut c)
        .unwrap();
    // Deleting the expired key (lazily, by EXISTS) and flushing a database without the
    // other watched key change nothing the client saw.
    let n: i64 = redis::cmd("EXISTS").arg("y").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let _: () = redis::cmd("SELECT").arg(1).query(&mut c).unwrap();
    let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    let r: Option<Vec<String>> = redis::pipe().atomic().cmd("PING").query(&mut c).unwrap();
    assert_eq!(r, Some(vec!["PONG".to_string()]));
}
