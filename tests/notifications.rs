//! Keyspace notifications (notify-keyspace-events): keyspace and keyevent channels, event
//! classes, and expired/evicted events raised by the server itself.
mod common;
use common::Server;
use redis::Commands;

/// (channel, payload) of the next `n` notifications.
fn next(ps: &mut redis::PubSub, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let m = ps.get_message().unwrap();
            (
                m.get_channel_name().to_string(),
                m.get_payload::<String>().unwrap(),
            )
        })
        .collect()
}

#[test]
fn writes_raise_keyspace_and_keyevent_events() {
    let s = Server::start(&["--notify-keyspace-events", "KEA"]);
    let mut c = s.client();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut c)
        .unwrap();
    assert_eq!(v[1], "AKE");
    let mut sub = s.client();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__key*__:*").unwrap();
    ps.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _: () = c.set("k", "v").unwrap();
    assert_eq!(
        next(&mut ps, 2),
        vec![
            ("__keyspace@0__:k".into(), "set".into()),
            ("__keyevent@0__:set".into(), "k".into())
        ]
    );
    let _: i64 = c.incr("n", 5).unwrap();
    assert_eq!(
        next(&mut ps, 2)[0],
        ("__keyspace@0__:n".into(), "incrby".into())
    );
    let _: () = redis::cmd("RENAME")
        .arg("k")
        .arg("k2")
        .query(&mut c)
        .unwrap();
    let got = next(&mut ps, 4);
    assert_eq!(got[0], ("__keyspace@0__:k".into(), "rename_from".into()));
    assert_eq!(got[2], ("__keyspace@0__:k2".into(), "rename_to".into()));
    let _: i64 = c.expire("k2", 100).unwrap();
    assert_eq!(
        next(&mut ps, 2)[1],
        ("__keyevent@0__:expire".into(), "k2".into())
    );
    let _: i64 = c.del("k2").unwrap();
    assert_eq!(
        next(&mut ps, 2)[1],
        ("__keyevent@0__:del".into(), "k2".into())
    );
    // Expiry by the server: the key is never touched again.
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg(1)
        .arg("PX")
        .arg(50)
        .query(&mut c)
        .unwrap();
    let got = next(&mut ps, 6);
    assert!(
        got.contains(&("__keyevent@0__:expired".into(), "gone".into())),
        "{got:?}"
    );
}

#[test]
fn classes_filter_events() {
    // Only keyevent notifications of generic commands.
    let s = Server::start(&["--notify-keyspace-events", "Eg"]);
    let mut c = s.client();
    let mut sub = s.client();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__key*__:*").unwrap();
    ps.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _: () = c.set("a", 1).unwrap(); // string class: filtered out
    let _: i64 = c.del("a").unwrap();
    assert_eq!(
        next(&mut ps, 1),
        vec![("__keyevent@0__:del".into(), "a".into())]
    );
}

#[test]
fn eviction_raises_evicted() {
    let s = Server::start(&[
        "--notify-keyspace-events",
        "Ee",
        "--maxmemory-policy",
        "allkeys-random",
    ]);
    let mut c = s.client();
    let mut sub = s.client();
    let mut ps = sub.as_pubsub();
    ps.subscribe("__keyevent@0__:evicted").unwrap();
    ps.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let info: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + (1 << 20))
        .query(&mut c)
        .unwrap();
    for i in 0..3000 {
        let _: () = c.set(format!("k{i}"), vec![b'x'; 1000]).unwrap();
    }
    let got = next(&mut ps, 1);
    assert!(got[0].1.starts_with('k'), "{got:?}");
}

/// The keyspace events of `script` on slotcache and on redis-server.
fn event_streams(script: &[&[&str]]) -> (Vec<(String, String)>, Vec<(String, String)>) {
    (
        common::keyspace_events(&Server::start(&[]), script),
        common::keyspace_events(&Server::start_redis(&[]), script),
    )
}

#[test]
fn collection_events_match_redis() {
    let script: &[&[&str]] = &[
        &["HSET", "h", "a", "1", "b", "2"],
        &["HSETNX", "h", "a", "9"],
        &["HINCRBY", "h", "c", "5"],
        &["HINCRBYFLOAT", "h", "d", "1.5"],
        &["HDEL", "h", "a", "b", "c", "d"],
        &["SADD", "s", "x", "y", "z"],
        &["SREM", "s", "x"],
        &["SMOVE", "s", "s2", "y"],
        &["SPOP", "s"],
        &["SADD", "s3", "1", "2"],
        &["SINTERSTORE", "dst", "s2", "s3"],
        &["SUNIONSTORE", "dst", "s2", "s3"],
        &["SDIFFSTORE", "dst", "s2", "s3"],
        &["RPUSH", "l", "a", "b", "c"],
        &["LPOP", "l"],
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &["RPOP", "l"],
    ];
    let (ours, redis) = event_streams(script);
    assert_eq!(ours, redis);
}
