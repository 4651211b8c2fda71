//! Slot migration state: for each open slot, whether this node is migrating it to another
//! primary or importing it from one (`CLUSTER SETSLOT MIGRATING/IMPORTING`, shown in CLUSTER
//! NODES as `[slot->-id]` / `[slot-<-id]` and saved in nodes.conf). One enum per slot, changed
//! only by `Marks::advance`, which logs every transition.
//!
//! Redis keeps two independent arrays, so a slot could in principle be marked both ways (a
//! migrating slot taken away by gossip, then SETSLOT IMPORTING): nodes.conf then keeps only
//! the migration. Here the later SETSLOT replaces the earlier mark, which is what the file
//! would have reloaded as anyway.
use super::node::{id_str, NodeId};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Migrating(NodeId),
    Importing(NodeId),
}

/// What happened to a slot, as far as its migration state goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// SETSLOT MIGRATING (we own the slot).
    Migrate(NodeId),
    /// SETSLOT IMPORTING (we do not own it).
    Import(NodeId),
    /// SETSLOT STABLE.
    Stable,
    /// SETSLOT NODE found the slot empty here: a migration is over.
    Emptied,
    /// The slot became ours (SETSLOT NODE myself, ADDSLOTS): an import is over.
    Owned,
    /// The node a mark points to was removed (FORGET, or deleted after a failure).
    Forgot(NodeId),
    /// CLUSTER RESET.
    Reset,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks(HashMap<u16, Mark>);

impl Marks {
    pub fn get(&self, slot: u16) -> Option<Mark> {
        self.0.get(&slot).copied()
    }

    pub fn migrating_to(&self, slot: u16) -> Option<NodeId> {
        match self.get(slot) {
            Some(Mark::Migrating(n)) => Some(n),
            _ => None,
        }
    }

    pub fn importing_from(&self, slot: u16) -> Option<NodeId> {
        match self.get(slot) {
            Some(Mark::Importing(n)) => Some(n),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Open slots in slot order.
    pub fn sorted(&self) -> Vec<(u16, Mark)> {
        let mut v: Vec<(u16, Mark)> = self.0.iter().map(|(s, m)| (*s, *m)).collect();
        v.sort_unstable_by_key(|(s, _)| *s);
        v
    }

    /// The one place a slot's migration state changes. Returns whether it changed.
    pub fn advance(&mut self, slot: u16, event: Event) -> bool {
        let before = self.get(slot);
        let after = next(before, event);
        if before == after {
            return false;
        }
        match after {
            Some(m) => self.0.insert(slot, m),
            None => self.0.remove(&slot),
        };
        tracing::info!(
            slot,
            from = %describe(before),
            to = %describe(after),
            cause = ?event,
            "slot migration state changed"
        );
        true
    }

    /// `Forgot(node)` for every slot whose mark points to `node`.
    pub fn forget(&mut self, node: &NodeId) {
        let slots: Vec<u16> = self
            .0
            .iter()
            .filter(|(_, m)| matches!(m, Mark::Migrating(n) | Mark::Importing(n) if n == node))
            .map(|(s, _)| *s)
            .collect();
        for s in slots {
            self.advance(s, Event::Forgot(*node));
        }
    }

    /// `Reset` for every open slot.
    pub fn reset(&mut self) {
        let slots: Vec<u16> = self.0.keys().copied().collect();
        for s in slots {
            self.advance(s, Event::Reset);
        }
    }
}

/// The transition function.
fn next(before: Option<Mark>, event: Event) -> Option<Mark> {
    match (before, event) {
        (_, Event::Migrate(n)) => Some(Mark::Migrating(n)),
        (_, Event::Import(n)) => Some(Mark::Importing(n)),
        (_, Event::Stable | Event::Reset) => None,
        (Some(Mark::Migrating(_)), Event::Emptied) => None,
        (Some(Mark::Importing(_)), Event::Owned) => None,
        (Some(Mark::Migrating(n) | Mark::Importing(n)), Event::Forgot(gone)) if n == gone => None,
        (m, _) => m,
    }
}

fn describe(m: Option<Mark>) -> String {
    match m {
        None => "stable".into(),
        Some(Mark::Migrating(n)) => format!("migrating to {}", id_str(&n)),
        Some(Mark::Importing(n)) => format!("importing from {}", id_str(&n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = [b'a'; 40];
    const B: NodeId = [b'b'; 40];

    #[test]
    fn transitions() {
        let mut m = Marks::default();
        assert!(m.advance(1, Event::Migrate(A)));
        assert!(!m.advance(1, Event::Migrate(A)), "no change, no transition");
        assert_eq!(m.migrating_to(1), Some(A));
        assert!(
            !m.advance(1, Event::Owned),
            "owning does not end a migration"
        );
        assert!(m.advance(1, Event::Emptied));
        assert_eq!(m.get(1), None);
        m.advance(2, Event::Import(B));
        assert!(
            !m.advance(2, Event::Emptied),
            "an empty slot does not end an import"
        );
        assert_eq!(m.importing_from(2), Some(B));
        m.advance(2, Event::Owned);
        assert!(m.is_empty());
        m.advance(3, Event::Migrate(A));
        m.advance(3, Event::Import(B));
        assert_eq!(m.get(3), Some(Mark::Importing(B)), "the later SETSLOT wins");
        m.advance(4, Event::Migrate(A));
        m.forget(&A);
        assert_eq!(m.sorted(), vec![(3, Mark::Importing(B))]);
        m.reset();
        assert!(m.is_empty());
    }
}
