//! One node of a stream: a listpack in Redis's exact stream layout (t_stream.c), so memory per
//! entry matches Redis's and RDB files carry nodes byte for byte.
//!
//! ```text
//! master entry: count | deleted | num-fields | field-1 ... field-N | 0
//! each entry:   flags | ms-diff | seq-diff | [num-fields | f1 v1 ... fN vN] or [v1 ... vN] | lp-count
//! ```
//! `flags` has DELETED (1) and SAMEFIELDS (2; the entry has the master's fields, so only its
//! values are stored). The IDs are differences from the master ID (the node's key), stored as
//! wrapping i64s. `lp-count` is the number of elements of the entry before it, for walking back.
//! Deleting marks the flag; the node goes away when its live count reaches 0.
use super::id::StreamId;
use crate::store::rdb::listpack::{self, encode_int, encode_str, EOF, HEADER};
use crate::store::types::dict::Elem;

pub const FLAG_DELETED: i64 = 1;
pub const FLAG_SAMEFIELDS: i64 = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub master: StreamId,
    pub lp: Vec<u8>,
}

/// One entry as read from a node. `pos` is where its flags element starts.
#[derive(Debug)]
pub struct RawEntry<'a> {
    pub id: StreamId,
    pub deleted: bool,
    pub pos: usize,
    pub pairs: Vec<(Elem<'a>, Elem<'a>)>,
    /// The entry's lp-count matches its elements (checked when loading, as Redis does).
    pub lp_count_ok: bool,
}

fn elem(lp: &[u8], pos: usize) -> Option<(Elem<'_>, usize)> {
    listpack::entry(&lp[..lp.len() - 1], pos)
}

fn int_at(lp: &[u8], pos: usize) -> Option<(i64, usize)> {
    match elem(lp, pos)? {
        (Elem::Int(i), next) => Some((i, next)),
        (Elem::Str(s), next) => Some((crate::util::num::parse_i64(s)?, next)),
    }
}

impl Node {
    /// A node whose master entry takes `fields` and whose first entry is `id`.
    pub fn new(id: StreamId, pairs: &[bytes::Bytes]) -> Node {
        let mut lp =
            Vec::with_capacity(HEADER + 16 + pairs.iter().map(|p| p.len() + 2).sum::<usize>());
        lp.extend_from_slice(&[0; HEADER]);
        encode_int(&mut lp, 1);
        encode_int(&mut lp, 0);
        encode_int(&mut lp, (pairs.len() / 2) as i64);
        for f in pairs.iter().step_by(2) {
            encode_str(&mut lp, f);
        }
        encode_int(&mut lp, 0);
        lp.push(EOF);
        let mut node = Node { master: id, lp };
        node.set_header(4 + pairs.len() / 2);
        node.push_entry(id, pairs, true);
        node
    }

    fn set_header(&mut self, elements: usize) {
        let total = self.lp.len() as u32;
        self.lp[..4].copy_from_slice(&total.to_le_bytes());
        let n = elements.min(u16::MAX as usize) as u16;
        self.lp[4..6].copy_from_slice(&n.to_le_bytes());
    }

    fn elements(&self) -> usize {
        u16::from_le_bytes([self.lp[4], self.lp[5]]) as usize
    }

    pub fn bytes(&self) -> usize {
        self.lp.len()
    }

    /// Live entries.
    pub fn count(&self) -> i64 {
        int_at(&self.lp, HEADER).map_or(0, |v| v.0)
    }

    /// Entries marked deleted.
    pub fn deleted(&self) -> i64 {
        let p = int_at(&self.lp, HEADER).map_or(0, |v| v.1);
        int_at(&self.lp, p).map_or(0, |v| v.0)
    }

    /// The master fields and the position of the first entry.
    fn master_fields(&self) -> (Vec<Elem<'_>>, usize) {
        let lp = &self.lp;
        let mut fields = Vec::new();
        let Some((_, p)) = int_at(lp, HEADER) else {
            return (fields, lp.len() - 1);
        };
        let Some((_, p)) = int_at(lp, p) else {
            return (fields, lp.len() - 1);
        };
        let Some((n, mut p)) = int_at(lp, p) else {
            return (fields, lp.len() - 1);
        };
        for _ in 0..n.max(0) {
            match elem(lp, p) {
                Some((f, next)) => {
                    fields.push(f);
                    p = next;
                }
                None => return (fields, lp.len() - 1),
            }
        }
        // The master terminator.
        let p = elem(lp, p).map_or(lp.len() - 1, |v| v.1);
        (fields, p)
    }

