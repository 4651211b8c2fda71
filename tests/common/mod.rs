//! Black-box test harness: spawns real `slotcache-server` (and, for differential tests, real
//! `redis-server`) processes on 127.0.0.1 with a free port and a temp dir each, waits for them
//! by polling with a deadline, and kills them on drop.
#![allow(dead_code)]

pub mod cluster;
pub mod wire;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Server {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

pub fn free_port() -> u16 {
    // Bind port 0 and release it; the child binds it right after. Another process may take it
    // in between: Server::spawn_in then retries on a new port. The bus port (+10000) must be
    // free too in cluster mode, so stay below 55535.
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 0");
        let p = l.local_addr().unwrap().port();
        if p < 55535 {
            return p;
        }
    }
}

/// The first bytes of the reply to an inline PING on `port`, if anything answers.
fn answer(port: u16) -> Option<Vec<u8>> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    c.write_all(b"PING\r\n").ok()?;
    let mut b = [0u8; 64];
    let n = c.read(&mut b).ok()?;
    (n > 0).then(|| b[..n].to_vec())
}

/// Whether the socket listening on 127.0.0.1:`port` belongs to process `pid`: None while
/// nothing listens there, Some(false) when another process does. Read from /proc (the
/// listener's inode in /proc/net/tcp, then the process's descriptors), so it holds however
/// loaded the machine is, unlike asking the server (whose reply may be late).
pub fn listener_owned_by(port: u16, pid: u32) -> Option<bool> {
    let suffix = format!(":{port:04X}");
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|path| {
            let table = std::fs::read_to_string(path).ok()?;
            table.lines().skip(1).find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // Fields: sl local_address rem_address st ... inode (index 9); st 0A is LISTEN.
                (f.len() > 9 && f[1].ends_with(&suffix) && f[3] == "0A").then(|| f[9].to_string())
            })
        })?;
    let want = format!("socket:[{inode}]");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok();
    let ours = fds
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy() == want));
    Some(ours)
}

/// Polls `f` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > DEADLINE {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A primary and a replica (both slotcache, diskless sync without delay) once the replica's
/// link is up: writes made after this reach it through the replication stream.
pub fn primary_and_replica() -> (Server, Server) {
    let fast = ["--repl-diskless-sync-delay", "0"];
    let primary = Server::start(&fast);
    let replica = Server::start(&fast);
    let mut r = replica.client();
    let _: String = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port)
        .query(&mut r)
        .expect("REPLICAOF");
    wait_for("replica linked", || {
        let info: String = redis::cmd("INFO").arg("replication").query(&mut r).ok()?;
        info.contains("master_link_status:up").then_some(())
    });
    (primary, replica)
}

impl Server {
    /// Starts slotcache with redis-server-style options (`["--maxmemory", "1mb"]`).
    pub fn start(args: &[&str]) -> Server {
        Self::spawn(env!("CARGO_BIN_EXE_slotcache-server"), args)
    }

    /// Starts a real redis-server 7.0 with the same options (the oracle).
    pub fn start_redis(args: &[&str]) -> Server {
        Self::spawn("redis-server", args)
    }

    /// Starts slotcache in an existing directory (a restart on the files another server left),
    /// once its dataset is loaded.
    pub fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Server {
        Self::spawn_in(env!("CARGO_BIN_EXE_slotcache-server"), dir, args, true)
    }

    /// As `start_in`, returning as soon as the server answers (possibly -LOADING).
    pub fn start_in_loading(dir: tempfile::TempDir, args: &[&str]) -> Server {
        Self::spawn_in(env!("CARGO_BIN_EXE_slotcache-server"), dir, args, false)
    }

    /// Starts redis-server in an existing directory.
    pub fn start_redis_in(dir: tempfile::TempDir, args: &[&str]) -> Server {
        Self::spawn_in("redis-server", dir, args, true)
    }

    /// Kills the server (SIGKILL if still running) and hands back its directory.
    pub fn into_dir(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }

    fn spawn(bin: &str, args: &[&str]) -> Server {
        Self::spawn_in(bin, tempfile::tempdir().expect("tempdir"), args, true)
    }

    /// Starts `bin` in `dir` without waiting for it to answer.
    pub fn spawn_unchecked(bin: &str, dir: &std::path::Path, args: &[&str]) -> Child {
        let mut cmd = Command::new(bin);
        cmd.args(["--port", &free_port().to_string(), "--bind", "127.0.0.1"]);
        cmd.args(["--dir", dir.to_str().unwrap()]);
        cmd.args(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().expect("spawn")
    }

    /// Starts `bin` on a free port in `dir` and waits until it answers (and, with
    /// `wait_loaded`, has loaded its dataset). A port taken between `free_port` and the
    /// server's bind is retried on another port: the server exits at start, or whoever answers
    /// on the port is not our child (INFO's process_id tells).
    fn spawn_in(bin: &str, dir: tempfile::TempDir, args: &[&str], wait_loaded: bool) -> Server {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_spawn_in(bin, dir.path(), args, wait_loaded) {
                Ok((port, child)) => return Server { port, dir, child },
                Err(e) => last = e,
            }
        }
        panic!("could not start {bin}: {last}")
    }

