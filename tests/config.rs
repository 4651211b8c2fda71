//! Startup configuration (file + command line, Redis's error shape), CONFIG GET/SET/REWRITE/
//! RESETSTAT, and clean shutdown on signals.
mod common;
use common::{wait_for, Server};
use std::process::Command;

fn server_bin() -> &'static str {
    env!("CARGO_BIN_EXE_slotcache-server")
}

#[test]
fn bad_directive_stops_startup_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.conf");
    std::fs::write(
        &path,
        "# a comment\nport 7777\nmaxmemory-policy sometimes\n",
    )
    .unwrap();
    let out = Command::new(server_bin()).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains("at line 3"), "{err}");
    assert!(err.contains(">>> 'maxmemory-policy sometimes'"), "{err}");
    assert!(
        err.contains("argument(s) must be one of the following"),
        "{err}"
    );
    let out = Command::new(server_bin())
        .args(["--no-such-directive", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bad directive or wrong number of arguments")
    );
}

#[test]
fn file_include_and_command_line_override() {
    let s0 = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("inc.conf");
    std::fs::write(&inc, "maxmemory 10mb\nmaxmemory-policy allkeys-lfu\n").unwrap();
    let conf = dir.path().join("node.conf");
    let port = common::free_port();
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ninclude \"{}\"\nhz 15\n",
            inc.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(server_bin())
        .arg(&conf)
        .args(["--hz", "20", "--save", ""])
        .spawn()
        .unwrap();
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut con = wait_for("server from file", || c.get_connection().ok());
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .arg("hz")
        .arg("maxmemory-policy")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        v,
        vec![
            "hz",
            "20",
            "maxmemory",
            "10485760",
            "maxmemory-policy",
            "allkeys-lfu"
        ]
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(s0);
}

#[test]
fn config_get_set_like_redis() {
    let s = Server::start(&[]);
    let r = Server::start_redis(&[]);
    let cases: &[&[&str]] = &[
        &[
            "CONFIG",
            "SET",
            "maxmemory",
            "1mb",
            "maxmemory-policy",
            "allkeys-lru",
        ],
        &["CONFIG", "GET", "maxmemory"],
        &["CONFIG", "GET", "maxmemory-policy"],
        &["CONFIG", "SET", "maxmemory-policy", "bogus"],
        &["CONFIG", "SET", "protected-mode", "maybe"],
        &["CONFIG", "SET", "hz", "abc"],
        &["CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "2mb"],
        &["CONFIG", "SET", "no-such-thing", "1"],
        &["CONFIG", "SET", "databases", "4"],
        &["CONFIG", "SET", "maxmemory"],
        &["CONFIG", "GET", "hash-max-ziplist-entries"],
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 512kb 5",
        ],
        &["CONFIG", "GET", "client-output-buffer-limit"],
        &["CONFIG", "SET", "maxmemory-samples", "0"],
        &["CONFIG", "FOO"],
        &["CONFIG", "RESETSTAT"],
    ];
    for case in cases {
        let args: Vec<&[u8]> = case.iter().map(|a| a.as_bytes()).collect();
        let req = common::resp(&args);
        let want = r.raw().reply(&req, 1);
        let got = s.raw().reply(&req, want.len());
        assert_eq!(got, want, "{case:?}");
    }
}

#[test]
fn config_set_is_atomic() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let r: redis::RedisResult<()> = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("5mb")
        .arg("hz")
        .arg("notanumber")
        .query(&mut c);
    assert!(r.is_err());
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut c)
        .unwrap();
    assert_eq!(v[1], "0");
}

