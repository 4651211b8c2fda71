//! Cluster harness for the black-box `tests/cluster_*.rs` suites: spawns cluster-enabled nodes
//! (slotcache or real redis-server 7.0), forms clusters either with `redis-cli --cluster create`
//! or with plain CLUSTER ADDSLOTSRANGE / SET-CONFIG-EPOCH / MEET, and waits (polling with
//! deadlines) until every node tells the same story in CLUSTER NODES.
//!
//! # Which server is tested
//!
//! Every cluster test is written once against a node *kind*. The kind comes from the
//! environment variable `CLUSTER_KIND`: unset or `slotcache` runs the built `slotcache-server`,
//! `redis` runs `/usr/bin/redis-server` (7.0.15) instead, which validates the tests themselves:
//!
//! ```text
//! CLUSTER_KIND=redis cargo test --test 'cluster_*'     # the oracle: must be all green
//! cargo test --test 'cluster_*'                        # slotcache
//! ```
//!
//! Tests that compare with Redis directly (keyslot, CLUSTER SLOTS/SHARDS shape) or build mixed
//! clusters always start some redis-server nodes; under `CLUSTER_KIND=redis` the "slotcache"
//! side is redis-server too, so they still run and pass.
//!
//! # Ports
//!
//! A node needs its client port P and its bus port P+10000. P is drawn at random from
//! 20000..22768 so both P and P+10000 stay below Linux's ephemeral range (32768..60999): an
//! outgoing connection of some other process can then never take a port between our bind check
//! and the node's own bind. Both ports are checked with a bind, ports handed out by this process
//! are never reused while it runs, and a node that fails to start (port taken meanwhile) is
//! retried on another port.
//!
//! # Cleanup
//!
//! `Node` kills its process (SIGKILL) and deletes its temp dir on drop. Processes are spawned
//! from one long-lived thread with `PR_SET_PDEATHSIG = SIGKILL`, so they also die when the test
//! binary dies, even by SIGKILL. Clusters shared by the tests of one file live in a static
//! (`shared`); an `atexit` hook kills them and removes their dirs when the binary exits.
//!
//! # Layout
//!
//! This file: node kinds, `Node`, `Cluster`, waiting, redis-cli. `cluster/topology.rs`: CLUSTER
//! NODES parsing, `agree`/`healthy`, `key_slot`. `cluster/conn.rs`: the raw RESP `Conn`.
//! `cluster/process.rs`: spawning with PDEATHSIG, port choice.
#![allow(dead_code)]

mod conn;
mod process;
mod topology;

// The harness API is `common::cluster::*`; each test binary uses only part of it.
#[allow(unused_imports)]
pub use conn::{argv, frame_len, Conn};
#[allow(unused_imports)]
pub use process::free_cluster_port;
use process::spawn_process;
#[allow(unused_imports)]
pub use topology::{
    agree, crc16, healthy, key_slot, normalize_ranges, view, wait_healthy, NodeLine, Shared,
};

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Default `cluster-node-timeout` of test nodes, in milliseconds.
pub const NODE_TIMEOUT_MS: u64 = 2000;
/// How long formation, failure detection and recovery may take before a test fails.
pub const CLUSTER_DEADLINE: Duration = Duration::from_secs(30);
pub const SLOTS: u16 = 16384;

// ---------------------------------------------------------------------------------------------
// Node kinds
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Slotcache,
    Redis,
}

impl Kind {
    /// The kind under test: `CLUSTER_KIND` = `slotcache` (default) or `redis`.
    pub fn from_env() -> Kind {
        match std::env::var("CLUSTER_KIND").as_deref() {
            Err(_) | Ok("") | Ok("slotcache") => Kind::Slotcache,
            Ok("redis") => Kind::Redis,
            Ok(other) => panic!("CLUSTER_KIND={other}: expected `slotcache` or `redis`"),
        }
    }

    /// The "other" kind in a mixed or differential test: always real Redis.
    pub fn oracle() -> Kind {
        Kind::Redis
    }

    fn binary(self) -> &'static str {
        match self {
            Kind::Slotcache => env!("CARGO_BIN_EXE_slotcache-server"),
            Kind::Redis => "redis-server",
        }
    }
}

