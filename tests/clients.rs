//! Connection and client commands: HELLO/RESP3, AUTH, SELECT, CLIENT (names, list, kill,
//! pause, reply modes), MONITOR, timeouts, QUIT.
mod common;
use common::{resp, wait_for, Server};
use redis::Commands;
use std::io::{BufRead, BufReader};

#[test]
fn hello_switches_to_resp3() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let r = c.reply(&resp(&[b"HELLO", b"3"]), 80);
    assert!(
        r.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"),
        "{r}"
    );
    assert!(r.contains("$5\r\nproto\r\n:3\r\n"), "{r}");
    assert_eq!(c.reply(&resp(&[b"GET", b"missing"]), 3), "_\r\n");
    let r = c.reply(&resp(&[b"CONFIG", b"GET", b"hz"]), 20);
    assert_eq!(r, "%1\r\n$2\r\nhz\r\n$2\r\n10\r\n");
    assert_eq!(
        c.reply(&resp(&[b"HELLO", b"2"]), 10).chars().next(),
        Some('*')
    );
    assert_eq!(c.reply(&resp(&[b"GET", b"missing"]), 5), "$-1\r\n");
    let mut c = s.raw();
    let r = c.reply(&resp(&[b"HELLO", b"3", b"SETNAME", b"me"]), 80);
    assert!(r.starts_with("%7"), "{r}");
    assert_eq!(c.reply(&resp(&[b"CLIENT", b"GETNAME"]), 8), "$2\r\nme\r\n");
}

#[test]
fn auth_hello_and_reset_with_requirepass() {
    let s = Server::start(&["--requirepass", "pw"]);
    let mut c = s.raw();
    let r = c.reply(&resp(&[b"HELLO", b"3"]), 10);
    assert!(
        r.starts_with("-NOAUTH HELLO must be called with the client already authenticated"),
        "{r}"
    );
    let r = c.reply(&resp(&[b"HELLO", b"3", b"AUTH", b"default", b"bad"]), 10);
    assert!(r.starts_with("-WRONGPASS"), "{r}");
    let r = c.reply(&resp(&[b"HELLO", b"3", b"AUTH", b"default", b"pw"]), 10);
    assert!(r.starts_with("%7"), "{r}");
    assert_eq!(c.reply(&resp(&[b"SET", b"a", b"1"]), 5), "+OK\r\n");
    assert_eq!(c.reply(&resp(&[b"RESET"]), 8), "+RESET\r\n");
    assert_eq!(
        c.reply(&resp(&[b"GET", b"a"]), 10),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.reply(&resp(&[b"AUTH", b"default", b"pw"]), 5), "+OK\r\n");
    assert_eq!(c.reply(&resp(&[b"GET", b"a"]), 7), "$1\r\n1\r\n");
}

#[test]
fn select_swapdb_move_copy() {
    let s = Server::start(&["--databases", "4"]);
    let mut c = s.client();
    let _: () = c.set("k", "v0").unwrap();
    let _: () = redis::cmd("SELECT").arg(1).query(&mut c).unwrap();
    assert_eq!(c.get::<_, Option<String>>("k").unwrap(), None);
    let e = redis::cmd("SELECT").arg(4).query::<()>(&mut c).unwrap_err();
    assert!(e.to_string().contains("DB index is out of range"));
    let _: () = redis::cmd("SWAPDB").arg(0).arg(1).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>("k").unwrap(), "v0");
    let moved: i64 = redis::cmd("MOVE").arg("k").arg(2).query(&mut c).unwrap();
    assert_eq!(moved, 1);
    let copied: i64 = redis::cmd("COPY")
        .arg("k")
        .arg("k2")
        .arg("DB")
        .arg(3)
        .query(&mut c)
        .unwrap();
    assert_eq!(copied, 0, "k is now in db 2, not here");
    let _: () = redis::cmd("SELECT").arg(2).query(&mut c).unwrap();
    let copied: i64 = redis::cmd("COPY")
        .arg("k")
        .arg("k2")
        .arg("DB")
        .arg(3)
        .query(&mut c)
        .unwrap();
    assert_eq!(copied, 1);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>("k2").unwrap(), "v0");
}

