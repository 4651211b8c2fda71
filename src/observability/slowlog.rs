//! The slow log (SLOWLOG GET/LEN/RESET): commands slower than slowlog-log-slower-than, newest
//! first, at most slowlog-max-len entries, arguments trimmed as Redis trims them.
use bytes::Bytes;
use std::collections::VecDeque;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC / SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub time: u64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: String,
}

pub struct SlowLog {
    entries: VecDeque<SlowEntry>,
    next_id: u64,
    max_len: usize,
}

impl SlowLog {
    pub fn new(max_len: usize) -> SlowLog {
        SlowLog {
            entries: VecDeque::new(),
            next_id: 0,
            max_len,
        }
    }

    pub fn set_max_len(&mut self, n: usize) {
        self.max_len = n;
        self.entries.truncate(n);
    }

    pub fn push(&mut self, args: &[Bytes], duration_us: u64, addr: String, name: String) {
        let mut trimmed: Vec<Bytes> = Vec::new();
        let n = args.len().min(MAX_ARGC);
        for (i, a) in args.iter().take(n).enumerate() {
            if i == MAX_ARGC - 1 && args.len() > MAX_ARGC {
                trimmed.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    args.len() - MAX_ARGC + 1
                )));
            } else if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                trimmed.push(Bytes::from(s));
            } else {
                // Copy: the argument is a view into the connection's read buffer, which it
                // would otherwise keep alive for as long as the entry lives.
                trimmed.push(Bytes::copy_from_slice(a));
            }
        }
        let time = crate::util::now_ms() / 1000;
        self.entries.push_front(SlowEntry {
            id: self.next_id,
            time,
            duration_us,
            args: trimmed,
            addr,
            name,
        });
        self.next_id += 1;
        self.entries.truncate(self.max_len);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    pub fn newest(&self, n: usize) -> impl Iterator<Item = &SlowEntry> {
        self.entries.iter().take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_redis() {
        let mut s = SlowLog::new(2);
        let args: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("a{i}"))).collect();
        s.push(&args, 10, "x".into(), "".into());
        let e = s.newest(1).next().unwrap();
        assert_eq!(e.args.len(), 32);
        assert_eq!(e.args[31], Bytes::from("... (9 more arguments)"));
        s.push(&[Bytes::from(vec![b'x'; 200])], 1, "x".into(), "".into());
        assert!(s.newest(1).next().unwrap().args[0].ends_with(b"... (72 more bytes)"));
        s.push(&args[..1], 1, "x".into(), "".into());
        assert_eq!(s.len(), 2);
    }
}
