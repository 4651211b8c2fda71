//! The Redis tools work unchanged: redis-cli (commands, --pipe, --scan, --bigkeys, --latency)
//! and redis-benchmark.
mod common;
use common::Server;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn redis_cli_commands_and_pipe() {
    let s = Server::start(&[]);
    assert_eq!(s.cli(&["SET", "greeting", "hello world"]).trim(), "OK");
    assert_eq!(s.cli(&["GET", "greeting"]).trim(), "hello world");
    let mut input = Vec::new();
    for i in 0..10_000 {
        input.extend(common::resp(&[
            b"SET",
            format!("mass:{i}").as_bytes(),
            b"v",
        ]));
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &s.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 10000"), "{text}");
    assert_eq!(s.cli(&["DBSIZE"]).trim(), "10001");
    // Interactive-style session fed on stdin.
    let mut child = Command::new("redis-cli")
        .args(["-p", &s.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"INCR counter\nINCRBY counter 41\nGET counter\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n42\n42\n");
}

#[test]
fn redis_cli_scan_bigkeys_latency() {
    let s = Server::start(&[]);
    for i in 0..200 {
        s.cli(&["SET", &format!("user:{i}"), &"x".repeat(i)]);
    }
    s.cli(&["SET", "other", "1"]);
    let scanned = s.cli(&["--scan", "--pattern", "user:*"]);
    assert_eq!(scanned.lines().count(), 200);
    let big = s.cli(&["--bigkeys"]);
    assert!(big.contains("Biggest string found"), "{big}");
    assert!(big.contains("user:199"), "{big}");
    let out = Command::new("timeout")
        .args(["3", "redis-cli", "-p", &s.port.to_string(), "--latency"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(first.split_whitespace().count(), 4, "latency line: {text}");
}

#[test]
fn redis_benchmark_runs_without_errors() {
    let s = Server::start(&[]);
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &s.port.to_string(),
            "-n",
            "2000",
            "-c",
            "10",
            "-t",
            "ping,set,get,incr,mset",
            "-q",
            "-P",
            "4",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for t in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"] {
        let done = text
            .split(['\n', '\r'])
            .any(|l| l.trim_start().starts_with(t) && l.contains("requests per second"));
        assert!(done, "{t}: {text}");
    }
    assert!(!text.contains("ERR"), "{text}");
}
