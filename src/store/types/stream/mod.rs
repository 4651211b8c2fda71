//! The stream type: entries in ID order kept in listpack nodes (node.rs, Redis's layout), the
//! stream's counters (length, last/first IDs, max deleted ID, entries added: the bookkeeping
//! 7.0's consumer-group lag uses) and its consumer groups (group.rs). No RESP here.
//!
//! Nodes sit in a `Vec` ordered by master ID (Redis keeps them in a radix tree): lookups
//! binary-search it, appends go to the last node, trimming drains whole nodes from the front.
//! A Vec costs 40 bytes per node of up to `stream-node-max-entries` (100) entries, and the
//! front drain moves only those 40-byte headers.
pub mod group;
pub mod id;
pub mod node;

use crate::store::types::dict::Elem;
use bytes::Bytes;
pub use group::{Consumer, Group, Pending};
pub use id::StreamId;
use node::Node;
use std::collections::BTreeMap;

/// stream-node-max-bytes / stream-node-max-entries (0 = no limit).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

/// STREAM_LISTPACK_MAX_SIZE: a node never grows past 1 GiB.
const NODE_MAX_SIZE: usize = 1 << 30;

pub type Fields = Vec<(Bytes, Bytes)>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stream {
    nodes: Vec<Node>,
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Bytes, Group>,
}

/// How to trim (XADD's and XTRIM's MAXLEN / MINID).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

fn owned(e: &Elem) -> Bytes {
    match e {
        Elem::Str(s) => Bytes::copy_from_slice(s),
        Elem::Int(i) => Bytes::copy_from_slice(crate::util::num::IntStr::new(*i).as_bytes()),
    }
}

impl Stream {
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Radix-tree keys as XINFO reports them: one per node.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Nodes Redis's radix tree over these node keys would have (XINFO radix-tree-nodes).
    pub fn rax_nodes(&self) -> u64 {
        let keys: Vec<[u8; 16]> = self.nodes.iter().map(|n| n.master.to_be_bytes()).collect();
        rax_nodes(&keys, 0)
    }

    /// Redis's lazyfreeGetFreeEffort for a stream.
    pub fn free_effort(&self) -> u64 {
        let groups = self.groups.len() as u64;
        let first_pel = self
            .groups
            .values()
            .next()
            .map_or(0, |g| g.pel.len() as u64);
        self.rax_nodes() + groups * (1 + first_pel)
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn heap_size(&self) -> usize {
        let nodes: usize = self.nodes.iter().map(|n| n.lp.capacity()).sum();
        let groups: usize = self.groups.values().map(|g| g.heap_size()).sum();
        nodes + self.nodes.capacity() * std::mem::size_of::<Node>() + groups
    }

    /// Appends entry `id` (> last_id) with `pairs` (field, value, ...).
    pub fn append(&mut self, id: StreamId, pairs: &[Bytes], lim: NodeLimits) {
        let max_bytes = if lim.max_bytes == 0 || lim.max_bytes > NODE_MAX_SIZE {
            NODE_MAX_SIZE
        } else {
            lim.max_bytes
        };
        let new_node = match self.nodes.last() {
            None => true,
            Some(n) => {
                let add: usize = pairs.iter().map(|p| p.len()).sum();
                n.bytes() + add >= max_bytes
                    || (lim.max_entries > 0
                        && (n.count() + n.deleted()) as usize >= lim.max_entries)
            }
        };
        if new_node {
            if let Some(last) = self.nodes.last_mut() {
                last.lp.shrink_to_fit();
            }
            if self.nodes.len() == self.nodes.capacity() {
                self.nodes.reserve_exact((self.nodes.len() / 8).max(1));
            }
            self.nodes.push(Node::new(id, pairs));
        } else if let Some(n) = self.nodes.last_mut() {
            n.append(id, pairs);
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// XSETID on an empty stream may move the last ID back: nodes left holding only deleted
    /// entries go, so new entries never land in a node whose master ID is above them.
    pub fn drop_tombstone_nodes(&mut self) {
        if self.length == 0 {
            self.nodes.clear();
        }
    }

    /// Index of the node that would hold `id`.
    fn node_for(&self, id: StreamId) -> usize {
        self.nodes
            .partition_point(|n| n.master <= id)
            .saturating_sub(1)
    }

    /// Live entries with `start <= id <= end`, ascending (or descending when `rev`), at most
    /// `count` (0 = all).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        count: usize,
        rev: bool,
    ) -> Vec<(StreamId, Fields)> {
        let mut out = Vec::new();
        if start > end || self.nodes.is_empty() {
            return out;
        }
        let full = |out: &Vec<_>| count > 0 && out.len() >= count;
        if !rev {
            for n in &self.nodes[self.node_for(start)..] {
                if n.master > end {
                    break;
                }
                for e in n.entries(true) {
                    if e.id > end || full(&out) {
                        return out;
                    }
                    if e.id >= start && !e.deleted {
                        out.push((
                            e.id,
                            e.pairs.iter().map(|(f, v)| (owned(f), owned(v))).collect(),
                        ));
                    }
                }
            }
        } else {
            let last = self.node_for(end);
            for n in self.nodes[..=last].iter().rev() {
                for e in n.entries(true).into_iter().rev() {
                    if e.id < start || full(&out) {
                        return out;
                    }
                    if e.id <= end && !e.deleted {
                        out.push((
                            e.id,
                            e.pairs.iter().map(|(f, v)| (owned(f), owned(v))).collect(),
                        ));
                    }
                }
                if n.master < start {
                    break;
                }
            }
        }
        out
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<Fields> {
        self.range(id, id, 1, false).pop().map(|e| e.1)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        if self.nodes.is_empty() {
            return false;
        }
        self.nodes[self.node_for(id)]
            .entries(false)
            .iter()
            .any(|e| e.id == id && !e.deleted)
    }

    /// The first or last live ID (`streamGetEdgeID` skipping tombstones).
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        if first {
            self.nodes
                .iter()
                .find_map(|n| n.entries(false).iter().find(|e| !e.deleted).map(|e| e.id))
        } else {
            self.nodes.iter().rev().find_map(|n| {
                n.entries(false)
                    .iter()
                    .rev()
                    .find(|e| !e.deleted)
                    .map(|e| e.id)
            })
        }
    }

    fn refresh_first_id(&mut self) {
        self.first_id = if self.length == 0 {
            StreamId::MIN
        } else {
            self.edge_id(true).unwrap_or(StreamId::MIN)
        };
    }

    /// XDEL of one ID: true if a live entry was deleted.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.nodes.is_empty() {
            return false;
        }
        let i = self.node_for(id);
        let pos = match self.nodes[i].entries(false).iter().find(|e| e.id == id) {
            Some(e) if !e.deleted => e.pos,
            _ => return false,
        };
        self.nodes[i].mark_deleted(pos);
        if self.nodes[i].count() == 0 {
            self.nodes.remove(i);
        }
        self.length -= 1;
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        if id == self.first_id {
            self.refresh_first_id();
        }
        true
    }

