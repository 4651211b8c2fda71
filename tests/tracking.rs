//! Client-side caching: CLIENT TRACKING in default, BCAST, OPTIN and NOLOOP modes, RESP3 push
//! invalidations and RESP2 redirection through __redis__:invalidate.
mod common;
use common::{resp, Server};
use redis::Commands;

fn invalidate_push(key: &str) -> String {
    format!(
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{}\r\n",
        key.len(),
        key
    )
}

fn resp3(s: &Server) -> common::Raw {
    let mut c = s.raw();
    assert!(c.reply(&resp(&[b"HELLO", b"3"]), 10).starts_with('%'));
    c
}

#[test]
fn default_mode_invalidates_keys_read() {
    let s = Server::start(&[]);
    let mut t = resp3(&s);
    assert_eq!(
        t.reply(&resp(&[b"CLIENT", b"TRACKING", b"ON"]), 5),
        "+OK\r\n"
    );
    let mut w = s.client();
    let _: () = w.set("k", "v1").unwrap();
    assert_eq!(t.reply(&resp(&[b"GET", b"k"]), 8), "$2\r\nv1\r\n");
    let _: () = w.set("other", "x").unwrap(); // not read: no invalidation
    let _: () = w.set("k", "v2").unwrap();
    let want = invalidate_push("k");
    let (got, _) = t.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    let info = t.reply(&resp(&[b"CLIENT", b"TRACKINGINFO"]), 40);
    assert!(
        info.starts_with("%3\r\n$5\r\nflags\r\n~1\r\n$2\r\non\r\n"),
        "{info}"
    );
    // FLUSHALL invalidates everything with a null.
    let _: () = redis::cmd("FLUSHALL").query(&mut w).unwrap();
    let want = ">2\r\n$10\r\ninvalidate\r\n_\r\n";
    let (got, _) = t.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn resp2_redirect_to_invalidate_channel() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    let id = sub.reply(&resp(&[b"CLIENT", b"ID"]), 3);
    let id = id.trim_start_matches(':').trim().to_string();
    let r = sub.reply(&resp(&[b"SUBSCRIBE", b"__redis__:invalidate"]), 50);
    assert!(r.contains("subscribe"), "{r}");
    let mut t = s.client();
    let _: () = redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .arg("REDIRECT")
        .arg(&id)
        .query(&mut t)
        .unwrap();
    let redir: i64 = redis::cmd("CLIENT").arg("GETREDIR").query(&mut t).unwrap();
    assert_eq!(redir.to_string(), id);
    let _: Option<String> = t.get("cached").unwrap();
    let _: () = s.client().set("cached", "new").unwrap();
    let want = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$6\r\ncached\r\n";
    let (got, _) = sub.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn bcast_prefixes_and_noloop() {
    let s = Server::start(&[]);
    let mut t = resp3(&s);
    let r = t.reply(
        &resp(&[
            b"CLIENT",
            b"TRACKING",
            b"ON",
            b"BCAST",
            b"PREFIX",
            b"user:",
            b"NOLOOP",
        ]),
        5,
    );
    assert_eq!(r, "+OK\r\n");
    // Our own write is not echoed back (NOLOOP), other prefixes are ignored.
    assert_eq!(t.reply(&resp(&[b"SET", b"user:me", b"1"]), 5), "+OK\r\n");
    let mut w = s.client();
    let _: () = w.set("order:1", "x").unwrap();
    let _: () = w.set("user:2", "x").unwrap();
    let want = invalidate_push("user:2");
    let (got, _) = t.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    let e = t.reply(&resp(&[b"CLIENT", b"TRACKING", b"ON"]), 20);
    assert!(e.starts_with("-ERR You can't switch BCAST mode"), "{e}");
}

#[test]
fn optin_tracks_only_after_caching_yes() {
    let s = Server::start(&[]);
    let mut t = resp3(&s);
    assert_eq!(
        t.reply(&resp(&[b"CLIENT", b"TRACKING", b"ON", b"OPTIN"]), 5),
        "+OK\r\n"
    );
    let mut w = s.client();
    let _: () = w.set("a", "1").unwrap();
    let _: () = w.set("b", "1").unwrap();
    assert_eq!(t.reply(&resp(&[b"GET", b"a"]), 7), "$1\r\n1\r\n");
    assert_eq!(
        t.reply(&resp(&[b"CLIENT", b"CACHING", b"YES"]), 5),
        "+OK\r\n"
    );
    assert_eq!(t.reply(&resp(&[b"GET", b"b"]), 7), "$1\r\n1\r\n");
    let _: () = w.set("a", "2").unwrap();
    let _: () = w.set("b", "2").unwrap();
    let want = invalidate_push("b");
    let (got, _) = t.read_at_least(want.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        want,
        "only b was read with CACHING YES"
    );
    let e = t.reply(&resp(&[b"CLIENT", b"CACHING", b"NO"]), 20);
    assert!(e.starts_with("-ERR CLIENT CACHING NO is only valid"), "{e}");
}

#[test]
fn bcast_invalidations_come_once_per_prefix_per_command() {
    let s = Server::start(&[]);
    let mut t = resp3(&s);
    let on = resp(&[
        b"CLIENT",
        b"TRACKING",
        b"ON",
        b"BCAST",
        b"PREFIX",
        b"a:",
        b"PREFIX",
        b"b:",
    ]);
    assert_eq!(t.reply(&on, 5), "+OK\r\n");
    let mut w = s.client();
    // One MSET touching both prefixes: one message per prefix, each with all its keys.
    let _: () = redis::cmd("MSET")
        .arg(&["a:1", "1", "a:2", "2", "b:1", "3", "c:1", "4"])
        .query(&mut w)
        .unwrap();
    let want_a = ">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\na:1\r\n$3\r\na:2\r\n";
    let want_b = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nb:1\r\n";
    let (got, _) = t.read_at_least(want_a.len() + want_b.len());
    assert_eq!(String::from_utf8_lossy(&got), format!("{want_a}{want_b}"));
    // An overlapping prefix is refused.
    let more = resp(&[b"CLIENT", b"TRACKING", b"ON", b"BCAST", b"PREFIX", b"a"]);
    let r = t.reply(&more, 60);
    assert!(
        r.starts_with("-ERR Prefix 'a' overlaps with an existing prefix 'a:'"),
        "{r}"
    );
}

#[test]
fn broken_redirect_is_reported_to_a_resp3_client() {
    let s = Server::start(&[]);
    let mut target = s.raw();
    let id = target.reply(&resp(&[b"CLIENT", b"ID"]), 3);
    let id = id.trim_start_matches(':').trim().to_string();
    let mut t = resp3(&s);
    let on = resp(&[b"CLIENT", b"TRACKING", b"ON", b"REDIRECT", id.as_bytes()]);
    assert_eq!(t.reply(&on, 5), "+OK\r\n");
    assert_eq!(t.reply(&resp(&[b"GET", b"k"]), 3), "_\r\n");
    drop(target);
    let mut w = s.client();
    let want = format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{id}\r\n");
    // The target's disconnection is noticed asynchronously: write until the push arrives.
    let got = common::wait_for("tracking-redir-broken", || {
        let _: () = w.set("k", "v").unwrap();
        let r = t.reply(&resp(&[b"GET", b"k"]), want.len());
        r.contains(&want).then_some(r)
    });
    assert!(got.contains(&want), "{got}");
    let mut c = s.client();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(list.contains("flags=tR "), "{list}");
}

#[test]
fn tracking_table_max_keys_invalidates_the_excess() {
    let s = Server::start(&["--tracking-table-max-keys", "2"]);
    let mut t = resp3(&s);
    assert_eq!(
        t.reply(&resp(&[b"CLIENT", b"TRACKING", b"ON"]), 5),
        "+OK\r\n"
    );
    let r = t.reply(&resp(&[b"MGET", b"k1", b"k2", b"k3"]), 12);
    assert_eq!(r, "*3\r\n_\r\n_\r\n_\r\n");
    // The next command trims the table to 2 keys: one invalidation comes before its reply.
    let r = t.reply(&resp(&[b"PING"]), 30);
    assert!(r.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n"), "{r}");
    assert!(r.ends_with("+PONG\r\n"), "{r}");
    let mut c = s.client();
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(info.contains("tracking_total_keys:2\r\n"), "{info}");
}