    /// Whether `pairs` (field, value, ...) has exactly the master's fields in order.
    fn same_fields(&self, pairs: &[bytes::Bytes]) -> bool {
        let (fields, _) = self.master_fields();
        fields.len() * 2 == pairs.len()
            && fields
                .iter()
                .zip(pairs.iter().step_by(2))
                .all(|(f, p)| f.bytes().as_ref() == p.as_ref())
    }

    /// Appends entry `id` (greater than every ID in the node).
    pub fn append(&mut self, id: StreamId, pairs: &[bytes::Bytes]) {
        let same = self.same_fields(pairs);
        self.push_entry(id, pairs, same);
        let count = self.count() + 1;
        self.replace_int(HEADER, count);
    }

    fn push_entry(&mut self, id: StreamId, pairs: &[bytes::Bytes], same: bool) {
        let mut e = Vec::with_capacity(16 + pairs.iter().map(|p| p.len() + 2).sum::<usize>());
        let nf = pairs.len() / 2;
        encode_int(&mut e, if same { FLAG_SAMEFIELDS } else { 0 });
        encode_int(&mut e, id.ms.wrapping_sub(self.master.ms) as i64);
        encode_int(&mut e, id.seq.wrapping_sub(self.master.seq) as i64);
        let pieces;
        if same {
            for v in pairs.iter().skip(1).step_by(2) {
                encode_str(&mut e, v);
            }
            pieces = nf + 3;
        } else {
            encode_int(&mut e, nf as i64);
            for p in pairs {
                encode_str(&mut e, p);
            }
            pieces = 2 * nf + 4;
        }
        encode_int(&mut e, pieces as i64);
        let elements = self.elements() + pieces + 1;
        // Exact growth, as Redis reallocates a listpack per insert: a node's spare capacity
        // would otherwise cost up to its own size again.
        self.lp.pop();
        self.lp.reserve_exact(e.len() + 1);
        self.lp.extend_from_slice(&e);
        self.lp.push(EOF);
        self.set_header(if self.elements() == u16::MAX as usize {
            u16::MAX as usize
        } else {
            elements
        });
    }

    /// Replaces the integer element at `pos` with `v` (its size may change).
    fn replace_int(&mut self, pos: usize, v: i64) {
        let Some((_, next)) = elem(&self.lp, pos) else {
            return;
        };
        let mut enc = Vec::with_capacity(12);
        encode_int(&mut enc, v);
        if enc.len() == next - pos {
            self.lp[pos..next].copy_from_slice(&enc);
        } else {
            self.lp.splice(pos..next, enc);
            let n = self.elements();
            self.set_header(n);
        }
    }

    /// Marks the entry whose flags start at `pos` deleted and updates the master counters.
    pub fn mark_deleted(&mut self, pos: usize) {
        let Some((flags, _)) = int_at(&self.lp, pos) else {
            return;
        };
        if flags & FLAG_DELETED != 0 {
            return;
        }
        // Flags are 0..=3: a one-byte 7-bit integer whose back-length stays 1.
        self.lp[pos] = (flags | FLAG_DELETED) as u8;
        let (count, deleted) = (self.count(), self.deleted());
        self.replace_int(HEADER, count - 1);
        let p = int_at(&self.lp, HEADER).map_or(HEADER, |v| v.1);
        self.replace_int(p, deleted + 1);
    }

