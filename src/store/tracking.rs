//! Client-side caching (CLIENT TRACKING): which clients may hold which keys, and the
//! invalidations a write causes. Default mode remembers the keys each tracking client read;
//! BCAST mode matches written keys against the clients' prefixes. Invalidations are queued here
//! under the store lock and delivered by the dispatcher to each client's mailbox (a RESP3 push,
//! or a `__redis__:invalidate` message for a redirect target). Default-mode invalidations go
//! one key per message as keys change; BCAST ones gather per prefix until the end of the
//! client command that caused them (a whole EXEC or script), then go as one message per
//! prefix, as Redis's beforeSleep sends them.
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
    /// BCAST: prefix -> keys changed under it since the last flush, with the client that
    /// changed each last (NOLOOP clients are not told of their own writes).
    broadcast: HashMap<Bytes, Vec<(Bytes, u64)>>,
    /// tracking-table-max-keys (0: no limit): beyond it, keys are forgotten and their
    /// readers told to drop them.
    pub max_keys: usize,
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
        let targets: Vec<u64> = self
            .keys
            .remove(key)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        if self.clients.values().any(|o| o.bcast) {
            self.remember_broadcast(key, writer);
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

    /// Notes `key` for the BCAST clients whose prefixes match it.
    fn remember_broadcast(&mut self, key: &[u8], writer: u64) {
        let mut prefixes: HashSet<&Bytes> = HashSet::new();
        for o in self.clients.values().filter(|o| o.bcast) {
            prefixes.extend(o.prefixes.iter().filter(|p| key.starts_with(p)));
        }
        let empty = Bytes::new();
        if self
            .clients
            .values()
            .any(|o| o.bcast && o.prefixes.is_empty())
        {
            prefixes.insert(&empty);
        }
        for p in prefixes {
            let keys = self.broadcast.entry(p.clone()).or_default();
            match keys.iter_mut().find(|(k, _)| &k[..] == key) {
                Some(entry) => entry.1 = writer,
                None => keys.push((Bytes::copy_from_slice(key), writer)),
            }
        }
    }

    /// Queues the gathered BCAST invalidations: one message per prefix for each client
    /// listening to it (its own writes left out under NOLOOP).
    pub fn flush_broadcasts(&mut self) {
        if self.broadcast.is_empty() {
            return;
        }
        let mut prefixes: Vec<(Bytes, Vec<(Bytes, u64)>)> = self.broadcast.drain().collect();
        prefixes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut ids: Vec<u64> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for (prefix, keys) in prefixes {
            for &id in &ids {
                let o = &self.clients[&id];
                let listens = o.bcast
                    && (o.prefixes.contains(&prefix)
                        || (prefix.is_empty() && o.prefixes.is_empty()));
                if !listens {
                    continue;
                }
                let mine = |w: u64| o.noloop && w == id;
                let list: Vec<Bytes> = keys
                    .iter()
                    .filter(|(_, w)| !mine(*w))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !list.is_empty() {
                    self.pending.push((id, Some(list)));
                }
            }
        }
    }

    /// Keeps the default-mode table within tracking-table-max-keys: keys beyond it are
    /// forgotten and their readers invalidated (Redis's trackingLimitUsedSlots).
    pub fn enforce_limit(&mut self) {
        if self.max_keys == 0 || self.keys.len() <= self.max_keys {
            return;
        }
        let excess = self.keys.len() - self.max_keys;
        let victims: Vec<Box<[u8]>> = self.keys.keys().take(excess).cloned().collect();
        for k in victims {
            if let Some(readers) = self.keys.remove(&k) {
                let mut readers: Vec<u64> = readers.into_iter().collect();
                readers.sort_unstable();
                for id in readers {
                    self.pending
                        .push((id, Some(vec![Bytes::copy_from_slice(&k)])));
                }
            }
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
        t.flush_broadcasts();
        let mut ids: Vec<u64> = t.pending.drain(..).map(|p| p.0).collect();
        ids.sort();
        assert_eq!(ids, vec![1, 2]);
        // Invalidated keys are forgotten until read again.
        t.invalidate(b"user:1", 9);
        t.invalidate(b"user:2", 9);
        t.flush_broadcasts();
        assert_eq!(
            t.pending[0].1.as_ref().map(|k| k.len()),
            Some(2),
            "one message per prefix"
        );
        assert_eq!(
            t.pending.drain(..).map(|p| p.0).collect::<Vec<_>>(),
            vec![2]
        );
        t.invalidate(b"other", 9);
        t.flush_broadcasts();
        assert!(t.pending.is_empty());
    }

    #[test]
    fn max_keys_evicts_and_invalidates() {
        let mut t = Tracking {
            max_keys: 1,
            ..Default::default()
        };
        t.enable(1, Options::default());
        t.remember(1, b"a");
        t.remember(1, b"b");
        t.enforce_limit();
        assert_eq!(t.tracked_keys(), 1);
        assert_eq!(t.pending.len(), 1);
    }
}
