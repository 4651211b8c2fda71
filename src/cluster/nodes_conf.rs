//! nodes.conf and the CLUSTER NODES text (Redis 7.0's `clusterGenNodesDescription`,
//! `clusterLoadConfig`, `clusterSaveConfig`, `clusterLockConfig`). Owns the text format, the
//! file's persistence and the one-node-per-file lock. Depends on `node`, `state` and libc.
//!
//! # Format (checked byte for byte against redis-server 7.0.15)
//! One line per node, each ending in `\n`:
//! ```text
//! <id> <ip>:<port>@<cport>[,<hostname>] <flags> <primary-id|-> <ping_sent> <pong_received> <epoch> <connected|disconnected> [<slot>|<a>-<b>]... [[<slot>->-<id>]|[<slot>-<-<id>]]...
//! ```
//! - No `,` when the hostname is empty. An unknown ip prints as nothing (`:7000@17000`).
//! - ping_sent/pong_received are printed as stored for every node, myself included: myself
//!   shows `0 0` until gossip about us refreshes its pong time (then a whole second, `...000`).
//! - A replica prints its primary's configEpoch, not its own.
//! - "connected" when the node has an outbound link or is myself.
//! - Slot ranges come from the slot owner table. Open slots are listed on myself's line only,
//!   in slot order, migrating before importing for the same slot (Redis prints only the former).
//! - CLUSTER NODES lists handshake nodes (`handshake - 0 0 0 disconnected`); nodes.conf leaves
//!   them out and ends with `vars currentEpoch <n> lastVoteEpoch <m>`.
//! - Redis iterates a dict, so its order is random; we print myself first, then the rest in
//!   `ClusterState::nodes` order.
//! - TLS is not supported, so the client port is always `port` (never `pport`).
//!
//! # Loading (Redis 7.0 rules)
//! Missing or zero-length file: `None`. Blank lines are skipped; lines are split like
//! `sdssplitargs` (quotes allowed). Ids must be 40 chars of `[a-z0-9]`. Address is
//! `ip:port@cport[,hostname]` or the pre-4.0 `ip:port` (cport = port + 10000). Flags are
//! case-insensitive; an unknown flag is fatal (Redis panics). FAIL sets `fail_time = now`.
//! Nodes named only as a primary or in an open-slot bracket are created with no flags, as
//! Redis does. A non-zero ping_sent/pong_received becomes `now`, zero stays zero (Redis's
//! `if (atoi(argv[4])) n->ping_sent = mstime()`): a node unanswered before the restart is still
//! unanswered, a node heard from is not failing at once. Link state is ignored. currentEpoch is
//! raised to the largest configEpoch. As Redis's `clusterInit` does right after loading,
//! myself's ports and hostname follow the settings (verified: a file saying `:7000,oldhost`
//! comes back as the listening ports and no hostname); its ip comes from the file unless
//! cluster-announce-ip is set; its flags come from the file (Redis then recomputes `nofailover`
//! from cluster-replica-no-failover, which `Settings` does not carry). Corruption errors carry the offending line (Redis 7.2's message;
//! 7.0.15 prints the same sentence without the line).
//!
//! # Saving and locking: why a sibling lock file
//! Redis 7.0 rewrites nodes.conf in place (pad, write, fsync, ftruncate) so that the `flock`
//! taken at startup stays on the same inode, but a crash in the middle of that write can leave
//! a torn file that stops the node from starting. Redis 7.2 switched to temp file + rename,
//! which is atomic, but the rename puts a new inode under the name and the startup lock then
//! guards an orphan: a second node can start on the same file (valkey-io/valkey#2884). We keep
//! both properties by separating them: `save` writes `<path>.tmp-<pid>-<ms>`, fsyncs it when
//! asked, renames it over `<path>` and fsyncs the directory when asked; `lock` flocks
//! `<path>.lock`, a file that is never replaced, so the lock holds for the life of the process.
//! The `.lock` file is left in place on exit (deleting it would race with a starting node);
//! flock locks vanish with their process, so a leftover file locks nothing.
use super::node::{self, flag, Node, NodeId};
use super::state::{ClusterState, Settings, NONE};
use crate::slot::SLOTS;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Bus port offset for addresses written without `@cport` (Redis's CLUSTER_PORT_INCR).
const CPORT_INCR: u32 = 10000;
const UNKNOWN_FLAG: &str = "Unknown flag in redis cluster config file";

/// Takes the node's lock for `path` (see the module doc: the lock lives on `<path>.lock`).
/// Hold the returned file for the life of the process.
pub fn lock(path: &Path) -> io::Result<std::fs::File> {
    let lock_path = sibling(path, ".lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&lock_path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "Can't open {} in order to acquire a lock: {e}",
                    lock_path.display()
                ),
            )
        })?;
    // SAFETY: flock on a descriptor we own and keep open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == -1 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "Sorry, the cluster configuration file {} is already used by a different \
                     Redis Cluster node. Please make sure that different nodes use different \
                     cluster configuration files.",
                    path.display()
                ),
            ));
        }
        return Err(io::Error::new(
            e.kind(),
            format!("Impossible to lock {}: {e}", lock_path.display()),
        ));
    }
    Ok(file)
}

