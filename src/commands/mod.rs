//! Commands: the table (`table.rs`, one generated declaration per command), the lookup index
//! built from it once at startup, the execution context handed to handlers, and one file per
//! family of handlers. A handler takes the whole argv (argv[0] is the command name) and returns
//! a `Reply` or an `ErrorReply`; it never touches the socket.
mod acl_cmd;
mod bitmaps;
mod blocking;
mod client_cmd;
mod cluster_cmd;
mod cluster_common;
mod cluster_info;
mod cluster_slots;
mod command_cmd;
mod config_cmd;
mod connection;
mod debug;
mod geo;
mod hashes;
mod hyperloglog;
mod info;
mod introspection;
mod keys;
mod latency_cmd;
mod lists;
mod migrate;
pub use acl_cmd::check_request as acl_check_request;
pub use acl_cmd::log_event as acl_log_event;
pub use acl_cmd::switch_user;
pub use functions_cmd::stats_reply as function_stats_reply;
pub use migrate::finish as finish_migrate;
pub use persistence::{prepare, to_prepare};
pub use scripting::kill_reply as script_kill_reply;
pub use scripting::script_may_write;
pub use transactions::begin as begin_multi;
mod functions_cmd;
mod persistence;
pub mod pubsub;
mod replication;
mod scripting;
mod server_cmds;
mod sets;
mod sets_algebra;
mod sort;
pub mod spec;
mod streams;
mod streams_groups;
mod streams_info;
mod streams_read;
mod strings;
mod table;
mod transactions;
mod zsets;
mod zsets_bounds;
mod zsets_pop;
mod zsets_range;
mod zsets_setops;

use crate::protocol::{ErrorReply, Reply};
use crate::state::{Client, Shared};
use crate::store::Store;
use bytes::Bytes;
use std::collections::HashMap;

pub use spec::{flag, CommandSpec};

pub type Handler = fn(&mut Ctx, &[Bytes]) -> Result<Reply, ErrorReply>;

/// Everything a handler may use. The store is already locked by the caller.
/// Largest reply ZRANDMEMBER, SRANDMEMBER and HRANDFIELD build for a negative count (picks
/// with repetition). Redis streams such a reply and a client asking for billions of members
/// makes it grow without bound; slotcache builds replies in memory, so past this it answers
/// "value is out of range" instead of aborting on OOM.
pub(crate) const RANDOM_REPLY_MAX: u64 = 1 << 25;

pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub store: &'a mut Store,
    pub client: &'a mut Client,
    pub now_ms: u64,
}

/// All handlers under one name, so the generated table can refer to `handlers::<name>`.
mod handlers {
    pub use super::acl_cmd::*;
    pub use super::bitmaps::*;
    pub use super::blocking::*;
    pub use super::client_cmd::*;
    pub use super::cluster_cmd::*;
    pub use super::cluster_info::*;
    pub use super::cluster_slots::*;
    pub use super::command_cmd::*;
    pub use super::config_cmd::*;
    pub use super::connection::*;
    pub use super::debug::*;
    pub use super::functions_cmd::*;
    pub use super::geo::*;
    pub use super::hashes::*;
    pub use super::hyperloglog::*;
    pub use super::introspection::*;
    pub use super::keys::*;
    pub use super::latency_cmd::*;
    pub use super::lists::*;
    pub use super::migrate::*;
    pub use super::persistence::*;
    pub use super::pubsub::*;
    pub use super::replication::*;
    pub use super::scripting::*;
    pub use super::server_cmds::*;
    pub use super::sets::*;
    pub use super::sets_algebra::*;
    pub use super::sort::*;
    pub use super::streams::*;
    pub use super::streams_groups::*;
    pub use super::streams_info::*;
    pub use super::streams_read::*;
    pub use super::strings::*;
    pub use super::transactions::*;
    pub use super::zsets::*;
    pub use super::zsets_pop::*;
    pub use super::zsets_range::*;
    pub use super::zsets_setops::*;
}

