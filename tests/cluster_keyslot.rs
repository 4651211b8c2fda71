//! CLUSTER KEYSLOT / COUNTKEYSINSLOT / GETKEYSINSLOT: the node under test (see
//! `common::cluster`, `CLUSTER_KIND`) against a real cluster-enabled redis-server, byte for
//! byte. Neither node joins a cluster: KEYSLOT needs none, and for the key counts each node
//! owns all 16384 slots alone.
mod common;
use common::cluster::{argv, key_slot, kind, wait_until, Kind, Node, CLUSTER_DEADLINE};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Keys that exercise every branch of the hash-tag rule.
fn keys(rng: &mut SmallRng) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        "",
        "{",
        "}",
        "{}",
        "{}{}",
        "{}x",
        "x{}",
        "x{}y",
        "{}{a}",
        "{a}{}",
        "{{a}}",
        "{{}}",
        "{a{b}c}",
        "}{a}",
        "}{",
        "{a",
        "a}",
        "a{b",
        "a}b{c}",
        "{a}",
        "a{b}",
        "a{b}c",
        "{ab}",
        "{user1000}.following",
        "{user1000}.followers",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "{ }",
        "{\0}",
        "123456789",
        "foo",
        "bar",
        "hello",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let alnum = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-";
    let braces = b"{}{}ab";
    while out.len() < 5000 {
        let len = rng.gen_range(0..24);
        let key: Vec<u8> = match rng.gen_range(0..6) {
            // printable
            0 => (0..len)
                .map(|_| alnum[rng.gen_range(0..alnum.len())])
                .collect(),
            // dense in braces: nested, unbalanced, empty tags
            1 => (0..len)
                .map(|_| braces[rng.gen_range(0..braces.len())])
                .collect(),
            // binary, including \0 \r \n and bytes >= 0x80
            2 => (0..len).map(|_| rng.gen()).collect(),
            // prefix{tag}suffix with random parts
            3 => {
                let mut k = Vec::new();
                for _ in 0..rng.gen_range(0..4) {
                    k.push(alnum[rng.gen_range(0..alnum.len())]);
                }
                k.push(b'{');
                for _ in 0..rng.gen_range(0..6) {
                    k.push(rng.gen());
                }
                k.push(b'}');
                for _ in 0..rng.gen_range(0..4) {
                    k.push(braces[rng.gen_range(0..braces.len())]);
                }
                k
            }
            // binary with braces sprinkled in
            4 => (0..len)
                .map(|_| {
                    if rng.gen_bool(0.3) {
                        braces[rng.gen_range(0..2)]
                    } else {
                        rng.gen()
                    }
                })
                .collect(),
            // long keys
            _ => (0..rng.gen_range(100..2000))
                .map(|_| alnum[rng.gen_range(0..alnum.len())])
                .collect(),
        };
        out.push(key);
    }
    out
}

fn keyslot_replies(node: &Node, keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut c = node.conn();
    let mut out = Vec::new();
    for chunk in keys.chunks(500) {
        let cmds: Vec<Vec<Vec<u8>>> = chunk
            .iter()
            .map(|k| argv(&[b"CLUSTER", b"KEYSLOT", k]))
            .collect();
        out.extend(c.pipeline(&cmds).expect("pipelined CLUSTER KEYSLOT"));
    }
    out
}

#[test]
fn keyslot_matches_redis_for_random_keys() {
    let seed: u64 = rand::random();
    eprintln!("keyslot seed {seed}");
    let keys = keys(&mut SmallRng::seed_from_u64(seed));
    let subject = Node::start(kind());
    let oracle = Node::start(Kind::oracle());
    let got = keyslot_replies(&subject, &keys);
    let want = keyslot_replies(&oracle, &keys);
    for ((k, g), w) in keys.iter().zip(&got).zip(&want) {
        assert_eq!(
            String::from_utf8_lossy(g),
            String::from_utf8_lossy(w),
            "CLUSTER KEYSLOT {k:?} (seed {seed})"
        );
        // The harness's own slot function agrees too (the other tests rely on it).
        assert_eq!(
            String::from_utf8_lossy(w),
            format!(":{}\r\n", key_slot(k)),
            "harness key_slot({k:?})"
        );
    }
    // Bad calls get the same error text.
    for bad in [
        &["CLUSTER", "KEYSLOT"][..],
        &["CLUSTER", "KEYSLOT", "a", "b"],
    ] {
        assert_eq!(subject.call(bad), oracle.call(bad), "{bad:?}");
    }
}

