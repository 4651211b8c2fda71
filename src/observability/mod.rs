//! Observability: allocation accounting (used_memory), counters, the slow log and logging.
//! Depends on nothing else in the crate (the INFO report that reads them is commands/info).
pub mod alloc;
pub mod latency;
pub mod log;
pub mod slowlog;
pub mod stats;
