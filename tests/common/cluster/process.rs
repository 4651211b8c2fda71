//! Spawning node processes so they die with the test binary, and choosing their ports.
use std::collections::HashSet;
use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::{mpsc, Mutex, OnceLock};

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Children get `PR_SET_PDEATHSIG`, which fires when the *thread* that forked them exits. Test
/// threads come and go, so every node is forked by this one thread, which lives as long as the
/// test binary.
pub fn spawn_process(mut cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("node-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.lock().unwrap().send((cmd, reply_tx)).expect("spawner");
    reply_rx.recv().expect("spawner reply")
}

/// A client port P with P and P+10000 both free (see the module doc).
pub fn free_cluster_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let p: u16 = rand::random::<u16>() % (32768 - 10000 - 20000) + 20000;
        let mut taken = HANDED_OUT.lock().unwrap();
        let taken = taken.get_or_insert_with(HashSet::new);
        if taken.contains(&p) {
            continue;
        }
        let a = TcpListener::bind(("127.0.0.1", p));
        let b = TcpListener::bind(("127.0.0.1", p + 10000));
        if a.is_ok() && b.is_ok() {
            taken.insert(p);
            return p;
        }
    }
}
