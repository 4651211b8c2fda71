//! Configuration: the directive table (`table`), redis.conf-syntax files and redis-server's
//! command line (`file`), and the live `Config` value behind CONFIG GET/SET/REWRITE. Values are
//! kept as normalized strings (what CONFIG GET prints); `Hot` holds typed copies of the ones
//! the request path reads, rebuilt after every change.
pub mod file;
pub mod rewrite;
pub mod table;

use crate::store::EvictionPolicy;
use std::collections::BTreeMap;
use std::path::PathBuf;
use table::{Kind, Param, PARAMS};

/// Output-buffer limits of one client class (`client-output-buffer-limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// Typed copies of the directives the hot paths read.
#[derive(Debug, Clone)]
pub struct Hot {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: Option<String>,
    pub maxclients: usize,
    pub timeout_secs: u64,
    pub tcp_keepalive: u64,
    pub proto_max_bulk_len: i64,
    pub query_buffer_limit: usize,
    pub obuf_normal: BufferLimit,
    pub obuf_replica: BufferLimit,
    pub obuf_pubsub: BufferLimit,
    pub maxmemory: u64,
    pub policy: EvictionPolicy,
    pub samples: usize,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    pub hz: u32,
    pub active_expire_effort: u32,
    pub slowlog_slower_than: i64,
    pub slowlog_max_len: usize,
    pub databases: usize,
    pub debug_command: String,
    pub cluster_enabled: bool,
    pub lazy_user_del: bool,
    pub lazy_user_flush: bool,
    pub lazy_server_del: bool,
    pub lazy_expire: bool,
    pub lazy_eviction: bool,
    /// notify-keyspace-events as flags (store::notify).
    pub notify_flags: u32,
    /// Compact-encoding thresholds of the collection types (Redis's directives).
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub list_max_listpack_size: i64,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    pub stream_node_max_bytes: usize,
    pub stream_node_max_entries: usize,
}

#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// The config file given at startup, if any (CONFIG REWRITE target).
    pub file: Option<PathBuf>,
    pub hot: Hot,
    /// `replicaof <host> <port>` at startup (not a CONFIG parameter, as in Redis).
    pub replicaof: Option<(String, u16)>,
    /// `user <name> <rules...>` directives, applied once the ACL exists (server startup).
    pub users: Vec<Vec<String>>,
}

fn canonical(p: &'static Param) -> &'static Param {
    match p.alias {
        Some(a) => table::find(a).expect("alias target exists"),
        None => p,
    }
}

/// Parses a memory value with Redis's units (`memtoull`): b, k=1000, kb=1024, m, mb, g, gb.
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let units: [(&str, i64); 7] = [
        ("kb", 1024),
        ("k", 1000),
        ("mb", 1 << 20),
        ("m", 1_000_000),
        ("gb", 1 << 30),
        ("g", 1_000_000_000),
        ("b", 1),
    ];
    for (u, mul) in units {
        if let Some(n) = lower.strip_suffix(u) {
            if n.is_empty() || n.starts_with('+') {
                return None;
            }
            return n.parse::<i64>().ok()?.checked_mul(mul);
        }
    }
    if lower.is_empty() || lower.starts_with('+') {
        return None;
    }
    lower.parse().ok()
}

fn bool_value(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Validates `args` for `p` and returns the normalized value string, or Redis's reason text.
fn normalize(p: &Param, args: &[String]) -> Result<String, String> {
    let one = || -> Result<&String, String> {
        if args.len() == 1 {
            Ok(&args[0])
        } else {
            Err("wrong number of arguments".into())
        }
    };
    match p.kind {
        Kind::Bool => bool_value(one()?)
            .map(|b| if b { "yes" } else { "no" }.to_string())
            .ok_or_else(|| "argument must be 'yes' or 'no'".into()),
        Kind::Int(min, max) => {
            let v: i64 = one()?
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v.to_string())
        }
        Kind::Memory(min, max) => {
            let v = parse_memory(one()?)
                .ok_or_else(|| "argument must be a memory value".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v.to_string())
        }
        Kind::MemoryOrPercent => {
            let v = one()?;
            if let Some(pct) = v.strip_suffix('%') {
                let n: i64 = pct
                    .parse()
                    .map_err(|_| "argument must be a memory or percent value".to_string())?;
                if n > 100 {
                    return Err("percentage argument must be less or equal to 100".into());
                }
                if n < 0 {
                    return Err("argument must be a memory or percent value".into());
                }
                return Ok(format!("{n}%"));
            }
            let n = parse_memory(v).ok_or_else(|| "argument must be a memory value".to_string())?;
            if n < 0 {
                return Err("argument must be a memory value".into());
            }
            Ok(n.to_string())
        }
        Kind::Enum(names) => {
            let v = one()?.to_ascii_lowercase();
            if names.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                ))
            }
        }
        Kind::Str => Ok(one()?.clone()),
        Kind::Bind => {
            let all: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
            if all.is_empty() || all.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            Ok(all.join(" "))
        }
        Kind::Save => normalize_save(args),
        Kind::OutputBufferLimit => normalize_obuf(args, None),
        Kind::NotifyFlags => match crate::store::notify::parse_flags(one()?) {
            Some(f) => Ok(crate::store::notify::flags_to_letters(f)),
            None => Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        },
        Kind::Words => Ok(args.join(" ")),
        Kind::Percentiles => {
            let mut out = Vec::new();
            for w in args.iter().flat_map(|a| a.split_whitespace()) {
                let v: f64 = w
                    .parse()
                    .ok()
                    .filter(|v: &f64| !v.is_nan())
                    .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(
                        "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                            .into(),
                    );
                }
                out.push(v.to_string());
            }
            Ok(out.join(" "))
        }
        Kind::OomValues => {
            let all: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
            if all.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            for w in &all {
                if !w.parse::<i64>().is_ok_and(|v| (-2000..=2000).contains(&v)) {
                    return Err(
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .into(),
                    );
                }
            }
            Ok(all.join(" "))
        }
    }
}