/// Writes nodes.conf atomically: temp file, fsync if asked, rename, fsync the directory.
pub fn save(st: &ClusterState, path: &Path, fsync: bool) -> io::Result<()> {
    let mut content = nodes_text(st, true);
    let _ = writeln!(
        content,
        "vars currentEpoch {} lastVoteEpoch {}",
        st.current_epoch, st.last_vote_epoch
    );
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let tmp = sibling(path, &format!(".tmp-{}-{ms}", std::process::id()));
    let result = write_and_publish(&tmp, path, content.as_bytes(), fsync);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_and_publish(tmp: &Path, path: &Path, content: &[u8], fsync: bool) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(tmp)?;
    f.write_all(content)?;
    if fsync {
        f.sync_all()?;
    }
    drop(f);
    std::fs::rename(tmp, path)?;
    if fsync {
        std::fs::File::open(dir_of(path))?.sync_all()?;
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// CLUSTER NODES text (one line per node, each ending in "\n"); `for_file` leaves out
/// handshake nodes, as nodes.conf does.
pub fn nodes_text(st: &ClusterState, for_file: bool) -> String {
    let ranges = slot_ranges(st);
    let my = st.my_idx();
    let mut out = String::new();
    for i in std::iter::once(my).chain((0..st.nodes.len()).filter(|&i| i != my)) {
        let n = &st.nodes[i];
        if for_file && n.in_handshake() {
            continue;
        }
        node_line(st, n, &ranges[i], &mut out);
        out.push('\n');
    }
    out
}

/// Each node's slot ranges, from the owner table (Redis's `clusterGenNodesSlotsInfo`).
fn slot_ranges(st: &ClusterState) -> Vec<Vec<(u16, u16)>> {
    let mut out = vec![Vec::new(); st.nodes.len()];
    for (slot, &owner) in st.slots.iter().enumerate() {
        let (slot, owner) = (slot as u16, owner as usize);
        if owner == NONE as usize || owner >= out.len() {
            continue;
        }
        let ranges: &mut Vec<(u16, u16)> = &mut out[owner];
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == slot => *end = slot,
            _ => ranges.push((slot, slot)),
        }
    }
    out
}

fn node_line(st: &ClusterState, n: &Node, ranges: &[(u16, u16)], out: &mut String) {
    let _ = write!(out, "{} {}:{}@{}", n.id_str(), n.ip, n.port, n.cport);
    if !n.hostname.is_empty() {
        let _ = write!(out, ",{}", n.hostname);
    }
    let primary = n.primary.and_then(|id| st.node(&id));
    let epoch = match primary {
        Some(p) if n.is_replica() => p.config_epoch,
        _ => n.config_epoch,
    };
    let primary_id = n.primary.as_ref().map_or("-", node::id_str);
    let linked = n.link.is_some() || n.is_myself();
    let _ = write!(
        out,
        " {} {primary_id} {} {} {epoch} {}",
        flag::describe(n.flags),
        n.ping_sent,
        n.pong_received,
        if linked { "connected" } else { "disconnected" }
    );
    for &(a, b) in ranges {
        if a == b {
            let _ = write!(out, " {a}");
        } else {
            let _ = write!(out, " {a}-{b}");
        }
    }
    if n.is_myself() {
        let mut open: Vec<u16> = st
            .migrating_to
            .keys()
            .chain(st.importing_from.keys())
            .copied()
            .collect();
        open.sort_unstable();
        open.dedup();
        for slot in open {
            if let Some(to) = st.migrating_to.get(&slot) {
                let _ = write!(out, " [{slot}->-{}]", node::id_str(to));
            } else if let Some(from) = st.importing_from.get(&slot) {
                let _ = write!(out, " [{slot}-<-{}]", node::id_str(from));
            }
        }
    }
}

/// Reads nodes.conf: `None` if it is missing or empty, the state it describes otherwise.
pub fn load(path: &Path, settings: Settings, now: u64) -> io::Result<Option<ClusterState>> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "Loading the cluster node config from {}: {e}",
                    path.display()
                ),
            ))
        }
    };
    if data.is_empty() {
        return Ok(None);
    }
    let parsed = parse(&data, now)?;
    let st = build(parsed, settings, now);
    tracing::info!(node_id = %st.me().id_str(), "Node configuration loaded, I'm {}", st.me().id_str());
    Ok(Some(st))
}

