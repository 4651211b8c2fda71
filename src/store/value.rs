//! The values a key can hold and the per-key entry. Strings come in three representations that
//! mirror Redis's encodings: `Int` ("int"), `Str` (immutable, "embstr" up to 44 bytes else
//! "raw") and `Raw` (a growable buffer after APPEND/SETRANGE/SETBIT, always "raw").
//! Collections (lists, hashes, sets, sorted sets, streams) sit behind a `CowBox`: a reference-counted
//! box copied on write, so a snapshot can hold a collection while writers go on (see
//! `persist`); with one owner it behaves as a `Box`.
use super::bytes::SmallBytes;
use super::types::{hash::Hash, list::List, set::Set, stream::Stream, zset::ZSet};
use std::borrow::Cow;
use std::sync::Arc;

/// A value owned through an `Arc` and copied on first write while shared. Reads deref for
/// free; `DerefMut` is `Arc::make_mut`: an atomic check when unshared, a deep copy of the
/// collection when a snapshot still holds it (the per-value analogue of fork's page COW).
#[derive(Debug, Default, PartialEq)]
pub struct CowBox<T: Clone>(Arc<T>);

impl<T: Clone> CowBox<T> {
    pub fn new(v: T) -> Self {
        CowBox(Arc::new(v))
    }

    /// True while another holder (a snapshot) shares it.
    pub fn is_shared(this: &Self) -> bool {
        Arc::strong_count(&this.0) > 1
    }
}

impl<T: Clone> Clone for CowBox<T> {
    /// Shares, never copies: the copy happens on the first write (`DerefMut`).
    fn clone(&self) -> Self {
        CowBox(Arc::clone(&self.0))
    }
}

impl<T: Clone> std::ops::Deref for CowBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> std::ops::DerefMut for CowBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

/// Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
const EMBSTR_LIMIT: usize = 44;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Str(SmallBytes),
    Raw(Box<Vec<u8>>),
    Hash(CowBox<Hash>),
    List(CowBox<List>),
    Set(CowBox<Set>),
    ZSet(CowBox<ZSet>),
    Stream(CowBox<Stream>),
}

impl Value {
    /// A string value, stored as an integer when Redis would (`tryObjectEncoding`): canonical
    /// decimal form of an i64, at most 20 bytes.
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(i) = crate::util::num::parse_i64(b) {
                return Value::Int(i);
            }
        }
        Value::Str(SmallBytes::new(b))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) | Value::Raw(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= EMBSTR_LIMIT => "embstr",
            Value::Str(_) | Value::Raw(_) => "raw",
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// The string bytes of a string value (`None` for other types).
    pub fn as_bytes(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Value::Int(i) => Some(Cow::Owned(
                crate::util::num::IntStr::new(*i).as_bytes().to_vec(),
            )),
            Value::Str(s) => Some(Cow::Borrowed(s.as_slice())),
            Value::Raw(v) => Some(Cow::Borrowed(v.as_slice())),
            _ => None,
        }
    }

    /// A collection with no elements (never stored: loading skips it, RESTORE refuses it).
    /// Streams may be empty (XADD ... MAXLEN 0, XGROUP CREATE ... MKSTREAM), as in Redis.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Hash(h) => h.is_empty(),
            _ => false,
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Str(_) | Value::Raw(_))
    }

    /// Length in bytes of a string value.
    pub fn str_len(&self) -> usize {
        match self {
            Value::Int(i) => crate::util::num::IntStr::new(*i).as_bytes().len(),
            Value::Str(s) => s.len(),
            Value::Raw(v) => v.len(),
            _ => 0,
        }
    }

    /// Converts a string value into its growable form, for in-place edits.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Value::Raw(_)) {
            let bytes = self.as_bytes().map(|b| b.into_owned()).unwrap_or_default();
            *self = Value::Raw(Box::new(bytes));
        }
        match self {
            Value::Raw(v) => v,
            _ => unreachable!(),
        }
    }

    /// Heap bytes owned by the value (beyond the inline enum), for MEMORY USAGE and lazy-free
    /// decisions.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_size(),
            Value::Raw(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
            Value::Hash(h) => std::mem::size_of::<Hash>() + h.heap_size(),
            Value::List(l) => std::mem::size_of::<List>() + l.heap_size(),
            Value::Set(s) => std::mem::size_of::<Set>() + s.heap_size(),
            Value::ZSet(z) => std::mem::size_of::<ZSet>() + z.heap_size(),
            Value::Stream(s) => std::mem::size_of::<Stream>() + s.heap_size(),
        }
    }
}

/// One key in the keyspace. `expire_at` (unix ms, 0 = persistent) is changed only through `Db`
/// so its expiry counters stay right.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: SmallBytes,
    pub value: Value,
    pub(in crate::store) expire_at: u64,
    /// LRU clock (seconds) or LFU (minutes << 8 | log counter), per maxmemory-policy.
    pub lru: u32,
}

impl Entry {
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_at != 0).then_some(self.expire_at)
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Value::from_bytes(b"123").encoding(), "int");
        assert_eq!(Value::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(Value::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Value::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut v = Value::from_bytes(b"x");
        v.make_raw().push(b'y');
        assert_eq!(v.encoding(), "raw");
        assert_eq!(v.as_bytes().unwrap().as_ref(), b"xy");
    }

    #[test]
    fn sizes_stay_small() {
        assert!(std::mem::size_of::<Value>() <= 32);
        assert!(std::mem::size_of::<Entry>() <= 72);
    }
}
