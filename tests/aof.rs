//! The append-only file, black-box: what a client wrote survives a SIGKILL and a restart,
//! BGREWRITEAOF compacts the files without changing the dataset, the AOF can be turned on at
//! runtime, a replica logs the dataset its full sync brought and its primary's writes, AOF
//! directories move between slotcache and redis-server 7.0 in both directions, and damaged
//! files are cut back or refused as Redis does, never misread.
mod common;

use common::{wait_for, Server};
use std::path::Path;

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    common::cmd(c, args)
}

fn digest(c: &mut redis::Connection) -> String {
    q(c, &["DEBUG", "DIGEST"])
}

/// A dataset touching every kind of write the AOF logs: each type, several databases,
/// relative TTLs (logged as absolute), non-deterministic commands (logged as their effect),
/// a transaction, a script, a function, stream groups.
fn write_dataset(c: &mut redis::Connection, tag: &str) {
    let _: () = q(c, &["SET", &format!("s:{tag}"), "v"]);
    let _: () = q(c, &["RPUSH", &format!("l:{tag}"), "a", "b", "c"]);
    let _: () = q(c, &["HSET", &format!("h:{tag}"), "f", "1", "g", "2"]);
    let _: () = q(c, &["ZADD", &format!("z:{tag}"), "1.5", "a", "2", "b"]);
    let _: () = q(c, &["SADD", &format!("set:{tag}"), "x", "y", "z"]);
    let _: Option<String> = q(c, &["SPOP", &format!("set:{tag}")]);
    let _: String = q(c, &["INCRBYFLOAT", &format!("f:{tag}"), "1.25"]);
    let _: () = q(c, &["EXPIRE", &format!("l:{tag}"), "1000"]);
    let _: String = q(c, &["XADD", &format!("x:{tag}"), "*", "f", "v"]);
    let _: () = q(c, &["XGROUP", "CREATE", &format!("x:{tag}"), "g", "0"]);
    let _: redis::Value = q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "STREAMS",
            &format!("x:{tag}"),
            ">",
        ],
    );
    let _: () = q(c, &["SELECT", "2"]);
    let _: () = q(c, &["SET", &format!("db2:{tag}"), "v"]);
    let _: () = q(c, &["SELECT", "0"]);
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("INCR")
        .arg(format!("n:{tag}"))
        .cmd("LPUSH")
        .arg(format!("l:{tag}"))
        .arg("z");
    let _: redis::Value = pipe.query(c).expect("MULTI/EXEC");
    let _: redis::Value = q(
        c,
        &[
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1])",
            "1",
            &format!("lua:{tag}"),
            "w",
        ],
    );
}

fn info(c: &mut redis::Connection, field: &str) -> String {
    let text: String = q(c, &["INFO", "persistence"]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in INFO persistence"))
}

fn wait_rewrite_done(c: &mut redis::Connection) {
    wait_for("AOF rewrite to finish", || {
        (info(c, "aof_rewrite_in_progress") == "0" && info(c, "aof_rewrite_scheduled") == "0")
            .then_some(())
    });
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).expect("manifest")
}

const AOF_ALWAYS: &[&str] = &["--appendonly", "yes", "--appendfsync", "always"];

#[test]
fn acknowledged_writes_survive_sigkill_and_restart() {
    let s = Server::start(AOF_ALWAYS);
    let mut c = s.client();
    let _: () = q(
        &mut c,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function() return 7 end)",
        ],
    );
    write_dataset(&mut c, "a");
    let before = digest(&mut c);
    let dir = s.into_dir(); // SIGKILL: nothing but the files is left.
    let s = Server::start_in(dir, AOF_ALWAYS);
    let mut c = s.client();
    assert_eq!(digest(&mut c), before);
    let ttl: i64 = q(&mut c, &["TTL", "l:a"]);
    assert!(ttl > 900 && ttl <= 1000, "ttl {ttl}");
    let f: i64 = q(&mut c, &["FCALL", "f", "0"]);
    assert_eq!(f, 7);
    // DEBUG LOADAOF reads the same files back into the running server.
    let _: () = q(&mut c, &["DEBUG", "LOADAOF"]);
    assert_eq!(digest(&mut c), before);
}