#[test]
fn config_rewrite_persists_changes() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("r.conf");
    let port = common::free_port();
    std::fs::write(
        &conf,
        format!(
            "# keep me\nport {port}\nbind 127.0.0.1\nmaxmemory 1mb\nuser old on nopass +@all ~*\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(server_bin()).arg(&conf).spawn().unwrap();
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut con = wait_for("server", || c.get_connection().ok());
    // ACL users are config too: REWRITE writes every user's line in place of the old ones.
    let _: i64 = redis::cmd("ACL")
        .arg(&["DELUSER", "old"])
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "kept", "on", "nopass", "+get", "~k*"])
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("7mb")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut con).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("# keep me\n"), "{text}");
    assert!(text.contains("maxmemory 7340032\n"), "{text}");
    assert!(text.contains("maxmemory-policy allkeys-lru\n"), "{text}");
    assert!(
        text.contains("user kept on nopass ~k* resetchannels -@all +get\n"),
        "{text}"
    );
    assert!(!text.contains("user old"), "{text}");
    let mut child = Command::new(server_bin()).arg(&conf).spawn().unwrap();
    let mut con = wait_for("restarted server", || c.get_connection().ok());
    let users: Vec<String> = redis::cmd("ACL").arg("USERS").query(&mut con).unwrap();
    assert_eq!(users, ["default", "kept"]);
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory*")
        .query(&mut con)
        .unwrap();
    assert!(
        v.windows(2)
            .any(|w| w[0] == "maxmemory" && w[1] == "7340032"),
        "{v:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // Without a config file, REWRITE is an error, as in Redis.
    let s = Server::start(&[]);
    let e = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query::<()>(&mut s.client())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("The server is running without a config file"),
        "{e}"
    );
}

#[test]
fn sigterm_and_shutdown_exit_cleanly() {
    let mut s = Server::start(&[]);
    s.signal(libc::SIGTERM);
    assert!(s.wait_exit().success());
    let mut s = Server::start(&[]);
    let _ = redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query::<()>(&mut s.client());
    assert!(s.wait_exit().success());
}

/// The names of `CONFIG GET *` on a server.
fn config_names(s: &Server) -> std::collections::BTreeSet<String> {
    let mut c = s.client();
    let all: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("*")
        .query(&mut c)
        .unwrap();
    all.chunks(2).map(|p| p[0].clone()).collect()
}

#[test]
fn every_redis_parameter_is_accepted_with_its_default_and_validation() {
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let missing: Vec<_> = config_names(&redis)
        .difference(&config_names(&ours))
        .cloned()
        .collect();
    assert!(missing.is_empty(), "CONFIG GET * lacks {missing:?}");
    // Defaults, a valid change and an invalid one answer as Redis (parameters without effect
    // in slotcache included).
    for (name, good, bad) in [
        ("latency-tracking-info-percentiles", "50 99.5", "50 101"),
        ("oom-score-adj-values", "0 100 200", "0 100"),
        ("tls-session-cache-size", "1000", "x"),
        ("acl-pubsub-default", "allchannels", "some"),
        ("active-defrag-cycle-max", "50", "100"),
    ] {
        for s in [&ours, &redis] {
            let mut c = s.client();
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg(name)
                .arg(good)
                .query(&mut c)
                .unwrap();
        }
        let get = |s: &Server| -> Vec<String> {
            redis::cmd("CONFIG")
                .arg("GET")
                .arg(name)
                .query(&mut s.client())
                .unwrap()
        };
        assert_eq!(get(&ours), get(&redis), "{name}");
        let err = |s: &Server| {
            redis::cmd("CONFIG")
                .arg("SET")
                .arg(name)
                .arg(bad)
                .query::<()>(&mut s.client())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err(&ours), err(&redis), "{name} {bad}");
    }
}

#[test]
fn default_info_has_every_field_redis_has() {
    let fields = |s: &Server| -> std::collections::BTreeSet<String> {
        let info: String = redis::cmd("INFO").query(&mut s.client()).unwrap();
        info.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("errorstat_"))
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    };
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let missing: Vec<_> = fields(&redis).difference(&fields(&ours)).cloned().collect();
    assert!(missing.is_empty(), "INFO lacks {missing:?}");
}

#[test]
fn config_set_port_moves_the_listener_and_rolls_back_all_values_when_it_cannot() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let before: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut c)
        .unwrap();
    // A port someone else holds: the whole CONFIG SET fails and nothing changes.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let e = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "10000001", "port", &taken_port])
        .query::<()>(&mut c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("Unable to listen on this port"), "{e}");
    let after: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut c)
        .unwrap();
    assert_eq!(before, after);
    let port: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query(&mut c)
        .unwrap();
    assert_eq!(port[1], s.port.to_string());
    // A free port: new clients connect there, connected ones stay, the old port closes.
    let free = common::free_port().to_string();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "port", &free])
        .query(&mut c)
        .unwrap();
    let mut moved = redis::Client::open(format!("redis://127.0.0.1:{free}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let pong: String = redis::cmd("PING").query(&mut moved).unwrap();
    assert_eq!(pong, "PONG");
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    wait_for("the old port to close", || {
        std::net::TcpStream::connect(("127.0.0.1", s.port))
            .is_err()
            .then_some(())
    });
}
