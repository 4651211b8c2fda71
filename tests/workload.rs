//! A mixed workload: 50 redis-benchmark clients over every data family while a pool of
//! consumers blocks on BRPOP; no error replies, the server stays healthy, and the consumers
//! receive elements.
mod common;
use common::Server;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn fifty_clients_all_families_with_blocking_consumers() {
    let s = Server::start(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let popped = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let (url, stop, popped) = (s.url(), stop.clone(), popped.clone());
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                while !stop.load(Ordering::SeqCst) {
                    let r: Option<(String, String)> = redis::cmd("BRPOP")
                        .arg("mylist")
                        .arg(0.05)
                        .query(&mut c)
                        .unwrap();
                    if r.is_some() {
                        popped.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let tests = "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset";
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &s.port.to_string(),
            "-c",
            "50",
            "-n",
            "3000",
            "-t",
            tests,
            "-q",
        ])
        .output()
        .unwrap();
    let zrange = Command::new("redis-benchmark")
        .args([
            "-p",
            &s.port.to_string(),
            "-c",
            "50",
            "-n",
            "3000",
            "-q",
            "ZRANGE",
            "myzset",
            "0",
            "10",
        ])
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    for c in consumers {
        c.join().unwrap();
    }
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&zrange.stdout);
    for t in [
        "SET",
        "GET",
        "INCR",
        "LPUSH",
        "RPUSH",
        "LPOP",
        "RPOP",
        "SADD",
        "HSET",
        "SPOP",
        "ZADD",
        "ZPOPMIN",
        "LRANGE_100",
        "MSET",
        "ZRANGE",
    ] {
        let done = text
            .split(['\n', '\r'])
            .any(|l| l.trim_start().starts_with(t) && l.contains("requests per second"));
        assert!(done, "{t} missing: {text}");
    }
    assert!(
        !text.contains("ERR") && !text.contains("WRONGTYPE"),
        "{text}"
    );
    assert!(
        popped.load(Ordering::SeqCst) > 0,
        "the blocking consumers received nothing"
    );
    s.raw().assert_open();
}