/// The kind under test (see the module doc).
pub fn kind() -> Kind {
    Kind::from_env()
}

/// Clusters kept in statics are never dropped; this kills them and removes their dirs at exit.
static SHARED: Mutex<Vec<&'static OnceLock<Cluster>>> = Mutex::new(Vec::new());

extern "C" fn cleanup_shared() {
    if let Ok(cells) = SHARED.lock() {
        for cell in cells.iter() {
            if let Some(c) = cell.get() {
                for n in &c.nodes {
                    n.kill_and_remove_dir_at_exit();
                }
            }
        }
    }
}

/// One cluster shared by the tests of a file (started by whichever test needs it first).
/// Tests using it must not change the topology; they use their own key names.
pub fn shared(
    cell: &'static OnceLock<Cluster>,
    init: impl FnOnce() -> Cluster,
) -> &'static Cluster {
    cell.get_or_init(|| {
        let c = init();
        let mut cells = SHARED.lock().unwrap();
        if cells.is_empty() {
            // SAFETY: registering a plain extern "C" function.
            unsafe {
                libc::atexit(cleanup_shared);
            }
        }
        cells.push(cell);
        c
    })
}

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

/// Polls `f` every 50 ms until it returns Ok or `deadline` passes; the panic names `what` and
/// the last reason `f` gave.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut f: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match f() {
            Ok(v) => return v,
            Err(why) if start.elapsed() > deadline => {
                panic!("timed out after {deadline:?} waiting for {what}: {why}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------------------------

/// Options of a node process.
#[derive(Clone, Debug)]
pub struct Opts {
    pub node_timeout_ms: u64,
    /// More `--directive value` arguments.
    pub extra: Vec<String>,
    /// Start from an (empty) config file `redis.conf` in the node's dir, so CONFIG REWRITE
    /// (and `redis-cli --cluster set-timeout`) work.
    pub config_file: bool,
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            node_timeout_ms: NODE_TIMEOUT_MS,
            extra: Vec::new(),
            config_file: false,
        }
    }
}

impl Opts {
    pub fn timeout(ms: u64) -> Opts {
        Opts {
            node_timeout_ms: ms,
            ..Opts::default()
        }
    }
}

/// One cluster-enabled server process with its own temp dir (kept across `restart`).
pub struct Node {
    pub kind: Kind,
    pub port: u16,
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    child: Mutex<Option<Child>>,
    pid: Mutex<Option<u32>>,
}

impl Node {
    /// A node with the default options.
    pub fn start(kind: Kind) -> Node {
        Node::start_with(kind, &Opts::default())
    }

