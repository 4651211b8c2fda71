//! Collection value types: each owns its representation (a compact encoding while small,
//! following Redis's *-max-listpack-* / set-max-intset-entries thresholds, and a scalable one
//! beyond) and its OBJECT ENCODING name. Commands live in commands/; these know no RESP.
pub mod dict;
pub mod hash;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;
