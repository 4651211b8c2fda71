//! Keys a MIGRATE is moving. Redis's MIGRATE blocks the whole server while it serializes and
//! waits on the target; slotcache's releases the keyspace instead (commands/migrate.rs), so
//! the keys in flight are fenced: a write to one of them (or a write without keys, such as
//! FLUSHALL, while any key is fenced) waits until the MIGRATE ends, then runs against what
//! is left (in a cluster: an ASK redirect once the key is gone). Reads go on: the value
//! cannot change while fenced. A fence holds the key name in every database (COPY ... DB and
//! MOVE reach other databases; a same-named key elsewhere waiting a moment is harmless).
//! Everything here runs under the store lock.
use std::collections::HashMap;
use tokio::sync::watch;

pub struct Fences {
    /// key -> how many MIGRATE calls hold it.
    keys: HashMap<Vec<u8>, u32>,
    /// Bumped on every release; a waiting writer subscribes under the store lock, so it cannot
    /// miss a release that happens after its check.
    released: watch::Sender<u64>,
}

impl Default for Fences {
    fn default() -> Self {
        Fences {
            keys: HashMap::new(),
            released: watch::channel(0).0,
        }
    }
}

impl Fences {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn add<'a>(&mut self, keys: impl IntoIterator<Item = &'a [u8]>) {
        for k in keys {
            *self.keys.entry(k.to_vec()).or_insert(0) += 1;
        }
    }

    pub fn release<'a>(&mut self, keys: impl IntoIterator<Item = &'a [u8]>) {
        for k in keys {
            if let Some(n) = self.keys.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    self.keys.remove(k);
                }
            }
        }
        self.released.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Whether a write touching `keys` must wait (no keys: any fence blocks it).
    pub fn blocks(&self, keys: &[&[u8]]) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        keys.is_empty() || keys.iter().any(|k| self.keys.contains_key(*k))
    }

    /// Resolves once a fence is released after this call.
    pub fn waiter(&self) -> watch::Receiver<u64> {
        self.released.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_count_holders_and_block_writes() {
        let mut f = Fences::default();
        assert!(!f.blocks(&[]));
        f.add([&b"a"[..], b"b"]);
        f.add([&b"a"[..]]);
        assert!(f.blocks(&[b"a"]));
        assert!(f.blocks(&[b"x", b"b"]));
        assert!(!f.blocks(&[b"x"]));
        assert!(f.blocks(&[]), "keyless writes wait for any fence");
        let w = f.waiter();
        f.release([&b"a"[..], b"b"]);
        assert!(w.has_changed().unwrap());
        assert!(f.blocks(&[b"a"]), "a second MIGRATE still holds a");
        assert!(!f.blocks(&[b"b"]));
        f.release([&b"a"[..]]);
        assert!(f.is_empty());
    }
}
