//! A load generator for `scripts/bench-bgsave.sh`: N clients (pipeline 1) send SET/GET to one
//! server while a controller triggers BGSAVE and polls INFO until it finishes, so throughput
//! and the longest request latency can be compared inside and outside the save window. Works
//! against slotcache and redis-server alike. Prints one `key=value` line.
//!
//!   slotcache-loadgen --port P [--clients 50] [--keys 1000000] [--value-size 16]
//!                     [--seconds 6] [--bgsave-after-ms 1500] [--mode mixed|set-seq]
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const BUCKET_MS: u64 = 10;

struct Opts {
    port: u16,
    clients: usize,
    keys: u64,
    value_size: usize,
    seconds: u64,
    bgsave_after_ms: u64,
    seq: bool,
}

fn parse() -> Opts {
    let mut o = Opts {
        port: 6379,
        clients: 50,
        keys: 1_000_000,
        value_size: 16,
        seconds: 6,
        bgsave_after_ms: 1500,
        seq: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for w in args.chunks(2) {
        let v = w.get(1).map(String::as_str).unwrap_or("");
        match w[0].as_str() {
            "--port" => o.port = v.parse().expect("port"),
            "--clients" => o.clients = v.parse().expect("clients"),
            "--keys" => o.keys = v.parse().expect("keys"),
            "--value-size" => o.value_size = v.parse().expect("value-size"),
            "--seconds" => o.seconds = v.parse().expect("seconds"),
            "--bgsave-after-ms" => o.bgsave_after_ms = v.parse().expect("ms"),
            "--mode" => o.seq = v == "set-seq",
            a => panic!("unknown option {a}"),
        }
    }
    o
}

struct Stats {
    start: Instant,
    /// Completions per bucket (by completion time).
    done: Vec<AtomicU64>,
    /// Longest latency (us) of the requests sent in each bucket.
    max_us: Vec<AtomicU64>,
    seq: AtomicU64,
}

impl Stats {
    fn bucket(&self, t: Instant) -> usize {
        ((t - self.start).as_millis() as u64 / BUCKET_MS) as usize
    }
}

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    slotcache::protocol::encode_request(&mut out, args);
    out
}