    /// `streamTrim`: removes whole nodes from the front while the rule allows; unless `approx`,
    /// then marks entries deleted inside the first node left. `limit` (0 = none) caps the
    /// entries removed, in whole nodes. Returns the number removed.
    pub fn trim(&mut self, rule: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        let mut drop_nodes = 0usize;
        let mut length = self.length;
        for n in &self.nodes {
            if let Trim::MaxLen(max) = rule {
                if length <= max {
                    break;
                }
            }
            let entries = n.count() as u64;
            if limit > 0 && deleted + entries > limit {
                break;
            }
            let remove = match rule {
                Trim::MaxLen(max) => length - entries >= max,
                Trim::MinId(min) => n.last_id() < min,
            };
            if !remove {
                break;
            }
            drop_nodes += 1;
            length -= entries;
            deleted += entries;
        }
        self.nodes.drain(..drop_nodes);
        self.length = length;
        let partial = !approx
            && match rule {
                Trim::MaxLen(max) => self.length > max,
                Trim::MinId(_) => true,
            };
        if partial && !self.nodes.is_empty() {
            let node = &mut self.nodes[0];
            let marks: Vec<usize> = {
                let mut len = self.length;
                let mut v = Vec::new();
                for e in node.entries(false) {
                    let stop = match rule {
                        Trim::MaxLen(max) => len <= max,
                        Trim::MinId(min) => e.id >= min,
                    };
                    if stop {
                        break;
                    }
                    if !e.deleted {
                        v.push(e.pos);
                        len -= 1;
                    }
                }
                v
            };
            for pos in &marks {
                node.mark_deleted(*pos);
            }
            self.length -= marks.len() as u64;
            deleted += marks.len() as u64;
            // Redis keeps a node whose entries are all marked (its count is 0) only until the
            // next trim; dropping it now keeps "no empty node" an invariant here.
            if node.count() == 0 {
                self.nodes.remove(0);
            }
        }
        self.refresh_first_id();
        deleted
    }