/// A command resolved for execution: its spec, flags and its index for commandstats.
#[derive(Clone, Copy)]
pub struct Resolved {
    pub spec: &'static CommandSpec,
    pub flags: u32,
    pub id: usize,
}

impl Resolved {
    /// Every key of a request with its key-spec flags, as Redis's getKeysFromCommand finds
    /// them: the key specs', except where a spec is incomplete and Redis asks the command
    /// (MIGRATE's KEYS form, SORT's STORE destination). Routing and COMMAND GETKEYS share it.
    pub fn keys(&self, args: &[Bytes]) -> Option<Vec<spec::KeyRef>> {
        if self.flags & flag::KEYS_MIGRATE != 0 {
            const FLAGS: &[&str] = &["RW", "access", "delete"];
            let mut range = 3..4.min(args.len());
            if args.len() > 6 && args[3].is_empty() {
                if let Some(i) = (6..args.len()).find(|&i| is(&args[i], "KEYS")) {
                    range = i + 1..args.len();
                }
            }
            return Some(
                range
                    .map(|index| spec::KeyRef {
                        index,
                        flags: FLAGS,
                    })
                    .collect(),
            );
        }
        let mut keys = self.spec.keys(args)?;
        if self.flags & flag::KEYS_SORT_STORE != 0 {
            if let Some(index) = sort_store_index(args) {
                keys.push(spec::KeyRef {
                    index,
                    flags: &["OW", "update"],
                });
            }
        }
        Some(keys)
    }
}

/// Where SORT's STORE destination is (the last STORE wins), skipping the arguments of
/// LIMIT, GET and BY as Redis's sortGetKeys does.
fn sort_store_index(args: &[Bytes]) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") {
            found = (i + 1 < args.len()).then_some(i + 1);
            i += 1;
        }
        i += 1;
    }
    found
}

/// The lookup index over `table::COMMANDS`, built once.
pub struct CommandIndex {
    top: HashMap<&'static str, usize, ahash::RandomState>,
    /// Every command and subcommand, flattened: commandstats are indexed by position here.
    pub all: Vec<(&'static CommandSpec, u32)>,
    subs: HashMap<&'static str, usize, ahash::RandomState>,
}

pub enum Lookup {
    Found(Resolved),
    Unknown,
    UnknownSub,
    /// A container called without its subcommand.
    Container(Resolved),
}

/// The lookup index over the command table, built on first use. A static rather than a field
/// of `state::Shared`, so the state does not depend on the commands that depend on it.
pub fn index() -> &'static CommandIndex {
    static INDEX: std::sync::OnceLock<CommandIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(CommandIndex::build)
}

impl CommandIndex {
    pub fn build() -> CommandIndex {
        let mut idx = CommandIndex {
            top: HashMap::default(),
            all: Vec::new(),
            subs: HashMap::default(),
        };
        for spec in table::COMMANDS {
            idx.top.insert(spec.name, idx.all.len());
            idx.all.push((spec, flag::from_names(spec.flags)));
            for sub in spec.subcommands {
                idx.subs.insert(sub.name, idx.all.len());
                idx.all.push((sub, flag::from_names(sub.flags)));
            }
        }
        idx
    }

