//! What ACL rules name: every command and subcommand with its categories, indexed by the
//! command table's ids. Built by `commands` from the one command table and handed to the ACL
//! (which sits below `commands` in the layering, so it does not read the table itself).

/// Categories in Redis's table order (ACL CAT lists them so; rule descriptions try them so).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The bit of a category name (without '@'), case-insensitively.
pub fn category_bit(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

pub struct Entry {
    /// `get`, `config|get`.
    pub name: &'static str,
    pub parent: Option<usize>,
    pub subs: Vec<usize>,
    /// Category bits (CATEGORIES order).
    pub categories: u32,
    /// AUTH, HELLO, QUIT, RESET: never refused by ACL rules.
    pub no_auth: bool,
}

pub struct Catalog {
    pub entries: Vec<Entry>,
    by_name: std::collections::HashMap<&'static str, usize>,
}

impl Catalog {
    /// `entries` indexed by command id; subcommands' `parent` set, containers' `subs` filled here.
    pub fn new(mut entries: Vec<Entry>) -> Catalog {
        for i in 0..entries.len() {
            if let Some(p) = entries[i].parent {
                entries[p].subs.push(i);
            }
        }
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name, i))
            .collect();
        Catalog { entries, by_name }
    }

    /// A command or `container|sub` by name, case-insensitively.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        self.by_name.get(lower.as_str()).copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Top-level commands, in table order.
    pub fn top_level(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.entries.len()).filter(|&i| self.entries[i].parent.is_none())
    }
}
