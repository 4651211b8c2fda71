//! Every redis-cli flow that moves keys, against real slotcache processes (and redis-server
//! where the flow crosses kinds): add-node + rebalance (weights, empty masters, threshold),
//! emptying a node + del-node, import from standalone servers (copy, replace), a reshard under
//! live load from the `redis` crate's cluster client and `redis-cli -c`, and `--cluster fix`
//! after interrupted migrations (redis-cli killed mid-reshard, a source restarted mid-move
//! with keys on both sides, a target killed between SETSLOT and MIGRATE).
mod common;

use common::cluster::{
    key_slot, kind, plain, redis_cli, redis_cli_stdin, stdout, wait_until, Cluster, Kind, Node,
    Opts, CLUSTER_DEADLINE,
};
use common::Server;
use redis::Commands;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `--cluster reshard` arguments moving `slots` slots from node `from` to node `to`.
fn reshard_args(c: &Cluster, from: usize, to: usize, slots: u32, pipeline: u32) -> Vec<String> {
    [
        "--cluster".to_string(),
        "reshard".into(),
        c.nodes[0].addr(),
        "--cluster-from".into(),
        c.nodes[from].id(),
        "--cluster-to".into(),
        c.nodes[to].id(),
        "--cluster-slots".into(),
        slots.to_string(),
        "--cluster-yes".into(),
        "--cluster-pipeline".into(),
        pipeline.to_string(),
    ]
    .into()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// redis-cli must succeed; returns its output without colours.
fn cli_ok(args: &[&str]) -> String {
    let out = redis_cli(args);
    let text = plain(&stdout(&out));
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Waits until `redis-cli --cluster check` through `node` is clean: all slots covered, no
/// open slot, every node agreeing.
fn wait_check_clean(node: &Node) {
    wait_until("a clean --cluster check", CLUSTER_DEADLINE, || {
        let out = redis_cli(&["--cluster", "check", &node.addr()]);
        let s = plain(&stdout(&out));
        if out.status.success() && s.contains("All 16384 slots covered") && !s.contains("[WARNING]")
        {
            Ok(())
        } else {
            Err(s)
        }
    });
}

/// Writes keys of every type with tags spread over all slots; returns key -> digest.
fn fill_every_type(c: &Cluster, n: usize, prefix: &str) -> BTreeMap<String, String> {
    let client = redis::cluster::ClusterClient::new(
        c.nodes
            .iter()
            .map(|n| format!("redis://{}/", n.addr()))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut con = client.get_connection().unwrap();
    let mut keys = Vec::new();
    for i in 0..n {
        let k = format!("{prefix}:{i}");
        let _: () = match i % 6 {
            0 => con.set(&k, format!("value-{i}")).unwrap(),
            1 => con.rpush(&k, &[i, i + 1, i + 2]).unwrap(),
            2 => con.hset_multiple(&k, &[("f", i), ("g", i + 1)]).unwrap(),
            3 => con.sadd(&k, &[i, i * 7]).unwrap(),
            4 => con
                .zadd_multiple(&k, &[(1.5, "a"), (i as f64, "b")])
                .unwrap(),
            _ => {
                let _: () = con.set(&k, i).unwrap();
                con.pexpire(&k, 600_000).unwrap()
            }
        };
        keys.push(k);
    }
    digests(c, &keys)
}

/// key -> DEBUG DIGEST-VALUE, asserting that each key lives on exactly one primary.
fn digests(c: &Cluster, keys: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for k in keys {
        let holders: Vec<&Node> = c
            .nodes
            .iter()
            .filter(|n| n.is_running() && n.call(&["EXISTS", k]) == ":1\r\n")
            .collect();
        assert_eq!(holders.len(), 1, "{k} on {} primaries", holders.len());
        let d: Vec<String> = holders[0].query(&["DEBUG", "DIGEST-VALUE", k]);
        out.insert(k.clone(), d[0].clone());
    }
    out
}

fn total_keys(c: &Cluster) -> i64 {
    c.nodes
        .iter()
        .filter(|n| n.is_running())
        .map(|n| n.query::<i64>(&["DBSIZE"]))
        .sum()
}

#[test]
fn add_node_rebalance_and_del_node_keep_every_key() {
    let mut c = Cluster::start_manual(&[kind(); 3]);
    let before = fill_every_type(&c, 1200, "rb");
    // add-node, then rebalance onto the empty master.
    let new = Node::start(kind());
    cli_ok(&["--cluster", "add-node", &new.addr(), &c.nodes[0].addr()]);
    c.nodes.push(new);
    c.wait_healthy();
    cli_ok(&[
        "--cluster",
        "rebalance",
        &c.nodes[0].addr(),
        "--cluster-use-empty-masters",
        "--cluster-pipeline",
        "13",
        "--cluster-threshold",
        "1",
    ]);
    wait_check_clean(&c.nodes[0]);
    let slots = c.slot_map();
    let owned: Vec<u32> = slots
        .iter()
        .map(|r| r.iter().map(|(a, b)| (*b - *a) as u32 + 1).sum())
        .collect();
    assert!(owned.iter().all(|n| (4000..=4200).contains(n)), "{owned:?}");
    let keys: Vec<String> = before.keys().cloned().collect();
    assert_eq!(digests(&c, &keys), before);
    assert!(c.nodes[3].query::<i64>(&["DBSIZE"]) > 0);
    // Weights: empty node 3 (weight 0), then remove it.
    let id3 = c.nodes[3].id();
    cli_ok(&[
        "--cluster",
        "rebalance",
        &c.nodes[0].addr(),
        "--cluster-weight",
        &format!("{id3}=0"),
        "--cluster-timeout",
        "5000",
    ]);
    wait_check_clean(&c.nodes[0]);
    assert_eq!(c.nodes[3].query::<i64>(&["DBSIZE"]), 0);
    assert!(c.slot_map()[3].is_empty());
    cli_ok(&["--cluster", "del-node", &c.nodes[0].addr(), &id3]);
    let gone = c.nodes.pop().unwrap();
    wait_until("the removed node forgotten", CLUSTER_DEADLINE, || {
        for n in &c.nodes {
            let text: String = n.query(&["CLUSTER", "NODES"]);
            if text.contains(&id3) {
                return Err(text);
            }
        }
        Ok(())
    });
    drop(gone);
    wait_check_clean(&c.nodes[0]);
    assert_eq!(digests(&c, &keys), before);
    assert_eq!(total_keys(&c), before.len() as i64);
}

#[test]
fn import_from_standalone_servers_with_copy_and_replace() {
    let c = Cluster::start_manual(&[kind(); 2]);
    for source_kind in [Kind::Slotcache, Kind::Redis] {
        let src = match source_kind {
            Kind::Slotcache => Server::start(&[]),
            Kind::Redis => Server::start_redis(&[]),
        };
        let tag = format!("{source_kind:?}");
        let mut s = src.client();
        for i in 0..300 {
            let _: () = s.set(format!("imp:{tag}:{i}"), i).unwrap();
            let _: () = s.rpush(format!("impl:{tag}:{i}"), &[1, 2]).unwrap();
        }
        // One key already in the cluster with another value: --cluster-replace overwrites it.
        let clash = format!("imp:{tag}:7");
        let owner = &c.nodes[c.owner_of(key_slot(clash.as_bytes()))];
        owner.call(&["SET", &clash, "old"]);
        let from = format!("127.0.0.1:{}", src.port);
        let import = |extra: &[&str]| {
            let mut args = vec!["--cluster", "import"];
            let to = c.nodes[0].addr();
            args.extend([to.as_str(), "--cluster-from", &from]);
            args.extend(extra);
            cli_ok(&args);
        };
        import(&["--cluster-copy", "--cluster-replace"]);
        let src_left: i64 = redis::cmd("DBSIZE").query(&mut s).unwrap();
        assert_eq!(src_left, 600, "--cluster-copy keeps the source's keys");
        assert_eq!(owner.call(&["GET", &clash]), "$1\r\n7\r\n");
        let keys: Vec<String> = (0..300)
            .flat_map(|i| [format!("imp:{tag}:{i}"), format!("impl:{tag}:{i}")])
            .collect();
        digests(&c, &keys);
        // Without --cluster-copy the keys leave the source.
        let _: () = s.set(format!("imp:{tag}:moved"), "m").unwrap();
        let _: () = redis::cmd("DEL").arg(&keys).query(&mut s).unwrap();
        import(&[]);
        let src_left: i64 = redis::cmd("DBSIZE").query(&mut s).unwrap();
        assert_eq!(src_left, 0);
        digests(&c, &[format!("imp:{tag}:moved")]);
    }
    wait_check_clean(&c.nodes[0]);
}

/// What one writer did to its keys, acknowledged.
#[derive(Default)]
struct Acked {
    incrs: i64,
    pushes: i64,
    last_set: Option<i64>,
}

#[test]
fn reshard_under_live_load_loses_no_acknowledged_write() {
    let c = Cluster::start_manual(&[kind(); 3]);
    // Slots 0..1999 move from node 0 to node 1; writers use keys in them (and a few outside).
    let tags: Vec<String> = (0..)
        .map(|i| format!("w{i}"))
        .filter(|t| key_slot(t.as_bytes()) < 2000 || key_slot(t.as_bytes()) % 97 == 0)
        .take(24)
        .collect();
    // Background keys in the moving slots so MIGRATE has work while clients write.
    {
        let mut n0 = c.nodes[0].client();
        let mut pipe = redis::pipe();
        let mut k = 0;
        for i in 0..40_000 {
            let key = format!("bg:{i}");
            if key_slot(key.as_bytes()) < 2000 {
                pipe.set(key, i).ignore();
                k += 1;
            }
        }
        let _: () = pipe.query(&mut n0).unwrap();
        assert!(k > 4000);
    }
    let urls: Vec<String> = c
        .nodes
        .iter()
        .map(|n| format!("redis://{}/", n.addr()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for (w, tag) in tags.iter().enumerate() {
        let (urls, stop, tag) = (urls.clone(), stop.clone(), tag.clone());
        writers.push(std::thread::spawn(move || {
            let client = redis::cluster::ClusterClient::builder(urls)
                .retries(30)
                .build()
                .unwrap();
            let mut con = client.get_connection().unwrap();
            let mut a = Acked::default();
            let mut errors = Vec::new();
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) || n < 50 {
                n += 1;
                let r: redis::RedisResult<()> = (|| {
                    let _: i64 = con.incr(format!("{{{tag}}}:ctr"), 1)?;
                    a.incrs += 1;
                    let _: i64 = con.rpush(format!("{{{tag}}}:list"), n)?;
                    a.pushes += 1;
                    let _: () = con.hset(format!("{{{tag}}}:h"), format!("f{}", n % 50), n)?;
                    let _: i64 = con.sadd(format!("{{{tag}}}:s"), n % 64)?;
                    let _: i64 = con.zadd(format!("{{{tag}}}:z"), format!("m{}", n % 40), n)?;
                    let _: () = con.set(format!("{{{tag}}}:str"), n)?;
                    a.last_set = Some(n);
                    // Multi-key in one slot: TRYAGAIN while split, retried by the client.
                    let _: Vec<Option<String>> =
                        con.mget(&[format!("{{{tag}}}:str"), format!("{{{tag}}}:ctr")])?;
                    Ok(())
                })();
                if let Err(e) = r {
                    errors.push(format!("writer {w}: {e}"));
                    break;
                }
            }
            (tag, a, n, errors)
        }));
    }
    // A reader checking that a counter never goes backwards.
    let reader = {
        let (urls, stop, tags) = (urls.clone(), stop.clone(), tags.clone());
        std::thread::spawn(move || {
            let client = redis::cluster::ClusterClient::builder(urls)
                .retries(30)
                .build()
                .unwrap();
            let mut con = client.get_connection().unwrap();
            let mut last: BTreeMap<String, i64> = BTreeMap::new();
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                for t in &tags {
                    let k = format!("{{{t}}}:ctr");
                    let v: Option<i64> = con.get(&k).map_err(|e| format!("{k}: {e}"))?;
                    let v = v.unwrap_or(0);
                    let prev = last.insert(k.clone(), v).unwrap_or(0);
                    if v < prev {
                        return Err(format!("{k} went back from {prev} to {v}"));
                    }
                    reads += 1;
                }
            }
            Ok::<_, String>(reads)
        })
    };
    // redis-cli -c as another writer, on its own counter in a moving slot.
    let cli_tag = tags[0].clone();
    let cli_port = c.nodes[2].port.to_string();
    let cli_writer = std::thread::spawn(move || {
        let input = format!("INCR {{{cli_tag}}}:cli\n").repeat(3000);
        redis_cli_stdin(&["-c", "-p", &cli_port], &input)
    });
    std::thread::sleep(Duration::from_millis(300));
    cli_ok(&strs(&reshard_args(&c, 0, 1, 2000, 50)));
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap().unwrap();
    assert!(reads > 0);
    let out = cli_writer.join().unwrap();
    let lines: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.starts_with("-> Redirected"))
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 3000, "{}", stdout(&out));
    assert!(
        lines.iter().all(|l| l.parse::<i64>().is_ok()),
        "redis-cli -c saw an error: {:?}",
        lines.iter().find(|l| l.parse::<i64>().is_err())
    );
    wait_check_clean(&c.nodes[0]);
    assert_eq!(c.slot_map()[0].first().map(|r| r.0), Some(2000));
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    let mut con = client.get_connection().unwrap();
    let cli_count: i64 = con.get(format!("{{{}}}:cli", tags[0])).unwrap();
    assert_eq!(cli_count, 3000);
    for wr in writers {
        let (tag, a, n, errors) = wr.join().unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let ctr: i64 = con.get(format!("{{{tag}}}:ctr")).unwrap();
        assert_eq!(ctr, a.incrs, "{tag}: every acknowledged INCR counted once");
        let list: Vec<i64> = con.lrange(format!("{{{tag}}}:list"), 0, -1).unwrap();
        assert_eq!(list, (1..=a.pushes).collect::<Vec<_>>(), "{tag}");
        let s: Option<i64> = con.get(format!("{{{tag}}}:str")).unwrap();
        assert_eq!(s, a.last_set, "{tag}");
        let h: i64 = con.hlen(format!("{{{tag}}}:h")).unwrap();
        assert_eq!(h, n.min(50), "{tag}");
    }
    // No key on two primaries.
    let mut seen = BTreeMap::new();
    for (i, node) in c.nodes.iter().enumerate() {
        let keys: Vec<String> = node.query(&["KEYS", "{w*"]);
        for k in keys {
            assert!(seen.insert(k.clone(), i).is_none(), "{k} on two primaries");
        }
    }
    assert_eq!(total_keys(&c), {
        let mut n = 0;
        for node in &c.nodes {
            n += node.query::<i64>(&["DBSIZE"]);
        }
        n
    });
}

/// Keys tagged into `slot`.
fn keys_in_slot(slot: u16, n: usize, prefix: &str) -> Vec<String> {
    let tag = (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|t| key_slot(t.as_bytes()) == slot)
        .unwrap();
    (0..n).map(|i| format!("{{{tag}}}:{i}")).collect()
}

/// SETSLOT IMPORTING on `to`, then MIGRATING on `from`, as redis-cli does.
fn open_slot(from: &Node, to: &Node, slot: u16) {
    let s = slot.to_string();
    let r = to.call(&["CLUSTER", "SETSLOT", &s, "IMPORTING", &from.id()]);
    assert_eq!(r, "+OK\r\n");
    let r = from.call(&["CLUSTER", "SETSLOT", &s, "MIGRATING", &to.id()]);
    assert_eq!(r, "+OK\r\n");
}

fn open_slots(node: &Node) -> bool {
    let text: String = node.query(&["CLUSTER", "NODES"]);
    text.contains("->-") || text.contains("-<-")
}

#[test]
fn fix_after_redis_cli_killed_mid_reshard() {
    let c = Cluster::start_manual(&[kind(); 2]);
    let mut keys = Vec::new();
    for slot in 0..40u16 {
        keys.extend(keys_in_slot(slot, 60, &format!("k{slot}-")));
    }
    let mut n0 = c.nodes[0].client();
    for k in &keys {
        let _: () = n0.set(k, k).unwrap();
    }
    let before = digests(&c, &keys);
    let mut child = std::process::Command::new("redis-cli")
        .args(reshard_args(&c, 0, 1, 40, 1))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while a slot is open (between SETSLOT and the end of its MIGRATEs).
    wait_until("a slot to be open", CLUSTER_DEADLINE, || {
        if open_slots(&c.nodes[0]) && open_slots(&c.nodes[1]) {
            Ok(())
        } else {
            Err("no open slot yet".to_string())
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(open_slots(&c.nodes[0]) || open_slots(&c.nodes[1]));
    cli_ok(&["--cluster", "fix", &c.nodes[0].addr()]);
    wait_check_clean(&c.nodes[0]);
    assert_eq!(digests(&c, &keys), before);
}

#[test]
fn fix_after_a_source_restart_with_keys_on_both_sides() {
    let c = Cluster::start_manual(&[kind(); 2]);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let slot = 77u16;
    let keys = keys_in_slot(slot, 100, "both");
    let mut ca = a.client();
    for k in &keys {
        let _: () = ca.rpush(k, &[k.as_str(), "x"]).unwrap();
    }
    let before = digests(&c, &keys);
    let s = slot.to_string();
    open_slot(a, b, slot);
    // The source snapshots every key, moves half, and dies: on restart it has them all again.
    assert_eq!(a.call(&["SAVE"]), "+OK\r\n");
    let mut args = vec!["MIGRATE", "127.0.0.1", "", "", "0", "5000", "KEYS"];
    let port = b.port.to_string();
    args[2] = &port;
    args.extend(keys[..50].iter().map(String::as_str));
    assert_eq!(a.call(&args), "+OK\r\n");
    a.restart();
    c.wait_healthy();
    assert_eq!(a.query::<i64>(&["CLUSTER", "COUNTKEYSINSLOT", &s]), 100);
    assert_eq!(b.query::<i64>(&["CLUSTER", "COUNTKEYSINSLOT", &s]), 50);
    assert!(
        open_slots(a) && open_slots(b),
        "the restarted source remembers the migration"
    );
    // fix closes the slot on one side (redis-cli picks which), dropping the duplicates.
    cli_ok(&["--cluster", "fix", &a.addr()]);
    wait_check_clean(a);
    assert_eq!(digests(&c, &keys), before);
    let owner = &c.nodes[c.owner_of(slot)];
    assert_eq!(owner.query::<i64>(&["CLUSTER", "COUNTKEYSINSLOT", &s]), 100);
}

#[test]
fn fix_after_the_target_dies_between_setslot_and_migrate() {
    let c = Cluster::start_manual_opts(&[kind(); 3], &Opts::default(), true);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let slot = 123u16;
    let keys = keys_in_slot(slot, 30, "tgt");
    let mut ca = a.client();
    for k in &keys {
        let _: () = ca.hset(k, "f", k.as_str()).unwrap();
    }
    let before = digests(&c, &keys);
    open_slot(a, b, slot);
    b.kill9();
    b.restart();
    c.wait_healthy();
    cli_ok(&["--cluster", "fix", &a.addr()]);
    wait_check_clean(a);
    assert_eq!(digests(&c, &keys), before);
}

#[test]
fn reshard_both_ways_in_a_mixed_cluster() {
    let c = Cluster::start_mixed(&[Kind::Slotcache, Kind::Redis]);
    let before = fill_every_type(&c, 600, "mx");
    let keys: Vec<String> = before.keys().cloned().collect();
    for (from, to) in [(0, 1), (1, 0)] {
        let mut args = reshard_args(&c, from, to, 3000, 20);
        args.push("--cluster-replace".into());
        cli_ok(&strs(&args));
        wait_check_clean(&c.nodes[0]);
        assert_eq!(digests(&c, &keys), before, "after moving {from} -> {to}");
    }
}
