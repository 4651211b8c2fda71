//! Cluster routing at dispatch: gathers the keys of a request (or, for EXEC, of the whole
//! queued transaction) from the command table's key specs and asks `cluster::routing` whether
//! this node serves them. Decided once per command, before it runs or is queued.
use crate::cluster::routing::{self, Query};
use crate::cluster::Cluster;
use crate::commands::{flag, Lookup, Resolved};
use crate::protocol::ErrorReply;
use crate::state::{Client, Shared};
use crate::store::Store;
use bytes::Bytes;

fn is_pubsubshard(name: &str) -> bool {
    matches!(name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// Ok(()) when this node serves the request; the redirect or CLUSTERDOWN error otherwise.
pub fn check(
    sh: &Shared,
    cluster: &Cluster,
    store: &Store,
    client: &Client,
    r: &Resolved,
    args: &[Bytes],
    now: u64,
) -> Result<(), ErrorReply> {
    let name = r.spec.name;
    let exec = name == "exec";
    if r.spec.key_specs.is_empty() && !exec {
        return Ok(());
    }
    let mut q = Query {
        is_write: r.flags & flag::WRITE != 0,
        is_pubsubshard: is_pubsubshard(name),
        is_migrate: name == "migrate",
        asking: client.asking || r.flags & flag::ASKING != 0,
        readonly: client.readonly,
    };
    let topo = cluster.topology();
    let exists = |k: &[u8]| store.db(0).get(k).is_some_and(|e| !e.is_expired(now));
    if !exec {
        if let Some(key) = r.spec.single_key(args) {
            return routing::route(&topo, q, &[key], exists).map(|_| ());
        }
    }
    let mut keys: Vec<&[u8]> = Vec::new();
    if exec {
        let Some(m) = client.multi.as_ref() else {
            return Ok(());
        };
        for queued in &m.queue {
            let (Lookup::Found(qr) | Lookup::Container(qr)) = sh.commands.lookup(queued) else {
                continue;
            };
            q.is_write |= qr.flags & flag::WRITE != 0;
            for k in qr.spec.keys(queued).unwrap_or_default() {
                keys.push(&queued[k.index]);
            }
        }
    } else {
        for k in r.spec.keys(args).unwrap_or_default() {
            keys.push(&args[k.index]);
        }
    }
    routing::route(&topo, q, &keys, exists).map(|_| ())
}
