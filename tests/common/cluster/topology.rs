//! CLUSTER NODES parsing and the "do all nodes tell the same story" checks, plus the key-slot
//! function computed independently of the servers.
use super::{wait_until, Node, CLUSTER_DEADLINE};
use std::collections::BTreeSet;

/// One line of CLUSTER NODES:
/// `<id> <ip:port@cport[,hostname]> <flags> <primary> <ping-sent> <pong-recv> <config-epoch>
/// <link-state> <slot> <slot> ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLine {
    pub id: String,
    pub addr: String,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: Vec<String>,
    pub primary: String,
    pub ping_sent: u64,
    pub pong_recv: u64,
    pub config_epoch: u64,
    pub link_state: String,
    /// Assigned slot ranges, inclusive, in the order printed.
    pub slots: Vec<(u16, u16)>,
    /// `[slot->-id]` / `[slot-<-id]` entries (migrating/importing).
    pub open_slots: Vec<String>,
    pub raw: String,
}

impl NodeLine {
    pub fn parse(line: &str) -> Option<NodeLine> {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 8 {
            return None;
        }
        let (hostport, _hostname) = f[1].split_once(',').unwrap_or((f[1], ""));
        let (ipport, cport) = hostport.split_once('@')?;
        let (ip, port) = ipport.rsplit_once(':')?;
        let mut slots = Vec::new();
        let mut open_slots = Vec::new();
        for s in &f[8..] {
            if s.starts_with('[') {
                open_slots.push(s.to_string());
            } else if let Some((a, b)) = s.split_once('-') {
                slots.push((a.parse().ok()?, b.parse().ok()?));
            } else {
                let n = s.parse().ok()?;
                slots.push((n, n));
            }
        }
        Some(NodeLine {
            id: f[0].to_string(),
            addr: f[1].to_string(),
            ip: ip.to_string(),
            port: port.parse().ok()?,
            cport: cport.parse().ok()?,
            flags: f[2].split(',').map(str::to_string).collect(),
            primary: f[3].to_string(),
            ping_sent: f[4].parse().ok()?,
            pong_recv: f[5].parse().ok()?,
            config_epoch: f[6].parse().ok()?,
            link_state: f[7].to_string(),
            slots,
            open_slots,
            raw: line.to_string(),
        })
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    pub fn is_primary(&self) -> bool {
        self.has_flag("master")
    }

    /// Number of slots assigned.
    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(|(a, b)| (*b - *a) as usize + 1).sum()
    }
}

/// Slot ranges merged and sorted, so two spellings of the same set compare equal.
pub fn normalize_ranges(ranges: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut r = ranges.to_vec();
    r.sort();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (a, b) in r {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The part of a CLUSTER NODES line all nodes must agree on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shared {
    pub id: String,
    pub ip_port_cport: String,
    pub role: String,
    pub primary: String,
    pub config_epoch: u64,
    pub slots: Vec<(u16, u16)>,
}

/// One node's view of the cluster: the agreed part of every line, sorted by id.
pub fn view(lines: &[NodeLine]) -> Vec<Shared> {
    let mut v: Vec<Shared> = lines
        .iter()
        .map(|l| Shared {
            id: l.id.clone(),
            ip_port_cport: format!("{}:{}@{}", l.ip, l.port, l.cport),
            role: if l.is_primary() { "master" } else { "slave" }.to_string(),
            primary: l.primary.clone(),
            config_epoch: l.config_epoch,
            slots: normalize_ranges(&l.slots),
        })
        .collect();
    v.sort();
    v
}

/// Ok when every node answers CLUSTER NODES with the same story: the same node ids (exactly
/// the ids of `nodes`), addresses, roles, config epochs and slot ranges; every link connected;
/// no handshake/fail/pfail/noaddr flags; exactly one `myself` line, which is the node's own id.
/// Returns the agreed view.
pub fn agree(nodes: &[&Node]) -> Result<Vec<Shared>, String> {
    let mut ids = BTreeSet::new();
    for n in nodes {
        let id: String = n.try_query(&["CLUSTER", "MYID"])?;
        ids.insert(id);
    }
    let mut first: Option<(u16, Vec<Shared>)> = None;
    for n in nodes {
        let lines = n.try_nodes()?;
        let listed: BTreeSet<String> = lines.iter().map(|l| l.id.clone()).collect();
        if listed != ids {
            return Err(format!(
                "node {} lists {listed:?}, expected {ids:?}",
                n.port
            ));
        }
        let myself: Vec<&NodeLine> = lines.iter().filter(|l| l.has_flag("myself")).collect();
        if myself.len() != 1 || myself[0].port != n.port {
            return Err(format!("node {}: bad myself lines {myself:?}", n.port));
        }
        for l in &lines {
            for bad in ["handshake", "fail", "fail?", "noaddr"] {
                if l.has_flag(bad) {
                    return Err(format!("node {} sees {bad}: {}", n.port, l.raw));
                }
            }
            if l.link_state != "connected" {
                return Err(format!(
                    "node {} sees a disconnected link: {}",
                    n.port, l.raw
                ));
            }
        }
        let v = view(&lines);
        match &first {
            None => first = Some((n.port, v)),
            Some((p0, v0)) if *v0 != v => {
                return Err(format!(
                    "node {} and node {p0} disagree:\n{v:?}\nvs\n{v0:?}",
                    n.port
                ))
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|(_, v)| v).unwrap_or_default())
}

/// Every node in `nodes` says cluster_state:ok and they all agree; returns the agreed view.
pub fn healthy(nodes: &[&Node]) -> Result<Vec<Shared>, String> {
    for n in nodes {
        let state = n.cluster_info()?.remove("cluster_state");
        if state.as_deref() != Some("ok") {
            return Err(format!("node {} cluster_state {state:?}", n.port));
        }
    }
    agree(nodes)
}

pub fn wait_healthy(nodes: &[&Node]) -> Vec<Shared> {
    wait_until("the cluster to be ok and agree", CLUSTER_DEADLINE, || {
        healthy(nodes)
    })
}

/// CRC16-XMODEM of `data` (the cluster key hash).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of `key`: only the part between the first `{` and the next `}` is hashed, when
/// that part is non-empty.
pub fn key_slot(key: &[u8]) -> u16 {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return crc16(&key[open + 1..open + 1 + len]) & 0x3FFF;
            }
        }
    }
    crc16(key) & 0x3FFF
}
