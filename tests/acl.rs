//! ACL users seen from clients: authentication, refusals (top level, MULTI/EXEC, scripts),
//! ACL LOG, clients of deleted users, pub/sub permissions taken away, requirepass, and users
//! from the config and the ACL file. (Rule parsing and descriptions are compared with
//! redis-server in tests/diff/acl.txt.)
mod common;
use common::{cmd, Server};
use redis::Value;

fn try_cmd(c: &mut redis::Connection, args: &[&str]) -> Result<Value, String> {
    let mut r = redis::cmd(args[0]);
    for a in &args[1..] {
        r.arg(*a);
    }
    r.query::<Value>(c).map_err(|e| e.to_string())
}

fn login(s: &Server, user: &str, pass: &str) -> redis::Connection {
    let mut c = s.client();
    let _: () = cmd(&mut c, &["AUTH", user, pass]);
    c
}

/// ACL LOG entries as (reason, context, object, username, count).
fn acl_log(c: &mut redis::Connection) -> Vec<(String, String, String, String, i64)> {
    let v: Vec<Vec<Value>> = cmd(c, &["ACL", "LOG"]);
    v.into_iter()
        .map(|e| {
            let mut m = std::collections::HashMap::new();
            for pair in e.chunks(2) {
                let k: String = redis::from_redis_value(&pair[0]).unwrap();
                m.insert(k, pair[1].clone());
            }
            let s = |k: &str| -> String { redis::from_redis_value(&m[k]).unwrap() };
            let count: i64 = redis::from_redis_value(&m["count"]).unwrap();
            (s("reason"), s("context"), s("object"), s("username"), count)
        })
        .collect()
}

#[test]
fn users_are_refused_what_their_rules_do_not_allow_and_the_log_says_why() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let _: () = cmd(
        &mut admin,
        &[
            "ACL", "SETUSER", "alice", "on", ">pw", "+get", "+set", "+publish", "%R~r*", "~a*",
            "&news",
        ],
    );
    let mut alice = login(&s, "alice", "pw");
    let _: () = cmd(&mut alice, &["SET", "a1", "v"]);
    assert_eq!(cmd::<String>(&mut alice, &["GET", "a1"]), "v");
    let _: Option<String> = cmd(&mut alice, &["GET", "r1"]);
    let e = try_cmd(&mut alice, &["SET", "r1", "v"]).unwrap_err();
    assert!(
        e.contains("no permissions to access one of the keys"),
        "{e}"
    );
    let e = try_cmd(&mut alice, &["DEL", "a1"]).unwrap_err();
    assert!(e.contains("no permissions to run the 'del' command"), "{e}");
    let e = try_cmd(&mut alice, &["PUBLISH", "sports", "m"]).unwrap_err();
    assert!(
        e.contains("no permissions to access one of the channels"),
        "{e}"
    );
    let _: i64 = cmd(&mut alice, &["PUBLISH", "news", "m"]);
    // The same refusal again is counted on its entry, not logged twice.
    let _ = try_cmd(&mut alice, &["DEL", "a1"]).unwrap_err();
    assert!(try_cmd(&mut admin, &["AUTH", "alice", "wrong"])
        .unwrap_err()
        .contains("WRONGPASS"));
    let log = acl_log(&mut admin);
    let want = |r: &str, o: &str, u: &str, n: i64| {
        (
            r.to_string(),
            "toplevel".to_string(),
            o.to_string(),
            u.to_string(),
            n,
        )
    };
    assert_eq!(
        log,
        vec![
            want("auth", "AUTH", "alice", 1),
            want("command", "del", "alice", 2),
            want("channel", "sports", "alice", 1),
            want("key", "r1", "alice", 1),
        ]
    );
    let list: String = cmd(&mut admin, &["CLIENT", "LIST"]);
    assert!(list.contains(" user=alice "), "{list}");
    let _: () = cmd(&mut admin, &["ACL", "LOG", "RESET"]);
    assert!(acl_log(&mut admin).is_empty());
    // Disabled users and unknown users cannot log in.
    let _: () = cmd(&mut admin, &["ACL", "SETUSER", "alice", "off"]);
    let mut c = s.client();
    assert!(try_cmd(&mut c, &["AUTH", "alice", "pw"])
        .unwrap_err()
        .contains("WRONGPASS"));
    assert!(try_cmd(&mut c, &["AUTH", "nobody", "pw"])
        .unwrap_err()
        .contains("WRONGPASS"));
}

