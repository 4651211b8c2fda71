//! The shape of a command declaration (see `table.rs`, generated) and the key-spec logic that
//! finds a command's keys: used by COMMAND GETKEYS and, in cluster mode, by slot routing.
use super::Handler;
use crate::protocol::Reply;
use bytes::Bytes;

pub struct CommandSpec {
    /// Lowercase; `parent|sub` for subcommands.
    pub name: &'static str,
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub acl: &'static [&'static str],
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    pub subcommands: &'static [CommandSpec],
    /// The COMMAND DOCS reply body (summary, since, group, complexity, arguments ...).
    pub docs: Doc,
    /// None for container commands (CONFIG, CLIENT ...) that dispatch to subcommands.
    pub handler: Option<Handler>,
}

pub struct KeySpec {
    pub notes: &'static str,
    pub flags: &'static [&'static str],
    pub begin: BeginSearch,
    pub find: FindKeys,
}

pub enum BeginSearch {
    Index(i32),
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    Unknown,
}

pub enum FindKeys {
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    Unknown,
}

/// A static reply tree (COMMAND DOCS data).
pub enum Doc {
    Str(&'static str),
    Simple(&'static str),
    Int(i64),
    Arr(&'static [Doc]),
    Set(&'static [Doc]),
    Map(&'static [(&'static str, Doc)]),
}

impl Doc {
    pub fn to_reply(&self) -> Reply {
        match self {
            Doc::Str(s) => Reply::bulk_static(s),
            Doc::Simple(s) => Reply::Status(s),
            Doc::Int(i) => Reply::Int(*i),
            Doc::Arr(a) => Reply::Array(a.iter().map(Doc::to_reply).collect()),
            Doc::Set(a) => Reply::Set(a.iter().map(Doc::to_reply).collect()),
            Doc::Map(m) => Reply::Map(
                m.iter()
                    .map(|(k, v)| (Reply::bulk_static(k), v.to_reply()))
                    .collect(),
            ),
        }
    }

    pub fn field(&self, name: &str) -> Option<&Doc> {
        match self {
            Doc::Map(m) => m.iter().find(|(k, _)| *k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Command flags the dispatcher checks, as a bit set built once from the flag names.
pub mod flag {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const NO_MULTI: u32 = 1 << 13;
    pub const MOVABLE_KEYS: u32 = 1 << 14;
    pub const ALLOW_BUSY: u32 = 1 << 15;
    /// Served in an importing slot without a preceding ASKING (RESTORE-ASKING).
    pub const ASKING: u32 = 1 << 16;
    /// May propagate without writing (PUBLISH...): refused in read-only scripts.
    pub const MAY_REPLICATE: u32 = 1 << 17;
    /// May delete expired keys it happens upon (SCAN, RANDOMKEY): those DELs are propagated
    /// without MULTI/EXEC, as Redis's CMD_TOUCHES_ARBITRARY_KEYS.
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 18;
    /// Allowed to a RESP2 client in subscribed mode.
    pub const SUBSCRIBED_OK: u32 = 1 << 19;
    /// Acts on an open MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH, ...).
    pub const MULTI_CONTROL: u32 = 1 << 20;
    /// EXEC: routed, fenced and counted as a write by the queued commands.
    pub const EXEC: u32 = 1 << 21;
    /// Shard channels (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH): routed by the channel's slot.
    pub const SHARD_CHANNELS: u32 = 1 << 22;
    /// MIGRATE: its keys are the KEYS list when the key argument is empty.
    pub const KEYS_MIGRATE: u32 = 1 << 23;
    /// SORT: the STORE destination is a key too (its key spec is incomplete).
    pub const KEYS_SORT_STORE: u32 = 1 << 24;
    /// ASKING itself: does not consume the ASKING flag.
    pub const KEEPS_ASKING: u32 = 1 << 25;
    /// CLIENT CACHING itself: does not consume the caching choice.
    pub const KEEPS_CACHING: u32 = 1 << 26;
    /// EVAL, EVALSHA, FCALL: whether they may write is the script's own flags.
    pub const RUNS_SCRIPT: u32 = 1 << 27;
    /// ACL: the first argument is a channel (PUBLISH, SPUBLISH).
    pub const CHANNEL_FIRST_ARG: u32 = 1 << 28;
    /// ACL: every argument is a channel (SUBSCRIBE, SSUBSCRIBE).
    pub const CHANNEL_ARGS: u32 = 1 << 29;
    /// ACL: every argument is a channel pattern (PSUBSCRIBE).
    pub const CHANNEL_PATTERNS: u32 = 1 << 30;

    pub fn from_names(names: &[&str]) -> u32 {
        names
            .iter()
            .map(|n| match *n {
                "write" => WRITE,
                "readonly" => READONLY,
                "denyoom" => DENYOOM,
                "admin" => ADMIN,
                "pubsub" => PUBSUB,
                "noscript" => NOSCRIPT,
                "blocking" => BLOCKING,
                "loading" => LOADING,
                "stale" => STALE,
                "skip_monitor" => SKIP_MONITOR,
                "skip_slowlog" => SKIP_SLOWLOG,
                "fast" => FAST,
                "no_auth" => NO_AUTH,
                "no_multi" => NO_MULTI,
                "movablekeys" => MOVABLE_KEYS,
                "allow_busy" => ALLOW_BUSY,
                "asking" => ASKING,
                "may_replicate" => MAY_REPLICATE,
                "touches_arbitrary_keys" => TOUCHES_ARBITRARY_KEYS,
                "subscribed_ok" => SUBSCRIBED_OK,
                "multi_control" => MULTI_CONTROL,
                "exec" => EXEC,
                "shard_channels" => SHARD_CHANNELS,
                "keys_migrate" => KEYS_MIGRATE,
                "keys_sort_store" => KEYS_SORT_STORE,
                "keeps_asking" => KEEPS_ASKING,
                "keeps_caching" => KEEPS_CACHING,
                "runs_script" => RUNS_SCRIPT,
                "channel_first_arg" => CHANNEL_FIRST_ARG,
                "channel_args" => CHANNEL_ARGS,
                "channel_patterns" => CHANNEL_PATTERNS,
                _ => 0,
            })
            .fold(0, |a, b| a | b)
    }
}

/// Flags Redis keeps internal: COMMAND INFO does not show them.
const HIDDEN_FLAGS: &[&str] = &[
    "may_replicate",
    "touches_arbitrary_keys",
    "subscribed_ok",
    "multi_control",
    "exec",
    "shard_channels",
    "keys_migrate",
    "keys_sort_store",
    "keeps_asking",
    "keeps_caching",
    "runs_script",
    "channel_first_arg",
    "channel_args",
    "channel_patterns",
];

/// Where a key sits in `args` (index) and the key-spec flags that apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    pub index: usize,
    pub flags: &'static [&'static str],
}

impl CommandSpec {
    /// The key of a command whose only key spec is "the argument at index i" (GET, SET, most
    /// commands): found without allocating, for the per-command cluster routing.
    pub fn single_key<'a>(&self, args: &'a [Bytes]) -> Option<&'a Bytes> {
        match self.key_specs {
            [KeySpec {
                begin: BeginSearch::Index(i),
                find: FindKeys::Range { lastkey: 0, .. },
                ..
            }] => args.get(*i as usize),
            _ => None,
        }
    }

    /// The keys of `args` (args[0] is the command name), from the key specs, as Redis's
    /// `getKeysFromCommandWithSpecs`. Returns None when the arguments are malformed for the
    /// specs (e.g. a numkeys beyond the argument count).
    pub fn keys(&self, args: &[Bytes]) -> Option<Vec<KeyRef>> {
        let mut out = Vec::new();
        let argc = args.len() as i64;
        for ks in self.key_specs {
            let first = match ks.begin {
                BeginSearch::Index(i) => i as i64,
                BeginSearch::Keyword { keyword, startfrom } => {
                    let (start, end, step) = if startfrom >= 0 {
                        (startfrom as i64, argc - 1, 1)
                    } else {
                        (argc + startfrom as i64, 1, -1)
                    };
                    let mut i = start;
                    let mut found = None;
                    while (step > 0 && i <= end) || (step < 0 && i >= end) {
                        if i > 0
                            && i < argc
                            && args[i as usize].eq_ignore_ascii_case(keyword.as_bytes())
                        {
                            found = Some(i + 1);
                            break;
                        }
                        i += step;
                    }
                    match found {
                        Some(f) => f,
                        None => continue,
                    }
                }
                BeginSearch::Unknown => continue,
            };
            if first >= argc {
                continue;
            }
            let (last, step) =
                match ks.find {
                    FindKeys::Range {
                        lastkey,
                        keystep,
                        limit,
                    } => {
                        let last = if lastkey >= 0 {
                            first + lastkey as i64
                        } else if limit <= 1 {
                            argc + lastkey as i64
                        } else {
                            first + ((argc + lastkey as i64) - first) / limit as i64
                        };
                        (last, keystep as i64)
                    }
                    FindKeys::Keynum {
                        keynumidx,
                        firstkey,
                        keystep,
                    } => {
                        let idx = first + keynumidx as i64;
                        if idx >= argc {
                            return None;
                        }
                        let n = crate::util::num::parse_i64(&args[idx as usize])?;
                        if n < 0 {
                            return None;
                        }
                        let start = first + firstkey as i64;
                        // A client-chosen count: overflow means "not that many arguments".
                        let last = (n - 1)
                            .checked_mul(keystep as i64)
                            .and_then(|x| x.checked_add(start))?;
                        if n > 0 && last >= argc {
                            return None;
                        }
                        if n == 0 {
                            continue;
                        }
                        out.extend((start..=last).step_by(keystep.max(1) as usize).map(|i| {
                            KeyRef {
                                index: i as usize,
                                flags: ks.flags,
                            }
                        }));
                        continue;
                    }
                    FindKeys::Unknown => continue,
                };
            if last >= argc {
                return None;
            }
            let flags = if ks.flags.contains(&"variable_flags") {
                variable_key_flags(self.name, args)
            } else {
                None
            };
            let mut i = first;
            while i <= last {
                out.push(KeyRef {
                    index: i as usize,
                    flags: flags.unwrap_or(ks.flags),
                });
                i += step.max(1);
            }
        }
        Some(out)
    }

    /// Renders this command for COMMAND / COMMAND INFO (Redis 7.0's 10-element array).
    pub fn info_reply(&self) -> Reply {
        let strs = |v: &[&'static str]| Reply::Set(v.iter().map(|s| Reply::Status(s)).collect());
        let key_specs = self.key_specs.iter().map(KeySpec::reply).collect();
        Reply::Array(vec![
            Reply::bulk_static(self.name),
            Reply::Int(self.arity as i64),
            Reply::Set(
                self.flags
                    .iter()
                    .filter(|f| !HIDDEN_FLAGS.contains(f))
                    .map(|s| Reply::Status(s))
                    .collect(),
            ),
            Reply::Int(self.first_key as i64),
            Reply::Int(self.last_key as i64),
            Reply::Int(self.step as i64),
            strs(self.acl),
            Reply::Set(self.tips.iter().map(|s| Reply::bulk_static(s)).collect()),
            // RESP3 shapes as Redis sends them: key specs are a set, and so is the empty
            // subcommand list of a plain command (a container's list is an array).
            Reply::Set(key_specs),
            if self.subcommands.is_empty() {
                Reply::Set(Vec::new())
            } else {
                Reply::Array(
                    self.subcommands
                        .iter()
                        .map(CommandSpec::info_reply)
                        .collect(),
                )
            },
        ])
    }
}

/// The key flags of a command whose key spec is marked `variable_flags`: Redis then asks the
/// command's own getkeys procedure, which looks at the arguments (`setGetKeys`,
/// `bitfieldGetKeys` in db.c). None when the command has no such procedure.
fn variable_key_flags(name: &str, args: &[Bytes]) -> Option<&'static [&'static str]> {
    use crate::util::cstr::keyword_eq as is;
    const READ_ONLY: &[&str] = &["RO", "access"];
    const READ_WRITE: &[&str] = &["RW", "access", "update"];
    match name {
        // SET reads the old value only with GET.
        "set" => Some(if args.iter().skip(3).any(|a| is(a, "GET")) {
            READ_WRITE
        } else {
            &["OW", "update"]
        }),
        // BITFIELD is read-only while it has nothing but GETs (and OVERFLOWs); a SET/INCRBY or
        // anything unparsable makes it read-write.
        "bitfield" => {
            let mut i = 2;
            while i < args.len() {
                let remaining = args.len() - i - 1;
                if is(&args[i], "GET") && remaining >= 2 {
                    i += 3;
                } else if is(&args[i], "OVERFLOW") && remaining >= 1 {
                    i += 2;
                } else {
                    return Some(READ_WRITE);
                }
            }
            Some(READ_ONLY)
        }
        _ => None,
    }
}

impl KeySpec {
    fn reply(&self) -> Reply {
        let b = Reply::bulk_static;
        let mut m = Vec::new();
        if !self.notes.is_empty() {
            m.push((b("notes"), b(self.notes)));
        }
        m.push((
            b("flags"),
            Reply::Set(self.flags.iter().map(|s| Reply::Status(s)).collect()),
        ));
        let begin = match self.begin {
            BeginSearch::Index(i) => {
                vec![
                    (b("type"), b("index")),
                    (
                        b("spec"),
                        Reply::Map(vec![(b("index"), Reply::Int(i as i64))]),
                    ),
                ]
            }
            BeginSearch::Keyword { keyword, startfrom } => vec![
                (b("type"), b("keyword")),
                (
                    b("spec"),
                    Reply::Map(vec![
                        (b("keyword"), b(keyword)),
                        (b("startfrom"), Reply::Int(startfrom as i64)),
                    ]),
                ),
            ],
            BeginSearch::Unknown => {
                vec![(b("type"), b("unknown")), (b("spec"), Reply::Map(vec![]))]
            }
        };
        m.push((b("begin_search"), Reply::Map(begin)));
        let find = match self.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => vec![
                (b("type"), b("range")),
                (
                    b("spec"),
                    Reply::Map(vec![
                        (b("lastkey"), Reply::Int(lastkey as i64)),
                        (b("keystep"), Reply::Int(keystep as i64)),
                        (b("limit"), Reply::Int(limit as i64)),
                    ]),
                ),
            ],
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => vec![
                (b("type"), b("keynum")),
                (
                    b("spec"),
                    Reply::Map(vec![
                        (b("keynumidx"), Reply::Int(keynumidx as i64)),
                        (b("firstkey"), Reply::Int(firstkey as i64)),
                        (b("keystep"), Reply::Int(keystep as i64)),
                    ]),
                ),
            ],
            FindKeys::Unknown => vec![(b("type"), b("unknown")), (b("spec"), Reply::Map(vec![]))],
        };
        m.push((b("find_keys"), Reply::Map(find)));
        Reply::Map(m)
    }
}