    fn try_spawn_in(
        bin: &str,
        dir: &std::path::Path,
        args: &[&str],
        wait_loaded: bool,
    ) -> Result<(u16, Child), String> {
        let port = free_port();
        let mut cmd = Command::new(bin);
        let port_s = port.to_string();
        cmd.args([
            "--port",
            &port_s,
            "--bind",
            "127.0.0.1",
            "--dir",
            dir.to_str().unwrap(),
        ]);
        cmd.args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "yes",
        ]);
        cmd.args(args);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e} (is it installed? see README)"));
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited at start on port {port} ({status})"));
            }
            match answer(port) {
                // Up once it answers; loaded once it stops answering -LOADING (unless the
                // caller wants to see the loading phase).
                Some(b) if !wait_loaded || !b.starts_with(b"-LOADING") => {
                    match listener_owned_by(port, child.id()) {
                        Some(true) => return Ok((port, child)),
                        Some(false) => {
                            let _ = child.kill();
                            let _ = child.wait();
                            return Err(format!("port {port} was taken by another server"));
                        }
                        None => {} // the listener went away: poll again
                    }
                }
                _ => {}
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer on port {port} within {DEADLINE:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .expect("connect")
    }

    pub fn raw(&self) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Raw { s }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs redis-cli against this server and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli (see README: apt-get install redis-tools)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        wait_for("server exit", || self.child.try_wait().ok().flatten())
    }

    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw TCP connection for byte-level protocol tests.
pub struct Raw {
    pub s: TcpStream,
}

impl Raw {
    pub fn send(&mut self, b: &[u8]) -> &mut Self {
        let _ = self.s.write_all(b);
        self
    }

    /// Reads until `expect` bytes arrived, the peer closed, or the deadline passed.
    pub fn read_at_least(&mut self, expect: usize) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let start = Instant::now();
        let mut buf = [0u8; 65536];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => return (out, true),
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.len() >= expect {
                        return (out, false);
                    }
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if out.len() >= expect || start.elapsed() > DEADLINE {
                        return (out, false);
                    }
                }
                Err(_) => return (out, true),
            }
        }
    }

    /// Sends `req` and reads until `expected.len()` bytes arrived (or EOF / the deadline).
    pub fn reply(&mut self, req: &[u8], expected_len: usize) -> String {
        self.send(req);
        String::from_utf8_lossy(&self.read_at_least(expected_len).0).into_owned()
    }

    /// Waits (with the deadline) for the server to close the connection.
    pub fn wait_closed(&mut self) -> bool {
        let start = Instant::now();
        let mut b = [0u8; 4096];
        loop {
            match self.s.read(&mut b) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if start.elapsed() > DEADLINE {
                        return false;
                    }
                }
                Err(_) => return true,
            }
        }
    }

    /// Asserts the connection still answers PING (+PONG, or -NOAUTH before AUTH).
    pub fn assert_open(&mut self) {
        let r = self.reply(b"PING\r\n", 7);
        assert!(
            r == "+PONG\r\n" || r == "-NOAUTH Authentication required.\r\n",
            "connection should still answer: {r:?}"
        );
    }
}

/// RESP-encodes a command.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One numeric field of `INFO <section>`.
pub fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{field} missing in INFO {section}"))
        .trim()
        .parse()
        .unwrap()
}

/// Bytes per element that `load` adds to INFO used_memory and to the RSS of a fresh `server`.
/// The load runs on its own connection, closed (and gone from CLIENT LIST) before measuring,
/// so its buffers are not counted.
pub fn measure_memory(
    server: Server,
    load: &dyn Fn(&mut redis::Connection),
    elements: usize,
) -> (f64, f64) {
    let mut c = server.client();
    let used = info_field(&mut c, "memory", "used_memory");
    let rss = info_field(&mut c, "memory", "used_memory_rss");
    load(&mut server.client());
    wait_for("the loading connection to close", || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).ok()?;
        (list.lines().count() == 1).then_some(())
    });
    let per = |after: i64, before: i64| (after - before) as f64 / elements as f64;
    (
        per(info_field(&mut c, "memory", "used_memory"), used),
        per(info_field(&mut c, "memory", "used_memory_rss"), rss),
    )
}

/// Runs `script` on `server` with `notify-keyspace-events KEA` and returns every keyspace
/// notification it raised, (channel, payload), in order. A final SET marks the end.
pub fn keyspace_events(server: &Server, script: &[&[&str]]) -> Vec<(String, String)> {
    let mut c = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut c)
        .unwrap();
    let mut sub = server.client();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__key*__:*").unwrap();
    ps.set_read_timeout(Some(DEADLINE)).unwrap();
    for argv in script {
        let mut r = redis::cmd(argv[0]);
        for a in &argv[1..] {
            r.arg(*a);
        }
        let _: redis::Value = r.query(&mut c).unwrap_or(redis::Value::Nil);
    }
    let _: () = redis::cmd("SET")
        .arg("end-of-script")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let mut out = Vec::new();
    loop {
        let m = ps.get_message().unwrap();
        let e = (
            m.get_channel_name().to_string(),
            m.get_payload::<String>().unwrap(),
        );
        if e.1 == "end-of-script" || e.0.ends_with(":end-of-script") {
            if e.0.starts_with("__keyevent") {
                return out;
            }
            continue;
        }
        out.push(e);
    }
}

/// Runs a command given as words; panics with the command on an error reply.
pub fn cmd<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut r = redis::cmd(args[0]);
    for a in &args[1..] {
        r.arg(*a);
    }
    r.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// OBJECT ENCODING of `key`.
pub fn encoding(c: &mut redis::Connection, key: &str) -> String {
    cmd(c, &["OBJECT", "ENCODING", key])
}

pub fn config_set(c: &mut redis::Connection, name: &str, value: &str) {
    let _: () = cmd(c, &["CONFIG", "SET", name, value]);
}

/// Runs a Python program (redis-py is installed by the CI script) and asserts it exited
/// cleanly after printing `ok`, showing its output otherwise.
pub fn run_python_ok(script: &str) {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