#[test]
fn client_names_list_info_kill() {
    let s = Server::start(&[]);
    let mut a = s.client();
    let mut b = s.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("alpha")
        .query(&mut a)
        .unwrap();
    let e = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("a b")
        .query::<()>(&mut a)
        .unwrap_err();
    assert!(
        e.to_string().contains("Client names cannot contain spaces"),
        "{e}"
    );
    let id_b: i64 = redis::cmd("CLIENT").arg("ID").query(&mut b).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut b).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains(" name=alpha "), "{list}");
    assert!(list.contains(&format!("id={id_b} ")), "{list}");
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut b).unwrap();
    assert!(
        info.starts_with(&format!("id={id_b} addr=127.0.0.1:")),
        "{info}"
    );
    assert!(info.contains(" cmd=client|info "), "{info}");
    let e = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("bogus")
        .query::<String>(&mut b)
        .unwrap_err();
    assert!(e.to_string().contains("Unknown client type 'bogus'"), "{e}");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id_b)
        .query(&mut a)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(
        redis::cmd("PING").query::<String>(&mut b).is_err(),
        "killed client must be disconnected"
    );
    let e = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("1.2.3.4:5")
        .query::<()>(&mut a)
        .unwrap_err();
    assert!(e.to_string().contains("No such client"), "{e}");
    wait_for("killed client to leave CLIENT LIST", || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
        (list.lines().count() == 1).then_some(())
    });
}

#[test]
fn client_pause_write_holds_writes_until_unpause() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let url = s.url();
    let writer = std::thread::spawn(move || {
        let mut w = redis::Client::open(url).unwrap().get_connection().unwrap();
        w.set::<_, _, ()>("paused", "done").unwrap();
    });
    // Reads are still served while writes wait.
    assert_eq!(admin.get::<_, Option<String>>("paused").unwrap(), None);
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();
    writer.join().unwrap();
    assert_eq!(admin.get::<_, String>("paused").unwrap(), "done");
}

#[test]
fn client_reply_off_skip_on() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.send(&resp(&[b"CLIENT", b"REPLY", b"OFF"]));
    c.send(&resp(&[b"SET", b"a", b"1"]));
    c.send(&resp(&[b"CLIENT", b"REPLY", b"SKIP"]));
    c.send(&resp(&[b"CLIENT", b"REPLY", b"ON"]));
    assert_eq!(c.reply(&resp(&[b"GET", b"a"]), 12), "+OK\r\n$1\r\n1\r\n");
    c.send(&resp(&[b"CLIENT", b"REPLY", b"SKIP"]));
    c.send(&resp(&[b"SET", b"b", b"2"]));
    assert_eq!(c.reply(&resp(&[b"GET", b"b"]), 7), "$1\r\n2\r\n");
}