/// Gives a lone node all slots and waits until it serves them.
fn own_all_slots(node: &Node) {
    assert_eq!(
        node.call(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
        "+OK\r\n"
    );
    wait_until(
        "a one-node cluster to be ok",
        CLUSTER_DEADLINE,
        || match node.cluster_info_field("cluster_state").as_deref() {
            Some("ok") => Ok(()),
            other => Err(format!("cluster_state {other:?}")),
        },
    );
}

fn sorted_strings(v: redis::Value) -> Vec<String> {
    let mut s: Vec<String> = redis::from_owned_redis_value(v).expect("array of keys");
    s.sort();
    s
}

#[test]
fn countkeysinslot_and_getkeysinslot_match_redis() {
    let subject = Node::start(kind());
    let oracle = Node::start(Kind::oracle());
    let mut rng = SmallRng::seed_from_u64(7);
    // 120 keys in one slot, 40 in another, 300 scattered, some overwritten and deleted.
    let mut writes: Vec<Vec<String>> = Vec::new();
    for i in 0..120 {
        writes.push(vec!["SET".into(), format!("{{user1}}:{i}"), "v".into()]);
    }
    for i in 0..40 {
        writes.push(vec![
            "HSET".into(),
            format!("x{{user2}}{i}"),
            "f".into(),
            "v".into(),
        ]);
    }
    for i in 0..300 {
        writes.push(vec![
            "RPUSH".into(),
            format!("k{}:{i}", rng.gen::<u32>()),
            "e".into(),
        ]);
    }
    for i in 0..10 {
        writes.push(vec!["SET".into(), format!("{{user1}}:{i}"), "again".into()]);
        writes.push(vec!["DEL".into(), format!("x{{user2}}{i}")]);
    }
    let mut slots: Vec<u16> = writes.iter().map(|w| key_slot(w[1].as_bytes())).collect();
    slots.extend([0, 1, 16383, 8000]);
    slots.sort();
    slots.dedup();
    for node in [&subject, &oracle] {
        own_all_slots(node);
        let mut c = node.conn();
        let cmds: Vec<Vec<Vec<u8>>> = writes
            .iter()
            .map(|w| w.iter().map(|a| a.as_bytes().to_vec()).collect())
            .collect();
        for r in c.pipeline(&cmds).unwrap() {
            assert!(!r.starts_with(b"-"), "{}", String::from_utf8_lossy(&r));
        }
    }
    let (mut s, mut o) = (subject.conn(), oracle.conn());
    for slot in &slots {
        let slot = slot.to_string();
        let count = ["CLUSTER", "COUNTKEYSINSLOT", &slot];
        assert_eq!(
            s.call(&count).unwrap(),
            o.call(&count).unwrap(),
            "{count:?}"
        );
        let all = ["CLUSTER", "GETKEYSINSLOT", &slot, "1000"];
        assert_eq!(
            sorted_strings(s.call_value(&all).unwrap()),
            sorted_strings(o.call_value(&all).unwrap()),
            "{all:?}"
        );
    }
    // A limit returns that many of the slot's keys (which ones is not specified).
    let slot = key_slot(b"{user1}").to_string();
    let every = sorted_strings(
        s.call_value(&["CLUSTER", "GETKEYSINSLOT", &slot, "500"])
            .unwrap(),
    );
    assert_eq!(every.len(), 120);
    let some = sorted_strings(
        s.call_value(&["CLUSTER", "GETKEYSINSLOT", &slot, "7"])
            .unwrap(),
    );
    assert_eq!(some.len(), 7);
    assert!(some.iter().all(|k| every.contains(k)), "{some:?}");
    let none = ["CLUSTER", "GETKEYSINSLOT", &slot, "0"];
    assert_eq!(s.call(&none).unwrap(), o.call(&none).unwrap());
    // Bad arguments: same error text as Redis.
    for bad in [
        &["CLUSTER", "COUNTKEYSINSLOT", "99999"][..],
        &["CLUSTER", "COUNTKEYSINSLOT", "16384"],
        &["CLUSTER", "COUNTKEYSINSLOT", "-1"],
        &["CLUSTER", "COUNTKEYSINSLOT", "abc"],
        &["CLUSTER", "COUNTKEYSINSLOT"],
        &["CLUSTER", "GETKEYSINSLOT", "0", "-1"],
        &["CLUSTER", "GETKEYSINSLOT", "16384", "1"],
        &["CLUSTER", "GETKEYSINSLOT", "-1", "1"],
        &["CLUSTER", "GETKEYSINSLOT", "x", "1"],
        &["CLUSTER", "GETKEYSINSLOT", "0", "x"],
        &["CLUSTER", "GETKEYSINSLOT", "0"],
    ] {
        let want = o.call(bad).unwrap();
        assert!(want.starts_with('-'), "{bad:?} should be an error: {want}");
        assert_eq!(s.call(bad).unwrap(), want, "{bad:?}");
    }
}
