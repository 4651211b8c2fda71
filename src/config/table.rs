//! Every configuration directive slotcache accepts: Redis 7.0's names, aliases, types and
//! defaults. Drives redis.conf parsing, command-line options, CONFIG GET/SET/REWRITE.
//! Directives for features that arrive later (cluster bus, replication) are parsed and kept
//! here now so a redis.conf written for a cluster node loads unchanged.

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Bool,
    Int(i64, i64),
    /// A byte count accepting Redis's units (1k, 5mb, 2gb ...); CONFIG GET prints bytes.
    Memory(i64, i64),
    Enum(&'static [&'static str]),
    Str,
    /// `save <seconds> <changes> ...` (or "").
    Save,
    /// `client-output-buffer-limit <class> <hard> <soft> <seconds> ...`.
    OutputBufferLimit,
    /// `bind addr ...`.
    Bind,
    /// notify-keyspace-events flag letters.
    NotifyFlags,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    /// Only settable at startup (CONFIG SET refuses it).
    pub immutable: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: false,
    }
}

const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: true,
    }
}

const fn alias(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind,
        default,
        immutable: false,
    }
}

use Kind::*;
const I32: i64 = i32::MAX as i64;
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

pub static PARAMS: &[Param] = &[
    // network and clients
    p("port", Int(0, 65535), "6379"),
    p("bind", Bind, "* -::*"),
    p("protected-mode", Bool, "yes"),
    fixed("tcp-backlog", Int(0, I32), "511"),
    p("timeout", Int(0, I32), "0"),
    p("tcp-keepalive", Int(0, I32), "300"),
    p("maxclients", Int(1, I32), "10000"),
    p("requirepass", Str, ""),
    p(
        "proto-max-bulk-len",
        Memory(1024 * 1024, i64::MAX),
        "536870912",
    ),
    p(
        "client-query-buffer-limit",
        Memory(1024 * 1024, i64::MAX),
        "1073741824",
    ),
    p(
        "client-output-buffer-limit",
        OutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    p("maxmemory-clients", Memory(0, i64::MAX), "0"),
    fixed("unixsocket", Str, ""),
    fixed("unixsocketperm", Int(0, 0o777), "0"),
    fixed("io-threads", Int(1, 128), "1"),
    p("io-threads-do-reads", Bool, "no"),
    // general
    fixed("daemonize", Bool, "no"),
    fixed(
        "supervised",
        Enum(&["upstart", "systemd", "auto", "no"]),
        "no",
    ),
    p("pidfile", Str, ""),
    p("dir", Str, ""),
    p("logfile", Str, ""),
    p("loglevel", Enum(LOGLEVELS), "notice"),
    fixed("syslog-enabled", Bool, "no"),
    fixed("syslog-ident", Str, "redis"),
    fixed("databases", Int(1, I32), "16"),
    p("always-show-logo", Bool, "no"),
    p("set-proc-title", Bool, "yes"),
    fixed("enable-debug-command", Enum(&["no", "yes", "local"]), "no"),
    fixed("enable-module-command", Enum(&["no", "yes", "local"]), "no"),
    fixed(
        "enable-protected-configs",
        Enum(&["no", "yes", "local"]),
        "no",
    ),
    p("hz", Int(0, I32), "10"),
    p("dynamic-hz", Bool, "yes"),
    p("active-expire-effort", Int(1, 10), "1"),
    p("activerehashing", Bool, "yes"),
    p("activedefrag", Bool, "no"),
    p("slowlog-log-slower-than", Int(-1, i64::MAX), "10000"),
    p("slowlog-max-len", Int(0, i64::MAX), "128"),
    p("latency-monitor-threshold", Int(0, i64::MAX), "0"),
    p("latency-tracking", Bool, "yes"),
    p("notify-keyspace-events", NotifyFlags, ""),
    p("lua-time-limit", Int(0, i64::MAX), "5000"),
    alias(
        "busy-reply-threshold",
        "lua-time-limit",
        Int(0, i64::MAX),
        "5000",
    ),
    p("shutdown-timeout", Int(0, I32), "10"),
    p(
        "shutdown-on-sigint",
        Enum(&["default", "save", "nosave", "now", "force"]),
        "default",
    ),
    p(
        "shutdown-on-sigterm",
        Enum(&["default", "save", "nosave", "now", "force"]),
        "default",
    ),
    // memory
    p("maxmemory", Memory(0, i64::MAX), "0"),
    p("maxmemory-policy", Enum(POLICIES), "noeviction"),
    p("maxmemory-samples", Int(1, I32), "5"),
    p("maxmemory-eviction-tenacity", Int(0, 100), "10"),
    p("lfu-log-factor", Int(0, I32), "10"),
    p("lfu-decay-time", Int(0, I32), "1"),
    p("lazyfree-lazy-eviction", Bool, "no"),
    p("lazyfree-lazy-expire", Bool, "no"),
    p("lazyfree-lazy-server-del", Bool, "no"),
    p("lazyfree-lazy-user-del", Bool, "no"),
    p("lazyfree-lazy-user-flush", Bool, "no"),
    p("hash-max-listpack-entries", Memory(0, i64::MAX), "512"),
    alias(
        "hash-max-ziplist-entries",
        "hash-max-listpack-entries",
        Memory(0, i64::MAX),
        "512",
    ),
    p("hash-max-listpack-value", Memory(0, i64::MAX), "64"),
    alias(
        "hash-max-ziplist-value",
        "hash-max-listpack-value",
        Memory(0, i64::MAX),
        "64",
    ),
    p("list-max-listpack-size", Int(i32::MIN as i64, I32), "-2"),
    alias(
        "list-max-ziplist-size",
        "list-max-listpack-size",
        Int(i32::MIN as i64, I32),
        "-2",
    ),
    p("list-compress-depth", Int(0, I32), "0"),
    p("set-max-intset-entries", Memory(0, i64::MAX), "512"),
    p("zset-max-listpack-entries", Memory(0, i64::MAX), "128"),
    alias(
        "zset-max-ziplist-entries",
        "zset-max-listpack-entries",
        Memory(0, i64::MAX),
        "128",
    ),
    p("zset-max-listpack-value", Memory(0, i64::MAX), "64"),
    alias(
        "zset-max-ziplist-value",
        "zset-max-listpack-value",
        Memory(0, i64::MAX),
        "64",
    ),
    p("hll-sparse-max-bytes", Memory(0, i64::MAX), "3000"),
    p("stream-node-max-bytes", Memory(0, i64::MAX), "4096"),
    p("stream-node-max-entries", Int(0, i64::MAX), "100"),
    // persistence: RDB snapshots and the AOF (persist::aof)
    p("save", Save, "3600 1 300 100 60 10000"),
    p("dbfilename", Str, "dump.rdb"),
    p("appendonly", Bool, "no"),
    fixed("appendfilename", Str, "appendonly.aof"),
    fixed("appenddirname", Str, "appendonlydir"),
    p("aof-use-rdb-preamble", Bool, "yes"),
    p("aof-load-truncated", Bool, "yes"),
    p("aof-timestamp-enabled", Bool, "no"),
    p("aof-rewrite-incremental-fsync", Bool, "yes"),
    p("no-appendfsync-on-rewrite", Bool, "no"),
    p("auto-aof-rewrite-percentage", Int(0, i64::MAX), "100"),
    p("auto-aof-rewrite-min-size", Memory(0, i64::MAX), "67108864"),
    p(
        "appendfsync",
        Enum(&["always", "everysec", "no"]),
        "everysec",
    ),
    p("stop-writes-on-bgsave-error", Bool, "yes"),
    p("rdbcompression", Bool, "yes"),
    p("rdbchecksum", Bool, "yes"),
    p("rdb-del-sync-files", Bool, "no"),
    p("rdb-save-incremental-fsync", Bool, "yes"),
    p("rdb-key-save-delay", Int(i64::MIN, i64::MAX), "0"),
    p("key-load-delay", Int(i64::MIN, i64::MAX), "0"),
    p(
        "sanitize-dump-payload",
        Enum(&["no", "yes", "clients"]),
        "no",
    ),
    // replication
    p("replica-read-only", Bool, "yes"),
    alias("slave-read-only", "replica-read-only", Bool, "yes"),
    p("replica-serve-stale-data", Bool, "yes"),
    alias(
        "slave-serve-stale-data",
        "replica-serve-stale-data",
        Bool,
        "yes",
    ),
    p("replica-priority", Int(0, I32), "100"),
    alias("slave-priority", "replica-priority", Int(0, I32), "100"),
    p("replica-announce-ip", Str, ""),
    p("replica-announce-port", Int(0, 65535), "0"),
    p("repl-backlog-size", Memory(1, i64::MAX), "1048576"),
    p("repl-backlog-ttl", Int(0, I32), "3600"),
    p("repl-timeout", Int(1, I32), "60"),
    p("repl-ping-replica-period", Int(1, I32), "10"),
    p("repl-diskless-sync", Bool, "yes"),
    p("repl-diskless-sync-delay", Int(0, I32), "5"),
    p("repl-diskless-sync-max-replicas", Int(0, I32), "0"),
    p(
        "repl-diskless-load",
        Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
    ),
    p("repl-disable-tcp-nodelay", Bool, "no"),
    p("replica-ignore-maxmemory", Bool, "yes"),
    alias(
        "slave-ignore-maxmemory",
        "replica-ignore-maxmemory",
        Bool,
        "yes",
    ),
    p("replica-lazy-flush", Bool, "no"),
    alias("slave-lazy-flush", "replica-lazy-flush", Bool, "no"),
    p("masterauth", Str, ""),
    p("masteruser", Str, ""),
    p("min-replicas-to-write", Int(0, I32), "0"),
    p("min-replicas-max-lag", Int(0, I32), "10"),
    // cluster (every cluster-* directive of Redis 7.0)
    fixed("cluster-enabled", Bool, "no"),
    fixed("cluster-config-file", Str, "nodes.conf"),
    p("cluster-node-timeout", Int(0, i64::MAX), "15000"),
    fixed("cluster-port", Int(0, 65535), "0"),
    p("cluster-replica-validity-factor", Int(0, I32), "10"),
    alias(
        "cluster-slave-validity-factor",
        "cluster-replica-validity-factor",
        Int(0, I32),
        "10",
    ),
    p("cluster-migration-barrier", Int(0, I32), "1"),
    p("cluster-allow-replica-migration", Bool, "yes"),
    p("cluster-require-full-coverage", Bool, "yes"),
    p("cluster-replica-no-failover", Bool, "no"),
    alias(
        "cluster-slave-no-failover",
        "cluster-replica-no-failover",
        Bool,
        "no",
    ),
    p("cluster-allow-reads-when-down", Bool, "no"),
    p("cluster-allow-pubsubshard-when-down", Bool, "yes"),
    p("cluster-link-sendbuf-limit", Memory(0, i64::MAX), "0"),
    p("cluster-announce-ip", Str, ""),
    p("cluster-announce-hostname", Str, ""),
    p("cluster-announce-port", Int(0, 65535), "0"),
    p("cluster-announce-bus-port", Int(0, 65535), "0"),
    p("cluster-announce-tls-port", Int(0, 65535), "0"),
    p(
        "cluster-preferred-endpoint-type",
        Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip",
    ),
];

/// The directive called `name` (case-insensitive; aliases resolve to their own entry).
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}