#[test]
fn rewrite_compacts_the_files_and_keeps_the_dataset() {
    let s = Server::start(&["--appendonly", "yes"]);
    let mut c = s.client();
    for i in 0..200 {
        let _: () = q(&mut c, &["SET", "counter", &i.to_string()]);
    }
    write_dataset(&mut c, "b");
    let incr = s.dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let logged = std::fs::metadata(&incr).expect("incr file").len();
    assert!(manifest(s.dir.path()).contains("appendonly.aof.1.incr.aof seq 1 type i"));
    let reply: String = q(&mut c, &["BGREWRITEAOF"]);
    assert_eq!(reply, "Background append only file rewriting started");
    wait_rewrite_done(&mut c);
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
    // Writes during and after the rewrite go to the new incremental file.
    write_dataset(&mut c, "c");
    let m = manifest(s.dir.path());
    assert_eq!(
        m,
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(!incr.exists(), "the rewritten incremental file is deleted");
    let base = std::fs::metadata(s.dir.path().join("appendonlydir/appendonly.aof.2.base.rdb"))
        .unwrap()
        .len();
    assert!(base < logged, "base {base} bytes vs {logged} logged");
    let before = digest(&mut c);
    let _: () = q(&mut c, &["DEBUG", "LOADAOF"]);
    assert_eq!(digest(&mut c), before);
    let dir = s.into_dir();
    let s = Server::start_in(dir, &["--appendonly", "yes"]);
    assert_eq!(digest(&mut s.client()), before);
}

#[test]
fn appendonly_turned_on_at_runtime_starts_from_the_dataset() {
    let s = Server::start(&[]);
    let mut c = s.client();
    write_dataset(&mut c, "d");
    let _: () = q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    wait_rewrite_done(&mut c);
    assert_eq!(info(&mut c, "aof_enabled"), "1");
    write_dataset(&mut c, "e");
    let before = digest(&mut c);
    let dir = s.into_dir();
    let s = Server::start_in(dir, &["--appendonly", "yes"]);
    let mut c = s.client();
    assert_eq!(digest(&mut c), before);
    // Turned off, later writes are not logged: the next AOF start does not see them.
    let _: () = q(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    assert_eq!(info(&mut c, "aof_enabled"), "0");
    let _: () = q(&mut c, &["SET", "unlogged", "1"]);
    let dir = s.into_dir();
    let s = Server::start_in(dir, &["--appendonly", "yes"]);
    assert_eq!(digest(&mut s.client()), before);
}

#[test]
fn a_replica_logs_its_primarys_dataset_and_writes() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = primary.client();
    write_dataset(&mut p, "f");
    // The replica's AOF starts before the full sync: the dataset it receives replaces
    // what the AOF said (a rewrite after the sync), then the stream is appended.
    let replica = Server::start(&["--appendonly", "yes"]);
    let mut r = replica.client();
    let _: () = q(&mut r, &["SET", "replaced-by-sync", "1"]);
    let _: () = q(
        &mut r,
        &["REPLICAOF", "127.0.0.1", &primary.port.to_string()],
    );
    wait_for("replica linked", || {
        let text: String = q(&mut r, &["INFO", "replication"]);
        text.contains("master_link_status:up").then_some(())
    });
    wait_rewrite_done(&mut r);
    write_dataset(&mut p, "g");
    let want = digest(&mut p);
    wait_for("replica to catch up", || {
        (digest(&mut r) == want).then_some(())
    });
    drop(r);
    let dir = replica.into_dir();
    // Restarted alone, the replica's AOF alone rebuilds what the primary had.
    let s = Server::start_in(dir, &["--appendonly", "yes"]);
    assert_eq!(digest(&mut s.client()), want);
}

/// Writes with `writer`, stops it cleanly, starts `reader` on its files: same digest.
fn travel(writer_redis: bool, extra: &[&str]) {
    let mut args = vec!["--appendonly", "yes"];
    args.extend_from_slice(extra);
    let w = if writer_redis {
        Server::start_redis(&args)
    } else {
        Server::start(&args)
    };
    let mut c = w.client();
    write_dataset(&mut c, "h");
    let _: String = q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    write_dataset(&mut c, "i");
    let before = digest(&mut c);
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut c);
    let dir = w.into_dir();
    let r = if writer_redis {
        Server::start_in(dir, &args)
    } else {
        Server::start_redis_in(dir, &args)
    };
    assert_eq!(
        digest(&mut r.client()),
        before,
        "writer redis: {writer_redis}, {extra:?}"
    );
}

