//! The replication stream's memory: every byte fed to replicas, numbered from 1 as Redis numbers
//! `master_repl_offset`, kept for partial resyncs (`repl-backlog-size`) and for replicas still
//! sending (Redis 7.0's shared replication buffer: one copy of the stream, each replica a
//! cursor into it, so a slow replica costs the bytes it has not read, once).
//!
//! Offsets: `end` is the offset of the last byte written (0 before any); the bytes held are
//! `start..=end`. A replica that processed up to offset `o` asks for `o + 1` (PSYNC).
use std::collections::{HashMap, VecDeque};

#[derive(Debug)]
pub struct Backlog {
    buf: VecDeque<u8>,
    /// Offset of `buf[0]`.
    start: u64,
    /// Offset of the last byte appended (`master_repl_offset`).
    end: u64,
    /// `repl-backlog-size`: history kept for partial resyncs.
    pub size: usize,
    /// Past `size`, bytes a replica has not sent yet are kept up to this much more (its
    /// output-buffer hard limit); a replica further behind is dropped.
    pub replica_limit: usize,
    /// The database the last propagated command ran in (a SELECT precedes a change).
    pub last_db: Option<usize>,
    /// Next offset each sending replica needs (by client id).
    cursors: HashMap<u64, u64>,
    /// The backlog exists (Redis creates it when the first replica attaches).
    pub active: bool,
}

impl Backlog {
    pub fn new(size: usize) -> Backlog {
        Backlog {
            buf: VecDeque::new(),
            start: 1,
            end: 0,
            size,
            replica_limit: 256 << 20,
            last_db: None,
            cursors: HashMap::new(),
            active: false,
        }
    }

    pub fn end(&self) -> u64 {
        self.end
    }

    /// Offset of the first byte held (Redis's `repl_backlog_first_byte_offset`).
    pub fn first(&self) -> u64 {
        self.start
    }

    pub fn histlen(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Starts the history afresh after `offset` (a full sync from a primary, or a restart of
    /// the numbering): nothing older can be served.
    pub fn reset(&mut self, offset: u64) {
        self.buf.clear();
        self.start = offset + 1;
        self.end = offset;
        self.last_db = None;
        self.active = true;
    }

    pub fn append(&mut self, bytes: &[u8]) {
        self.buf.extend(bytes);
        self.end += bytes.len() as u64;
        self.trim();
    }

    /// Whether `from` (the next offset a replica wants) can be served from here.
    pub fn can_serve(&self, from: u64) -> bool {
        self.active && from >= self.start && from <= self.end + 1
    }

    /// Up to `max` bytes from offset `from`; None when they are no longer held.
    pub fn read(&self, from: u64, max: usize) -> Option<Vec<u8>> {
        if from < self.start || from > self.end + 1 {
            return None;
        }
        let at = (from - self.start) as usize;
        let n = (self.buf.len() - at).min(max);
        let (a, b) = self.buf.as_slices();
        let mut out = Vec::with_capacity(n);
        if at < a.len() {
            let take = n.min(a.len() - at);
            out.extend_from_slice(&a[at..at + take]);
            out.extend_from_slice(&b[..n - take]);
        } else {
            let at = at - a.len();
            out.extend_from_slice(&b[at..at + n]);
        }
        Some(out)
    }

    /// A sending replica's position (None: it left).
    pub fn set_cursor(&mut self, id: u64, next: Option<u64>) {
        match next {
            Some(o) => self.cursors.insert(id, o),
            None => self.cursors.remove(&id),
        };
    }

    /// Drops history beyond `size`, except what a replica within its limit still needs.
    fn trim(&mut self) {
        let len = self.buf.len();
        if len <= self.size {
            return;
        }
        let hard_floor = self
            .end
            .saturating_sub((self.size + self.replica_limit) as u64)
            + 1;
        let needed = self
            .cursors
            .values()
            .copied()
            .filter(|&c| c >= hard_floor)
            .min()
            .unwrap_or(u64::MAX);
        let keep_from = (self.end + 1 - self.size as u64)
            .min(needed)
            .max(self.start);
        let drop = (keep_from - self.start) as usize;
        if drop > 0 {
            self.buf.drain(..drop);
            self.start = keep_from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_reads_follow_redis_numbering() {
        let mut b = Backlog::new(8);
        b.reset(100);
        assert_eq!((b.first(), b.end()), (101, 100));
        assert!(b.can_serve(101));
        b.append(b"abcdef");
        assert_eq!(b.end(), 106);
        assert_eq!(b.read(101, 100).unwrap(), b"abcdef");
        assert_eq!(b.read(104, 2).unwrap(), b"de");
        assert_eq!(b.read(107, 10).unwrap(), b"");
        b.append(b"ghijkl");
        // Only the last 8 bytes are kept.
        assert_eq!(b.first(), 105);
        assert!(b.read(104, 1).is_none());
        assert_eq!(b.read(105, 100).unwrap(), b"efghijkl");
        assert!(!b.can_serve(104));
        assert!(b.can_serve(113));
        assert!(!b.can_serve(114));
    }

    #[test]
    fn a_sending_replica_keeps_its_bytes_up_to_its_limit() {
        let mut b = Backlog::new(4);
        b.replica_limit = 8;
        b.reset(0);
        b.set_cursor(7, Some(1));
        b.append(b"0123456789");
        assert_eq!(
            b.first(),
            1,
            "the replica at offset 1 still needs everything"
        );
        b.append(b"abcdef");
        // 16 bytes written; size + limit = 12: the replica fell too far behind.
        assert_eq!(b.first(), 13);
        b.set_cursor(7, None);
        b.append(b"x");
        assert_eq!(b.histlen(), 4);
    }
}