    pub fn start_with(kind: Kind, opts: &Opts) -> Node {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_cluster_port();
            let dir = tempfile::Builder::new()
                .prefix("slotcache-cluster-")
                .tempdir()
                .expect("tempdir");
            let args = node_args(kind, port, dir.path(), opts);
            let node = Node {
                kind,
                port,
                dir,
                args,
                child: Mutex::new(None),
                pid: Mutex::new(None),
            };
            match node.launch() {
                Ok(()) => return node,
                Err(e) => last = e,
            }
        }
        panic!("could not start a {kind:?} node: {last}")
    }

    /// The `--directive value` arguments the node was started with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    pub fn bus_port(&self) -> u16 {
        self.port + 10000
    }

    /// `127.0.0.1:<port>`, as redis-cli --cluster wants it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("node.log")
    }

    /// Spawns the process and waits until it answers PING (or exits).
    fn launch(&self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| e.to_string())?;
        let mut cmd = Command::new(self.kind.binary());
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(log));
        let child = spawn_process(cmd)
            .map_err(|e| format!("spawn {}: {e} (is it installed?)", self.kind.binary()))?;
        *self.pid.lock().unwrap() = Some(child.id());
        *self.child.lock().unwrap() = Some(child);
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_exit_status() {
                return Err(format!(
                    "{:?} node on port {} exited at start ({status}): {}",
                    self.kind,
                    self.port,
                    self.log_tail()
                ));
            }
            if self.ping() {
                // Whoever answers must be our child: the port may have been taken between
                // free_cluster_port and our bind (then start_with retries on another).
                let ours = self.pid.lock().unwrap().unwrap_or(0);
                match super::listener_owned_by(self.port, ours) {
                    Some(true) => return Ok(()),
                    Some(false) => {
                        self.kill9();
                        return Err(format!("port {} was taken by another server", self.port));
                    }
                    None => {}
                }
            }
            if start.elapsed() > CLUSTER_DEADLINE {
                self.kill9();
                return Err(format!("node on port {} never answered PING", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of the node's stdout/stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// True when a fresh connection gets +PONG within two seconds.
    pub fn ping(&self) -> bool {
        let Ok(mut c) = Conn::connect_timeout(self.port, Duration::from_secs(1)) else {
            return false;
        };
        c.set_timeout(Duration::from_secs(2));
        matches!(c.call(&["PING"]), Ok(r) if r == "+PONG\r\n")
    }

    /// Restarts the process with the same port, dir and arguments (so it reloads nodes.conf).
    /// Kills the current process first if it is still running.
    pub fn restart(&self) {
        self.kill9();
        let mut last = String::new();
        // The port may linger a moment after the kill; retry a few times.
        for _ in 0..10 {
            match self.launch() {
                Ok(()) => return,
                Err(e) => {
                    last = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        panic!("restart of node {} failed: {last}", self.port)
    }

    /// Spawns a second process with this node's arguments (same dir, same cluster config
    /// file) but client port `port`; the caller owns it. For the nodes.conf lock test.
    pub fn spawn_twin(&self, port: u16) -> Child {
        let mut args = self.args.clone();
        let i = args.iter().position(|a| a == "--port").unwrap();
        args[i + 1] = port.to_string();
        let mut cmd = Command::new(self.kind.binary());
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        spawn_process(cmd).expect("spawn twin")
    }

    /// SIGKILL and reap. Idempotent.
    pub fn kill9(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        *self.pid.lock().unwrap() = None;
    }

    pub fn pid(&self) -> Option<u32> {
        *self.pid.lock().unwrap()
    }

    pub fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            // SAFETY: plain kill(2) on our own child.
            unsafe {
                libc::kill(pid as i32, sig);
            }
        }
    }

    pub fn sigstop(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn sigcont(&self) {
        self.signal(libc::SIGCONT);
    }

    /// The exit status if the process has exited (None while it runs or after `kill9`).
    pub fn try_exit_status(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap();
        child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn is_running(&self) -> bool {
        self.child.lock().unwrap().is_some() && self.try_exit_status().is_none()
    }

    fn kill_and_remove_dir_at_exit(&self) {
        if let Ok(pid) = self.pid.lock() {
            if let Some(pid) = *pid {
                // SAFETY: plain kill(2).
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
            }
        }
        let _ = std::fs::remove_dir_all(self.dir.path());
    }

    /// A `redis` crate connection with a 10 s read timeout (a stopped node fails, not hangs).
    pub fn client(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to node {}: {e}", self.port));
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    }

    /// A raw RESP connection (exact reply bytes, see `Conn`).
    pub fn conn(&self) -> Conn {
        Conn::connect(self.port).unwrap_or_else(|e| panic!("connect to node {}: {e}", self.port))
    }

    /// Runs one command on a fresh raw connection and returns the raw reply.
    pub fn call(&self, args: &[&str]) -> String {
        self.conn()
            .call(args)
            .unwrap_or_else(|e| panic!("{args:?} on node {}: {e}", self.port))
    }

    /// Runs one command (words) through the `redis` crate; panics on an error reply.
    pub fn query<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        self.try_query(args)
            .unwrap_or_else(|e| panic!("{args:?} on node {}: {e}", self.port))
    }

    pub fn try_query<T: redis::FromRedisValue>(&self, args: &[&str]) -> Result<T, String> {
        let mut c = Conn::connect_timeout(self.port, Duration::from_secs(2))
            .map_err(|e| format!("connect to {}: {e}", self.port))?;
        c.set_timeout(Duration::from_secs(2));
        let v = c
            .call_value(args)
            .map_err(|e| format!("{}: {e}", self.port))?;
        if let redis::Value::ServerError(e) = &v {
            return Err(format!("{}: error reply {e:?}", self.port));
        }
        redis::from_owned_redis_value(v).map_err(|e| format!("{}: {e}", self.port))
    }

    /// `redis-cli -p <port> args...`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all = vec!["-p".to_string(), self.port.to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        redis_cli(&all.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// CLUSTER MYID.
    pub fn id(&self) -> String {
        self.query(&["CLUSTER", "MYID"])
    }

    /// CLUSTER INFO as (field, value) pairs, or why it could not be read.
    pub fn cluster_info(&self) -> Result<BTreeMap<String, String>, String> {
        let text: String = self.try_query(&["CLUSTER", "INFO"])?;
        Ok(text
            .lines()
            .filter_map(|l| l.trim_end().split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// One field of CLUSTER INFO (None if the node does not answer or lacks it).
    pub fn cluster_info_field(&self, name: &str) -> Option<String> {
        self.cluster_info().ok()?.remove(name)
    }

    /// CLUSTER NODES, parsed; panics if the node does not answer or a line does not parse.
    /// A node restarted from its dump answers LOADING until it is loaded: that is waited out.
    pub fn nodes(&self) -> Vec<NodeLine> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match self.try_nodes() {
                Ok(n) => return n,
                Err(e) if e.contains("loading") && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("CLUSTER NODES on {}: {e}", self.port),
            }
        }
    }

    pub fn try_nodes(&self) -> Result<Vec<NodeLine>, String> {
        let text: String = self.try_query(&["CLUSTER", "NODES"])?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| NodeLine::parse(l).ok_or_else(|| format!("bad CLUSTER NODES line {l:?}")))
            .collect()
    }

    /// This node's view of the flags of node `id` (None if it does not list it).
    pub fn flags_of(&self, id: &str) -> Result<Option<Vec<String>>, String> {
        Ok(self
            .try_nodes()?
            .into_iter()
            .find(|l| l.id == id)
            .map(|l| l.flags))
    }
}

fn node_args(_kind: Kind, port: u16, dir: &Path, opts: &Opts) -> Vec<String> {
    let mut a = Vec::new();
    if opts.config_file {
        let conf = dir.join("redis.conf");
        std::fs::write(&conf, "").expect("write redis.conf");
        a.push(conf.to_str().unwrap().to_string());
    }
    a.extend(
        [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            dir.to_str().unwrap(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            &opts.node_timeout_ms.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    a.extend(["--enable-debug-command".into(), "yes".into()]);
    a.extend(opts.extra.iter().cloned());
    a
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs redis-cli with `args` (10 s per `--cluster` step is redis-cli's own business).
pub fn redis_cli(args: &[&str]) -> Output {
    Command::new("redis-cli")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli (apt-get install redis-tools)")
}

/// redis-cli with `input` on stdin (one command per line).
pub fn redis_cli_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new("redis-cli")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `s` without ANSI colour escapes (redis-cli --cluster colours its output even into a pipe).
pub fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------------------------

/// A set of primaries (no replicas), slots split evenly in node order.
pub struct Cluster {
    pub nodes: Vec<Node>,
}

impl Cluster {
    /// `n` primaries of `kind`, formed with `redis-cli --cluster create`.
    pub fn start(n: usize, kind: Kind) -> Cluster {
        Cluster::start_opts(n, kind, &Opts::default())
    }

    pub fn start_opts(n: usize, kind: Kind, opts: &Opts) -> Cluster {
        let c = Cluster {
            nodes: start_nodes(&vec![kind; n], opts),
        };
        let addrs: Vec<String> = c.nodes.iter().map(Node::addr).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = redis_cli(&args);
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed ({}):\n{}\n{}",
            out.status,
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
        c.wait_healthy();
        c
    }

    /// One primary per kind, formed with plain commands: CLUSTER ADDSLOTSRANGE on each node,
    /// distinct CLUSTER SET-CONFIG-EPOCH 1..n, CLUSTER MEET of every node to the first.
    pub fn start_manual(kinds: &[Kind]) -> Cluster {
        Cluster::start_manual_opts(kinds, &Opts::default(), true)
    }

    /// `start_manual` with options; `set_epochs = false` leaves every config epoch at 0 (the
    /// nodes must resolve the collision themselves).
    pub fn start_manual_opts(kinds: &[Kind], opts: &Opts, set_epochs: bool) -> Cluster {
        let c = Cluster {
            nodes: start_nodes(kinds, opts),
        };
        let n = c.nodes.len();
        for (i, node) in c.nodes.iter().enumerate() {
            let (a, b) = even_range(i, n);
            assert_eq!(
                node.call(&["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()]),
                "+OK\r\n"
            );
            if set_epochs {
                let e = (i + 1).to_string();
                assert_eq!(node.call(&["CLUSTER", "SET-CONFIG-EPOCH", &e]), "+OK\r\n");
            }
        }
        let first = c.nodes[0].port.to_string();
        for node in &c.nodes[1..] {
            assert_eq!(
                node.call(&["CLUSTER", "MEET", "127.0.0.1", &first]),
                "+OK\r\n"
            );
        }
        c.wait_healthy();
        c
    }

    /// A mixed cluster: one node of each given kind, formed with `start_manual`.
    pub fn start_mixed(kinds: &[Kind]) -> Cluster {
        Cluster::start_manual(kinds)
    }

    /// Starts a node without slots, MEETs it into the cluster and waits until all agree.
    /// Returns its index.
    pub fn add_empty_node(&mut self, kind: Kind, opts: &Opts) -> usize {
        let node = Node::start_with(kind, opts);
        let first = self.nodes[0].port.to_string();
        assert_eq!(
            node.call(&["CLUSTER", "MEET", "127.0.0.1", &first]),
            "+OK\r\n"
        );
        self.nodes.push(node);
        self.wait_healthy();
        self.nodes.len() - 1
    }

    pub fn refs(&self) -> Vec<&Node> {
        self.nodes.iter().collect()
    }

    /// All nodes ok and agreeing (see `agree`), within `CLUSTER_DEADLINE`.
    pub fn wait_healthy(&self) -> Vec<Shared> {
        wait_healthy(&self.refs())
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// Index of the node owning `slot` according to the first running node's CLUSTER NODES.
    pub fn owner_of(&self, slot: u16) -> usize {
        let lines = self
            .nodes
            .iter()
            .find_map(|n| n.try_nodes().ok())
            .expect("no node answers CLUSTER NODES");
        let line = lines
            .iter()
            .find(|l| l.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
            .unwrap_or_else(|| panic!("slot {slot} unassigned"));
        self.nodes
            .iter()
            .position(|n| n.port == line.port)
            .unwrap_or_else(|| panic!("owner of {slot} is not ours: {}", line.raw))
    }

    /// Per node index, the slot ranges it owns (from the first node's view).
    pub fn slot_map(&self) -> Vec<Vec<(u16, u16)>> {
        let lines = self.nodes[0].nodes();
        self.nodes
            .iter()
            .map(|n| {
                lines
                    .iter()
                    .find(|l| l.port == n.port)
                    .map(|l| normalize_ranges(&l.slots))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// A key `{<prefix><n>}` (all of it a hash tag) whose slot node `idx` owns. Different
    /// prefixes give different slots (with overwhelming probability; tests that need distinct
    /// slots assert it).
    pub fn key_on(&self, idx: usize, prefix: &str) -> String {
        let map = self.slot_map();
        (0..)
            .map(|i| format!("{{{prefix}{i}}}"))
            .find(|k| {
                let s = key_slot(k.as_bytes());
                map[idx].iter().any(|(a, b)| (*a..=*b).contains(&s))
            })
            .unwrap()
    }

    /// A hash tag `{...}` (braces included) whose slot node `idx` owns.
    pub fn tag_on(&self, idx: usize, prefix: &str) -> String {
        self.key_on(idx, prefix)
    }
}

fn start_nodes(kinds: &[Kind], opts: &Opts) -> Vec<Node> {
    kinds.iter().map(|k| Node::start_with(*k, opts)).collect()
}

/// Slots of node `i` of `n` when 16384 slots are split evenly in order.
pub fn even_range(i: usize, n: usize) -> (u16, u16) {
    let a = i * SLOTS as usize / n;
    let b = (i + 1) * SLOTS as usize / n - 1;
    (a as u16, b as u16)
}