    /// `streamRangeHasTombstones`: whether an entry between `start` and `end` may have been
    /// deleted (judged by the max deleted ID only, as Redis does).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`, or None
    /// when it can't be known.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            _ => {}
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(self.entries_added - self.length),
                std::cmp::Ordering::Equal => return Some(self.entries_added - self.length + 1),
                _ => {}
            }
        }
        None
    }

    /// The lag of `group` (`streamReplyWithCGLag`), None when unknown. Signed as in Redis:
    /// an ENTRIESREAD set past the entries added gives a negative lag.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let lag = |read: u64| (self.entries_added as i64).wrapping_sub(read as i64);
        if let Some(read) = g.entries_read {
            if !self.range_has_tombstones(g.last_id, StreamId::MAX) {
                return Some(lag(read));
            }
        }
        self.estimate_entries_read(g.last_id).map(lag)
    }

    /// A group delivered `id` (XREADGROUP `>`): advance its last ID and read counter.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let valid = self.groups.get(name).and_then(|g| g.entries_read);
        let tomb = self.range_has_tombstones(id, StreamId::MAX);
        let estimate = self.estimate_entries_read(id);
        let added = self.entries_added;
        if let Some(g) = self.groups.get_mut(name) {
            if id > g.last_id {
                g.entries_read = match valid {
                    Some(r) if !tomb => Some(r + 1),
                    _ if added > 0 => estimate,
                    other => other,
                };
                g.last_id = id;
            }
        }
    }

    /// Rebuilds a stream from RDB parts; None if the nodes are inconsistent.
    pub fn from_nodes(nodes: Vec<Node>) -> Option<Stream> {
        let mut s = Stream::default();
        let mut prev_last: Option<StreamId> = None;
        for n in &nodes {
            let (live, _) = n.validate()?;
            if prev_last.is_some_and(|p| n.master <= p) {
                return None;
            }
            prev_last = Some(n.last_id());
            s.length += live as u64;
        }
        s.nodes = nodes;
        Some(s)
    }
}

/// Nodes of Redis's radix tree over the stream's node keys (16-byte big-endian master IDs):
/// a compressed node per run of shared bytes, a branching node where keys diverge and a leaf
/// per key, as rax builds it for keys inserted in order.
fn rax_nodes(keys: &[[u8; 16]], depth: usize) -> u64 {
    if keys.is_empty() {
        return 1;
    }
    if depth == 16 {
        return 1;
    }
    let first = &keys[0];
    let last = &keys[keys.len() - 1];
    let mut common = depth;
    while common < 16 && first[common] == last[common] {
        common += 1;
    }
    if common > depth {
        return 1 + rax_nodes(keys, common);
    }
    let mut n = 1;
    let mut i = 0;
    while i < keys.len() {
        let b = keys[i][depth];
        let j = i + keys[i..].iter().take_while(|k| k[depth] == b).count();
        n += rax_nodes(&keys[i..j], depth + 1);
        i = j;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rax_node_counts_match_redis() {
        let k = |ms: u64| StreamId::new(ms, 0).to_be_bytes();
        assert_eq!(rax_nodes(&[], 0), 1);
        assert_eq!(rax_nodes(&[k(1)], 0), 2);
        // Redis reports 10 nodes for the masters of 10 entries at 3 per node.
        assert_eq!(rax_nodes(&[k(1), k(4), k(7), k(10)], 0), 10);
    }

    const LIM: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 3,
    };

    fn fill(n: u64) -> Stream {
        let mut s = Stream::default();
        for i in 1..=n {
            let pairs = vec![Bytes::from("f"), Bytes::from(i.to_string())];
            s.append(StreamId::new(i, 0), &pairs, LIM);
        }
        s
    }

    #[test]
    fn ranges_across_nodes() {
        let s = fill(10);
        assert_eq!(s.node_count(), 4);
        let r = s.range(StreamId::new(2, 0), StreamId::new(8, 0), 0, false);
        assert_eq!(r.len(), 7);
        assert_eq!(r[0].1[0].1.as_ref(), b"2");
        let r = s.range(StreamId::MIN, StreamId::MAX, 3, true);
        let ids: Vec<u64> = r.iter().map(|e| e.0.ms).collect();
        assert_eq!(ids, vec![10, 9, 8]);
        assert_eq!(s.get(StreamId::new(5, 0)).unwrap()[0].1.as_ref(), b"5");
        assert!(s.get(StreamId::new(5, 1)).is_none());
    }

    #[test]
    fn delete_and_trim() {
        let mut s = fill(10);
        assert!(s.delete(StreamId::new(1, 0)));
        assert!(!s.delete(StreamId::new(1, 0)));
        assert_eq!(s.first_id, StreamId::new(2, 0));
        assert_eq!(s.max_deleted, StreamId::new(1, 0));
        assert_eq!(s.len(), 9);
        // Approximate: whole nodes only.
        assert_eq!(s.trim(Trim::MaxLen(5), true, 0), 2);
        assert_eq!(s.len(), 7);
        assert_eq!(s.trim(Trim::MaxLen(5), false, 0), 2);
        assert_eq!(s.len(), 5);
        assert_eq!(s.first_id, StreamId::new(6, 0));
        assert_eq!(s.trim(Trim::MinId(StreamId::new(8, 0)), false, 0), 2);
        assert_eq!(s.edge_id(true), Some(StreamId::new(8, 0)));
        assert_eq!(s.trim(Trim::MaxLen(0), false, 0), 3);
        assert!(s.is_empty());
        assert_eq!(s.node_count(), 0);
        assert_eq!(s.entries_added, 10);
    }
}
