//! slotcache: a Redis-Cluster-compatible sharded cache server.
//!
//! Layers (dependencies point downward only): `server` -> `commands` -> `state` ->
//! `store`, `config`, `observability` -> `protocol`, `slot`, `util`. See ../STYLE.md of the team.
pub mod acl;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod migrate;
pub mod observability;
pub mod persist;
pub mod protocol;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod slot;
pub mod state;
pub mod store;
pub mod util;

/// The Redis version slotcache answers to (INFO redis_version, HELLO): clients pick features by it.
pub const REDIS_VERSION: &str = "7.0.15";