    pub fn top_level(&self) -> impl Iterator<Item = &'static CommandSpec> {
        table::COMMANDS.iter()
    }

    fn resolved(&self, id: usize) -> Resolved {
        Resolved {
            spec: self.all[id].0,
            flags: self.all[id].1,
            id,
        }
    }

    pub fn get(&self, name: &[u8]) -> Option<Resolved> {
        let mut buf = [0u8; 40];
        if name.len() > buf.len() {
            return None;
        }
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let s = std::str::from_utf8(lower).ok()?;
        self.top.get(s).map(|&i| self.resolved(i))
    }

    pub fn get_sub(&self, parent: &CommandSpec, sub: &[u8]) -> Option<Resolved> {
        let full = format!(
            "{}|{}",
            parent.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        );
        self.subs.get(full.as_str()).map(|&i| self.resolved(i))
    }

    /// Resolves argv to a command or subcommand.
    pub fn lookup(&self, args: &[Bytes]) -> Lookup {
        let Some(top) = self.get(&args[0]) else {
            return Lookup::Unknown;
        };
        if top.spec.subcommands.is_empty() {
            return Lookup::Found(top);
        }
        if args.len() < 2 {
            return Lookup::Container(top);
        }
        match self.get_sub(top.spec, &args[1]) {
            Some(r) => Lookup::Found(r),
            None => Lookup::UnknownSub,
        }
    }
}

/// The command table as ACL rules see it: names, categories, containers and subcommands,
/// indexed by the same ids as `index().all`.
pub fn acl_catalog() -> crate::acl::catalog::Catalog {
    let idx = index();
    let mut parent = None;
    let entries = idx
        .all
        .iter()
        .enumerate()
        .map(|(i, (spec, flags))| {
            let is_sub = spec.name.contains('|');
            if !is_sub {
                parent = Some(i);
            }
            let categories = spec
                .acl
                .iter()
                .filter_map(|c| {
                    crate::acl::catalog::category_bit(c.trim_start_matches('@').as_bytes())
                })
                .fold(0, |a, b| a | b);
            crate::acl::catalog::Entry {
                name: spec.name,
                parent: if is_sub { parent } else { None },
                subs: Vec::new(),
                categories,
                no_auth: flags & flag::NO_AUTH != 0,
            }
        })
        .collect();
    crate::acl::catalog::Catalog::new(entries)
}

/// Checks Redis's arity rule: `n` exact when positive, at least `-n` when negative.
pub fn arity_ok(spec: &CommandSpec, argc: usize) -> bool {
    let a = spec.arity;
    (a > 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
}

/// Case-insensitive option match used by every option parser. Like Redis (which compares C
/// strings), an option ends at a NUL byte: `"NX\0junk"` is NX.
pub fn is(arg: &[u8], word: &str) -> bool {
    crate::util::cstr::keyword_eq(arg, word)
}

/// Parses an integer argument with Redis's error.
pub fn int_arg(arg: &[u8]) -> Result<i64, ErrorReply> {
    crate::util::num::parse_i64(arg).ok_or_else(ErrorReply::not_integer)
}

pub fn float_arg(arg: &[u8]) -> Result<f64, ErrorReply> {
    crate::util::num::parse_f64(arg).ok_or_else(ErrorReply::not_float)
}

/// Arguments of the LMPOP/ZMPOP family after `numkeys`: the keys, the end to pop from, and
/// how many elements.
pub(crate) struct MpopArgs<'a, W> {
    pub(crate) keys: &'a [Bytes],
    pub(crate) end: W,
    pub(crate) count: usize,
}

/// Parses `numkeys key [key ...] <where> [COUNT count]` starting at `a[numkeys_idx]` (1 for
/// LMPOP/ZMPOP, 2 for their blocking forms), with Redis's errors in Redis's order; `where_`
/// maps LEFT/RIGHT or MIN/MAX.
pub(crate) fn parse_mpop<W>(
    a: &[Bytes],
    numkeys_idx: usize,
    where_: impl Fn(&[u8]) -> Option<W>,
) -> Result<MpopArgs<'_, W>, ErrorReply> {
    let numkeys = crate::util::num::parse_i64(&a[numkeys_idx])
        .filter(|&n| n >= 1)
        .ok_or_else(ErrorReply::numkeys_not_positive)?;
    let where_idx = (numkeys as u64).saturating_add(numkeys_idx as u64 + 1);
    if where_idx >= a.len() as u64 {
        return Err(ErrorReply::syntax());
    }
    let where_idx = where_idx as usize;
    let end = where_(&a[where_idx]).ok_or_else(ErrorReply::syntax)?;
    let mut count = None;
    let mut j = where_idx + 1;
    while j < a.len() {
        if count.is_none() && is(&a[j], "COUNT") && j + 1 < a.len() {
            j += 1;
            count = Some(
                crate::util::num::parse_i64(&a[j])
                    .filter(|&c| c >= 1)
                    .ok_or_else(ErrorReply::count_not_positive)?,
            );
        } else {
            return Err(ErrorReply::syntax());
        }
        j += 1;
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    Ok(MpopArgs {
        keys: &a[numkeys_idx + 1..where_idx],
        end,
        count,
    })
}

