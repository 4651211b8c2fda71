//! Lists, black-box: what the differential scripts cannot cover. OBJECT ENCODING and contents
//! against a real redis-server while list-max-listpack-size changes under random operations;
//! a 100k-element list pushed and popped at both ends; LMPOP across keys; big elements; TTLs
//! kept across in-place writes.
mod common;
use common::Server;
use redis::{Connection, Value};

fn cmd(c: &mut Connection, args: &[&[u8]]) -> Value {
    let mut k = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c)
        .unwrap_or_else(|e| Value::SimpleString(format!("error: {e}")))
}

/// A tiny deterministic generator, so both servers see the same operations.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn element(r: &mut Lcg) -> Vec<u8> {
    match r.next(5) {
        0 => r.next(100_000).to_string().into_bytes(),
        1 => format!("-{}", r.next(1 << 40)).into_bytes(),
        2 => vec![b'a' + r.next(3) as u8; r.next(4) as usize],
        3 => vec![b'x'; 3000 + r.next(3000) as usize],
        _ => format!("0{}", r.next(100)).into_bytes(),
    }
}

/// One random list command (as argv) over keys l0..l2.
fn random_command(r: &mut Lcg) -> Vec<Vec<u8>> {
    let key = format!("l{}", r.next(3)).into_bytes();
    let idx = |r: &mut Lcg| (r.next(40) as i64 - 20).to_string().into_bytes();
    let v = |s: &str| s.as_bytes().to_vec();
    match r.next(16) {
        0..=4 => vec![v("RPUSH"), key, element(r), element(r), element(r)],
        5..=7 => vec![v("LPUSH"), key, element(r)],
        8 => vec![v("LPOP"), key, r.next(4).to_string().into_bytes()],
        9 => vec![v("RPOP"), key],
        10 => vec![v("LSET"), key, idx(r), element(r)],
        11 => vec![
            v("LINSERT"),
            key,
            v(if r.next(2) == 0 { "BEFORE" } else { "AFTER" }),
            element(r),
            element(r),
        ],
        12 => vec![v("LREM"), key, idx(r), element(r)],
        13 if r.next(4) == 0 => vec![v("LTRIM"), key, idx(r), idx(r)],
        13 | 14 => vec![
            v("LMOVE"),
            key,
            format!("l{}", r.next(3)).into_bytes(),
            v("LEFT"),
            v("RIGHT"),
        ],
        _ => vec![
            v("LMPOP"),
            v("2"),
            key,
            v("l1"),
            v("RIGHT"),
            v("COUNT"),
            v("3"),
        ],
    }
}

#[test]
fn encoding_and_contents_match_redis_across_list_max_listpack_size() {
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let (mut a, mut b) = (ours.client(), redis.client());
    let mut r = Lcg(42);
    let mut longest = 0;
    for (round, fill) in ["-2", "1", "2", "5", "-1", "0", "128", "-5", "-2"]
        .iter()
        .enumerate()
    {
        for c in [&mut a, &mut b] {
            assert_eq!(
                cmd(
                    c,
                    &[
                        b"CONFIG",
                        b"SET",
                        b"list-max-listpack-size",
                        fill.as_bytes()
                    ]
                ),
                Value::Okay
            );
        }
        for step in 0..200 {
            let argv = random_command(&mut r);
            let refs: Vec<&[u8]> = argv.iter().map(|x| x.as_slice()).collect();
            let (x, y) = (cmd(&mut a, &refs), cmd(&mut b, &refs));
            assert_eq!(
                x,
                y,
                "round {round} step {step}: {:?}",
                String::from_utf8_lossy(&argv.concat())
            );
            for key in [&b"l0"[..], b"l1", b"l2"] {
                let enc = [&b"OBJECT"[..], b"ENCODING", key];
                let (ea, eb) = (cmd(&mut a, &enc), cmd(&mut b, &enc));
                assert_eq!(
                    ea, eb,
                    "encoding of {:?} after round {round} step {step}",
                    key
                );
                if ea != Value::Nil {
                    assert_eq!(
                        ea,
                        Value::BulkString(b"quicklist".to_vec()),
                        "Redis 7.0 names every list quicklist"
                    );
                }
                if let Value::Int(n) = cmd(&mut a, &[b"LLEN", key]) {
                    longest = longest.max(n);
                }
                let range = [&b"LRANGE"[..], key, b"0", b"-1"];
                assert_eq!(
                    cmd(&mut a, &range),
                    cmd(&mut b, &range),
                    "contents of {:?}",
                    key
                );
            }
        }
    }
    assert!(longest >= 20, "the random lists stayed short ({longest})");
}

