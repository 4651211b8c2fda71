//! GEO and SORT, black-box: what the differential scripts cannot cover line by line — many
//! random searches over a large point set and random SORTs over large inputs, each reply
//! compared with a real redis-server 7.0 fed the same data; the keyspace events the store
//! variants raise; cluster mode refusing SORT's BY/GET patterns; a huge LIMIT count; RESP3.
mod common;
use common::Server;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redis::{Connection, Value};
use std::time::Duration;

fn query(c: &mut Connection, args: &[String]) -> Value {
    let mut r = redis::cmd(&args[0]);
    for a in &args[1..] {
        r.arg(a.as_str());
    }
    r.query(c)
        .unwrap_or_else(|e| Value::SimpleString(format!("error: {e}")))
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Sends `cmd` to both servers and asserts identical replies.
fn same(ours: &mut Connection, redis: &mut Connection, cmd: &[String]) -> Value {
    let a = query(ours, cmd);
    let b = query(redis, cmd);
    assert_eq!(a, b, "{}", cmd.join(" "));
    a
}

fn both(ours: &mut Connection, redis: &mut Connection, cmd: &[String]) {
    query(ours, cmd);
    query(redis, cmd);
}

fn reply_len(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.len(),
        _ => 0,
    }
}

#[test]
fn random_geo_searches_match_redis() {
    let (s, r) = (Server::start(&[]), Server::start_redis(&[]));
    let (mut a, mut b) = (s.client(), r.client());
    let mut rng = SmallRng::seed_from_u64(42);
    // Clusters of points (many at identical positions, so distances tie) plus points spread
    // over the whole indexable world.
    let mut n = 0;
    for _ in 0..50 {
        let mut cmd = words("GEOADD pts");
        for _ in 0..100 {
            let (lon, lat): (f64, f64) = if rng.gen_bool(0.6) {
                let (clon, clat) = [
                    (2.35, 48.85),
                    (-73.98, 40.75),
                    (139.69, 35.68),
                    (179.9, -16.5),
                    (12.5, 80.0),
                ][rng.gen_range(0..5)];
                let spread = [0.0, 0.001, 0.1, 2.0][rng.gen_range(0..4)];
                (
                    clon + rng.gen_range(-1.0..=1.0) * spread,
                    clat + rng.gen_range(-1.0..=1.0) * spread,
                )
            } else {
                (rng.gen_range(-180.0..=180.0), rng.gen_range(-85.05..=85.05))
            };
            cmd.extend([
                format!("{:.6}", lon.clamp(-180.0, 180.0)),
                format!("{lat:.6}"),
                format!("m{n}"),
            ]);
            n += 1;
        }
        same(&mut a, &mut b, &cmd);
    }
    same(&mut a, &mut b, &words("OBJECT ENCODING pts"));
    let units = ["m", "km", "mi", "ft"];
    let mut nonempty = 0;
    for i in 0..400 {
        let mut cmd = match rng.gen_range(0..4) {
            0 => words(&format!(
                "GEORADIUSBYMEMBER_RO pts m{} {} {}",
                rng.gen_range(0..n),
                rng.gen_range(0..3000),
                units[i % 4]
            )),
            1 => words(&format!(
                "GEORADIUS_RO pts {:.4} {:.4} {} km",
                rng.gen_range(-180.0..180.0),
                rng.gen_range(-85.0..85.0),
                [1, 50, 500, 5000, 15000][rng.gen_range(0..5)]
            )),
            _ => {
                let from = if rng.gen_bool(0.5) {
                    format!("FROMMEMBER m{}", rng.gen_range(0..n))
                } else {
                    format!(
                        "FROMLONLAT {:.5} {:.5}",
                        rng.gen_range(-180.0..180.0),
                        rng.gen_range(-85.0..85.0)
                    )
                };
                let by = if rng.gen_bool(0.5) {
                    format!("BYRADIUS {} {}", rng.gen_range(0..4000), units[i % 4])
                } else {
                    format!(
                        "BYBOX {} {} {}",
                        rng.gen_range(0..8000),
                        rng.gen_range(0..8000),
                        units[i % 4]
                    )
                };
                words(&format!("GEOSEARCH pts {from} {by}"))
            }
        };
        if rng.gen_bool(0.5) {
            cmd.extend(words(&format!("COUNT {}", rng.gen_range(1..60))));
            if rng.gen_bool(0.3) {
                cmd.push("ANY".into());
            }
        }
        for opt in ["ASC", "DESC", "WITHDIST", "WITHHASH", "WITHCOORD"] {
            if rng.gen_bool(0.3) {
                cmd.push(opt.into());
            }
        }
        if reply_len(&same(&mut a, &mut b, &cmd)) > 1 {
            nonempty += 1;
        }
    }
    assert!(
        nonempty > 100,
        "too few searches found several points: {nonempty}"
    );
    // Stored results, scored by hash and by distance.
    for i in 0..40 {
        let dist = if i % 2 == 0 { "STOREDIST" } else { "" };
        let cmd = words(&format!(
            "GEOSEARCHSTORE out pts FROMMEMBER m{} BYRADIUS {} km COUNT {} {dist}",
            i * 97 % n,
            100 + i * 50,
            1 + i * 7
        ));
        same(&mut a, &mut b, &cmd);
        same(&mut a, &mut b, &words("ZRANGE out 0 -1 WITHSCORES"));
        same(&mut a, &mut b, &words("OBJECT ENCODING out"));
    }
    let members: Vec<String> = (0..n).step_by(37).map(|i| format!("m{i}")).collect();
    for cmd in ["GEOPOS pts", "GEOHASH pts"] {
        let mut c = words(cmd);
        c.extend(members.iter().cloned());
        same(&mut a, &mut b, &c);
    }
    for i in 0..100 {
        same(
            &mut a,
            &mut b,
            &words(&format!("GEODIST pts m{} m{} km", i, (i * 31 + 7) % n)),
        );
    }
}

