//! Blocking list pops: wake-up on push, FIFO order among blocked clients, timeouts, MULTI,
//! type changes and disconnects.
mod common;
use common::{resp, wait_for, Server};
use redis::Commands;

fn blocked_clients(c: &mut redis::Connection) -> i64 {
    common::info_field(c, "clients", "blocked_clients")
}

#[test]
fn blpop_wakes_on_push_in_fifo_order() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let mut waiters = Vec::new();
    for i in 0..3 {
        let mut c = s.raw();
        c.send(&resp(&[b"BLPOP", b"queue", b"0"]));
        wait_for("client to block", || {
            (blocked_clients(&mut admin) == i + 1).then_some(())
        });
        waiters.push(c);
    }
    for v in ["first", "second", "third"] {
        let _: i64 = admin.rpush("queue", v).unwrap();
    }
    for (c, v) in waiters.iter_mut().zip(["first", "second", "third"]) {
        let want = format!("*2\r\n$5\r\nqueue\r\n${}\r\n{v}\r\n", v.len());
        let (got, _) = c.read_at_least(want.len());
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn timeouts_multi_and_errors() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let r: Option<(String, String)> = redis::cmd("BLPOP")
        .arg("none")
        .arg(0.05)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    let r: Option<String> = redis::cmd("BLMOVE")
        .arg("none")
        .arg("dst")
        .arg("LEFT")
        .arg("RIGHT")
        .arg(0.01)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    // Inside MULTI a blocking pop answers at once.
    let r: (Option<Vec<String>>,) = redis::pipe()
        .atomic()
        .cmd("BRPOP")
        .arg("none")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(r.0, None);
    let e = redis::cmd("BLPOP")
        .arg("k")
        .arg(-1)
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("timeout is negative"), "{e}");
    let e = redis::cmd("BLPOP")
        .arg("k")
        .arg("abc")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("timeout is not a float or out of range"),
        "{e}"
    );
    let _: () = c.set("str", "x").unwrap();
    let e = redis::cmd("BLPOP")
        .arg("str")
        .arg(0)
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
}

#[test]
fn blocked_client_survives_type_change_and_sees_later_push() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let mut w = s.raw();
    w.send(&resp(&[
        b"BLMPOP", b"0", b"1", b"k", b"RIGHT", b"COUNT", b"2",
    ]));
    wait_for("client to block", || {
        (blocked_clients(&mut admin) == 1).then_some(())
    });
    let _: () = admin.set("k", "not a list").unwrap();
    let _: i64 = admin.del("k").unwrap();
    assert_eq!(
        blocked_clients(&mut admin),
        1,
        "a string at the key does not serve the waiter"
    );
    let _: i64 = admin.rpush("k", &["a", "b", "c"]).unwrap();
    let want = "*2\r\n$1\r\nk\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n";
    let (got, _) = w.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn disconnect_while_blocked_unregisters() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let mut w = s.raw();
    w.send(&resp(&[b"BRPOPLPUSH", b"src", b"dst", b"0"]));
    wait_for("client to block", || {
        (blocked_clients(&mut admin) == 1).then_some(())
    });
    drop(w);
    wait_for("blocked client to leave", || {
        (blocked_clients(&mut admin) == 0).then_some(())
    });
    let _: i64 = admin.rpush("src", "x").unwrap();
    assert_eq!(
        admin.llen::<_, i64>("src").unwrap(),
        1,
        "nobody took the element"
    );
}

#[test]
fn pipelined_blpop_twice_does_not_crash() {
    // Row 38 of the Redis reference.
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.send(
        &[
            resp(&[b"BLPOP", b"nolist", b"0.01"]),
            resp(&[b"BLPOP", b"nolist", b"0.01"]),
        ]
        .concat(),
    );
    let (got, _) = c.read_at_least(10);
    assert_eq!(String::from_utf8_lossy(&got), "*-1\r\n*-1\r\n");
    c.assert_open();
}

#[test]
fn client_unblock_timeout_and_error() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    for (mode, want) in [
        ("TIMEOUT", "*-1\r\n"),
        (
            "ERROR",
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
        ),
    ] {
        let mut w = s.raw();
        let id = w
            .reply(&resp(&[b"CLIENT", b"ID"]), 3)
            .trim()
            .trim_start_matches(':')
            .to_string();
        w.send(&resp(&[b"BLPOP", b"q", b"0"]));
        wait_for("client to block", || {
            (blocked_clients(&mut admin) == 1).then_some(())
        });
        let n: i64 = redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg(&id)
            .arg(mode)
            .query(&mut admin)
            .unwrap();
        assert_eq!(n, 1);
        let (got, _) = w.read_at_least(want.len());
        assert_eq!(String::from_utf8_lossy(&got), want);
        let n: i64 = redis::cmd("CLIENT")
            .arg("UNBLOCK")
            .arg(&id)
            .query(&mut admin)
            .unwrap();
        assert_eq!(n, 0, "not blocked any more");
    }
}

#[test]
fn bzpopmin_and_bzmpop_wake_on_zadd() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let mut w = s.raw();
    w.send(&resp(&[b"BZPOPMIN", b"z1", b"z2", b"0"]));
    wait_for("client to block", || {
        (blocked_clients(&mut admin) == 1).then_some(())
    });
    let _: i64 = redis::cmd("ZADD")
        .arg("z2")
        .arg(5)
        .arg("five")
        .arg(3)
        .arg("three")
        .query(&mut admin)
        .unwrap();
    let want = "*3\r\n$2\r\nz2\r\n$5\r\nthree\r\n$1\r\n3\r\n";
    let (got, _) = w.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    w.send(&resp(&[
        b"BZMPOP", b"0", b"1", b"z3", b"MAX", b"COUNT", b"5",
    ]));
    wait_for("client to block", || {
        (blocked_clients(&mut admin) == 1).then_some(())
    });
    let _: i64 = redis::cmd("ZADD")
        .arg("z3")
        .arg(1)
        .arg("a")
        .query(&mut admin)
        .unwrap();
    let want = "*2\r\n$2\r\nz3\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n";
    let (got, _) = w.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn brpoplpush_woken_into_a_destination_of_another_type_gets_wrongtype() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = c.set("target", "nolist").unwrap();
    let mut blocked = s.raw();
    blocked.send(&resp(&[b"BRPOPLPUSH", b"blist", b"target", b"0"]));
    wait_for("the client to block", || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).ok()?;
        info.contains("blocked_clients:1").then_some(())
    });
    let _: () = c.rpush("blist", "foo").unwrap();
    let (got, _) = blocked.read_at_least(9);
    assert!(
        String::from_utf8_lossy(&got).starts_with("-WRONGTYPE"),
        "{got:?}"
    );
    // The element stays in the source.
    let l: Vec<String> = c.lrange("blist", 0, -1).unwrap();
    assert_eq!(l, vec!["foo"]);
}