#[test]
fn transactions_refuse_when_queued_and_recheck_at_exec() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let _: () = cmd(
        &mut admin,
        &[
            "ACL", "SETUSER", "bob", "on", ">pw", "+multi", "+exec", "+set", "+get", "~*",
        ],
    );
    let mut bob = login(&s, "bob", "pw");
    let _: () = cmd(&mut bob, &["MULTI"]);
    let _: String = cmd(&mut bob, &["SET", "k", "1"]);
    assert!(try_cmd(&mut bob, &["DEL", "k"])
        .unwrap_err()
        .contains("NOPERM"));
    let e = try_cmd(&mut bob, &["EXEC"]).unwrap_err();
    assert!(
        e.contains("Transaction discarded because of previous errors"),
        "{e}"
    );
    // Permission taken away between queueing and EXEC: that command fails, the others run.
    let _: () = cmd(&mut bob, &["MULTI"]);
    let _: String = cmd(&mut bob, &["SET", "k", "2"]);
    let _: String = cmd(&mut bob, &["GET", "k"]);
    let _: () = cmd(&mut admin, &["ACL", "SETUSER", "bob", "-get"]);
    // The reply holds the error for GET (the client library surfaces it as the EXEC's error);
    // SET ran.
    let reply = format!("{:?}", try_cmd(&mut bob, &["EXEC"]));
    assert!(
        reply.contains("ACLs rules changed between the moment the transaction was accumulated"),
        "{reply}"
    );
    assert_eq!(cmd::<String>(&mut admin, &["GET", "k"]), "2");
    let log = acl_log(&mut admin);
    assert_eq!(log[0].1, "multi");
    assert_eq!(log[0].2, "get");
}

#[test]
fn scripts_run_as_their_caller() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let _: () = cmd(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "carol",
            "on",
            ">pw",
            "+@scripting",
            "+get",
            "~x*",
        ],
    );
    let mut carol = login(&s, "carol", "pw");
    let v: Option<String> = cmd(&mut carol, &["EVAL", "return redis.call('get', 'x1')", "0"]);
    assert_eq!(v, None);
    let e = try_cmd(
        &mut carol,
        &["EVAL", "return redis.call('set', 'x1', 'v')", "0"],
    )
    .unwrap_err();
    assert!(
        e.contains("The user executing the script can't run this command or subcommand"),
        "{e}"
    );
    let e = try_cmd(&mut carol, &["EVAL", "return redis.call('get', 'y')", "0"]).unwrap_err();
    assert!(e.contains("can't access at least one of the keys"), "{e}");
    let ok: Option<i64> = cmd(
        &mut carol,
        &["EVAL", "return redis.acl_check_cmd('get', 'x1')", "0"],
    );
    assert_eq!(ok, Some(1));
    let no: Option<i64> = cmd(
        &mut carol,
        &["EVAL", "return redis.acl_check_cmd('set', 'x1', 'v')", "0"],
    );
    assert_eq!(no, None);
    let log = acl_log(&mut admin);
    assert!(
        log.iter()
            .any(|e| e.0 == "command" && e.1 == "lua" && e.2 == "set"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|e| e.0 == "key" && e.1 == "lua" && e.2 == "y"),
        "{log:?}"
    );
}

#[test]
fn deleting_a_user_disconnects_its_clients_and_reset_returns_to_default() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let _: () = cmd(
        &mut admin,
        &["ACL", "SETUSER", "dave", "on", "nopass", "+@all", "~*"],
    );
    let mut dave = login(&s, "dave", "any");
    let _: String = cmd(&mut dave, &["PING"]);
    let e = try_cmd(&mut admin, &["ACL", "DELUSER", "default"]).unwrap_err();
    assert!(e.contains("The 'default' user cannot be removed"), "{e}");
    assert_eq!(
        cmd::<i64>(&mut admin, &["ACL", "DELUSER", "dave", "nosuch"]),
        1
    );
    assert!(
        try_cmd(&mut dave, &["PING"]).is_err(),
        "dave's connection should be closed"
    );
    let e = try_cmd(&mut admin, &["CLIENT", "KILL", "USER", "dave"]).unwrap_err();
    assert!(e.contains("No such user 'dave'"), "{e}");
    // RESET: back to the default user.
    let _: () = cmd(
        &mut admin,
        &["ACL", "SETUSER", "erin", "on", ">pw", "+@all", "~*"],
    );
    let mut c = login(&s, "erin", "pw");
    assert_eq!(cmd::<String>(&mut c, &["ACL", "WHOAMI"]), "erin");
    let _: String = cmd(&mut c, &["RESET"]);
    assert_eq!(cmd::<String>(&mut c, &["ACL", "WHOAMI"]), "default");
    assert_eq!(
        cmd::<i64>(&mut admin, &["CLIENT", "KILL", "USER", "erin"]),
        0
    );
}

