//! Cluster routing at dispatch: gathers the keys of a request (or, for EXEC, of the whole
//! queued transaction) from the command table's key specs and asks `cluster::routing` whether
//! this node serves them. Decided once per command, before it runs or is queued.
use crate::cluster::routing::{self, Query};
use crate::cluster::topology::Topology;
use crate::commands::{flag, Lookup, Resolved};
use crate::protocol::ErrorReply;
use crate::state::Client;
use crate::store::Store;
use bytes::Bytes;

/// SORT's STORE destination: its key spec is "incomplete" in the table (Redis finds it with
/// `sortGetKeys`), so it is found here the same way: options are skipped with their
/// arguments and the last STORE wins.
/// The keys routing looks at: the key specs', plus SORT's STORE destination. Also the keys
/// whose versions a running snapshot preserves before a write (dispatch).
pub(super) fn keys_of<'a>(r: &Resolved, args: &'a [Bytes], out: &mut Vec<&'a [u8]>) {
    for k in r.keys(args).unwrap_or_default() {
        out.push(&args[k.index]);
    }
}

/// Ok(()) when this node serves the request; the redirect or CLUSTERDOWN error otherwise.
pub fn check(
    topo: &Topology,
    store: &Store,
    client: &Client,
    r: &Resolved,
    args: &[Bytes],
    now: u64,
) -> Result<(), ErrorReply> {
    let exec = r.flags & flag::EXEC != 0;
    if r.spec.key_specs.is_empty() && !exec {
        return Ok(());
    }
    let mut q = Query {
        is_write: r.flags & flag::WRITE != 0,
        is_pubsubshard: r.flags & flag::SHARD_CHANNELS != 0,
        is_migrate: r.flags & flag::KEYS_MIGRATE != 0,
        asking: client.asking || r.flags & flag::ASKING != 0,
        readonly: client.readonly,
    };
    let exists = |k: &[u8]| store.db(0).get(k).is_some_and(|e| !e.is_expired(now));
    if !exec && r.flags & flag::KEYS_SORT_STORE == 0 {
        if let Some(key) = r.spec.single_key(args) {
            return routing::route(topo, q, &[key], exists).map(|_| ());
        }
    }
    let mut keys: Vec<&[u8]> = Vec::new();
    if exec {
        let Some(m) = client.multi.as_ref() else {
            return Ok(());
        };
        for queued in &m.queue {
            let (Lookup::Found(qr) | Lookup::Container(qr)) =
                crate::commands::index().lookup(queued)
            else {
                continue;
            };
            q.is_write |= qr.flags & flag::WRITE != 0;
            keys_of(&qr, queued, &mut keys);
        }
    } else {
        keys_of(r, args, &mut keys);
    }
    routing::route(topo, q, &keys, exists).map(|_| ())
}
