//! nodes.conf: PLACEHOLDER (being written). Signatures are the contract.
use super::state::{ClusterState, Settings};
use std::path::Path;

pub fn lock(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

pub fn load(_path: &Path, _settings: Settings, _now: u64) -> std::io::Result<Option<ClusterState>> {
    Ok(None)
}

pub fn save(_st: &ClusterState, _path: &Path, _fsync: bool) -> std::io::Result<()> {
    Ok(())
}

/// CLUSTER NODES text (one line per node, each ending in "\n").
pub fn nodes_text(_st: &ClusterState, _for_file: bool) -> String {
    String::new()
}
