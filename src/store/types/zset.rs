//! The zset value type. PENDING: placeholder, replaced by the real representation
//! (compact encoding for small values with Redis's thresholds, a scalable one for large).

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZSet {}

impl ZSet {
    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    /// Heap bytes owned (MEMORY USAGE, lazy-free decisions).
    pub fn heap_size(&self) -> usize {
        0
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