/// The generic help reply: the first line names the command, then the lines, as Redis's
/// `addReplyHelp`.
pub fn help_reply(cmd: &str, lines: &[&'static str]) -> Reply {
    let mut out = vec![Reply::StatusOwned(format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))];
    out.extend(lines.iter().map(|l| Reply::Status(l)));
    out.push(Reply::Status("HELP"));
    out.push(Reply::Status("    Prints this help."));
    Reply::Array(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn sort_and_migrate_keys_come_from_the_arguments() {
        let argv =
            |s: &str| -> Vec<Bytes> { s.split(' ').map(|w| Bytes::from(w.to_string())).collect() };
        let keys = |s: &str| -> Vec<String> {
            let a = argv(s);
            let Lookup::Found(r) = index().lookup(&a) else {
                panic!("{s}")
            };
            r.keys(&a)
                .unwrap()
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        String::from_utf8_lossy(&a[k.index]),
                        k.flags.join("+")
                    )
                })
                .collect()
        };
        assert_eq!(keys("SORT l"), ["l:RO+access"]);
        assert_eq!(keys("SORT l STORE d"), ["l:RO+access", "d:OW+update"]);
        assert_eq!(
            keys("SORT l BY store LIMIT 0 1 GET store STORE d2"),
            ["l:RO+access", "d2:OW+update"]
        );
        assert_eq!(keys("SORT l store a STORE b")[1], "b:OW+update");
        assert_eq!(keys("SORT l STORE")[..], ["l:RO+access"]);
        assert_eq!(keys("MIGRATE h 1 k 0 10")[..], ["k:RW+access+delete"]);
        assert_eq!(
            keys("MIGRATE h 1  0 10 KEYS a b"),
            ["a:RW+access+delete", "b:RW+access+delete"]
        );
    }
    use super::*;

    #[test]
    fn every_command_resolves_and_has_a_handler() {
        let idx = CommandIndex::build();
        for (spec, _) in &idx.all {
            assert!(
                spec.handler.is_some() || !spec.subcommands.is_empty(),
                "{}",
                spec.name
            );
        }
        assert!(matches!(
            idx.lookup(&[Bytes::from("GeT"), Bytes::from("k")]),
            Lookup::Found(_)
        ));
        assert!(matches!(
            idx.lookup(&[Bytes::from("nope")]),
            Lookup::Unknown
        ));
        assert!(matches!(
            idx.lookup(&[Bytes::from("config"), Bytes::from("nope")]),
            Lookup::UnknownSub
        ));
        assert!(matches!(
            idx.lookup(&[Bytes::from("config"), Bytes::from("GET")]),
            Lookup::Found(_)
        ));
    }

    #[test]
    fn getkeys_from_specs() {
        let idx = CommandIndex::build();
        let args = |v: &[&str]| {
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect::<Vec<_>>()
        };
        let keys = |v: &[&str]| {
            let a = args(v);
            let r = idx.get(&a[0]).unwrap();
            r.spec
                .keys(&a)
                .map(|k| k.iter().map(|k| k.index).collect::<Vec<_>>())
        };
        assert_eq!(keys(&["mset", "a", "1", "b", "2"]), Some(vec![1, 3]));
        assert_eq!(keys(&["get", "a"]), Some(vec![1]));
        assert_eq!(keys(&["del", "a", "b", "c"]), Some(vec![1, 2, 3]));
        assert_eq!(
            keys(&["bitop", "and", "d", "s1", "s2"]),
            Some(vec![2, 3, 4])
        );
        assert_eq!(keys(&["lcs", "a", "b"]), Some(vec![1, 2]));
    }
}