#[test]
fn random_sorts_match_redis() {
    let (s, r) = (Server::start(&[]), Server::start_redis(&[]));
    let (mut a, mut b) = (s.client(), r.client());
    let mut rng = SmallRng::seed_from_u64(7);
    // A list of 3000 ids (with repeats), numeric and alpha weights with many ties, hashes in
    // both encodings holding the same weights.
    for chunk in 0..10 {
        let mut push = words("RPUSH ids");
        let mut mset = words("MSET");
        for _ in 0..300 {
            let id = rng.gen_range(0..2000);
            push.push(id.to_string());
            mset.extend([format!("w_{id}"), rng.gen_range(0..50).to_string()]);
            mset.extend([
                format!("a_{id}"),
                ["x", "y", "z", "xy", ""][rng.gen_range(0..5)].to_string(),
            ]);
            let big = if id % 2 == 0 {
                "x".repeat(100)
            } else {
                String::new()
            };
            both(
                &mut a,
                &mut b,
                &words(&format!(
                    "HSET h_{id} f {} g v{id}{big}",
                    rng.gen_range(0..30)
                )),
            );
        }
        both(&mut a, &mut b, &push);
        both(&mut a, &mut b, &mset);
        both(
            &mut a,
            &mut b,
            &words(&format!(
                "SADD set {}",
                (0..300)
                    .map(|i| format!("s{}", chunk * 300 + i))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        );
    }
    let patterns = [
        "",
        "BY w_*",
        "BY a_* ALPHA",
        "BY h_*->f",
        "BY h_*->g ALPHA",
        "BY nosort",
        "ALPHA",
        "BY missing_* ALPHA",
        "BY missing_*",
    ];
    let mut checked = 0;
    for i in 0..300 {
        let key = if i % 3 == 0 { "set" } else { "ids" };
        // A hashtable set's own order differs between servers by design: sort its (unique)
        // members themselves, never by weights that could tie.
        let by = if key == "set" {
            ["ALPHA", ""][i % 2]
        } else {
            patterns[rng.gen_range(0..patterns.len())]
        };
        let mut cmd = words(&format!("SORT {key} {by}"));
        if rng.gen_bool(0.7) {
            cmd.extend(words(&format!(
                "LIMIT {} {}",
                rng.gen_range(-5..3100),
                rng.gen_range(-2..200)
            )));
        }
        if rng.gen_bool(0.4) {
            cmd.push("DESC".into());
        }
        for g in ["GET #", "GET w_*", "GET h_*->g"] {
            if rng.gen_bool(0.25) {
                cmd.extend(words(g));
            }
        }
        if rng.gen_bool(0.2) {
            cmd.extend(words("STORE out"));
            same(&mut a, &mut b, &cmd);
            same(&mut a, &mut b, &words("LRANGE out 0 -1"));
        } else {
            same(&mut a, &mut b, &cmd);
        }
        checked += 1;
    }
    assert_eq!(checked, 300);
}

#[test]
fn huge_limit_count_is_clamped_first() {
    let s = Server::start(&[]);
    let mut c = s.client();
    for chunk in 0..10 {
        let mut push = words("RPUSH L");
        push.extend((0..10_000).map(|i| (chunk * 10_000 + i).to_string()));
        query(&mut c, &push);
    }
    // A count sized allocation would abort the server: the replies below are the check (no
    // timing: speed belongs in benchmarks).
    for cmd in [
        "SORT L LIMIT 99998 9223372036854775807",
        "SORT L BY nosort LIMIT 99998 9223372036854775807",
        "SORT L BY nosort DESC LIMIT 99998 9223372036854775807",
    ] {
        assert_eq!(reply_len(&query(&mut c, &words(cmd))), 2, "{cmd}");
    }
    let v: Vec<String> = redis::cmd("SORT")
        .arg("L")
        .arg("LIMIT")
        .arg(2)
        .arg(i64::MAX)
        .arg("BY")
        .arg("nosort")
        .query(&mut c)
        .unwrap();
    assert_eq!(v.len(), 99_998);
    assert!(s.cli(&["PING"]).contains("PONG"));
}

#[test]
fn cluster_mode_refuses_by_and_get_patterns() {
    let s = Server::start(&["--cluster-enabled", "yes"]);
    let mut c = s.client();
    // A one-node cluster serving every slot (keys in unserved slots get CLUSTERDOWN).
    query(&mut c, &words("CLUSTER ADDSLOTSRANGE 0 16383"));
    common::wait_for("cluster_state:ok", || {
        let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c).ok()?;
        info.contains("cluster_state:ok").then_some(())
    });
    query(&mut c, &words("RPUSH l 3 1 2"));
    let err = |c: &mut Connection, cmd: &str| match query(c, &words(cmd)) {
        Value::SimpleString(e) => e,
        v => panic!("{cmd}: expected an error, got {v:?}"),
    };
    assert!(err(&mut c, "SORT l BY w_*").contains("BY option of SORT denied in Cluster mode."));
    assert!(
        err(&mut c, "SORT_RO l BY w_*->f").contains("BY option of SORT denied in Cluster mode.")
    );
    assert!(err(&mut c, "SORT l GET #").contains("GET option of SORT denied in Cluster mode."));
    assert!(err(&mut c, "SORT l BY nosort GET o_*")
        .contains("GET option of SORT denied in Cluster mode."));
    // Constant BY patterns and plain sorts still work.
    let v: Vec<String> = redis::cmd("SORT")
        .arg("l")
        .arg("BY")
        .arg("nosort")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["3", "1", "2"]);
    let v: Vec<String> = redis::cmd("SORT")
        .arg("l")
        .arg("DESC")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["3", "2", "1"]);
}

