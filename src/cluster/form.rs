//! `slotcache-server --cluster-form [--replicas N] host:port ...`: forms a cluster from running,
//! empty nodes, the way `redis-cli --cluster create --cluster-replicas N` does: the first
//! `count / (N + 1)` nodes are primaries (slots split evenly, distinct config epochs), every
//! node MEETs the first, the others become replicas of the primaries in turn (CLUSTER
//! REPLICATE); then it waits until every node says `cluster_state:ok`, knows all the others,
//! and every replica's link is up. A plain blocking RESP client over std::net, so a machine
//! without redis-cli can start a local cluster (scripts/local.sh).
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

struct Conn {
    addr: String,
    rd: BufReader<TcpStream>,
    wr: TcpStream,
}

/// A reply, flattened to text (enough for the handful of commands used here).
#[derive(Debug)]
enum Reply {
    Ok(String),
    Err(String),
}

impl Conn {
    fn open(addr: &str) -> Result<Conn, String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        Ok(Conn {
            addr: addr.to_string(),
            rd: BufReader::new(s.try_clone().map_err(|e| e.to_string())?),
            wr: s,
        })
    }

    fn call(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.wr
            .write_all(out.as_bytes())
            .map_err(|e| format!("{}: {e}", self.addr))?;
        self.read()
    }

    fn line(&mut self) -> Result<String, String> {
        let mut l = String::new();
        self.rd
            .read_line(&mut l)
            .map_err(|e| format!("{}: {e}", self.addr))?;
        if l.is_empty() {
            return Err(format!("{}: connection closed", self.addr));
        }
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    }

    fn read(&mut self) -> Result<Reply, String> {
        let l = self.line()?;
        let (kind, rest) = l.split_at(1.min(l.len()));
        match kind {
            "+" | ":" => Ok(Reply::Ok(rest.to_string())),
            "-" => Ok(Reply::Err(rest.to_string())),
            "$" | "=" => {
                let n: i64 = rest.parse().map_err(|_| format!("bad reply {l}"))?;
                if n < 0 {
                    return Ok(Reply::Ok(String::new()));
                }
                let mut buf = vec![0u8; n as usize + 2];
                std::io::Read::read_exact(&mut self.rd, &mut buf).map_err(|e| e.to_string())?;
                buf.truncate(n as usize);
                Ok(Reply::Ok(String::from_utf8_lossy(&buf).into_owned()))
            }
            _ => Err(format!("{}: unexpected reply {l}", self.addr)),
        }
    }

    fn ok(&mut self, args: &[&str]) -> Result<String, String> {
        match self.call(args)? {
            Reply::Ok(s) => Ok(s),
            Reply::Err(e) => Err(format!("{} {}: {e}", self.addr, args.join(" "))),
        }
    }

    fn info_field(&mut self, field: &str) -> Result<String, String> {
        let info = self.ok(&["CLUSTER", "INFO"])?;
        Ok(info
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_default()
            .to_string())
    }
}

const USAGE: &str =
    "usage: slotcache-server --cluster-form [--replicas N] host:port [host:port ...]";

/// Forms the cluster; returns a description for the user or an error.
pub fn form(args: &[String], timeout: Duration) -> Result<String, String> {
    let (replicas, addrs) = match args {
        [flag, n, rest @ ..] if flag == "--replicas" => {
            (n.parse::<usize>().map_err(|_| USAGE.to_string())?, rest)
        }
        _ => (0, args),
    };
    if addrs.is_empty() || addrs.len() < replicas + 1 {
        return Err(USAGE.into());
    }
    let primaries = addrs.len() / (replicas + 1);
    let (out, formed_before) = form_primaries(&addrs[..primaries], &addrs[primaries..], timeout)?;
    if primaries == addrs.len() || formed_before {
        // An existing cluster (nodes restarted from their nodes.conf) keeps its roles.
        return Ok(out);
    }
    attach_replicas(&addrs[..primaries], &addrs[primaries..], timeout).map(|r| out + &r)
}

/// Every replica address REPLICATEs a primary in turn, then its link must come up.
fn attach_replicas(
    primaries: &[String],
    replicas: &[String],
    timeout: Duration,
) -> Result<String, String> {
    let ids = primaries
        .iter()
        .map(|a| Conn::open(a)?.ok(&["CLUSTER", "MYID"]))
        .collect::<Result<Vec<_>, _>>()?;
    let deadline = Instant::now() + timeout;
    let mut out = String::new();
    for (i, a) in replicas.iter().enumerate() {
        let mut c = Conn::open(a)?;
        let p = i % primaries.len();
        let cmd = ["CLUSTER", "REPLICATE", ids[p].as_str()];
        // The replica may not have heard of the primary yet (gossip): retry until it has.
        loop {
            match c.call(&cmd)? {
                Reply::Ok(_) => break,
                Reply::Err(e) if Instant::now() > deadline => {
                    return Err(format!("{a} CLUSTER REPLICATE: {e}"))
                }
                Reply::Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        out.push_str(&format!("{a} replicates {}\n", primaries[p]));
    }
    for a in replicas {
        let mut c = Conn::open(a)?;
        loop {
            let info = c.ok(&["INFO", "replication"])?;
            if info.contains("master_link_status:up") {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{a}: the replication link did not come up in time"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    out.push_str("[OK] Every replica is in sync with its primary.\n");
    Ok(out)
}

/// Slots to `addrs`, and every node of `addrs` and `others` MEETs the first.
fn form_primaries(
    addrs: &[String],
    others: &[String],
    timeout: Duration,
) -> Result<(String, bool), String> {
    let all: Vec<String> = addrs.iter().chain(others).cloned().collect();
    let mut conns = all
        .iter()
        .map(|a| Conn::open(a))
        .collect::<Result<Vec<_>, _>>()?;
    let total = conns.len();
    let n = addrs.len();
    let already = conns
        .iter_mut()
        .map(|c| Ok(c.info_field("cluster_known_nodes")? == total.to_string()))
        .collect::<Result<Vec<bool>, String>>()?;
    if !already.iter().all(|&a| a) {
        for (i, c) in conns.iter_mut().enumerate() {
            if c.ok(&["DBSIZE"])? != "0" || c.info_field("cluster_known_nodes")? != "1" {
                return Err(format!(
                    "{} is not empty: it holds keys or already knows other nodes",
                    c.addr
                ));
            }
            if i >= n {
                continue;
            }
            let start = i * 16384 / n;
            let end = (i + 1) * 16384 / n - 1;
            c.ok(&[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &start.to_string(),
                &end.to_string(),
            ])?;
            c.ok(&["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])?;
        }
        let (host, port) = addrs[0]
            .rsplit_once(':')
            .ok_or_else(|| format!("bad address {}", addrs[0]))?;
        for c in conns.iter_mut().skip(1) {
            c.ok(&["CLUSTER", "MEET", host, port])?;
        }
    }
    let deadline = Instant::now() + timeout;
    loop {
        let mut ready = true;
        for c in conns.iter_mut() {
            ready &= c.info_field("cluster_state")? == "ok"
                && c.info_field("cluster_known_nodes")? == total.to_string();
        }
        if ready {
            break;
        }
        if Instant::now() > deadline {
            return Err("the cluster did not reach cluster_state:ok in time".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut out = String::new();
    for (i, a) in addrs.iter().enumerate() {
        out.push_str(&format!(
            "{a} serves slots {}-{}\n",
            i * 16384 / n,
            (i + 1) * 16384 / n - 1
        ));
    }
    out.push_str("[OK] All 16384 slots covered; cluster_state:ok on every node.\n");
    Ok((out, already.iter().all(|&a| a)))
}
