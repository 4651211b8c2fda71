//! Slot ownership changes learned from the bus (Redis's `clusterUpdateSlotsConfigWith`): a
//! primary claiming slots with a greater configEpoch than their current owner's takes them.
//! Slots we lose go to `ClusterState::lost_slots` so their keys are deleted outside the lock.
use super::node::NodeId;
use super::state::ClusterState;
use super::wire::{self, SlotBitmap};
use crate::slot::SLOTS;

pub fn update_slots_with(
    st: &mut ClusterState,
    sender: &NodeId,
    sender_epoch: u64,
    slots: &SlotBitmap,
) {
    if *sender == st.myself {
        tracing::warn!("Discarding UPDATE message about myself.");
        return;
    }
    let Some(sender_idx) = st.idx(sender) else {
        return;
    };
    let my_idx = st.my_idx();
    // My shard's primary: myself, or the primary I replicate.
    let cur_primary = match st.me().primary {
        Some(p) if st.me().is_replica() => st.idx(&p),
        _ => Some(my_idx),
    };
    let mut moved_from_mine = 0;
    let mut changed = false;
    for slot in 0..SLOTS as u16 {
        let owner = st.slots[slot as usize];
        if wire::slot_bit(slots, slot) {
            if owner as usize == sender_idx {
                st.owner_not_claiming.clear(slot);
                continue;
            }
            // A slot being imported changes only by hand (SETSLOT), as in Redis.
            if st.migration.importing_from(slot).is_some() {
                continue;
            }
            let older =
                st.slot_unclaimed(slot) || st.nodes[owner as usize].config_epoch < sender_epoch;
            if !older {
                continue;
            }
            if owner as usize == my_idx {
                st.lost_slots.push(slot);
            }
            if Some(owner as usize) == cur_primary {
                moved_from_mine += 1;
            }
            st.del_slot(slot);
            st.add_slot(slot, sender_idx);
            st.owner_not_claiming.clear(slot);
            changed = true;
        } else if owner as usize == sender_idx {
            // Keep the binding (fewer client errors) but stop vouching for it in UPDATEs.
            st.owner_not_claiming.set(slot);
        }
    }
    // My shard lost its last slot to the sender (a failover, or its slots moved away): follow
    // the sender as its replica (Redis 7.0's clusterUpdateSlotsConfigWith).
    let emptied = cur_primary.is_some_and(|i| st.nodes[i].numslots == 0);
    if moved_from_mine > 0
        && emptied
        && st.nodes[sender_idx].is_primary()
        && st.settings.allow_replica_migration
    {
        tracing::warn!(node_id = %super::node::id_str(sender), "Configuration change detected. Reconfiguring myself as a replica of the node that took my slots");
        super::failover::set_my_primary(st, *sender);
    }
    if changed {
        tracing::info!(node_id = %super::node::id_str(sender), epoch = sender_epoch, "slot ownership updated");
        st.todo.update_state = true;
        st.mark_save(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::node::{flag, random_id, Node};
    use crate::cluster::state::Settings;

    #[test]
    fn greater_epoch_takes_slots_and_ours_are_lost() {
        let me = random_id();
        let other = random_id();
        let mut st = ClusterState::new(me, Settings::default(), 0);
        st.me_mut().config_epoch = 1;
        let mut n = Node::new(other, flag::MASTER, 0);
        n.config_epoch = 2;
        st.add_node(n);
        let my = st.my_idx();
        st.add_slot(5, my);
        st.add_slot(6, my);
        let mut claim = [0u8; SLOTS / 8];
        wire::set_slot_bit(&mut claim, 5, true);
        wire::set_slot_bit(&mut claim, 9, true);
        update_slots_with(&mut st, &other, 2, &claim);
        assert_eq!(st.owner_id(5), Some(other));
        assert_eq!(st.owner_id(6), Some(me));
        assert_eq!(st.owner_id(9), Some(other));
        assert_eq!(st.lost_slots, vec![5]);
        // An older epoch does not win.
        st.me_mut().config_epoch = 3;
        let mut claim6 = [0u8; SLOTS / 8];
        wire::set_slot_bit(&mut claim6, 6, true);
        update_slots_with(&mut st, &other, 2, &claim6);
        assert_eq!(st.owner_id(6), Some(me));
    }
}
