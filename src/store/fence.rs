//! Keys a MIGRATE is moving. Redis's MIGRATE blocks the whole server while it serializes and
//! waits on the target; slotcache's releases the keyspace instead (commands/migrate.rs), so
//! the keys in flight are fenced: a write to one of them (or a write without keys, such as
//! FLUSHALL, while any key is fenced) waits until the MIGRATE ends, then runs against what
//! is left (in a cluster: an ASK redirect once the key is gone). Reads go on: the value
//! cannot change while fenced. Everything here runs under the store lock.
use std::collections::HashMap;
use tokio::sync::watch;

pub struct Fences {
    /// (db, key) -> how many MIGRATE calls hold it.
    keys: HashMap<(usize, Vec<u8>), u32>,
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

    pub fn add<'a>(&mut self, db: usize, keys: impl IntoIterator<Item = &'a [u8]>) {
        for k in keys {
            *self.keys.entry((db, k.to_vec())).or_insert(0) += 1;
        }
    }

    pub fn release<'a>(&mut self, db: usize, keys: impl IntoIterator<Item = &'a [u8]>) {
        for k in keys {
            let id = (db, k.to_vec());
            if let Some(n) = self.keys.get_mut(&id) {
                *n -= 1;
                if *n == 0 {
                    self.keys.remove(&id);
                }
            }
        }
        self.released.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Whether a write touching `keys` in `db` must wait (no keys: any fence blocks it).
    pub fn blocks(&self, db: usize, keys: &[&[u8]]) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        keys.is_empty()
            || keys
                .iter()
                .any(|k| self.keys.contains_key(&(db, k.to_vec())))
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
        assert!(!f.blocks(0, &[]));
        f.add(0, [&b"a"[..], b"b"]);
        f.add(0, [&b"a"[..]]);
        assert!(f.blocks(0, &[b"a"]));
        assert!(f.blocks(0, &[b"x", b"b"]));
        assert!(!f.blocks(1, &[b"a"]));
        assert!(f.blocks(1, &[]), "keyless writes wait for any fence");
        let w = f.waiter();
        f.release(0, [&b"a"[..], b"b"]);
        assert!(w.has_changed().unwrap());
        assert!(f.blocks(0, &[b"a"]), "a second MIGRATE still holds a");
        assert!(!f.blocks(0, &[b"b"]));
        f.release(0, [&b"a"[..]]);
        assert!(f.is_empty());
    }
}
