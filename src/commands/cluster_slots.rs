//! CLUSTER subcommands that assign slots: ADDSLOTS, ADDSLOTSRANGE, DELSLOTS, DELSLOTSRANGE,
//! FLUSHSLOTS and SETSLOT (MIGRATING / IMPORTING / STABLE / NODE), with Redis 7.0.15's checks
//! in Redis's order. Handlers parse, lock the cluster state once and call the rule functions
//! (`SlotPick`, `apply_setslot`), which are unit-tested in `cluster_cmd_tests.rs`. Shared
//! helpers (`cluster_of`, `changed`, shard-channel cleanup) are in `cluster_cmd`.
use super::cluster_common::{changed, cluster_of, drop_unserved_shard_channels};
use super::{is, Ctx};
use crate::cluster::migration::Event;
use crate::cluster::node::NodeId;
use crate::cluster::state::{ClusterState, NONE};
use crate::cluster::{epoch, messages};
use crate::protocol::{ErrorReply, Reply};
use crate::slot::SLOTS;
use crate::util::num::parse_i64;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// Redis's `getSlotOrReply`: an integer in 0..16384.
pub(super) fn parse_slot(arg: &[u8]) -> Result<u16, ErrorReply> {
    parse_i64(arg)
        .filter(|s| (0..SLOTS as i64).contains(s))
        .map(|s| s as u16)
        .ok_or_else(ErrorReply::cluster_invalid_slot)
}

// ---------------------------------------------------------------------------------------------
// ADDSLOTS / DELSLOTS / ADDSLOTSRANGE / DELSLOTSRANGE / FLUSHSLOTS
// ---------------------------------------------------------------------------------------------

/// The slots one ADDSLOTS/DELSLOTS(-RANGE) call touches, checked range by range as Redis's
/// `checkSlotAssignmentsOrReply` does: ownership first, then repetition.
pub(crate) struct SlotPick {
    seen: Vec<bool>,
    pub(crate) slots: Vec<u16>,
    del: bool,
}

impl SlotPick {
    pub(crate) fn new(del: bool) -> SlotPick {
        SlotPick {
            seen: vec![false; SLOTS],
            slots: Vec::new(),
            del,
        }
    }

    pub(crate) fn check(
        &mut self,
        st: &ClusterState,
        start: u16,
        end: u16,
    ) -> Result<(), ErrorReply> {
        for slot in start..=end {
            let owned = st.slots[slot as usize] != NONE;
            if self.del && !owned {
                return Err(ErrorReply::cluster_slot_unassigned(slot));
            }
            if !self.del && owned {
                return Err(ErrorReply::cluster_slot_busy(slot));
            }
            if std::mem::replace(&mut self.seen[slot as usize], true) {
                return Err(ErrorReply::cluster_slot_repeated(slot));
            }
            self.slots.push(slot);
        }
        Ok(())
    }

    /// Redis's `clusterUpdateSlots`: assigns to myself (or unassigns) every picked slot; an
    /// importing mark on it goes, since we are now its real owner.
    pub(crate) fn apply(self, st: &mut ClusterState) {
        let me = st.my_idx();
        for slot in self.slots {
            st.migration.advance(slot, Event::Owned);
            if self.del {
                unassign(st, slot);
            } else {
                st.add_slot(slot, me);
            }
        }
        changed(st);
    }
}

/// Redis's `clusterDelSlot` (which also forgets that the old owner stopped claiming it).
pub(super) fn unassign(st: &mut ClusterState, slot: u16) -> bool {
    st.owner_not_claiming.clear(slot);
    st.del_slot(slot)
}