/// The file's content before it becomes a `ClusterState`.
#[derive(Default)]
struct Parsed {
    /// In order of first mention (a primary or open-slot peer may precede its own line).
    nodes: Vec<Node>,
    index: HashMap<NodeId, usize>,
    myself: Option<NodeId>,
    /// Slot claims in file order: the first claimant of a slot wins, as in Redis.
    claims: Vec<(u16, u16, NodeId)>,
    migrating: HashMap<u16, NodeId>,
    importing: HashMap<u16, NodeId>,
    current_epoch: u64,
    last_vote_epoch: u64,
}

impl Parsed {
    /// The node named `id`, created with no flags if not seen yet (`createClusterNode(id,0)`).
    fn node(&mut self, id: NodeId, now: u64) -> &mut Node {
        let i = *self.index.entry(id).or_insert_with(|| {
            self.nodes.push(Node::new(id, 0, now));
            self.nodes.len() - 1
        });
        &mut self.nodes[i]
    }
}

fn corrupted(line: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("Unrecoverable error: corrupted cluster config file \"{line}\"."),
    )
}

fn parse(data: &[u8], now: u64) -> io::Result<Parsed> {
    let mut p = Parsed::default();
    let mut last = String::new();
    for raw in data.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches('\r');
        last = line.to_string();
        let Some(args) = split_args(line) else {
            return Err(corrupted(line));
        };
        if args.is_empty() {
            continue;
        }
        let r = if args[0].eq_ignore_ascii_case("vars") {
            parse_vars(&args, &mut p)
        } else {
            parse_node(&args, &mut p, now)
        };
        match r {
            Ok(()) => {}
            Err(None) => return Err(corrupted(line)),
            Err(Some(e)) => return Err(e),
        }
    }
    if p.myself.is_none() {
        return Err(corrupted(&last));
    }
    Ok(p)
}

/// `Err(None)` is the generic corruption error for the current line.
type LineResult = Result<(), Option<io::Error>>;

fn parse_vars(args: &[String], p: &mut Parsed) -> LineResult {
    if args.len().is_multiple_of(2) {
        return Err(None);
    }
    for kv in args[1..].chunks(2) {
        if kv[0].eq_ignore_ascii_case("currentEpoch") {
            p.current_epoch = strtoull(&kv[1]);
        } else if kv[0].eq_ignore_ascii_case("lastVoteEpoch") {
            p.last_vote_epoch = strtoull(&kv[1]);
        } else {
            tracing::warn!("Skipping unknown cluster config variable '{}'", kv[0]);
        }
    }
    Ok(())
}

fn parse_node(args: &[String], p: &mut Parsed, now: u64) -> LineResult {
    if args.len() < 8 {
        return Err(None);
    }
    let id = valid_id(args[0].as_bytes()).ok_or(None)?;
    let (ip, port, cport, hostname) = parse_address(&args[1]).ok_or(None)?;
    let flags = parse_flags(&args[2])
        .ok_or_else(|| Some(io::Error::new(io::ErrorKind::InvalidData, UNKNOWN_FLAG)))?;
    if flags & flag::MYSELF != 0 {
        if p.myself.is_some_and(|m| m != id) {
            return Err(None);
        }
        p.myself = Some(id);
    }
    let primary = if args[3].starts_with('-') {
        None
    } else {
        let pid = valid_id(args[3].as_bytes()).ok_or(None)?;
        p.node(pid, now);
        Some(pid)
    };
    let n = p.node(id, now);
    n.ip = ip;
    n.port = port;
    n.cport = cport;
    n.hostname = hostname;
    n.flags |= flags;
    if flags & flag::FAIL != 0 {
        n.fail_time = now;
    }
    if primary.is_some() {
        n.primary = primary;
    }
    if atoi(&args[4]) != 0 {
        n.ping_sent = now;
    }
    if atoi(&args[5]) != 0 {
        n.pong_received = now;
    }
    n.config_epoch = strtoull(&args[6]);
    for arg in &args[8..] {
        if arg.starts_with('[') {
            parse_open_slot(arg, p, now)?;
        } else {
            let (a, b) = arg.split_once('-').unwrap_or((arg.as_str(), arg.as_str()));
            let (a, b) = (slot_number(a)?, slot_number(b)?);
            if a <= b {
                p.claims.push((a, b, id));
            }
        }
    }
    Ok(())
}