    /// Every entry in order, deleted ones included (`deleted` set). `values` false skips
    /// decoding the fields.
    pub fn entries(&self, values: bool) -> Vec<RawEntry<'_>> {
        let lp = &self.lp;
        let (fields, mut p) = self.master_fields();
        let end = lp.len() - 1;
        let mut out = Vec::new();
        while p < end {
            match self.entry_at(&fields, p, values) {
                Some((e, next)) => {
                    out.push(e);
                    p = next;
                }
                None => break,
            }
        }
        out
    }

    fn entry_at<'a>(
        &'a self,
        fields: &[Elem<'a>],
        pos: usize,
        values: bool,
    ) -> Option<(RawEntry<'a>, usize)> {
        let lp = &self.lp;
        let (flags, p) = int_at(lp, pos)?;
        let (msd, p) = int_at(lp, p)?;
        let (seqd, mut p) = int_at(lp, p)?;
        let id = StreamId::new(
            self.master.ms.wrapping_add(msd as u64),
            self.master.seq.wrapping_add(seqd as u64),
        );
        let mut pairs = Vec::new();
        let pieces;
        if flags & FLAG_SAMEFIELDS != 0 {
            pieces = fields.len() as i64 + 3;
            for f in fields {
                let (v, next) = elem(lp, p)?;
                if values {
                    pairs.push((f.clone(), v));
                }
                p = next;
            }
        } else {
            let (n, next) = int_at(lp, p)?;
            p = next;
            pieces = n.max(0).saturating_mul(2).saturating_add(4);
            for _ in 0..n.max(0) {
                let (f, next) = elem(lp, p)?;
                let (v, next) = elem(lp, next)?;
                if values {
                    pairs.push((f, v));
                }
                p = next;
            }
        }
        let (lp_count, p) = int_at(lp, p)?;
        let e = RawEntry {
            id,
            deleted: flags & FLAG_DELETED != 0,
            pos,
            pairs,
            lp_count_ok: lp_count == pieces,
        };
        Some((e, p))
    }

    /// The first and last IDs of the node, deleted entries included (`lpGetEdgeStreamID`).
    pub fn last_id(&self) -> StreamId {
        self.entries(false).last().map_or(self.master, |e| e.id)
    }

    /// Checks a node read from an RDB file: a valid listpack in the stream layout whose
    /// counters agree with its entries and whose IDs ascend from `master`. Returns the live
    /// entries' IDs (first, last) and count.
    pub fn validate(&self) -> Option<(i64, Option<(StreamId, StreamId)>)> {
        let all = listpack::entries(&self.lp)?;
        let count = self.count();
        let deleted = self.deleted();
        let (fields, first) = self.master_fields();
        let nfields = match all.get(2)? {
            Elem::Int(i) => *i,
            _ => return None,
        };
        if nfields < 0 || fields.len() as i64 != nfields {
            return None;
        }
        let mut p = first;
        let end = self.lp.len() - 1;
        let (mut live, mut dead) = (0i64, 0i64);
        let mut prev: Option<StreamId> = None;
        let mut edges: Option<(StreamId, StreamId)> = None;
        while p < end {
            let (flags, _) = int_at(&self.lp, p)?;
            if !(0..=3).contains(&flags) {
                return None;
            }
            let (e, next) = self.entry_at(&fields, p, false)?;
            if !e.lp_count_ok || e.id < self.master || prev.is_some_and(|q| e.id <= q) {
                return None;
            }
            prev = Some(e.id);
            if e.deleted {
                dead += 1;
            } else {
                live += 1;
                edges = Some((edges.map_or(e.id, |x| x.0), e.id));
            }
            p = next;
        }
        // A node may hold only tombstones (an exact MINID trim leaves one), as in Redis.
        (live == count && dead == deleted && live + dead > 0).then_some((live, edges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn pairs(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn append_read_delete() {
        let mut n = Node::new(StreamId::new(5, 0), &pairs(&["a", "1", "b", "x"]));
        n.append(StreamId::new(5, 1), &pairs(&["a", "2", "b", "y"]));
        n.append(StreamId::new(7, 0), &pairs(&["c", "300"]));
        assert!(listpack::entries(&n.lp).is_some());
        assert_eq!(n.count(), 3);
        let e = n.entries(true);
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].id, StreamId::new(5, 1));
        assert_eq!(e[1].pairs[1].1.bytes().as_ref(), b"y");
        assert_eq!(e[2].pairs[0].0.bytes().as_ref(), b"c");
        let pos = e[1].pos;
        n.mark_deleted(pos);
        assert_eq!((n.count(), n.deleted()), (2, 1));
        assert!(n.entries(false)[1].deleted);
        assert_eq!(n.validate().unwrap().0, 2);
        assert_eq!(n.last_id(), StreamId::new(7, 0));
    }

    #[test]
    fn counters_grow_past_one_byte() {
        let mut n = Node::new(StreamId::new(1, 0), &pairs(&["f", "v"]));
        for i in 1..300 {
            n.append(StreamId::new(1, i), &pairs(&["f", "v"]));
        }
        assert_eq!(n.count(), 300);
        assert!(listpack::entries(&n.lp).is_some());
        assert_eq!(n.validate().unwrap().0, 300);
    }
}
