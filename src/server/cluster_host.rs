//! The server side of the cluster bus: what the bus may do to the rest of the server
//! (`cluster::bus::Host`): read the cluster-* settings, deliver bus PUBLISH messages to local
//! subscribers, delete the keys of slots this node lost, and drop shard-channel subscriptions
//! of slots it no longer serves (subscribers get `sunsubscribe`, as in Redis).
use crate::cluster::bus::Host;
use crate::cluster::failover::{Follow, ReplView};
use crate::cluster::Effects;
use crate::slot::key_slot;
use crate::state::{now_ms, Shared};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

pub struct ServerHost(pub Arc<Shared>);

impl Host for ServerHost {
    fn settings(&self) -> crate::cluster::state::Settings {
        let port = self.0.bound_port.load(Relaxed);
        self.0.config().cluster_settings(port)
    }

    fn replication(&self) -> ReplView {
        let sh = &self.0;
        let offset = sh.repl.offset();
        let st = sh.repl.state();
        match &st.primary {
            None => ReplView {
                offset,
                ..Default::default()
            },
            Some(p) => ReplView {
                offset,
                following: Some((p.host.clone(), p.port)),
                link_up: p.link == crate::replication::LinkState::Connected,
                down_ms: match p.down_since_ms {
                    0 => 0,
                    t => now_ms().saturating_sub(t),
                },
            },
        }
    }

    fn apply(&self, effects: Effects) {
        let sh = &self.0;
        let now = now_ms();
        if !effects.publish.is_empty() {
            let lim = sh.config().hot.obuf_pubsub;
            for (shard, channel, message) in &effects.publish {
                sh.pubsub.publish(*shard, channel, message, lim, now);
            }
        }
        if !effects.lost_slots.is_empty() {
            let mut store = sh.lock_store();
            for &slot in &effects.lost_slots {
                let n = store.delete_slot_keys(slot as usize, now);
                if n > 0 {
                    tracing::warn!(
                        slot,
                        keys = n,
                        "Deleted keys of a slot served elsewhere now"
                    );
                }
            }
            crate::replication::propagate::flush(sh, &mut store);
        }
        if let Some(f) = effects.follow {
            let mut store = sh.lock_store();
            match f {
                Follow::Primary => {
                    if sh.repl.is_replica() {
                        crate::replication::link::stop_following(sh, &mut store);
                    }
                }
                Follow::Replicate { ip, port } => {
                    tracing::info!(primary = %format!("{ip}:{port}"), "Cluster: replicating");
                    crate::replication::link::follow(sh, &mut store, ip, port);
                }
            }
        }
        if let Some(until) = effects.pause_until {
            sh.set_pause(crate::state::Pause {
                until_ms: until,
                write_only: true,
            });
        }
        if effects.topology_changed {
            if let Some(c) = &sh.cluster {
                let topo = c.topology();
                sh.pubsub
                    .drop_shard_channels(|ch| topo.serves(key_slot(ch)), now);
            }
        }
    }
}