#[test]
fn subscribers_lose_their_connection_when_their_channels_are_taken_away() {
    let s = Server::start(&[]);
    let mut admin = s.client();
    let _: () = cmd(
        &mut admin,
        &[
            "ACL", "SETUSER", "sub", "on", "nopass", "+@all", "&foo", "&bar:*",
        ],
    );
    let mut c = login(&s, "sub", "x");
    let _: Value = cmd(&mut c, &["SUBSCRIBE", "foo"]);
    // Widening keeps the subscriber; taking `foo` away ends it.
    let _: () = cmd(&mut admin, &["ACL", "SETUSER", "sub", "&baz"]);
    let n: i64 = cmd(&mut admin, &["PUBLISH", "foo", "m"]);
    assert_eq!(n, 1);
    let _: () = cmd(
        &mut admin,
        &["ACL", "SETUSER", "sub", "resetchannels", "&bar:*"],
    );
    common::wait_for("the subscriber to be disconnected", || {
        let n: i64 = cmd(&mut admin, &["PUBLISH", "foo", "m"]);
        (n == 0).then_some(())
    });
}

#[test]
fn requirepass_is_the_default_users_password() {
    let s = Server::start(&["--requirepass", "sekret"]);
    let mut c = s.client();
    assert!(try_cmd(&mut c, &["PING"]).unwrap_err().contains("NOAUTH"));
    let _: () = cmd(&mut c, &["AUTH", "sekret"]);
    let list: Vec<String> = cmd(&mut c, &["ACL", "LIST"]);
    assert_eq!(list.len(), 1);
    assert!(list[0].starts_with("user default on #"), "{list:?}");
    let _: () = cmd(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    let mut d = s.client();
    let _: String = cmd(&mut d, &["PING"]);
    let e = try_cmd(&mut d, &["AUTH", "x"]).unwrap_err();
    assert!(e.contains("without any password configured"), "{e}");
}

#[test]
fn users_come_from_the_config_or_the_acl_file() {
    let s = Server::start(&["--user", "frank", "on", ">pw", "+get", "~*"]);
    let mut c = s.client();
    let list: Vec<String> = cmd(&mut c, &["ACL", "LIST"]);
    assert!(
        list.contains(&format!(
            "user frank on #{} ~* resetchannels -@all +get",
            sha256_of_pw()
        )),
        "{list:?}"
    );
    drop(s);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    std::fs::write(
        &file,
        "user grace on >pw ~g* +@read\nuser default on nopass ~* &* +@all\n",
    )
    .unwrap();
    let path = file.to_str().unwrap().to_string();
    let s = Server::start(&["--aclfile", &path]);
    let mut c = s.client();
    let mut g = login(&s, "grace", "pw");
    let _: Option<String> = cmd(&mut g, &["GET", "g1"]);
    let _: () = cmd(
        &mut c,
        &["ACL", "SETUSER", "heidi", "on", "nopass", "+ping"],
    );
    let _: () = cmd(&mut c, &["ACL", "SAVE"]);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.contains("user heidi on nopass resetchannels -@all +ping"),
        "{saved}"
    );
    // A broken file changes nothing.
    std::fs::write(&file, "user grace on +nosuchcommand\nbogus\n").unwrap();
    let e = try_cmd(&mut c, &["ACL", "LOAD"]).unwrap_err();
    assert!(
        e.contains("should start with user keyword") && e.contains("no change"),
        "{e}"
    );
    assert_eq!(
        cmd::<Vec<String>>(&mut c, &["ACL", "USERS"]),
        ["default", "grace", "heidi"]
    );
    // A good file replaces the users; clients of other users than default start over.
    std::fs::write(&file, "user ivan on nopass +@all ~*\n").unwrap();
    let _: () = cmd(&mut c, &["ACL", "LOAD"]);
    assert_eq!(
        cmd::<Vec<String>>(&mut c, &["ACL", "USERS"]),
        ["default", "ivan"]
    );
    assert!(try_cmd(&mut g, &["PING"]).is_err());
}

#[test]
fn users_in_the_config_and_an_acl_file_together_stop_startup() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "").unwrap();
    let mut child = Server::spawn_unchecked(
        env!("CARGO_BIN_EXE_slotcache-server"),
        dir.path(),
        &["--aclfile", file.to_str().unwrap(), "--user", "x", "on"],
    );
    let status = child.wait().unwrap();
    assert!(!status.success());
}

fn sha256_of_pw() -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b"pw")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
