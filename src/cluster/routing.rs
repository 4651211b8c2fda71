//! Deciding, once per command and before it runs, whether this node serves it (Redis's
//! `getNodeByQuery`): every key (and shard channel) must hash to one slot, served here, unless
//! the slot is migrating (ASK for missing keys) or importing (served after ASKING; TRYAGAIN for
//! multi-key requests with missing keys); a down cluster refuses, or serves reads if allowed.
use super::state::NONE;
use super::topology::Topology;
use crate::protocol::ErrorReply;
use crate::slot::key_slot;

/// What the request is, as routing needs to know it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query {
    pub is_write: bool,
    pub is_pubsubshard: bool,
    pub is_migrate: bool,
    /// The client sent ASKING (or the command has the ASKING flag).
    pub asking: bool,
    /// READONLY client (reads served by a replica of the owner).
    pub readonly: bool,
}

/// `Ok(Some(slot))`: serve here (slot of the keys); `Ok(None)`: no keys, serve here.
pub fn route(
    topo: &Topology,
    q: Query,
    keys: &[&[u8]],
    exists: impl Fn(&[u8]) -> bool,
) -> Result<Option<u16>, ErrorReply> {
    let Some(first) = keys.first() else {
        return Ok(None);
    };
    let slot = key_slot(first);
    let owner = topo.owners[slot as usize];
    if owner == NONE {
        return Err(ErrorReply::cluster_down_unbound());
    }
    let migrating = owner == topo.me && topo.migrating.contains_key(&slot);
    let importing = !migrating && topo.importing.contains_key(&slot);
    let mut multiple = false;
    let mut missing = 0;
    let mut existing = 0;
    for k in keys {
        if *k != *first {
            if key_slot(k) != slot {
                return Err(ErrorReply::cross_slot());
            }
            multiple = true;
        }
        if migrating || importing {
            if exists(k) {
                existing += 1;
            } else {
                missing += 1;
            }
        }
    }
    if !topo.ok {
        if q.is_pubsubshard {
            if !topo.allow_pubsubshard_when_down {
                return Err(ErrorReply::cluster_down_state());
            }
        } else if !topo.allow_reads_when_down {
            return Err(ErrorReply::cluster_down_state());
        } else if q.is_write {
            return Err(ErrorReply::cluster_down_read_only());
        }
    }
    if (migrating || importing) && q.is_migrate {
        return Ok(Some(slot));
    }
    if migrating && missing > 0 {
        // Some keys here, some already moved: the client must retry once the move is over.
        if existing > 0 {
            return Err(ErrorReply::try_again());
        }
        let to = topo.migrating[&slot];
        let e = &topo.endpoints[to as usize];
        return Err(ErrorReply::ask(slot, &e.host, e.port));
    }
    if importing && q.asking {
        if multiple && missing > 0 {
            return Err(ErrorReply::try_again());
        }
        return Ok(Some(slot));
    }
    let replica_read = (q.readonly || q.is_pubsubshard) && !q.is_write;
    if replica_read && topo.my_primary == Some(owner) {
        return Ok(Some(slot));
    }
    if owner != topo.me {
        let e = &topo.endpoints[owner as usize];
        return Err(ErrorReply::moved(slot, &e.host, e.port));
    }
    Ok(Some(slot))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::topology::Endpoint;
    use std::collections::HashMap;

    fn topo() -> Topology {
        let mut owners = vec![0u16; crate::slot::SLOTS];
        owners[8192..].fill(1);
        owners[100] = NONE;
        Topology {
            ok: true,
            me: 0,
            my_primary: None,
            owners: owners.into_boxed_slice(),
            endpoints: vec![
                Endpoint {
                    host: "127.0.0.1".into(),
                    port: 7000,
                },
                Endpoint {
                    host: "127.0.0.1".into(),
                    port: 7001,
                },
            ],
            migrating: HashMap::new(),
            importing: HashMap::new(),
            allow_reads_when_down: false,
            allow_pubsubshard_when_down: true,
        }
    }

    fn err(r: Result<Option<u16>, ErrorReply>) -> String {
        r.unwrap_err().text().to_string()
    }

    #[test]
    fn local_moved_crossslot() {
        let t = topo();
        let q = Query::default();
        assert_eq!(route(&t, q, &[b"bar"], |_| true).unwrap(), Some(5061));
        assert_eq!(
            err(route(&t, q, &[b"foo"], |_| true)),
            "MOVED 12182 127.0.0.1:7001"
        );
        assert_eq!(
            err(route(&t, q, &[b"bar", b"foo"], |_| true)),
            "CROSSSLOT Keys in request don't hash to the same slot"
        );
        assert_eq!(
            route(&t, q, &[b"{bar}1", b"{bar}2"], |_| true).unwrap(),
            Some(5061)
        );
        assert_eq!(route(&t, q, &[], |_| true).unwrap(), None);
    }

    #[test]
    fn down_states() {
        let mut t = topo();
        let key_in_100 = (0..100000)
            .map(|i| format!("k{i}"))
            .find(|k| key_slot(k.as_bytes()) == 100)
            .unwrap();
        assert_eq!(
            err(route(
                &t,
                Query::default(),
                &[key_in_100.as_bytes()],
                |_| true
            )),
            "CLUSTERDOWN Hash slot not served"
        );
        t.ok = false;
        assert_eq!(
            err(route(&t, Query::default(), &[b"bar"], |_| true)),
            "CLUSTERDOWN The cluster is down"
        );
        t.allow_reads_when_down = true;
        assert!(route(&t, Query::default(), &[b"bar"], |_| true).is_ok());
        let w = Query {
            is_write: true,
            ..Default::default()
        };
        assert_eq!(
            err(route(&t, w, &[b"bar"], |_| true)),
            "CLUSTERDOWN The cluster is down and only accepts read commands"
        );
    }

    #[test]
    fn migrating_and_importing() {
        let mut t = topo();
        t.migrating.insert(5061, 1);
        assert!(route(&t, Query::default(), &[b"bar"], |_| true).is_ok());
        assert_eq!(
            err(route(&t, Query::default(), &[b"bar"], |_| false)),
            "ASK 5061 127.0.0.1:7001"
        );
        let one_here = |k: &[u8]| k == b"{bar}here";
        assert_eq!(
            err(route(
                &t,
                Query::default(),
                &[b"{bar}here", b"{bar}gone"],
                one_here
            )),
            "TRYAGAIN Multiple keys request during rehashing of slot"
        );
        let mut t = topo();
        t.importing.insert(12182, 1);
        assert!(err(route(&t, Query::default(), &[b"foo"], |_| true)).starts_with("MOVED"));
        let asking = Query {
            asking: true,
            ..Default::default()
        };
        assert!(route(&t, asking, &[b"foo"], |_| false).is_ok());
        assert_eq!(
            err(route(&t, asking, &[b"{foo}a", b"{foo}b"], |_| false)),
            "TRYAGAIN Multiple keys request during rehashing of slot"
        );
    }
}