#[test]
fn hundred_thousand_elements_pushed_and_popped_at_both_ends() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let n = 100_000i64;
    // Even numbers go to the head (so the head counts down), odd ones to the tail.
    let mut p = redis::pipe();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let evens: Vec<i64> = chunk.iter().copied().filter(|i| i % 2 == 0).collect();
        let odds: Vec<String> = chunk
            .iter()
            .filter(|i| *i % 2 == 1)
            .map(|i| format!("e{i}"))
            .collect();
        p.cmd("LPUSH").arg("big").arg(evens).ignore();
        p.cmd("RPUSH").arg("big").arg(odds).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let model: Vec<String> = (0..n)
        .rev()
        .filter(|i| i % 2 == 0)
        .map(|i| i.to_string())
        .chain((0..n).filter(|i| i % 2 == 1).map(|i| format!("e{i}")))
        .collect();
    assert_eq!(
        redis::cmd("LLEN").arg("big").query::<i64>(&mut c).unwrap(),
        n
    );
    for i in [0, 1, 49_999, 50_000, 77_777, n - 1] {
        let got: String = redis::cmd("LINDEX")
            .arg("big")
            .arg(i)
            .query(&mut c)
            .unwrap();
        assert_eq!(got, model[i as usize], "LINDEX {i}");
        let neg: String = redis::cmd("LINDEX")
            .arg("big")
            .arg(i - n)
            .query(&mut c)
            .unwrap();
        assert_eq!(neg, model[i as usize], "LINDEX {}", i - n);
    }
    let mid: Vec<String> = redis::cmd("LRANGE")
        .arg("big")
        .arg(49_990)
        .arg(50_010)
        .query(&mut c)
        .unwrap();
    assert_eq!(mid, model[49_990..=50_010]);
    let all: Vec<String> = redis::cmd("LRANGE")
        .arg("big")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(all, model);
    assert_eq!(
        redis::cmd("LPOS")
            .arg("big")
            .arg("e99999")
            .query::<i64>(&mut c)
            .unwrap(),
        n - 1
    );
    // Pop both ends in batches and singly until the key is gone.
    let (mut front, mut back) = (0usize, model.len());
    while front < back {
        let k = 997.min(back - front);
        let got: Vec<String> = redis::cmd("LPOP").arg("big").arg(k).query(&mut c).unwrap();
        assert_eq!(got, model[front..front + k]);
        front += k;
        if front == back {
            break;
        }
        let got: String = redis::cmd("RPOP").arg("big").query(&mut c).unwrap();
        back -= 1;
        assert_eq!(got, model[back]);
        let k = 1500.min(back - front);
        let got: Vec<String> = redis::cmd("RPOP").arg("big").arg(k).query(&mut c).unwrap();
        let want: Vec<String> = model[back - k..back].iter().rev().cloned().collect();
        assert_eq!(got, want);
        back -= k;
    }
    assert_eq!(
        redis::cmd("EXISTS")
            .arg("big")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
}

#[test]
fn lmpop_across_keys() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let q = |c: &mut Connection, args: &[&str]| -> Value {
        cmd(c, &args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())
    };
    let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    q(&mut c, &["RPUSH", "b", "b1", "b2", "b3"]);
    q(&mut c, &["RPUSH", "c", "c1"]);
    // The first existing key wins, missing keys are skipped, and COUNT caps at its length.
    let got = q(&mut c, &["LMPOP", "3", "a", "b", "c", "LEFT", "COUNT", "2"]);
    assert_eq!(
        got,
        Value::Array(vec![bulk("b"), Value::Array(vec![bulk("b1"), bulk("b2")])])
    );
    let got = q(
        &mut c,
        &["LMPOP", "3", "a", "b", "c", "RIGHT", "COUNT", "5"],
    );
    assert_eq!(
        got,
        Value::Array(vec![bulk("b"), Value::Array(vec![bulk("b3")])])
    );
    assert_eq!(
        q(&mut c, &["EXISTS", "b"]),
        Value::Int(0),
        "an emptied list is deleted"
    );
    let got = q(&mut c, &["LMPOP", "3", "a", "b", "c", "RIGHT"]);
    assert_eq!(
        got,
        Value::Array(vec![bulk("c"), Value::Array(vec![bulk("c1")])])
    );
    assert_eq!(
        q(&mut c, &["LMPOP", "3", "a", "b", "c", "LEFT"]),
        Value::Nil
    );
    assert_eq!(q(&mut c, &["DBSIZE"]), Value::Int(0));
    // A non-list before any list is WRONGTYPE and pops nothing; after a list it is never reached.
    q(&mut c, &["SET", "s", "x"]);
    q(&mut c, &["RPUSH", "z", "z1"]);
    let err = q(&mut c, &["LMPOP", "2", "s", "z", "LEFT"]);
    assert!(
        matches!(&err, Value::SimpleString(e) if e.contains("WRONGTYPE")),
        "{err:?}"
    );
    assert_eq!(q(&mut c, &["LLEN", "z"]), Value::Int(1));
    let got = q(&mut c, &["LMPOP", "2", "z", "s", "LEFT"]);
    assert_eq!(
        got,
        Value::Array(vec![bulk("z"), Value::Array(vec![bulk("z1")])])
    );
    // Keys in other databases are not seen.
    q(&mut c, &["SELECT", "1"]);
    assert_eq!(q(&mut c, &["LMPOP", "1", "s", "LEFT"]), Value::Nil);
}

