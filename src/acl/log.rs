//! ACL LOG: recent refusals and failed logins, newest first. A refusal like one of the ten
//! newest (same reason, context, object and user, within 60 s) bumps that entry instead.
use std::collections::VecDeque;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    /// toplevel, multi, lua.
    pub context: &'static str,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub created_ms: u64,
    pub client_info: String,
}

#[derive(Default)]
pub struct AclLog {
    entries: VecDeque<Entry>,
}

const GROUPING_WINDOW_MS: u64 = 60_000;

impl AclLog {
    pub fn add(&mut self, e: Entry, max_len: usize) {
        let similar = self.entries.iter().take(10).position(|x| {
            x.reason == e.reason
                && x.context == e.context
                && x.object == e.object
                && x.username == e.username
                && x.created_ms.abs_diff(e.created_ms) <= GROUPING_WINDOW_MS
        });
        match similar {
            Some(i) => {
                let mut x = self.entries.remove(i).expect("found");
                x.count += 1;
                x.client_info = e.client_info;
                x.created_ms = e.created_ms;
                self.entries.push_front(x);
            }
            None => self.entries.push_front(e),
        }
        self.entries.truncate(max_len);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    pub fn newest(&self, n: usize) -> impl Iterator<Item = &Entry> {
        self.entries.iter().take(n)
    }

    pub fn truncate(&mut self, max_len: usize) {
        self.entries.truncate(max_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, t: u64) -> Entry {
        Entry {
            count: 1,
            reason: Reason::Command,
            context: "toplevel",
            object: object.as_bytes().to_vec(),
            username: b"u".to_vec(),
            created_ms: t,
            client_info: String::new(),
        }
    }

    #[test]
    fn similar_entries_group_within_a_minute() {
        let mut log = AclLog::default();
        log.add(entry("get", 0), 128);
        log.add(entry("set", 10), 128);
        log.add(entry("get", 20), 128);
        let v: Vec<_> = log
            .newest(10)
            .map(|e| (e.object.clone(), e.count))
            .collect();
        assert_eq!(v, vec![(b"get".to_vec(), 2), (b"set".to_vec(), 1)]);
        log.add(entry("get", 20 + GROUPING_WINDOW_MS + 1), 128);
        assert_eq!(log.newest(10).count(), 3);
        log.add(entry("x", 0), 2);
        assert_eq!(log.newest(10).count(), 2);
    }
}
