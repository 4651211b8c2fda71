//! Client-side caching (CLIENT TRACKING): which clients may hold which keys, and the
//! invalidations a write causes. Default mode remembers the keys each tracking client read;
//! BCAST mode matches written keys against the clients' prefixes. Invalidations are queued here
//! under the store lock and delivered by the dispatcher to each client's mailbox (a RESP3 push,
//! or a `__redis__:invalidate` message for a redirect target).
use bytes::Bytes;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Where invalidations go (None: this client).
    pub redirect: Option<u64>,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Bytes>,
}

#[derive(Default)]
pub struct Tracking {
    clients: HashMap<u64, Options>,
    /// Default mode: key -> clients that read it since its last invalidation.
    keys: HashMap<Box<[u8]>, HashSet<u64>>,
    /// Queued invalidations: (tracking client, keys; None = everything).
    pub pending: Vec<(u64, Option<Vec<Bytes>>)>,
}

impl Tracking {
    pub fn enable(&mut self, client: u64, opts: Options) {
        self.clients.insert(client, opts);
    }

    pub fn disable(&mut self, client: u64) {
        self.clients.remove(&client);
        for v in self.keys.values_mut() {
            v.remove(&client);
        }
        self.keys.retain(|_, v| !v.is_empty());
    }

    pub fn options(&self, client: u64) -> Option<&Options> {
        self.clients.get(&client)
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Number of keys remembered in default mode (INFO tracking_total_keys).
    pub fn tracked_keys(&self) -> usize {
        self.keys.len()
    }

    /// Key-client pairs remembered (INFO tracking_total_items).
    pub fn tracked_items(&self) -> usize {
        self.keys.values().map(|s| s.len()).sum()
    }

    /// Distinct BCAST prefixes, the empty one for BCAST without PREFIX (INFO
    /// tracking_total_prefixes, Redis's prefix table).
    pub fn tracked_prefixes(&self) -> usize {
        let mut all: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for o in self.clients.values().filter(|o| o.bcast) {
            if o.prefixes.is_empty() {
                all.insert(b"");
            }
            all.extend(o.prefixes.iter().map(|p| &p[..]));
        }
        all.len()
    }

    pub fn tracking_clients(&self) -> usize {
        self.clients.len()
    }

    /// A tracking client (default mode) read `key`.
    pub fn remember(&mut self, client: u64, key: &[u8]) {
        self.keys.entry(key.into()).or_default().insert(client);
    }

    /// `key` was written by `writer`: queue invalidations.
    #[inline]
    pub fn invalidate(&mut self, key: &[u8], writer: u64) {
        if self.clients.is_empty() {
            return;
        }
        let mut targets: Vec<u64> = self
            .keys
            .remove(key)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        for (id, o) in &self.clients {
            if o.bcast && (o.prefixes.is_empty() || o.prefixes.iter().any(|p| key.starts_with(p))) {
                targets.push(*id);
            }
        }
        for id in targets {
            let noloop = self.clients.get(&id).is_some_and(|o| o.noloop);
            if noloop && id == writer {
                continue;
            }
            self.pending
                .push((id, Some(vec![Bytes::copy_from_slice(key)])));
        }
    }

    /// FLUSHDB / FLUSHALL: every tracking client drops everything.
    pub fn invalidate_all(&mut self) {
        self.keys.clear();
        let ids: Vec<u64> = self.clients.keys().copied().collect();
        self.pending.extend(ids.into_iter().map(|id| (id, None)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bcast_and_noloop() {
        let mut t = Tracking::default();
        t.enable(1, Options::default());
        t.enable(
            2,
            Options {
                bcast: true,
                prefixes: vec![Bytes::from("user:")],
                ..Default::default()
            },
        );
        t.enable(
            3,
            Options {
                noloop: true,
                ..Default::default()
            },
        );
        t.remember(1, b"user:1");
        t.remember(3, b"user:1");
        t.invalidate(b"user:1", 3);
        let mut ids: Vec<u64> = t.pending.drain(..).map(|p| p.0).collect();
        ids.sort();
        assert_eq!(ids, vec![1, 2]);
        // Invalidated keys are forgotten until read again.
        t.invalidate(b"user:1", 9);
        assert_eq!(
            t.pending.drain(..).map(|p| p.0).collect::<Vec<_>>(),
            vec![2]
        );
        t.invalidate(b"other", 9);
        assert!(t.pending.is_empty());
    }
}