#[test]
fn big_elements_round_trip_across_chunks() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let sizes = [0usize, 63, 64, 4095, 4096, 8191, 8192, 70_000, 1 << 20];
    let elems: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| (i * 7 + j) as u8).collect())
        .collect();
    for fill in ["-2", "1", "-5"] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("list-max-listpack-size")
            .arg(fill)
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("DEL").arg("l").query(&mut c).unwrap();
        for e in &elems {
            let _: i64 = redis::cmd("RPUSH").arg("l").arg(e).query(&mut c).unwrap();
            let _: i64 = redis::cmd("LPUSH").arg("l").arg(e).query(&mut c).unwrap();
        }
        let mut model: Vec<Vec<u8>> = elems
            .iter()
            .rev()
            .cloned()
            .chain(elems.iter().cloned())
            .collect();
        let _: () = redis::cmd("LSET")
            .arg("l")
            .arg(3)
            .arg(&elems[8])
            .query(&mut c)
            .unwrap();
        model[3] = elems[8].clone();
        let _: i64 = redis::cmd("LINSERT")
            .arg("l")
            .arg("AFTER")
            .arg(&elems[6])
            .arg(&elems[7])
            .query(&mut c)
            .unwrap();
        let at = model.iter().position(|e| *e == elems[6]).unwrap();
        model.insert(at + 1, elems[7].clone());
        let got: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg("l")
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .unwrap();
        assert!(got == model, "list-max-listpack-size {fill}");
        let removed: i64 = redis::cmd("LREM")
            .arg("l")
            .arg(0)
            .arg(&elems[8])
            .query(&mut c)
            .unwrap();
        assert_eq!(removed, 3);
        model.retain(|e| *e != elems[8]);
        let got: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg("l")
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .unwrap();
        assert!(got == model, "after LREM, list-max-listpack-size {fill}");
    }
}

#[test]
fn in_place_writes_keep_the_ttl_and_expired_lists_are_gone() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let q = |c: &mut Connection, args: &[&str]| -> Value {
        cmd(c, &args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())
    };
    q(&mut c, &["RPUSH", "t", "a", "b"]);
    q(&mut c, &["EXPIRE", "t", "100"]);
    for w in [
        &["RPUSH", "t", "c"][..],
        &["LPOP", "t"],
        &["LSET", "t", "0", "x"],
        &["LINSERT", "t", "BEFORE", "x", "y"],
        &["LTRIM", "t", "0", "5"],
    ] {
        q(&mut c, w);
        assert!(
            matches!(q(&mut c, &["TTL", "t"]), Value::Int(t) if t > 0),
            "{w:?} kept the TTL"
        );
    }
    q(&mut c, &["RPUSH", "gone", "a"]);
    q(&mut c, &["PEXPIRE", "gone", "30"]);
    std::thread::sleep(std::time::Duration::from_millis(80));
    assert_eq!(q(&mut c, &["LPUSHX", "gone", "b"]), Value::Int(0));
    assert_eq!(q(&mut c, &["RPOPLPUSH", "gone", "t"]), Value::Nil);
    assert_eq!(q(&mut c, &["LPUSH", "gone", "b"]), Value::Int(1));
    assert_eq!(q(&mut c, &["TTL", "gone"]), Value::Int(-1));
}

/// Every notification (channel, payload) that `commands` raise on `server`, in order, with
/// notify-keyspace-events KEA.
fn notifications(server: &Server, commands: &[&[&str]]) -> Vec<(String, String)> {
    common::keyspace_events(server, commands)
}

#[test]
fn notifications_match_redis() {
    let script: &[&[&str]] = &[
        &["RPUSH", "l", "a", "b", "c", "d", "e"],
        &["LPUSH", "l", "z"],
        &["LPUSHX", "l", "y"],
        &["RPUSHX", "none", "y"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["LPOP", "l", "0"],
        &["LSET", "l", "0", "x"],
        &["LINSERT", "l", "BEFORE", "x", "w"],
        &["LINSERT", "l", "BEFORE", "nope", "w"],
        &["LREM", "l", "0", "nope"],
        &["LREM", "l", "1", "w"],
        &["LTRIM", "l", "0", "-1"],
        &["LMOVE", "l", "m", "LEFT", "RIGHT"],
        &["LMOVE", "l", "l", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "m", "l"],
        &["LMPOP", "2", "none", "l", "RIGHT", "COUNT", "1"],
        &["RPUSH", "t", "1", "2"],
        &["LTRIM", "t", "5", "6"],
        &["RPUSH", "r", "1", "1"],
        &["LREM", "r", "0", "1"],
        &["RPUSH", "p", "1"],
        &["LMOVE", "p", "q", "RIGHT", "LEFT"],
        &["LMPOP", "1", "q", "LEFT", "COUNT", "9"],
        &["LPOP", "l", "100"],
    ];
    let ours = notifications(&Server::start(&[]), script);
    let redis = notifications(&Server::start_redis(&[]), script);
    assert!(ours.len() > 40, "{ours:?}");
    assert_eq!(ours, redis);
}
