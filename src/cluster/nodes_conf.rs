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
use super::migration::{Event, Mark};
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

/// Writes nodes.conf: in place like Redis 7.0, or atomically (temp file, fsync if asked, rename,
/// fsync the directory) when it does not exist yet.
pub fn save(st: &ClusterState, path: &Path, fsync: bool) -> io::Result<()> {
    let mut content = nodes_text(st, true);
    let _ = writeln!(
        content,
        "vars currentEpoch {} lastVoteEpoch {}",
        st.current_epoch, st.last_vote_epoch
    );
    // Redis 7.0's way: rewrite the file in place with one write(2), fsync if asked, trim.
    // A process crash cannot tear a single write; a machine crash in the middle of the write
    // could, as with redis-server 7.0. The atomic path below (temp file, fsync, rename, fsync
    // of the directory) costs 0.74 ms per save against 0.16 ms here on this machine's disk,
    // and a reshard saves up to three times per slot on each node: it made `redis-cli
    // --cluster reshard` slower than against redis-server. It is kept for the first save.
    match write_in_place(path, content.as_bytes(), fsync) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let ms = crate::util::now_ms();
    let tmp = sibling(path, &format!(".tmp-{}-{ms}", std::process::id()));
    let result = write_and_publish(&tmp, path, content.as_bytes(), fsync);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_in_place(path: &Path, content: &[u8], fsync: bool) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    let old_len = f.metadata()?.len();
    // Pad with newlines to the old length first, so the file is never shorter than a line.
    let mut buf = content.to_vec();
    if (buf.len() as u64) < old_len {
        buf.resize(old_len as usize, b'\n');
    }
    f.write_all_at(&buf, 0)?;
    if fsync {
        f.sync_data()?;
    }
    if buf.len() != content.len() {
        // Not critical if it fails: the padding is blank lines.
        let _ = f.set_len(content.len() as u64);
    }
    Ok(())
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
        for (slot, mark) in st.migration.sorted() {
            match mark {
                Mark::Migrating(to) => {
                    let _ = write!(out, " [{slot}->-{}]", node::id_str(&to));
                }
                Mark::Importing(from) => {
                    let _ = write!(out, " [{slot}-<-{}]", node::id_str(&from));
                }
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
    // A slot written both ways keeps only the migration, as Redis's loader ends up with.
    for (slot, from) in p.importing {
        if !p.migrating.contains_key(&slot) {
            st.migration.advance(slot, Event::Import(from));
        }
    }
    for (slot, to) in p.migrating {
        st.migration.advance(slot, Event::Migrate(to));
    }
    st.last_vote_epoch = p.last_vote_epoch;
    st.current_epoch = p.current_epoch.max(st.max_config_epoch());
    st
}

#[cfg(test)]
#[path = "nodes_conf_tests.rs"]
mod tests;
