//! TTLs: lazy expiry on access, the active expiry cycle for keys never touched again, and
//! DEBUG SET-ACTIVE-EXPIRE.
mod common;
use common::{info_field, wait_for, Server};
use redis::Commands;

#[test]
fn keys_expire_on_access() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("PX")
        .arg(150)
        .query(&mut c)
        .unwrap();
    let pttl: i64 = c.pttl("k").unwrap();
    assert!(pttl > 0 && pttl <= 150, "{pttl}");
    wait_for("k to expire", || {
        c.get::<_, Option<String>>("k")
            .unwrap()
            .is_none()
            .then_some(())
    });
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), -2);
    assert!(info_field(&mut c, "stats", "expired_keys") >= 1);
}

#[test]
fn active_expiry_removes_untouched_keys() {
    let s = Server::start(&["--hz", "50"]);
    let mut c = s.client();
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("SET")
            .arg(format!("vol:{i}"))
            .arg(i)
            .arg("PX")
            .arg(100)
            .ignore();
    }
    for i in 0..500 {
        p.cmd("SET").arg(format!("keep:{i}")).arg(i).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    // DBSIZE counts keys not yet reclaimed; only the background cycle can bring it down.
    wait_for("active expiry", || {
        (redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap() == 500).then_some(())
    });
    assert!(info_field(&mut c, "stats", "expired_keys") >= 2000);
    let info: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
    assert!(info.contains("db0:keys=500,expires=0"), "{info}");
}

#[test]
fn active_expiry_can_be_disabled() {
    let s = Server::start(&["--hz", "50"]);
    let mut c = s.client();
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut c)
        .unwrap();
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(1)
            .arg("PX")
            .arg(50)
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("probe")
        .arg(1)
        .arg("PX")
        .arg(50)
        .query(&mut c)
        .unwrap();
    // Once the probe is gone (lazily, on access) the others have expired too ...
    wait_for("probe to expire", || {
        c.get::<_, Option<i64>>("probe")
            .unwrap()
            .is_none()
            .then_some(())
    });
    // ... but nothing reclaimed them.
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 100);
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(1)
        .query(&mut c)
        .unwrap();
    wait_for("active expiry after re-enable", || {
        (redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap() == 0).then_some(())
    });
}

#[test]
fn expire_options_and_persist() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = c.set("k", "v").unwrap();
    let r: i64 = redis::cmd("EXPIRE")
        .arg("k")
        .arg(100)
        .arg("XX")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 0);
    let r: i64 = redis::cmd("EXPIRE")
        .arg("k")
        .arg(100)
        .arg("NX")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 1);
    let r: i64 = redis::cmd("EXPIRE")
        .arg("k")
        .arg(50)
        .arg("GT")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 0);
    let r: i64 = redis::cmd("EXPIRE")
        .arg("k")
        .arg(50)
        .arg("LT")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 1);
    let t: i64 = c.ttl("k").unwrap();
    assert!(t > 0 && t <= 50);
    let at: i64 = redis::cmd("EXPIRETIME").arg("k").query(&mut c).unwrap();
    assert!(at > 1_600_000_000);
    assert_eq!(c.persist::<_, i64>("k").unwrap(), 1);
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), -1);
    // An expire time in the past deletes the key at once.
    let r: i64 = redis::cmd("EXPIREAT")
        .arg("k")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 1);
    assert!(!c.exists::<_, bool>("k").unwrap());
}

#[test]
fn expired_big_values_are_freed_in_the_background_only_with_lazyfree_lazy_expire() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let big = "x".repeat(200 * 1024);
    let mut expire_big = |c: &mut redis::Connection| {
        let _: () = redis::cmd("SET")
            .arg("big")
            .arg(&big)
            .arg("PX")
            .arg(1)
            .query(c)
            .unwrap();
        wait_for("the big key to expire", || {
            let n: i64 = redis::cmd("DBSIZE").query(c).unwrap();
            (n == 0).then_some(())
        });
        info_field(c, "memory", "lazyfreed_objects")
    };
    // Redis's default (no): freed where it expired.
    assert_eq!(expire_big(&mut c), 0);
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "lazyfree-lazy-expire", "yes"])
        .query(&mut c)
        .unwrap();
    assert_eq!(expire_big(&mut c), 1);
}