#[test]
fn aof_directories_move_between_redis_and_slotcache() {
    travel(false, &[]);
    travel(true, &[]);
    // A base in command form, as Redis writes it without the RDB preamble.
    travel(true, &["--aof-use-rdb-preamble", "no"]);
}

/// Starts slotcache on `dir` and returns its exit status and stderr if it stops.
fn start_expecting_exit(dir: &Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Server::spawn_unchecked(env!("CARGO_BIN_EXE_slotcache-server"), dir, args);
    let status = wait_for("the server to refuse the AOF", || {
        child.try_wait().ok().flatten()
    });
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

#[test]
fn damaged_files_are_cut_back_or_refused() {
    let s = Server::start(&["--appendonly", "yes"]);
    let mut c = s.client();
    let _: () = q(&mut c, &["SET", "kept", "1"]);
    let dir = s.into_dir();
    let incr = dir.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let whole = std::fs::read(&incr).unwrap();
    // A command cut mid-way (a crash while writing), and a transaction without its EXEC.
    let mut cut = whole.clone();
    cut.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$100\r\nab");
    std::fs::write(&incr, &cut).unwrap();
    let s = Server::start_in(dir, &["--appendonly", "yes"]);
    let mut c = s.client();
    let kept: Option<String> = q(&mut c, &["GET", "kept"]);
    let lost: Option<String> = q(&mut c, &["GET", "lost"]);
    assert_eq!((kept.as_deref(), lost), (Some("1"), None));
    let dir = s.into_dir();
    assert_eq!(
        std::fs::read(&incr).unwrap(),
        whole,
        "the tail is truncated away"
    );
    let mut multi = whole.clone();
    multi.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$1\r\n1\r\n");
    std::fs::write(&incr, &multi).unwrap();
    let s = Server::start_in(dir, &["--appendonly", "yes"]);
    let half: Option<String> = q(&mut s.client(), &["GET", "half"]);
    assert_eq!(half, None);
    let dir = s.into_dir();
    // With aof-load-truncated no, a cut file stops the server.
    std::fs::write(&incr, &cut).unwrap();
    let (status, err) = start_expecting_exit(
        dir.path(),
        &["--appendonly", "yes", "--aof-load-truncated", "no"],
    );
    assert!(!status.success());
    assert!(err.contains("Unexpected end of file"), "{err}");
    // Garbage, an unknown command and a bad manifest stop it with Redis's reasons.
    std::fs::write(&incr, b"hello world\r\n").unwrap();
    let (status, err) = start_expecting_exit(dir.path(), &["--appendonly", "yes"]);
    assert!(
        !status.success() && err.contains("Bad file format"),
        "{err}"
    );
    std::fs::write(&incr, b"*1\r\n$7\r\nNOSUCH!\r\n").unwrap();
    let (status, err) = start_expecting_exit(dir.path(), &["--appendonly", "yes"]);
    assert!(
        !status.success() && err.contains("Unknown command 'NOSUCH!'"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("appendonlydir/appendonly.aof.manifest"),
        b"file x seq 1 type q\n",
    )
    .unwrap();
    let (status, err) = start_expecting_exit(dir.path(), &["--appendonly", "yes"]);
    assert!(
        !status.success() && err.contains("Unknown AOF file type"),
        "{err}"
    );
}