/// `PEXPIREAT key ms`: how every relative or absolute expiry reaches replicas.
pub(crate) fn pexpireat_args(key: &Bytes, at_ms: u64) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"PEXPIREAT"),
        key.clone(),
        Bytes::from(at_ms.to_string()),
    ]
}

impl Ctx<'_> {
    /// Hides argument `i` of the current command from MONITOR and SLOWLOG (a password).
    pub fn redact(&mut self, i: usize) {
        if i < 64 {
            self.client.redacted |= 1 << i;
        }
    }

    /// Marks a key as changed by a write: the hook where dirty counting (and later WATCH and
    /// keyspace notifications) happen.
    pub fn modified(&mut self, key: &[u8]) {
        self.store.dirty += 1;
        let db = self.client.db;
        if !self.store.watches.is_empty() {
            let exists = self.store.db(db).get(key).is_some();
            self.store.watches.touch(db, key, exists);
        }
        self.store.blocked.signal(db, key);
        let writer = self.client.acting_for.unwrap_or(self.client.id);
        self.store.tracking.invalidate(key, writer);
    }

    pub fn db(&self) -> usize {
        self.client.db
    }

    /// Replicas get `args` (in this client's database) instead of the command as received:
    /// the effect of a non-deterministic or time-relative write (SPOP as SREM, EXPIRE as
    /// PEXPIREAT). Call once per command it stands for.
    pub fn propagate_as(&mut self, args: Vec<Bytes>) {
        let db = self.client.db;
        self.store.propagation.replace(db, args);
    }

    /// Replicas get this command even though it changed no key (FLUSHALL, PUBLISH).
    pub fn force_propagate(&mut self) {
        self.store.propagation.force();
    }

    /// Raises keyspace notification `event` of `class` (store::notify) for `key`.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.store.events.raise(class, event, self.client.db, key);
    }

    /// The value at `key` for a read command (lazy expiry, hit/miss counted, LRU touched).
    pub fn read_value(&mut self, key: &[u8]) -> Option<&mut crate::store::Value> {
        let touch = self.touch();
        self.store
            .lookup_read(self.client.db, key, self.now_ms, touch)
            .map(|e| &mut e.value)
    }

    /// The value at `key` for a write command (lazy expiry, LRU touched, no hit/miss count).
    /// Call `modified(key)` after changing it.
    pub fn write_value(&mut self, key: &[u8]) -> Option<&mut crate::store::Value> {
        let touch = self.touch();
        self.store
            .lookup(self.client.db, key, self.now_ms, touch)
            .map(|e| &mut e.value)
    }

    /// Stores a new value at `key` (no TTL), replacing whatever was there, and marks it modified.
    pub fn put_value(&mut self, key: &[u8], v: crate::store::Value) {
        if let Some(old) = self
            .store
            .insert(self.client.db, key, v, crate::store::Ttl::Clear)
        {
            self.store.free(old);
        }
        self.modified(key);
    }

    /// Deletes `key` (e.g. a collection that became empty) and marks it modified.
    pub fn delete_key(&mut self, key: &[u8]) -> bool {
        let gone = self.store.remove(self.client.db, key, self.now_ms, false);
        if gone {
            self.modified(key);
        }
        gone
    }

    /// Touch the key's LRU/LFU stamp on access unless CLIENT NO-TOUCH is on.
    pub fn touch(&self) -> bool {
        !self.client.no_touch
    }

    pub fn proto_max_bulk_len(&self) -> i64 {
        self.shared.config().hot.proto_max_bulk_len
    }
}
