//! Keyspace notifications (notify-keyspace-events): the event classes, their flag letters, and
//! the queue of events a command produced. Commands and the store push events here while the
//! store lock is held; the dispatcher publishes them afterwards as Redis does:
//! `__keyspace@<db>__:<key>` carrying the event name and `__keyevent@<db>__:<event>` carrying
//! the key.
use bytes::Bytes;

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 12;
pub const NEW: u32 = 1 << 13;
/// `A`: every class but key-miss and new.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

const LETTERS: [(char, u32); 11] = [
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('d', MODULE),
    ('n', NEW),
];

/// Parses the directive's letters; None for an unknown letter.
pub fn parse_flags(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            'm' => KEY_MISS,
            c => LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(f)
}

/// Every class letter, without folding into `A`: how the config keeps the value, so that `n`
/// survives next to `A` (CONFIG GET prints `flags_to_string`, which drops it, as Redis does).
pub fn flags_to_letters(f: u32) -> String {
    let mut s: String = LETTERS
        .iter()
        .filter(|(_, b)| f & b != 0)
        .map(|(c, _)| *c)
        .collect();
    for (c, b) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
        if f & b != 0 {
            s.push(c);
        }
    }
    s
}

/// The canonical letters CONFIG GET prints (Redis's keyspaceEventsFlagsToString).
pub fn flags_to_string(f: u32) -> String {
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        s.extend(LETTERS.iter().filter(|(_, b)| f & b != 0).map(|(c, _)| *c));
    }
    for (c, b) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
        if f & b != 0 {
            s.push(c);
        }
    }
    s
}

#[derive(Debug, Clone)]
pub struct Event {
    pub db: usize,
    pub event: &'static str,
    pub key: Bytes,
}

/// Events raised by the current command, waiting to be published.
#[derive(Default)]
pub struct Events {
    /// The notify-keyspace-events flags in force (0 = off, the fast path).
    pub flags: u32,
    pub queue: Vec<Event>,
}

impl Events {
    /// Queues an event of `class` if that class is enabled (and K or E is on).
    #[inline]
    pub fn raise(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        if self.flags & class != 0 && self.flags & (KEYSPACE | KEYEVENT) != 0 {
            self.queue.push(Event {
                db,
                event,
                key: Bytes::copy_from_slice(key),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_strings_match_redis() {
        for (input, want) in [
            ("KEA", "AKE"),
            ("Kx", "xK"),
            ("En", "nE"),
            ("KEA$n", "AKE"),
            ("Am", "Am"),
            ("gxn", "gxn"),
            ("", ""),
        ] {
            assert_eq!(
                flags_to_string(parse_flags(input).unwrap()),
                want,
                "{input}"
            );
        }
        assert_eq!(parse_flags("Kq"), None);
        let f = parse_flags("KEAn").unwrap();
        assert_eq!(parse_flags(&flags_to_letters(f)), Some(f));
    }
}
