//! Consumer groups: the group's last delivered ID and read counter, its pending entries list
//! (PEL: delivered, not yet acknowledged) and its consumers, each with its own PEL. An entry
//! is pending in the group and in exactly one consumer (`streamNACK` ownership).
use super::id::StreamId;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub consumer: Bytes,
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    /// Unix ms of the last interaction (read or claim).
    pub seen_time: u64,
    pub pel: BTreeSet<StreamId>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical count of entries read (None: unknown, Redis's SCG_INVALID_ENTRIES_READ).
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            ..Group::default()
        }
    }

    pub fn heap_size(&self) -> usize {
        // BTree nodes hold about 11 slots; count a slot and a share of the node per element.
        let pel = self.pel.len() * (16 + std::mem::size_of::<Pending>() + 16);
        let consumers: usize = self
            .consumers
            .iter()
            .map(|(n, c)| n.len() + 64 + c.pel.len() * 24)
            .sum();
        pel + consumers
    }

    /// The consumer `name`, created (seen now) if missing; the flag says it was created.
    pub fn consumer(&mut self, name: &Bytes, now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.clone())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            });
        (c, created)
    }

    /// Records a delivery of `id` to `consumer` at `now` (XREADGROUP, XCLAIM): a new pending
    /// entry, or an existing one moved to `consumer`.
    pub fn deliver(&mut self, id: StreamId, consumer: &Bytes, now: u64, count: u64) {
        if let Some(p) = self.pel.get_mut(&id) {
            if p.consumer != *consumer {
                if let Some(old) = self.consumers.get_mut(&p.consumer) {
                    old.pel.remove(&id);
                }
                p.consumer = consumer.clone();
            }
            p.delivery_time = now;
            p.delivery_count = count;
        } else {
            self.pel.insert(
                id,
                Pending {
                    consumer: consumer.clone(),
                    delivery_time: now,
                    delivery_count: count,
                },
            );
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// XACK of one ID: true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Removes consumer `name`; returns how many entries it had pending (those leave the PEL).
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_moves_between_consumers() {
        let mut g = Group::new(StreamId::MIN, Some(0));
        let (a, b) = (Bytes::from("a"), Bytes::from("b"));
        g.consumer(&a, 1);
        g.consumer(&b, 1);
        let id = StreamId::new(1, 0);
        g.deliver(id, &a, 10, 1);
        g.deliver(id, &b, 20, 2);
        assert!(g.consumers[&a].pel.is_empty());
        assert!(g.consumers[&b].pel.contains(&id));
        assert_eq!(g.pel[&id].delivery_count, 2);
        assert!(g.ack(id));
        assert!(!g.ack(id));
        assert!(g.consumers[&b].pel.is_empty());
        g.deliver(id, &a, 30, 1);
        assert_eq!(g.delete_consumer(b"a"), Some(1));
        assert!(g.pel.is_empty());
    }
}