#[test]
fn monitor_streams_commands() {
    let s = Server::start(&[]);
    let mut m = s.raw();
    assert_eq!(m.reply(&resp(&[b"MONITOR"]), 5), "+OK\r\n");
    let mut c = s.client();
    let mut reader = BufReader::new(m.s.try_clone().unwrap());
    // The subscription may race the first command: keep issuing until one shows up.
    let line = wait_for("a MONITOR line for SET", || {
        let _: () = c.set("watched", "v\"1").unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        line.contains("watched").then_some(line)
    });
    assert!(line.starts_with('+'), "{line}");
    assert!(line.contains(r#""SET" "watched" "v\"1""#), "{line}");
}

#[test]
fn monitor_refuses_keyspace_commands_until_reset() {
    let s = Server::start(&[]);
    let mut m = s.raw();
    assert_eq!(m.reply(&resp(&[b"MONITOR"]), 5), "+OK\r\n");
    let flags_of = |s: &Server| -> String {
        let mut c = s.client();
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        list.lines()
            .filter(|l| !l.contains("cmd=client|list"))
            .map(|l| {
                l.split(' ')
                    .find(|f| f.starts_with("flags="))
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(flags_of(&s), "flags=O");
    // The feed shows other clients' commands too: read until the expected line arrives.
    let mut seen = String::new();
    let mut expect = |m: &mut common::Raw, what: &str| {
        wait_for(what, || {
            let (got, _) = m.read_at_least(1);
            seen.push_str(&String::from_utf8_lossy(&got));
            seen.contains(what).then_some(())
        });
    };
    m.send(&resp(&[b"GET", b"k"]));
    expect(&mut m, "-ERR Replica can't interact with the keyspace\r\n");
    // Non-keyspace commands still run.
    m.send(&resp(&[b"PING"]));
    expect(&mut m, "+PONG\r\n");
    m.send(&resp(&[b"RESET"]));
    expect(&mut m, "+RESET\r\n");
    assert_eq!(flags_of(&s), "flags=N");
    assert_eq!(m.reply(&resp(&[b"GET", b"k"]), 5), "$-1\r\n");
    // Inside a transaction MONITOR is refused, as for any client that needs a reply per command.
    assert_eq!(m.reply(&resp(&[b"MULTI"]), 5), "+OK\r\n");
    assert_eq!(m.reply(&resp(&[b"MONITOR"]), 9), "+QUEUED\r\n");
    assert_eq!(
        m.reply(&resp(&[b"EXEC"]), 57),
        "*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
    );
}

#[test]
fn client_setinfo_shows_in_client_list() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("LIB-NAME")
        .arg("mylib")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("LIB-VER")
        .arg("1.2.3")
        .query(&mut c)
        .unwrap();
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut c).unwrap();
    assert!(info.contains(" lib-name=mylib lib-ver=1.2.3"), "{info}");
    let err = redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("LIB-NAME")
        .arg("a b")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string().contains("LIB-NAME cannot contain spaces"),
        "{err}"
    );
}

#[test]
fn idle_timeout_closes_clients() {
    let s = Server::start(&["--timeout", "1"]);
    let mut c = s.raw();
    c.assert_open();
    assert!(
        c.wait_closed(),
        "idle client must be closed after `timeout` seconds"
    );
}

#[test]
fn quit_replies_then_closes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.reply(&resp(&[b"QUIT"]), 5), "+OK\r\n");
    assert!(c.wait_closed());
}

/// rbs= of the client named `name` in CLIENT LIST.
fn reply_buffer_size(c: &mut redis::Connection, name: &str) -> usize {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(c).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("{name} not in {list}"));
    let rbs = line
        .split(' ')
        .find_map(|f| f.strip_prefix("rbs="))
        .unwrap();
    rbs.parse().unwrap()
}

#[test]
fn reply_buffers_shrink_when_idle_and_grow_for_big_replies() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let _: () = redis::cmd("DEBUG")
        .arg(&["REPLYBUFFER", "PEAK-RESET-TIME", "100"])
        .query(&mut admin)
        .unwrap();
    let mut c = s.client();
    let _: () = redis::cmd("CLIENT")
        .arg(&["SETNAME", "probe"])
        .query(&mut c)
        .unwrap();
    wait_for("an idle client's reply buffer to shrink", || {
        let rbs = reply_buffer_size(&mut admin, "probe");
        (1024..2048).contains(&rbs).then_some(())
    });
    let _: () = admin.set("big", "x".repeat(32768)).unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg(&["REPLYBUFFER", "PEAK-RESET-TIME", "never"])
        .query(&mut admin)
        .unwrap();
    wait_for("a busy client's reply buffer to grow", || {
        let _: String = c.get("big").unwrap();
        let rbs = reply_buffer_size(&mut admin, "probe");
        (16384..32768).contains(&rbs).then_some(())
    });
}

#[test]
fn a_write_pause_still_answers_refusals_and_read_only_transactions() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let _: () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "100000", "WRITE"])
        .query(&mut admin)
        .unwrap();
    let mut c = s.client();
    // A paused command would wait 100 s: the deadline only turns such a wait into a failure.
    c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let e = redis::cmd("SET")
        .arg("k")
        .query::<()>(&mut c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("wrong number of arguments"), "{e}");
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: () = redis::cmd("EVAL")
        .arg(&["#!lua flags=no-writes\nreturn 12", "0"])
        .query(&mut c)
        .unwrap();
    let r: Vec<i64> = redis::cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(r, vec![12]);
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();
}