fn add_or_del_slots(ctx: &mut Ctx, a: &[Bytes], del: bool) -> R {
    let cluster = cluster_of(ctx)?;
    // Every argument must parse before any is checked against the table.
    let slots = a[2..]
        .iter()
        .map(|s| parse_slot(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut st = cluster.lock();
    let mut pick = SlotPick::new(del);
    for s in slots {
        pick.check(&st, s, s)?;
    }
    pick.apply(&mut st);
    drop(st);
    if del {
        drop_unserved_shard_channels(ctx, cluster);
    }
    Ok(Reply::Ok)
}

fn add_or_del_slots_range(ctx: &mut Ctx, a: &[Bytes], del: bool) -> R {
    let cluster = cluster_of(ctx)?;
    if a.len() % 2 == 1 {
        let sub = if del {
            "delslotsrange"
        } else {
            "addslotsrange"
        };
        return Err(ErrorReply::wrong_arity(&format!("cluster|{sub}")));
    }
    let mut st = cluster.lock();
    let mut pick = SlotPick::new(del);
    for pair in a[2..].chunks(2) {
        let start = parse_slot(&pair[0])?;
        let end = parse_slot(&pair[1])?;
        if start > end {
            return Err(ErrorReply::cluster_slot_range_order(start, end));
        }
        pick.check(&st, start, end)?;
    }
    pick.apply(&mut st);
    drop(st);
    if del {
        drop_unserved_shard_channels(ctx, cluster);
    }
    Ok(Reply::Ok)
}

pub fn cluster_addslots(ctx: &mut Ctx, a: &[Bytes]) -> R {
    add_or_del_slots(ctx, a, false)
}

pub fn cluster_delslots(ctx: &mut Ctx, a: &[Bytes]) -> R {
    add_or_del_slots(ctx, a, true)
}

pub fn cluster_addslotsrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    add_or_del_slots_range(ctx, a, false)
}

pub fn cluster_delslotsrange(ctx: &mut Ctx, a: &[Bytes]) -> R {
    add_or_del_slots_range(ctx, a, true)
}

/// CLUSTER FLUSHSLOTS: drop every slot of mine; refused while database 0 has keys.
pub fn cluster_flushslots(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    if !ctx.store.db(0).is_empty() {
        return Err(ErrorReply::cluster_flushslots_not_empty());
    }
    let mut st = cluster.lock();
    let me = st.my_idx() as u16;
    for slot in 0..SLOTS as u16 {
        if st.slots[slot as usize] == me {
            unassign(&mut st, slot);
        }
    }
    changed(&mut st);
    drop(st);
    drop_unserved_shard_channels(ctx, cluster);
    Ok(Reply::Ok)
}

// ---------------------------------------------------------------------------------------------
// SETSLOT
// ---------------------------------------------------------------------------------------------

/// CLUSTER SETSLOT <slot> action, parsed (node names as typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetSlot<'a> {
    Migrating(&'a [u8]),
    Importing(&'a [u8]),
    Stable,
    Node(&'a [u8]),
}

impl<'a> SetSlot<'a> {
    /// `args` starts at the action word; a wrong action or argument count is Redis's
    /// "Invalid CLUSTER SETSLOT action" error.
    pub(crate) fn parse(args: &'a [Bytes]) -> Result<SetSlot<'a>, ErrorReply> {
        match args {
            [w, n] if is(w, "migrating") => Ok(SetSlot::Migrating(n)),
            [w, n] if is(w, "importing") => Ok(SetSlot::Importing(n)),
            [w] if is(w, "stable") => Ok(SetSlot::Stable),
            [w, n] if is(w, "node") => Ok(SetSlot::Node(n)),
            _ => Err(ErrorReply::cluster_setslot_syntax()),
        }
    }
}

/// The primary a SETSLOT action names; `unknown` builds the error for a name we don't know.
fn setslot_target(
    st: &ClusterState,
    name: &[u8],
    unknown: fn(&[u8]) -> ErrorReply,
) -> Result<NodeId, ErrorReply> {
    let n = st.node_by_name(name).ok_or_else(|| unknown(name))?;
    if n.is_replica() {
        return Err(ErrorReply::cluster_target_not_primary());
    }
    Ok(n.id)
}

/// Applies a SETSLOT action with Redis 7.0's rules; `keys_in_slot` is the slot's key count in
/// database 0. Myself must be a primary (checked by the caller, before the slot is parsed).
pub(crate) fn apply_setslot(
    st: &mut ClusterState,
    slot: u16,
    action: SetSlot,
    keys_in_slot: usize,
    now: u64,
) -> Result<(), ErrorReply> {
    let me = st.myself;
    let owner = st.owner_id(slot);
    match action {
        SetSlot::Migrating(name) => {
            if owner != Some(me) {
                return Err(ErrorReply::cluster_not_slot_owner(slot));
            }
            let n = setslot_target(st, name, ErrorReply::cluster_node_not_known)?;
            st.migration.advance(slot, Event::Migrate(n));
        }
        SetSlot::Importing(name) => {
            if owner == Some(me) {
                return Err(ErrorReply::cluster_already_slot_owner(slot));
            }
            let n = setslot_target(st, name, ErrorReply::cluster_node_not_known)?;
            st.migration.advance(slot, Event::Import(n));
        }
        SetSlot::Stable => {
            st.migration.advance(slot, Event::Stable);
        }
        SetSlot::Node(name) => {
            let n = setslot_target(st, name, ErrorReply::cluster_unknown_node)?;
            setslot_node(st, slot, n, keys_in_slot, now)?;
        }
    }
    st.todo.topology = true;
    changed(st);
    Ok(())
}

/// SETSLOT NODE: binds the slot to `n`. Giving away a slot of ours needs it empty; a
/// migration mark goes with the keys; closing an import on myself takes a new configEpoch
/// (without consensus) and tells everybody at once with a PONG.
fn setslot_node(
    st: &mut ClusterState,
    slot: u16,
    n: NodeId,
    keys_in_slot: usize,
    now: u64,
) -> Result<(), ErrorReply> {
    let me = st.myself;
    let was_mine = st.owner_id(slot) == Some(me);
    if was_mine && n != me && keys_in_slot != 0 {
        return Err(ErrorReply::cluster_slot_has_keys(slot));
    }
    if keys_in_slot == 0 {
        st.migration.advance(slot, Event::Emptied);
    }
    unassign(st, slot);
    let idx = st
        .idx(&n)
        .expect("target was looked up under the same lock");
    st.add_slot(slot, idx);
    if n == me && st.migration.advance(slot, Event::Owned) {
        if epoch::bump(st).0 {
            tracing::info!(slot, "configEpoch updated after importing slot");
        }
        messages::broadcast_pong(st, now);
    }
    // A primary left without slots follows the node that took its last one (Redis 7.0).
    if was_mine && n != me && st.me().numslots == 0 && st.settings.allow_replica_migration {
        tracing::warn!(node_id = %crate::cluster::node::id_str(&n), "Configuration change detected. Reconfiguring myself as a replica");
        crate::cluster::failover::set_my_primary(st, n);
    }
    Ok(())
}

pub fn cluster_setslot(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cluster = cluster_of(ctx)?;
    let mut st = cluster.lock();
    if st.me().is_replica() {
        return Err(ErrorReply::cluster_setslot_on_replica());
    }
    let slot = parse_slot(&a[2])?;
    let action = SetSlot::parse(&a[3..])?;
    let moved = matches!(action, SetSlot::Node(_));
    let keys = ctx.store.db(0).slot_len(slot as usize);
    apply_setslot(&mut st, slot, action, keys, ctx.now_ms)?;
    drop(st);
    if moved {
        drop_unserved_shard_channels(ctx, cluster);
    }
    Ok(Reply::Ok)
}