/// Reads one reply (status, error, integer, bulk or flat array of bulks).
async fn read_reply(r: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<()> {
    line.clear();
    r.read_line(line).await?;
    match line.as_bytes().first() {
        Some(b'$') => {
            let n: i64 = line[1..].trim().parse().unwrap_or(-1);
            if n >= 0 {
                let mut buf = vec![0u8; n as usize + 2];
                r.read_exact(&mut buf).await?;
            }
        }
        Some(b'*') => {
            let n: i64 = line[1..].trim().parse().unwrap_or(0);
            for _ in 0..n.max(0) {
                Box::pin(read_reply(r, line)).await?;
            }
        }
        None => return Err(std::io::ErrorKind::UnexpectedEof.into()),
        _ => {}
    }
    Ok(())
}

async fn client(o: Arc<Opts>, st: Arc<Stats>, id: u64, deadline: Instant) {
    let s = TcpStream::connect(("127.0.0.1", o.port))
        .await
        .expect("connect");
    s.set_nodelay(true).ok();
    let mut r = BufReader::new(s);
    let value = vec![b'v'; o.value_size];
    let mut line = String::new();
    let mut x = id.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    let mut n = 0u64;
    while Instant::now() < deadline {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = if o.seq {
            st.seq.fetch_add(1, Relaxed) % o.keys
        } else {
            x % o.keys
        };
        let key = format!("key:{k}");
        let req = if o.seq || n.is_multiple_of(2) {
            resp(&[b"SET", key.as_bytes(), &value])
        } else {
            resp(&[b"GET", key.as_bytes()])
        };
        n += 1;
        let t0 = Instant::now();
        r.get_mut().write_all(&req).await.expect("write");
        read_reply(&mut r, &mut line).await.expect("read");
        let t1 = Instant::now();
        let b0 = st.bucket(t0);
        if let Some(m) = st.max_us.get(b0) {
            m.fetch_max((t1 - t0).as_micros() as u64, Relaxed);
        }
        if let Some(d) = st.done.get(st.bucket(t1)) {
            d.fetch_add(1, Relaxed);
        }
    }
}

async fn info_field(r: &mut BufReader<TcpStream>, field: &str) -> Option<i64> {
    r.get_mut()
        .write_all(&resp(&[b"INFO", b"persistence"]))
        .await
        .ok()?;
    let mut line = String::new();
    r.read_line(&mut line).await.ok()?;
    let n: usize = line[1..].trim().parse().ok()?;
    let mut buf = vec![0u8; n + 2];
    r.read_exact(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let o = Arc::new(parse());
    let buckets = (o.seconds * 1000 / BUCKET_MS + 100) as usize;
    let st = Arc::new(Stats {
        start: Instant::now(),
        done: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
        max_us: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
        seq: AtomicU64::new(0),
    });
    let deadline = st.start + Duration::from_secs(o.seconds);
    let tasks: Vec<_> = (0..o.clients as u64)
        .map(|i| tokio::spawn(client(o.clone(), st.clone(), i, deadline)))
        .collect();
    tokio::time::sleep(Duration::from_millis(o.bgsave_after_ms)).await;
    let ctl = TcpStream::connect(("127.0.0.1", o.port))
        .await
        .expect("connect");
    let mut ctl = BufReader::new(ctl);
    let t_begin = Instant::now();
    ctl.get_mut().write_all(&resp(&[b"BGSAVE"])).await.unwrap();
    let mut line = String::new();
    ctl.read_line(&mut line).await.unwrap();
    assert!(line.starts_with('+'), "BGSAVE: {line}");
    let mut t_end = None;
    while Instant::now() < deadline {
        if info_field(&mut ctl, "rdb_bgsave_in_progress").await == Some(0) {
            t_end = Some(Instant::now());
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for t in tasks {
        let _ = t.await;
    }
    let Some(t_end) = t_end else {
        println!("error=save-did-not-finish-within-the-run");
        return;
    };
    let ms = |t: Instant| (t - st.start).as_millis() as u64;
    let (b0, b1) = (ms(t_begin) / BUCKET_MS, ms(t_end) / BUCKET_MS);
    let last = o.seconds * 1000 / BUCKET_MS - 1;
    let warm = 300 / BUCKET_MS;
    let sum =
        |r: std::ops::Range<u64>| -> u64 { r.map(|b| st.done[b as usize].load(Relaxed)).sum() };
    let max = |r: std::ops::Range<u64>| -> u64 {
        r.map(|b| st.max_us[b as usize].load(Relaxed))
            .max()
            .unwrap_or(0)
    };
    let save_buckets = (b1 + 1 - b0).max(1);
    let idle_ranges = [warm..b0.max(warm), (b1 + 20).min(last)..last];
    let idle_buckets: u64 = idle_ranges
        .iter()
        .map(|r| r.end - r.start)
        .sum::<u64>()
        .max(1);
    let idle_done: u64 = idle_ranges.iter().map(|r| sum(r.clone())).sum();
    let idle_max = idle_ranges
        .iter()
        .map(|r| max(r.clone()))
        .max()
        .unwrap_or(0);
    let per_s = 1000 / BUCKET_MS;
    println!(
        "save_ms={} idle_rps={} save_rps={} idle_max_ms={:.2} save_max_ms={:.2} requests={}",
        (t_end - t_begin).as_millis(),
        idle_done * per_s / idle_buckets,
        sum(b0..b1 + 1) * per_s / save_buckets,
        idle_max as f64 / 1000.0,
        max(b0.saturating_sub(5)..b1 + 1) as f64 / 1000.0,
        sum(0..last + 1),
    );
}
