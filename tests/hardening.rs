//! A command that panics (a bug) is contained: the caller gets an error and is disconnected,
//! the server and every other client go on, and no ghost client stays in CLIENT LIST.
mod common;

use common::{wait_for, Server};

#[test]
fn a_panicking_command_ends_only_its_own_connection() {
    let s = Server::start(&[]);
    let mut other = s.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut other)
        .unwrap();
    let mut victim = s.client();
    let victim_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut victim).unwrap();

    let err = redis::cmd("DEBUG")
        .arg("PANIC")
        .query::<String>(&mut victim)
        .unwrap_err();
    assert!(
        err.to_string().contains("internal error in 'debug'"),
        "{err}"
    );
    // Its connection is closed after the error.
    assert!(redis::cmd("PING").query::<String>(&mut victim).is_err());

    // Everyone else goes on, with the data intact.
    let v: String = redis::cmd("GET").arg("k").query(&mut other).unwrap();
    assert_eq!(v, "v");
    // No ghost: the panicked client leaves CLIENT LIST.
    wait_for("the panicked client to leave CLIENT LIST", || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut other).ok()?;
        (!list.contains(&format!("id={victim_id} "))).then_some(())
    });
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut other).unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
    // Counted as a failed call, as any command error is.
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut other)
        .unwrap();
    assert!(stats.contains("cmdstat_debug:calls=1,"), "{stats}");
    assert!(stats.contains("failed_calls=1"), "{stats}");
}

#[test]
fn a_panic_inside_multi_leaves_the_other_commands_done() {
    let s = Server::start(&[]);
    let mut other = s.client();
    let mut raw = s.raw();
    raw.send(b"MULTI\r\nSET a 1\r\nDEBUG PANIC\r\nSET b 2\r\nEXEC\r\n");
    // The transaction's other commands ran (EXEC does not roll back, as in Redis), the
    // panicked command's place holds the error, then the connection is closed.
    let (bytes, _) = raw.read_at_least(usize::MAX);
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.starts_with(
            "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n-ERR internal error in 'debug'"
        ),
        "{text}"
    );
    assert!(text.ends_with("+OK\r\n"), "{text}");
    assert!(raw.wait_closed());
    for (k, v) in [("a", "1"), ("b", "2")] {
        let got: String = redis::cmd("GET").arg(k).query(&mut other).unwrap();
        assert_eq!(got, v);
    }
}