/// `[<slot>->-<id>]` (migrating to) or `[<slot>-<-<id>]` (importing from).
fn parse_open_slot(arg: &str, p: &mut Parsed, now: u64) -> LineResult {
    let (slot, rest) = arg[1..].split_once('-').ok_or(None)?;
    let slot = slot_number(slot)?;
    let (migrating, rest) = if let Some(r) = rest.strip_prefix(">-") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix("<-") {
        (false, r)
    } else {
        return Err(None);
    };
    let peer = rest.split_once(']').ok_or(None)?.0;
    let peer = valid_id(peer.as_bytes()).ok_or(None)?;
    p.node(peer, now);
    if migrating {
        p.migrating.insert(slot, peer);
    } else {
        p.importing.insert(slot, peer);
    }
    Ok(())
}

fn slot_number(s: &str) -> Result<u16, Option<io::Error>> {
    match atoi(s) {
        n if (0..SLOTS as i64).contains(&n) => Ok(n as u16),
        _ => Err(None),
    }
}

/// `ip:port@cport[,hostname]`, or `ip:port[,hostname]` from before Redis 4.0.
fn parse_address(s: &str) -> Option<(String, u16, u16, String)> {
    let (addr, hostname) = s.split_once(',').unwrap_or((s, ""));
    let (ip, ports) = addr.rsplit_once(':')?;
    let (port, cport) = match ports.split_once('@') {
        Some((port, cport)) => (atoi(port), atoi(cport)),
        None => (atoi(ports), atoi(ports) + CPORT_INCR as i64),
    };
    let port = u16::try_from(port).ok()?;
    let cport = u16::try_from(cport).ok()?;
    Some((ip.to_string(), port, cport, hostname.to_string()))
}

/// 40 characters of `[a-z0-9]` (Redis's `verifyClusterNodeId`).
fn valid_id(s: &[u8]) -> Option<NodeId> {
    let id = node::parse_id(s)?;
    id.iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .then_some(id)
}

/// Comma-separated flag names, case-insensitive; `None` on an unknown name.
fn parse_flags(s: &str) -> Option<u16> {
    s.split(',').try_fold(0u16, |acc, name| {
        if name.eq_ignore_ascii_case("noflags") {
            return Some(acc);
        }
        flag::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(f, _)| acc | f)
    })
}

/// C's `atoi`: optional sign and leading digits, anything else stops (no digits: 0).
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |v, d| {
            v.saturating_mul(10).saturating_add((d - b'0') as i64)
        });
    if neg {
        -v
    } else {
        v
    }
}

/// C's `strtoull` for the unsigned fields (epochs): leading digits, saturating.
fn strtoull(s: &str) -> u64 {
    s.trim_start()
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |v, d| {
            v.saturating_mul(10).saturating_add((d - b'0') as u64)
        })
}

/// Redis's `sdssplitargs`: whitespace-separated words, `"..."` with backslash escapes and
/// `'...'`; `None` on an unbalanced quote or a closing quote not followed by a space.
fn split_args(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            return Some(out);
        }
        let mut word = Vec::new();
        let quote = match b[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                Some(q)
            }
            _ => None,
        };
        loop {
            match quote {
                None if i == b.len() || b[i].is_ascii_whitespace() => break,
                None => word.push(b[i]),
                Some(_) if i == b.len() => return None,
                Some(q) if b[i] == q => {
                    i += 1;
                    if i < b.len() && !b[i].is_ascii_whitespace() {
                        return None;
                    }
                    break;
                }
                Some(q) if b[i] == b'\\' && i + 1 < b.len() => {
                    i += 1;
                    word.push(unescape(q, b, &mut i));
                }
                Some(_) => word.push(b[i]),
            }
            i += 1;
        }
        out.push(String::from_utf8_lossy(&word).into_owned());
    }
}

/// The byte an escape at `b[*i]` (just after the backslash) stands for; leaves `*i` on its
/// last character.
fn unescape(quote: u8, b: &[u8], i: &mut usize) -> u8 {
    let hex = |c: u8| (c as char).to_digit(16);
    if quote == b'\'' {
        return if b[*i] == b'\'' {
            b'\''
        } else {
            *i -= 1;
            b'\\'
        };
    }
    if b[*i] == b'x' && *i + 2 < b.len() {
        if let (Some(h), Some(l)) = (hex(b[*i + 1]), hex(b[*i + 2])) {
            *i += 2;
            return (h * 16 + l) as u8;
        }
    }
    match b[*i] {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'b' => 8,
        b'a' => 7,
        c => c,
    }
}

