//! Failure detection in a 3-primary cluster (cluster-node-timeout 2000 ms, full coverage
//! required): PFAIL (`fail?`) when a node stops answering, FAIL once a majority of primaries
//! agrees, cluster_state:fail while a slot's owner is FAIL, and recovery when the node returns
//! (killed and restarted, or stopped and continued). Node kind: `CLUSTER_KIND` (see
//! `common::cluster`).
mod common;
use common::cluster::{kind, wait_until, Cluster, Node, CLUSTER_DEADLINE, NODE_TIMEOUT_MS};
use std::time::{Duration, Instant};

fn flags(observer: &Node, id: &str) -> Result<Vec<String>, String> {
    observer
        .flags_of(id)?
        .ok_or_else(|| format!("node {} does not list {id}", observer.port))
}

fn state(n: &Node) -> Result<String, String> {
    n.cluster_info()?
        .remove("cluster_state")
        .ok_or_else(|| "no cluster_state".into())
}

/// Waits until `observer` shows `id` with exactly the failure flag `want` ("fail?" or "fail").
fn wait_flag(observer: &Node, id: &str, want: &str) {
    wait_until(
        &format!("node {} to flag {id} {want}", observer.port),
        CLUSTER_DEADLINE,
        || {
            let f = flags(observer, id)?;
            let has = |x: &str| f.iter().any(|g| g == x);
            let other = if want == "fail" { "fail?" } else { "fail" };
            if has(want) && !has(other) {
                Ok(())
            } else {
                Err(format!("flags {f:?}"))
            }
        },
    );
}

fn wait_state(n: &Node, want: &str) {
    wait_until(
        &format!("node {} cluster_state:{want}", n.port),
        CLUSTER_DEADLINE,
        || match state(n)? {
            s if s == want => Ok(()),
            s => Err(s),
        },
    );
}

fn failure_reports(observer: &Node, id: &str) -> i64 {
    observer.query(&["CLUSTER", "COUNT-FAILURE-REPORTS", id])
}