/// Every keyspace event up to the `SET marker` sent last.
fn events(s: &Server, cmds: &[&str]) -> Vec<(String, String)> {
    let argv: Vec<Vec<&str>> = cmds
        .iter()
        .map(|c| c.split_whitespace().collect())
        .collect();
    let script: Vec<&[&str]> = argv.iter().map(|v| v.as_slice()).collect();
    common::keyspace_events(s, &script)
}

#[test]
fn store_variants_raise_redis_events() {
    let cmds = [
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOADD g 13.361389 38.115556 Palermo",
        "GEOADD g XX 1 1 nobody",
        "GEOSEARCHSTORE d1 g FROMMEMBER Palermo BYRADIUS 200 km",
        "GEOSEARCHSTORE d1 g FROMLONLAT 0 0 BYRADIUS 1 km",
        "GEORADIUS g 15 37 200 km STORE d2",
        "GEORADIUSBYMEMBER g Palermo 200 km STOREDIST d2",
        "GEOSEARCHSTORE d2 missing FROMLONLAT 0 0 BYRADIUS 1 km",
        "RPUSH l 3 1 2",
        "SORT l STORE d3",
        "SORT l LIMIT 0 0 STORE d3",
        "SORT l STORE d3",
        "SORT missing STORE d3",
        "SORT_RO l",
        "SORT g ALPHA",
    ];
    let (s, r) = (Server::start(&[]), Server::start_redis(&[]));
    let ours = events(&s, &cmds);
    assert_eq!(ours, events(&r, &cmds));
    assert!(ours.contains(&("__keyevent@0__:geosearchstore".into(), "d1".into())));
    assert!(ours.contains(&("__keyevent@0__:georadiusstore".into(), "d2".into())));
    assert!(ours.contains(&("__keyevent@0__:sortstore".into(), "d3".into())));
}

#[test]
fn resp3_replies() {
    let (s, r) = (Server::start(&[]), Server::start_redis(&[]));
    let raw = |port: u16, cmds: &[&str]| -> Vec<u8> {
        use std::io::{Read, Write};
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut out = Vec::new();
        for cmd in cmds {
            let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
            sock.write_all(&common::resp(&args)).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            let mut buf = [0u8; 65536];
            out.clear();
            while let Ok(n) = sock.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
        }
        out
    };
    let setup = [
        "HELLO 3",
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "RPUSH l 1 2",
    ];
    for cmd in [
        "SORT l GET nokey_* GET #",
        "GEOPOS g nope",
        "GEODIST g Palermo nope",
        "GEOHASH g nope Palermo",
        "GEOSEARCH g FROMMEMBER Palermo BYRADIUS 200 km WITHDIST WITHHASH ASC",
    ] {
        let with: Vec<&str> = setup.iter().copied().chain([cmd]).collect();
        let (x, y) = (raw(s.port, &with), raw(r.port, &with));
        assert_eq!(
            String::from_utf8_lossy(&x),
            String::from_utf8_lossy(&y),
            "{cmd}"
        );
    }
    // Coordinates are RESP3 doubles: the same values, printed %.17g instead of Redis's
    // 17-decimal text (see src/commands/geo.rs).
    let with: Vec<&str> = setup.iter().copied().chain(["GEOPOS g Palermo"]).collect();
    let ours = String::from_utf8(raw(s.port, &with)).unwrap();
    let theirs = String::from_utf8(raw(r.port, &with)).unwrap();
    let nums = |t: &str| -> Vec<f64> {
        t.split("\r\n")
            .filter_map(|l| l.strip_prefix(','))
            .map(|v| v.parse().unwrap())
            .collect()
    };
    assert_eq!(nums(&ours), nums(&theirs));
    assert_eq!(nums(&ours).len(), 2);
}
