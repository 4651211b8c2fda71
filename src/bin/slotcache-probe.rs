//! A latency probe for `scripts/bench-reshard.sh`: a few clients per port send one request at
//! a time (GET of a key outside the slots being moved, by default) until a stop file appears,
//! and every request's latency is kept. Prints one line per port:
//! `port=P requests=N rps=R max_ms=M p999_ms=Q`: the longest stall a client of that node saw
//! while the measured operation ran. Works against slotcache and redis-server alike.
//!
//!   slotcache-probe --ports P1,P2 --stop-file F [--clients 4] [--keys K1,K2] [--max-seconds 600]
//!
//! `--keys`: the key each port's clients read (one for all, or one per port).
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Opts {
    ports: Vec<u16>,
    stop_file: String,
    clients: usize,
    keys: Vec<String>,
    max_seconds: u64,
}

fn parse() -> Opts {
    let mut o = Opts {
        ports: vec![],
        stop_file: String::new(),
        clients: 4,
        keys: vec!["probe".into()],
        max_seconds: 600,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for w in args.chunks(2) {
        let v = w.get(1).cloned().unwrap_or_default();
        match w[0].as_str() {
            "--ports" => o.ports = v.split(',').map(|p| p.parse().expect("port")).collect(),
            "--stop-file" => o.stop_file = v,
            "--clients" => o.clients = v.parse().expect("clients"),
            "--keys" => o.keys = v.split(',').map(String::from).collect(),
            "--max-seconds" => o.max_seconds = v.parse().expect("seconds"),
            a => panic!("unknown option {a}"),
        }
    }
    assert!(
        !o.ports.is_empty() && !o.stop_file.is_empty(),
        "--ports and --stop-file"
    );
    o
}

/// Skips one reply: a line, plus the body of a bulk string.
async fn read_reply(r: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<()> {
    line.clear();
    if r.read_line(line).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    if let Some(n) = line.strip_prefix('$') {
        let n: i64 = n.trim().parse().unwrap_or(-1);
        if n >= 0 {
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf).await?;
        }
    }
    Ok(())
}

/// Latencies in microseconds until the stop file exists.
async fn client(port: u16, key: String, stop: String, deadline: Instant) -> Vec<u32> {
    let s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.set_nodelay(true).ok();
    let mut r = BufReader::new(s);
    let mut req = Vec::new();
    slotcache::protocol::encode_request(&mut req, &[b"GET", key.as_bytes()]);
    let mut line = String::new();
    let mut lat = Vec::with_capacity(1 << 20);
    let mut checked = Instant::now();
    loop {
        let now = Instant::now();
        if now - checked > Duration::from_millis(20) {
            checked = now;
            if std::path::Path::new(&stop).exists() || now > deadline {
                return lat;
            }
        }
        let t0 = Instant::now();
        if r.get_mut().write_all(&req).await.is_err()
            || read_reply(&mut r, &mut line).await.is_err()
        {
            return lat;
        }
        lat.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let o = parse();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.max_seconds);
    let mut tasks = Vec::new();
    for (i, &p) in o.ports.iter().enumerate() {
        let key = o.keys.get(i).unwrap_or(&o.keys[0]).clone();
        for _ in 0..o.clients {
            tasks.push((
                p,
                tokio::spawn(client(p, key.clone(), o.stop_file.clone(), deadline)),
            ));
        }
    }
    let mut per_port: Vec<(u16, Vec<u32>)> = o.ports.iter().map(|&p| (p, Vec::new())).collect();
    for (p, t) in tasks {
        let lat = t.await.expect("probe client");
        per_port
            .iter_mut()
            .find(|(q, _)| *q == p)
            .expect("port")
            .1
            .extend(lat);
    }
    let secs = start.elapsed().as_secs_f64();
    for (p, mut lat) in per_port {
        lat.sort_unstable();
        let n = lat.len();
        let q = |f: f64| {
            lat.get(((n as f64 * f) as usize).min(n.saturating_sub(1)))
                .copied()
        };
        println!(
            "port={p} requests={n} rps={:.0} max_ms={:.2} p999_ms={:.2}",
            n as f64 / secs,
            q(1.0).unwrap_or(0) as f64 / 1000.0,
            q(0.999).unwrap_or(0) as f64 / 1000.0,
        );
    }
}