#[test]
fn killed_node_goes_pfail_then_fail_and_recovers_on_restart() {
    let c = Cluster::start(3, kind());
    let (a, b, d) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    let (b_id, d_id) = (b.id(), d.id());
    // Stop B first, then kill D: A alone can see both time out, but as the only primary left it
    // can never collect the majority (2 of 3) needed for FAIL, so PFAIL is observable.
    b.sigstop();
    d.kill9();
    wait_flag(a, &d_id, "fail?");
    wait_flag(a, &b_id, "fail?");
    // A is in the minority: its cluster is down.
    wait_state(a, "fail");
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_millis(NODE_TIMEOUT_MS) {
        let f = flags(a, &d_id).unwrap();
        assert!(
            f.contains(&"fail?".to_string()) && !f.contains(&"fail".to_string()),
            "a lone primary promoted PFAIL to FAIL: {f:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(failure_reports(a, &d_id), 0);
    // The slots of B and D are the PFAIL ones.
    let map = c.slot_map();
    let count = |i: usize| -> usize { map[i].iter().map(|(x, y)| (y - x) as usize + 1).sum() };
    let d_slots = count(2);
    assert_eq!(
        a.cluster_info_field("cluster_slots_pfail"),
        Some((count(1) + count(2)).to_string())
    );

    // B comes back: with two primaries agreeing, D becomes FAIL everywhere; B is fine again.
    b.sigcont();
    wait_flag(a, &d_id, "fail");
    wait_flag(b, &d_id, "fail");
    wait_until("A to see B healthy", CLUSTER_DEADLINE, || {
        let f = flags(a, &b_id)?;
        if f.iter().any(|x| x.starts_with("fail")) {
            Err(format!("{f:?}"))
        } else {
            Ok(())
        }
    });
    // D's slots are served by nobody: full coverage is required, so the cluster is down.
    for n in [a, b] {
        wait_state(n, "fail");
        wait_until(
            "cluster_slots_fail to count D's slots",
            CLUSTER_DEADLINE,
            || {
                let v = n.cluster_info_field("cluster_slots_fail");
                if v == Some(d_slots.to_string()) {
                    Ok(())
                } else {
                    Err(format!("{v:?}"))
                }
            },
        );
        let key = c.key_on(0, "down");
        assert_eq!(
            n.call(&["GET", &key]),
            "-CLUSTERDOWN The cluster is down\r\n"
        );
    }
    let r = failure_reports(a, &d_id);
    assert!((0..=1).contains(&r), "{r}");

    // D restarts from its nodes.conf; the FAIL flag clears and the cluster is ok again.
    d.restart();
    assert_eq!(d.id(), d_id);
    c.wait_healthy();
    for n in &c.nodes {
        let info = n.cluster_info().unwrap();
        assert_eq!(info["cluster_slots_fail"], "0");
        assert_eq!(info["cluster_slots_pfail"], "0");
    }
}

#[test]
fn stopped_node_is_failed_and_recovers_on_sigcont() {
    let c = Cluster::start(3, kind());
    let (a, b, d) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    let d_id = d.id();
    // COUNT-FAILURE-REPORTS on a healthy cluster.
    for n in &c.nodes {
        for m in &c.nodes {
            if n.port != m.port {
                assert_eq!(
                    n.call(&["CLUSTER", "COUNT-FAILURE-REPORTS", &m.id()]),
                    ":0\r\n"
                );
            }
        }
        let unknown = "ffffffffffffffffffffffffffffffffffffffff";
        assert_eq!(
            n.call(&["CLUSTER", "COUNT-FAILURE-REPORTS", unknown]),
            format!("-ERR Unknown node {unknown}\r\n")
        );
        let r = n.call(&["CLUSTER", "COUNT-FAILURE-REPORTS"]);
        assert!(r.starts_with("-ERR "), "{r}");
    }
    d.sigstop();
    for n in [a, b] {
        wait_flag(n, &d_id, "fail");
        wait_state(n, "fail");
    }
    d.sigcont();
    c.wait_healthy();
    let key = c.key_on(2, "back");
    assert_eq!(d.call(&["SET", &key, "v"]), "+OK\r\n");
    assert_eq!(
        a.call(&["GET", &key]),
        format!(
            "-MOVED {} 127.0.0.1:{}\r\n",
            common::cluster::key_slot(key.as_bytes()),
            d.port
        )
    );
}

/// cluster-link-sendbuf-limit: a peer that stops reading (SIGSTOP) while we broadcast big
/// PUBLISH messages gets its link freed once the queued bytes pass the limit, and the event is
/// counted in CLUSTER INFO; the link comes back when the peer does.
#[test]
fn link_over_sendbuf_limit_is_freed_and_counted() {
    let c = Cluster::start(3, kind());
    let (a, stopped) = (&c.nodes[0], &c.nodes[1]);
    assert_eq!(
        a.call(&["CONFIG", "SET", "cluster-link-sendbuf-limit", "1000000"]),
        "+OK\r\n"
    );
    stopped.sigstop();
    let payload = "x".repeat(256 * 1024);
    let exceeded = || {
        a.cluster_info_field("total_cluster_links_buffer_limit_exceeded")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Enough to fill the kernel's socket buffers and then the limit, however big they are.
    wait_until(
        "a link to be freed over the limit",
        CLUSTER_DEADLINE,
        || {
            for _ in 0..20 {
                a.call(&["PUBLISH", "big", &payload]);
            }
            if exceeded() >= 1 {
                Ok(())
            } else {
                Err("not yet".to_string())
            }
        },
    );
    stopped.sigcont();
    let id = stopped.id();
    wait_until("the link to come back", CLUSTER_DEADLINE, || {
        let line = a
            .nodes()
            .into_iter()
            .find(|l| l.id == id)
            .ok_or("missing")?;
        let failing = line.flags.iter().any(|f| f.starts_with("fail"));
        if line.link_state == "connected" && !failing {
            Ok(())
        } else {
            Err(format!("{line:?}"))
        }
    });
}