fn normalize_save(args: &[String]) -> Result<String, String> {
    let all: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if all.is_empty() || (all.len() == 1 && all[0].is_empty()) {
        return Ok(String::new());
    }
    if all.len() % 2 != 0 {
        return Err("Invalid save parameters".into());
    }
    for n in &all {
        if n.parse::<u64>().is_err() {
            return Err("Invalid save parameters".into());
        }
    }
    Ok(all.join(" "))
}

const CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// `client-output-buffer-limit`: merges the given classes into `current` (CONFIG SET may name
/// only some of them).
fn normalize_obuf(args: &[String], current: Option<&str>) -> Result<String, String> {
    let all: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if all.len() % 4 != 0 || all.is_empty() {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits: BTreeMap<&str, [i64; 3]> = BTreeMap::new();
    let base = current.unwrap_or(table::find("client-output-buffer-limit").unwrap().default);
    let base: Vec<&str> = base.split_whitespace().collect();
    for c in base.chunks(4) {
        limits.insert(
            c[0],
            [
                c[1].parse().unwrap_or(0),
                c[2].parse().unwrap_or(0),
                c[3].parse().unwrap_or(0),
            ],
        );
    }
    for c in all.chunks(4) {
        let class = match c[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(c[1]).filter(|v| *v >= 0);
        let soft = parse_memory(c[2]).filter(|v| *v >= 0);
        let secs = c[3].parse::<i64>().ok().filter(|v| *v >= 0);
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) => {
                limits.insert(class, [h, s, t]);
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    Ok(CLASSES
        .iter()
        .map(|c| {
            let l = limits[c];
            format!("{} {} {} {}", c, l[0], l[1], l[2])
        })
        .collect::<Vec<_>>()
        .join(" "))
}

impl Default for Config {
    fn default() -> Self {
        let mut values = BTreeMap::new();
        for p in PARAMS.iter().filter(|p| p.alias.is_none()) {
            values.insert(p.name, p.default.to_string());
        }
        let mut c = Config {
            values,
            file: None,
            hot: Hot::placeholder(),
            replicaof: None,
            users: Vec::new(),
        };
        c.refresh_hot();
        c
    }
}

impl Config {
    /// Sets one directive from startup (file or command line) or CONFIG SET.
    /// `Err` carries Redis's reason text.
    pub fn set(&mut self, name: &str, args: &[String]) -> Result<(), String> {
        let p = table::find(name)
            .ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        let p = canonical(p);
        let v = if p.kind == Kind::OutputBufferLimit {
            normalize_obuf(args, self.values.get(p.name).map(|s| s.as_str()))?
        } else {
            normalize(p, args)?
        };
        self.values.insert(p.name, v);
        self.refresh_hot();
        Ok(())
    }

    /// CONFIG SET of several directives at once: all or nothing.
    pub fn set_many(&mut self, pairs: &[(String, String)]) -> Result<(), (String, String)> {
        let mut next = self.clone();
        for (name, value) in pairs {
            let p = table::find(name).ok_or_else(|| (name.clone(), String::new()))?;
            if p.immutable {
                return Err((name.clone(), "can't set immutable config".into()));
            }
            next.set(name, &[value.clone()])
                .map_err(|e| (name.clone(), e))?;
        }
        *self = next;
        Ok(())
    }

    /// The directives of `table::NO_EFFECT` set to something other than their default.
    pub fn set_without_effect(&self) -> Vec<&'static str> {
        table::NO_EFFECT
            .iter()
            .filter_map(|&n| {
                let p = table::find(n)?;
                let default = normalize(p, &[p.default.to_string()]).ok()?;
                (self.get(n)? != default).then_some(p.name)
            })
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let p = canonical(table::find(name)?);
        self.values.get(p.name).map(|s| s.as_str())
    }

    /// Directives (and aliases) whose name matches the glob `pattern`, with their values as
    /// CONFIG GET prints them.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        // A hidden parameter answers to its exact name only (Redis's HIDDEN_CONFIG).
        let glob = pattern.iter().any(|c| b"[*?".contains(c));
        PARAMS
            .iter()
            .filter(|p| !(glob && p.hidden))
            .filter(|p| crate::util::glob::matches(pattern, p.name.as_bytes(), true))
            .map(|p| (p.name, self.display(p)))
            .collect()
    }

    fn display(&self, p: &Param) -> String {
        let v = self.get(p.name).unwrap_or_default();
        match p.kind {
            Kind::NotifyFlags => crate::store::notify::flags_to_string(
                crate::store::notify::parse_flags(v).unwrap_or(0),
            ),
            _ => v.to_string(),
        }
    }

    /// Directives whose value differs from the default, for CONFIG REWRITE.
    pub fn changed(&self) -> Vec<(&'static str, &str)> {
        PARAMS
            .iter()
            .filter(|p| p.alias.is_none())
            .filter(|p| self.values[p.name] != p.default)
            .map(|p| (p.name, self.values[p.name].as_str()))
            .collect()
    }

    /// The cluster-* directives as the cluster module wants them. `port` is the bound client
    /// port (port 0 picks one).
    pub fn cluster_settings(&self, port: u16) -> crate::cluster::state::Settings {
        use crate::cluster::state::EndpointType;
        let cport = match self.num("cluster-port") {
            0 => port.wrapping_add(10000),
            p => p as u16,
        };
        crate::cluster::state::Settings {
            node_timeout: self.num("cluster-node-timeout") as u64,
            require_full_coverage: self.flag("cluster-require-full-coverage"),
            allow_reads_when_down: self.flag("cluster-allow-reads-when-down"),
            allow_pubsubshard_when_down: self.flag("cluster-allow-pubsubshard-when-down"),
            announce_ip: self
                .get("cluster-announce-ip")
                .unwrap_or_default()
                .to_string(),
            announce_hostname: self
                .get("cluster-announce-hostname")
                .unwrap_or_default()
                .to_string(),
            announce_port: self.num("cluster-announce-port") as u16,
            announce_bus_port: self.num("cluster-announce-bus-port") as u16,
            announce_tls_port: self.num("cluster-announce-tls-port") as u16,
            preferred_endpoint: match self.get("cluster-preferred-endpoint-type") {
                Some("hostname") => EndpointType::Hostname,
                Some("unknown-endpoint") => EndpointType::Unknown,
                _ => EndpointType::Ip,
            },
            link_sendbuf_limit: self.num("cluster-link-sendbuf-limit") as u64,
            replica_validity_factor: self.num("cluster-replica-validity-factor") as u64,
            replica_no_failover: self.flag("cluster-replica-no-failover"),
            repl_ping_period_s: self.num("repl-ping-replica-period") as u64,
            allow_replica_migration: self.flag("cluster-allow-replica-migration"),
            port,
            cport,
            // Relative to `dir`, which main() has made the working directory.
            config_file: PathBuf::from(self.get("cluster-config-file").unwrap_or("nodes.conf")),
        }
    }

    pub fn num(&self, name: &str) -> i64 {
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("yes")
    }

    fn obuf(&self, class: &str) -> BufferLimit {
        let v: Vec<&str> = self
            .get("client-output-buffer-limit")
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        v.chunks(4)
            .find(|c| c[0] == class)
            .map(|c| BufferLimit {
                hard: c[1].parse().unwrap_or(0),
                soft: c[2].parse().unwrap_or(0),
                soft_seconds: c[3].parse().unwrap_or(0),
            })
            .unwrap_or_default()
    }

    fn refresh_hot(&mut self) {
        let pass = self.get("requirepass").unwrap_or_default().to_string();
        self.hot = Hot {
            port: self.num("port") as u16,
            bind: self
                .get("bind")
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            protected_mode: self.flag("protected-mode"),
            requirepass: (!pass.is_empty()).then_some(pass),
            maxclients: self.num("maxclients") as usize,
            timeout_secs: self.num("timeout") as u64,
            tcp_keepalive: self.num("tcp-keepalive") as u64,
            proto_max_bulk_len: self.num("proto-max-bulk-len"),
            query_buffer_limit: self.num("client-query-buffer-limit") as usize,
            obuf_normal: self.obuf("normal"),
            obuf_replica: self.obuf("slave"),
            obuf_pubsub: self.obuf("pubsub"),
            maxmemory: self.num("maxmemory") as u64,
            policy: EvictionPolicy::parse(self.get("maxmemory-policy").unwrap_or_default())
                .unwrap_or(EvictionPolicy::NoEviction),
            samples: self.num("maxmemory-samples") as usize,
            lfu_log_factor: self.num("lfu-log-factor") as u32,
            lfu_decay_time: self.num("lfu-decay-time") as u32,
            hz: self.num("hz").clamp(1, 500) as u32,
            active_expire_effort: self.num("active-expire-effort") as u32,
            slowlog_slower_than: self.num("slowlog-log-slower-than"),
            slowlog_max_len: self.num("slowlog-max-len") as usize,
            databases: self.num("databases") as usize,
            debug_command: self.get("enable-debug-command").unwrap_or("no").to_string(),
            cluster_enabled: self.flag("cluster-enabled"),
            lazy_user_del: self.flag("lazyfree-lazy-user-del"),
            lazy_user_flush: self.flag("lazyfree-lazy-user-flush"),
            lazy_server_del: self.flag("lazyfree-lazy-server-del"),
            lazy_expire: self.flag("lazyfree-lazy-expire"),
            lazy_eviction: self.flag("lazyfree-lazy-eviction"),
            notify_flags: crate::store::notify::parse_flags(
                self.get("notify-keyspace-events").unwrap_or_default(),
            )
            .unwrap_or(0),
            hash_max_listpack_entries: self.num("hash-max-listpack-entries") as usize,
            hash_max_listpack_value: self.num("hash-max-listpack-value") as usize,
            list_max_listpack_size: self.num("list-max-listpack-size"),
            set_max_intset_entries: self.num("set-max-intset-entries") as usize,
            zset_max_listpack_entries: self.num("zset-max-listpack-entries") as usize,
            zset_max_listpack_value: self.num("zset-max-listpack-value") as usize,
            stream_node_max_bytes: self.num("stream-node-max-bytes") as usize,
            stream_node_max_entries: self.num("stream-node-max-entries") as usize,
        };
    }

    /// The store's view of the eviction settings.
    pub fn eviction(&self) -> crate::store::EvictionConfig {
        crate::store::EvictionConfig {
            maxmemory: self.hot.maxmemory,
            policy: self.hot.policy,
            samples: self.hot.samples,
            lfu_log_factor: self.hot.lfu_log_factor,
            lfu_decay_time: self.hot.lfu_decay_time,
            lazy_expire: self.hot.lazy_expire,
        }
    }
}

impl Hot {
    fn placeholder() -> Hot {
        Hot {
            port: 0,
            bind: vec![],
            protected_mode: true,
            requirepass: None,
            maxclients: 0,
            timeout_secs: 0,
            tcp_keepalive: 0,
            proto_max_bulk_len: 0,
            query_buffer_limit: 0,
            obuf_normal: BufferLimit::default(),
            obuf_replica: BufferLimit::default(),
            obuf_pubsub: BufferLimit::default(),
            maxmemory: 0,
            policy: EvictionPolicy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            hz: 10,
            active_expire_effort: 1,
            slowlog_slower_than: 0,
            slowlog_max_len: 0,
            databases: 16,
            debug_command: "no".into(),
            cluster_enabled: false,
            lazy_user_del: false,
            lazy_user_flush: false,
            lazy_server_del: false,
            lazy_expire: false,
            lazy_eviction: false,
            notify_flags: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("5MB"), Some(5 << 20));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("abc"), None);
    }

    #[test]
    fn set_validates_and_normalizes() {
        let mut c = Config::default();
        c.set("maxmemory", &["100mb".into()]).unwrap();
        assert_eq!(c.get("maxmemory"), Some("104857600"));
        assert_eq!(c.hot.maxmemory, 100 << 20);
        assert!(c.set("protected-mode", &["maybe".into()]).is_err());
        assert!(c
            .set("maxmemory-policy", &["bogus".into()])
            .unwrap_err()
            .starts_with("argument(s) must be one of"));
        c.set("hash-max-ziplist-entries", &["7".into()]).unwrap();
        assert_eq!(c.get("hash-max-listpack-entries"), Some("7"));
        c.set("client-output-buffer-limit", &["pubsub 1mb 512kb 5".into()])
            .unwrap();
        assert_eq!(
            c.hot.obuf_pubsub,
            BufferLimit {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_seconds: 5
            }
        );
        assert_eq!(c.hot.obuf_replica.hard, 268435456);
    }

    #[test]
    fn set_many_is_atomic() {
        let mut c = Config::default();
        let r = c.set_many(&[
            ("maxmemory".into(), "1mb".into()),
            ("port".into(), "99999".into()),
        ]);
        assert!(r.is_err());
        assert_eq!(c.get("maxmemory"), Some("0"));
        assert!(c.set_many(&[("databases".into(), "4".into())]).is_err());
    }
}
