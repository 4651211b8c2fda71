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
    /// latency-tracking-info-percentiles: numbers in [0, 100], space-separated ("" = none).
    Percentiles,
    /// oom-score-adj-values: exactly three integers in [-2000, 2000].
    OomValues,
    /// Words kept as given and rewritten unquoted (replicaof's "host port").
    Words,
    /// A byte count, or a percentage of maxmemory up to 100% ("10%"; maxmemory-clients).
    MemoryOrPercent,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    /// Only settable at startup (CONFIG SET refuses it).
    pub immutable: bool,
    /// Left out of CONFIG GET patterns (test and debug knobs), shown when named exactly.
    pub hidden: bool,
    /// A secret: CONFIG SET's value is redacted in SLOWLOG and MONITOR (SENSITIVE_CONFIG).
    pub sensitive: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: false,
        hidden: false,
        sensitive: false,
    }
}

const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        immutable: true,
        hidden: false,
        sensitive: false,
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
        hidden: false,
        sensitive: false,
    }
}

/// A debug or test knob CONFIG GET shows only by exact name (Redis's HIDDEN_CONFIG).
const fn hidden(p: Param) -> Param {
    Param { hidden: true, ..p }
}

/// A password or user name for another server (Redis's SENSITIVE_CONFIG).
const fn sensitive(p: Param) -> Param {
    Param {
        sensitive: true,
        ..p
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

/// Directives accepted, validated and shown (CONFIG GET, REWRITE) whose feature slotcache does
/// not have: setting one changes nothing. The startup log names those set to a non-default
/// value, and the README lists them.
pub static NO_EFFECT: &[&str] = &[
    "loading-process-events-interval-bytes",
    "watchdog-period",
    "use-exit-on-panic",
    "activedefrag",
    "active-defrag-cycle-max",
    "active-defrag-cycle-min",
    "active-defrag-ignore-bytes",
    "active-defrag-max-scan-fields",
    "active-defrag-threshold-lower",
    "active-defrag-threshold-upper",
    "aof_rewrite_cpulist",
    "bgsave_cpulist",
    "bio_cpulist",
    "server_cpulist",
    "bind-source-addr",
    "crash-log-enabled",
    "crash-memcheck-enabled",
    "disable-thp",
    "ignore-warnings",
    "io-threads",
    "io-threads-do-reads",
    "jemalloc-bg-thread",
    "oom-score-adj",
    "oom-score-adj-values",
    "proc-title-template",
    "set-proc-title",
    "propagation-error-behavior",
    "replica-announced",
    "replica-ignore-disk-write-errors",
    "socket-mark-id",
    "syslog-enabled",
    "syslog-facility",
    "syslog-ident",
    "tls-auth-clients",
    "tls-ca-cert-dir",
    "tls-ca-cert-file",
    "tls-cert-file",
    "tls-ciphers",
    "tls-ciphersuites",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-client-key-file-pass",
    "tls-cluster",
    "tls-dh-params-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-port",
    "tls-prefer-server-ciphers",
    "tls-protocols",
    "tls-replication",
    "tls-session-cache-size",
    "tls-session-cache-timeout",
    "tls-session-caching",
];

const SYSLOG_FACILITIES: &[&str] = &[
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
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
    sensitive(p("requirepass", Str, "")),
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
    p("maxmemory-clients", MemoryOrPercent, "0"),
    fixed("unixsocket", Str, ""),
    fixed("unixsocketperm", Int(0, 0o777), "0"),
    fixed("io-threads", Int(1, 128), "1"),
    p("io-threads-do-reads", Bool, "no"),
    p("bind-source-addr", Str, ""),
    p("socket-mark-id", Int(0, u32::MAX as i64), "0"),
    p("tracking-table-max-keys", Int(0, i64::MAX), "1000000"),
    // ACL (the default user only, for now)
    fixed("aclfile", Str, ""),
    p("acllog-max-len", Int(0, I32), "128"),
    p(
        "acl-pubsub-default",
        Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
    ),
    // TLS (not served: plain TCP only)
    p("tls-port", Int(0, 65535), "0"),
    p("tls-cert-file", Str, ""),
    p("tls-key-file", Str, ""),
    p("tls-key-file-pass", Str, ""),
    p("tls-client-cert-file", Str, ""),
    p("tls-client-key-file", Str, ""),
    p("tls-client-key-file-pass", Str, ""),
    p("tls-dh-params-file", Str, ""),
    p("tls-ca-cert-file", Str, ""),
    p("tls-ca-cert-dir", Str, ""),
    p("tls-protocols", Str, ""),
    p("tls-ciphers", Str, ""),
    p("tls-ciphersuites", Str, ""),
    p("tls-prefer-server-ciphers", Bool, "no"),
    p("tls-session-caching", Bool, "yes"),
    p("tls-session-cache-size", Int(0, I32), "20480"),
    p("tls-session-cache-timeout", Int(0, I32), "300"),
    p("tls-cluster", Bool, "no"),
    p("tls-replication", Bool, "no"),
    p("tls-auth-clients", Enum(&["no", "yes", "optional"]), "yes"),
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
    fixed("syslog-facility", Enum(SYSLOG_FACILITIES), "local0"),
    p("crash-log-enabled", Bool, "yes"),
    p("crash-memcheck-enabled", Bool, "yes"),
    fixed("disable-thp", Bool, "yes"),
    p("ignore-warnings", Str, ""),
    p(
        "proc-title-template",
        Str,
        "{title} {listen-addr} {server-mode}",
    ),
    fixed("server_cpulist", Str, ""),
    fixed("bio_cpulist", Str, ""),
    fixed("aof_rewrite_cpulist", Str, ""),
    fixed("bgsave_cpulist", Str, ""),
    p(
        "oom-score-adj",
        Enum(&["no", "yes", "relative", "absolute"]),
        "no",
    ),
    p("oom-score-adj-values", OomValues, "0 200 800"),
    p("jemalloc-bg-thread", Bool, "yes"),
    p(
        "propagation-error-behavior",
        Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore",
    ),
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
    p(
        "active-defrag-ignore-bytes",
        Memory(1, i64::MAX),
        "104857600",
    ),
    p("active-defrag-threshold-lower", Int(0, 1000), "10"),
    p("active-defrag-threshold-upper", Int(0, 1000), "100"),
    p("active-defrag-cycle-min", Int(1, 99), "1"),
    p("active-defrag-cycle-max", Int(1, 99), "25"),
    p("active-defrag-max-scan-fields", Int(1, i64::MAX), "1000"),
    p("slowlog-log-slower-than", Int(-1, i64::MAX), "10000"),
    p("slowlog-max-len", Int(0, i64::MAX), "128"),
    p("latency-monitor-threshold", Int(0, i64::MAX), "0"),
    p("latency-tracking", Bool, "yes"),
    p(
        "latency-tracking-info-percentiles",
        Percentiles,
        "50 99 99.9",
    ),
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
    p("aof-disable-auto-gc", Bool, "no"),
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
    hidden(p("rdb-key-save-delay", Int(i64::MIN, i64::MAX), "0")),
    hidden(p("key-load-delay", Int(i64::MIN, i64::MAX), "0")),
    hidden(p(
        "loading-process-events-interval-bytes",
        Int(1024, I32),
        "2097152",
    )),
    hidden(p("watchdog-period", Int(0, I32), "0")),
    hidden(fixed("use-exit-on-panic", Bool, "no")),
    p(
        "sanitize-dump-payload",
        Enum(&["no", "yes", "clients"]),
        "no",
    ),
    // replication. `replicaof` is shown as Redis shows it ("host port", or ""); set at
    // startup through its own two-argument form (config/file.rs), at run time by REPLICAOF.
    fixed("replicaof", Words, ""),
    alias("slaveof", "replicaof", Words, ""),
    p("replica-announced", Bool, "yes"),
    p("replica-ignore-disk-write-errors", Bool, "no"),
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
    alias("slave-announce-ip", "replica-announce-ip", Str, ""),
    p("replica-announce-port", Int(0, 65535), "0"),
    alias(
        "slave-announce-port",
        "replica-announce-port",
        Int(0, 65535),
        "0",
    ),
    p("repl-backlog-size", Memory(1, i64::MAX), "1048576"),
    p("repl-backlog-ttl", Int(0, I32), "3600"),
    p("repl-timeout", Int(1, I32), "60"),
    p("repl-ping-replica-period", Int(1, I32), "10"),
    alias(
        "repl-ping-slave-period",
        "repl-ping-replica-period",
        Int(1, I32),
        "10",
    ),
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
    sensitive(p("masterauth", Str, "")),
    sensitive(p("masteruser", Str, "")),
    p("min-replicas-to-write", Int(0, I32), "0"),
    alias(
        "min-slaves-to-write",
        "min-replicas-to-write",
        Int(0, I32),
        "0",
    ),
    p("min-replicas-max-lag", Int(0, I32), "10"),
    alias(
        "min-slaves-max-lag",
        "min-replicas-max-lag",
        Int(0, I32),
        "10",
    ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inert_directive_is_a_directive() {
        for n in NO_EFFECT {
            assert!(find(n).is_some_and(|p| p.alias.is_none()), "{n}");
        }
    }
}
