//! Observability: allocation accounting (used_memory), counters, the slow log and the INFO
//! report. Reads shared state; never changes the keyspace.
pub mod alloc;
pub mod info;
pub mod info_replication;
pub mod log;
pub mod slowlog;
pub mod stats;
