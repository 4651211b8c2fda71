//! `slotcache-server --cluster-form host:port ...`: forms a cluster of primaries from running,
//! empty nodes, the way `redis-cli --cluster create --cluster-replicas 0` does (slots split
//! evenly, distinct config epochs, every node MEETs the first), then waits until every node
//! says `cluster_state:ok` and knows all the others. A plain blocking RESP client over std::net,
//! so a machine without redis-cli can start a local cluster (scripts/local.sh).
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

/// Forms the cluster; returns a description for the user or an error.
pub fn form(addrs: &[String], timeout: Duration) -> Result<String, String> {
    if addrs.is_empty() {
        return Err("usage: slotcache-server --cluster-form host:port [host:port ...]".into());
    }
    let mut conns = addrs
        .iter()
        .map(|a| Conn::open(a))
        .collect::<Result<Vec<_>, _>>()?;
    let n = conns.len();
    let already = conns
        .iter_mut()
        .map(|c| Ok(c.info_field("cluster_known_nodes")? == n.to_string()))
        .collect::<Result<Vec<bool>, String>>()?;
    if !already.iter().all(|&a| a) {
        for (i, c) in conns.iter_mut().enumerate() {
            if c.ok(&["DBSIZE"])? != "0" || c.info_field("cluster_known_nodes")? != "1" {
                return Err(format!(
                    "{} is not empty: it holds keys or already knows other nodes",
                    c.addr
                ));
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
                && c.info_field("cluster_known_nodes")? == n.to_string();
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
    Ok(out)
}