fn build(p: Parsed, settings: Settings, now: u64) -> ClusterState {
    let myself = p.myself.expect("parse checked myself");
    let keep_file_ip = settings.announce_ip.is_empty();
    let mut st = ClusterState::new(myself, settings, now);
    for n in p.nodes {
        if n.id != myself {
            st.add_node(n);
            continue;
        }
        let me = st.me_mut();
        me.flags = n.flags;
        me.primary = n.primary;
        me.config_epoch = n.config_epoch;
        me.ping_sent = n.ping_sent;
        me.pong_received = n.pong_received;
        me.fail_time = n.fail_time;
        if keep_file_ip {
            me.ip = n.ip;
        }
    }
    for (a, b, id) in p.claims {
        let idx = st.idx(&id).expect("claims name parsed nodes");
        for slot in a..=b {
            st.add_slot(slot, idx);
        }
    }
    st.migrating_to = p.migrating;
    st.importing_from = p.importing;
    st.last_vote_epoch = p.last_vote_epoch;
    st.current_epoch = p.current_epoch.max(st.max_config_epoch());
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0c2534f216f8d59bbb9b963399d95d802c283487";
    const B: &str = "aa4fbe4149179125138391d463a4e74648081a87";
    const C: &str = "8b828971c006ccde9da01cce74066595de8d9eaf";
    const H: &str = "c2b48dcf9c40a6436011a18c3f37b0275ee75396";

    /// CLUSTER NODES on redis-server 7.0.15 (node A, port 27101): B has a hostname and slot
    /// 101, C replicates A, a MEET to a dead port left a handshake node, A migrates 5 and 6
    /// to B and imports 101 from B.
    const RECORDED_NODES: &str = "\
c2b48dcf9c40a6436011a18c3f37b0275ee75396 127.0.0.1:27199@37199 handshake - 0 0 0 disconnected
aa4fbe4149179125138391d463a4e74648081a87 127.0.0.1:27102@37102,host-b.example master - 0 1795370181460 0 connected 101
8b828971c006ccde9da01cce74066595de8d9eaf 127.0.0.1:27103@37103 slave 0c2534f216f8d59bbb9b963399d95d802c283487 0 1795370182467 1 connected
0c2534f216f8d59bbb9b963399d95d802c283487 127.0.0.1:27101@37101,host-a myself,master - 0 1795370180000 1 connected 0-100 102 200-16383 [5->-aa4fbe4149179125138391d463a4e74648081a87] [6->-aa4fbe4149179125138391d463a4e74648081a87] [101-<-aa4fbe4149179125138391d463a4e74648081a87]
";

    /// A's nodes.conf a moment earlier (C's pong time differs): no handshake node, a vars line.
    const RECORDED_FILE: &str = "\
aa4fbe4149179125138391d463a4e74648081a87 127.0.0.1:27102@37102,host-b.example master - 0 1795370181460 0 connected 101
8b828971c006ccde9da01cce74066595de8d9eaf 127.0.0.1:27103@37103 slave 0c2534f216f8d59bbb9b963399d95d802c283487 0 1795370181000 1 connected
0c2534f216f8d59bbb9b963399d95d802c283487 127.0.0.1:27101@37101,host-a myself,master - 0 1795370180000 1 connected 0-100 102 200-16383 [5->-aa4fbe4149179125138391d463a4e74648081a87] [6->-aa4fbe4149179125138391d463a4e74648081a87] [101-<-aa4fbe4149179125138391d463a4e74648081a87]
vars currentEpoch 2 lastVoteEpoch 0
";

    fn id(s: &str) -> NodeId {
        node::parse_id(s.as_bytes()).unwrap()
    }

    fn settings(port: u16, hostname: &str) -> Settings {
        Settings {
            port,
            cport: port + 10000,
            announce_hostname: hostname.into(),
            ..Default::default()
        }
    }

    fn add(st: &mut ClusterState, name: &str, flags: u16, port: u16, host: &str) -> usize {
        let mut n = Node::new(id(name), flags, 0);
        n.ip = "127.0.0.1".into();
        n.port = port;
        n.cport = port + 10000;
        n.hostname = host.into();
        st.add_node(n)
    }

    /// The state node A had when RECORDED_NODES was taken.
    fn recorded_state() -> ClusterState {
        let mut st = ClusterState::new(id(A), settings(27101, "host-a"), 0);
        st.me_mut().ip = "127.0.0.1".into();
        st.me_mut().config_epoch = 1;
        st.me_mut().pong_received = 1795370180000;
        let b = add(&mut st, B, flag::MASTER, 27102, "host-b.example");
        st.nodes[b].pong_received = 1795370181460;
        st.nodes[b].link = Some(1);
        let c = add(&mut st, C, flag::SLAVE, 27103, "");
        st.nodes[c].primary = Some(id(A));
        st.nodes[c].pong_received = 1795370182467;
        st.nodes[c].link = Some(2);
        add(&mut st, H, flag::HANDSHAKE, 27199, "");
        let me = st.my_idx();
        for s in (0..=100).chain([102]).chain(200..SLOTS as u16) {
            st.add_slot(s, me);
        }
        st.add_slot(101, b);
        st.migrating_to.extend([(5, id(B)), (6, id(B))]);
        st.importing_from.insert(101, id(B));
        st.current_epoch = 2;
        st
    }

    fn sorted_lines(s: &str) -> Vec<&str> {
        let mut v: Vec<&str> = s.lines().collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn cluster_nodes_matches_redis() {
        let text = nodes_text(&recorded_state(), false);
        assert!(text.starts_with(A) && text.ends_with('\n'));
        assert_eq!(text.len(), RECORDED_NODES.len());
        assert_eq!(sorted_lines(&text), sorted_lines(RECORDED_NODES));
    }

    #[test]
    fn nodes_conf_matches_redis() {
        let mut st = recorded_state();
        let c = st.idx(&id(C)).unwrap();
        st.nodes[c].pong_received = 1795370181000;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes.conf");
        save(&st, &path, true).unwrap();
        let file = std::fs::read_to_string(&path).unwrap();
        assert!(file.ends_with("\nvars currentEpoch 2 lastVoteEpoch 0\n"));
        assert_eq!(sorted_lines(&file), sorted_lines(RECORDED_FILE));
        // The temp file was renamed into place, not left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn fresh_node_lines_match_redis() {
        // redis-server 7.0.15 right after start: no ip yet, no hostname comma, `0 0` timers.
        let st = ClusterState::new(id(B), settings(27102, ""), 0);
        assert_eq!(
            nodes_text(&st, false),
            format!("{B} :27102@37102 myself,master - 0 0 0 connected\n")
        );
    }

    /// A state exercising every field the file carries; timers are 0 or `now`, no links, so
    /// that a loaded copy prints identically.
    fn rich_state(now: u64) -> ClusterState {
        let mut st = ClusterState::new(id(A), settings(7000, "host-a"), 0);
        st.me_mut().ip = "10.0.0.1".into();
        st.me_mut().config_epoch = 4;
        st.me_mut().flags |= flag::NOFAILOVER;
        let b = add(&mut st, B, flag::MASTER | flag::FAIL, 7001, "host-b");
        st.nodes[b].config_epoch = 7;
        st.nodes[b].ping_sent = now;
        let c = add(&mut st, C, flag::SLAVE | flag::PFAIL, 7002, "");
        st.nodes[c].primary = Some(id(B));
        st.nodes[c].pong_received = now;
        add(&mut st, H, flag::MASTER | flag::NOADDR, 7003, "");
        add(&mut st, &"d".repeat(40), flag::HANDSHAKE, 7004, "");
        let me = st.my_idx();
        for s in (0..10).chain([12, 14]).chain(16000..16384) {
            st.add_slot(s, me);
        }
        st.add_slot(11, b);
        st.migrating_to.insert(3, id(B));
        st.importing_from.extend([(3, id(H)), (11, id(B))]);
        st.current_epoch = 9;
        st.last_vote_epoch = 8;
        st
    }

    #[test]
    fn save_load_round_trip() {
        let now = 1_700_000_000_000;
        let st = rich_state(now);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes.conf");
        save(&st, &path, false).unwrap();
        let loaded = load(&path, settings(7000, "host-a"), now).unwrap().unwrap();
        assert_eq!(nodes_text(&loaded, true), nodes_text(&st, true));
        assert!(
            loaded.node(&id(&"d".repeat(40))).is_none(),
            "handshake not saved"
        );
        assert_eq!((loaded.current_epoch, loaded.last_vote_epoch), (9, 8));
        assert_eq!(loaded.myself, id(A));
        assert_eq!(
            loaded.me().flags,
            flag::MYSELF | flag::MASTER | flag::NOFAILOVER
        );
        assert_eq!(loaded.me().hostname, "host-a");
        let b = loaded.node(&id(B)).unwrap();
        assert_eq!((b.fail_time, b.ping_sent, b.pong_received), (now, now, 0));
        assert_eq!((b.config_epoch, b.hostname.as_str()), (7, "host-b"));
        let c = loaded.node(&id(C)).unwrap();
        assert_eq!(
            (c.primary, c.flags),
            (Some(id(B)), flag::SLAVE | flag::PFAIL)
        );
        assert_eq!((c.ip.as_str(), c.port, c.cport), ("127.0.0.1", 7002, 17002));
        assert_eq!(loaded.owner_id(11), Some(id(B)));
        assert_eq!(loaded.me().numslots, 10 + 2 + 384);
        assert_eq!(loaded.migrating_to, st.migrating_to);
        // Slot 3 is both migrating and importing: like Redis, only the migration is written.
        assert_eq!(loaded.importing_from, HashMap::from([(11, id(B))]));
        // Saving again replaces the file (rename) and leaves no temp file.
        save(&loaded, &path, true).unwrap();
        let again = load(&path, settings(7000, "host-a"), now).unwrap().unwrap();
        assert_eq!(nodes_text(&again, true), nodes_text(&st, true));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    fn load_str(content: &str, s: Settings, now: u64) -> io::Result<Option<ClusterState>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes.conf");
        std::fs::write(&path, content).unwrap();
        load(&path, s, now)
    }

    #[test]
    fn loads_redis_file_with_padding() {
        // Redis 7.0 pads an in-place rewrite with newlines when the file shrinks.
        let content = format!("{RECORDED_FILE}\n\n\n");
        let st = load_str(&content, settings(27101, ""), 5).unwrap().unwrap();
        assert_eq!(st.myself, id(A));
        assert_eq!(st.nodes.len(), 3);
        assert_eq!(st.current_epoch, 2);
        assert_eq!(st.me().pong_received, 5, "non-zero timers become now");
        assert_eq!(
            st.me().hostname,
            "",
            "myself's hostname follows the settings"
        );
        let c = st.node(&id(C)).unwrap();
        assert_eq!((c.ping_sent, c.pong_received, c.link), (0, 5, None));
        assert_eq!(st.owner_id(101), Some(id(B)));
    }

    #[test]
    fn myself_follows_settings_after_load() {
        // Verified on 7.0.15: `10.0.0.9:7000,oldhost` came back as `10.0.0.9:27104@37104`.
        let line = format!("{A} 10.0.0.9:7000,oldhost myself,master - 0 0 3 connected 1-5\n");
        let st = load_str(&line, settings(27104, ""), 1).unwrap().unwrap();
        let me = st.me();
        assert_eq!(
            (me.ip.as_str(), me.port, me.cport),
            ("10.0.0.9", 27104, 37104)
        );
        assert_eq!((me.hostname.as_str(), me.config_epoch), ("", 3));
        assert_eq!(st.current_epoch, 3, "raised to the largest configEpoch");
        let mut s = settings(27104, "new");
        s.announce_ip = "192.168.1.1".into();
        let st = load_str(&line, s, 1).unwrap().unwrap();
        assert_eq!(
            (st.me().ip.as_str(), st.me().hostname.as_str()),
            ("192.168.1.1", "new")
        );
    }

    #[test]
    fn address_formats() {
        let content = format!(
            "{A} 10.0.0.9:7000 myself,master - 0 0 0 connected\n\
             {B} 10.0.0.8:7001@7 master - 0 0 0 connected\n\
             {C} ::1:7002@17010,c.example slave {B} 0 0 0 connected\n\
             {H} 10.0.0.7:7003, master - 0 0 0 connected\n"
        );
        let st = load_str(&content, settings(7000, ""), 1).unwrap().unwrap();
        let addr = |n: &str| {
            let n = st.node(&id(n)).unwrap();
            (n.ip.clone(), n.port, n.cport, n.hostname.clone())
        };
        assert_eq!(addr(A).0, "10.0.0.9");
        assert_eq!(addr(B), ("10.0.0.8".into(), 7001, 7, String::new()));
        assert_eq!(addr(C), ("::1".into(), 7002, 17010, "c.example".into()));
        assert_eq!(addr(H), ("10.0.0.7".into(), 7003, 17003, String::new()));
        let text = nodes_text(&st, true);
        assert!(text.contains(&format!("{H} 10.0.0.7:7003@17003 master")));
    }

    #[test]
    fn placeholders_for_nodes_only_referenced() {
        // A primary or open-slot peer without its own line exists, with no flags (as in Redis).
        let content = format!(
            "{A} :7000@17000 myself,slave {B} 0 0 0 connected [7-<-{C}]\nvars currentEpoch 1\n"
        );
        let st = load_str(&content, settings(7000, ""), 1).unwrap().unwrap();
        assert_eq!(st.node(&id(B)).unwrap().flags, 0);
        assert_eq!(st.me().primary, Some(id(B)));
        assert_eq!(st.importing_from.get(&7), Some(&id(C)));
        assert!(
            nodes_text(&st, false).contains(&format!("{B} :0@0 noflags - 0 0 0 disconnected\n"))
        );
    }

    #[test]
    fn missing_or_empty_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes.conf");
        assert!(load(&path, settings(7000, ""), 0).unwrap().is_none());
        std::fs::write(&path, "").unwrap();
        assert!(load(&path, settings(7000, ""), 0).unwrap().is_none());
    }

    #[test]
    fn corrupted_files() {
        let ok = format!("{A} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected");
        let cases = [
            format!(
                "{} 127.0.0.1:1@2 myself,master - 0 0 0 connected",
                A.to_uppercase()
            ),
            "abc 127.0.0.1:1@2 myself,master - 0 0 0 connected".to_string(),
            format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0"),
            format!("{A} 127.0.0.1 myself,master - 0 0 0 connected"),
            format!("{A} 127.0.0.1:70000@1 myself,master - 0 0 0 connected"),
            format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected 16384"),
            format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected 1-16384"),
            format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected [5]"),
            format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected [5->-{B}"),
            format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 connected [5->-abc]"),
            format!("{A} 127.0.0.1:1@2 myself,master bad 0 0 0 connected"),
            format!("{A} 127.0.0.1:1@2 myself,master - 0 0 0 \"connected"),
            "vars currentEpoch".to_string(),
            "vars currentEpoch 2 lastVoteEpoch 1 foo".to_string(),
        ];
        for bad in cases {
            let content = if bad.starts_with("vars") {
                format!("{ok}\n{bad}\n")
            } else {
                format!("{bad}\n")
            };
            let e = load_str(&content, settings(7000, ""), 0).err().expect(&bad);
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad}");
            let want = format!("Unrecoverable error: corrupted cluster config file \"{bad}\".");
            assert_eq!(e.to_string(), want);
        }
        // No myself line: the message names the last line read.
        let e = load_str(
            &format!("{B} :1@2 master - 0 0 0 connected\n"),
            settings(1, ""),
            0,
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "Unrecoverable error: corrupted cluster config file \"\"."
        );
        let e = load_str(
            &format!("{A} :1@2 myself,master,bogus - 0 0 0 connected\n"),
            settings(1, ""),
            0,
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), UNKNOWN_FLAG);
    }

    #[test]
    fn lenient_fields_as_redis() {
        // Flags are case-insensitive, unknown vars are skipped, numbers parse like atoi.
        let content = format!(
            "{A} 1.2.3.4:7000@17000 MySelf,Master,noflags - 0 0 5x connected 3 \"4-5\"\n\
             VARS currentepoch 3 lastVoteEpoch 2 somethingNew 1\n"
        );
        let st = load_str(&content, settings(7000, ""), 0).unwrap().unwrap();
        assert_eq!(st.me().flags, flag::MYSELF | flag::MASTER);
        assert_eq!(
            (st.me().config_epoch, st.current_epoch, st.last_vote_epoch),
            (5, 5, 2)
        );
        assert_eq!(st.me().slots.ranges(), vec![(3, 5)]);
    }

    #[test]
    fn split_args_like_sdssplitargs() {
        assert_eq!(split_args("  a  b\t").unwrap(), ["a", "b"]);
        assert_eq!(
            split_args(r#""x\x41\n" 'it\'s'"#).unwrap(),
            ["xA\n", "it's"]
        );
        assert!(split_args(r#""open"#).is_none());
        assert!(split_args(r#""a"b"#).is_none());
        assert!(split_args("   ").unwrap().is_empty());
    }

    #[test]
    fn lock_refuses_a_second_holder_even_after_saves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes.conf");
        let held = lock(&path).unwrap();
        let refused = |path: &Path| {
            let e = lock(path).expect_err("second lock must fail");
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
            assert_eq!(
                e.to_string(),
                format!(
                    "Sorry, the cluster configuration file {} is already used by a different \
                     Redis Cluster node. Please make sure that different nodes use different \
                     cluster configuration files.",
                    path.display()
                )
            );
        };
        refused(&path);
        let st = ClusterState::new(id(A), settings(7000, ""), 0);
        save(&st, &path, true).unwrap();
        save(&st, &path, false).unwrap();
        refused(&path);
        drop(held);
        let _again = lock(&path).unwrap();
    }
}
