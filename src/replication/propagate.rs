//! The one propagation point: what the store's propagation queue collected for a command (or a
//! background deletion) goes into the AOF (persist::aof) and the backlog as RESP commands, in execution order, under the
//! store lock the caller holds: a SELECT when the database changes, and MULTI/EXEC around more
//! than one command (Redis 7.0's `propagatePendingCommands`). Without a backlog (no replica
//! ever attached) the ops are dropped and the offset does not move, as in Redis.
use super::backlog::Backlog;
use crate::state::Shared;
use crate::store::propagation::Op;
use crate::store::Store;
use std::sync::atomic::Ordering::Relaxed;

pub use crate::store::propagation::encode;

/// Appends `ops` to `b` (SELECT and MULTI/EXEC as needed).
pub fn append_ops(b: &mut Backlog, ops: &[Op], transaction: bool) {
    let mut out = Vec::new();
    crate::store::propagation::encode_ops(&mut out, &mut b.last_db, ops, transaction);
    b.append(&out);
}

/// Feeds what the store queued to the replication stream. Returns the stream's end offset.
pub fn flush(sh: &Shared, store: &mut Store) -> u64 {
    if store.propagation.is_empty() {
        return 0;
    }
    let transaction = !store.propagation.unwrapped;
    let ops = store.propagation.take();
    crate::persist::aof::feed(sh, &ops, transaction);
    if !sh.repl.live.load(Relaxed) {
        return 0;
    }
    let end = {
        let mut b = sh.repl.backlog();
        append_ops(&mut b, &ops, transaction);
        b.end()
    };
    sh.repl.fed.send_replace(end);
    end
}

/// A replica's writes (its primary's commands, or its own clients' with replica-read-only
/// no): the AOF gets them, the replication stream gets the primary's bytes instead.
pub fn flush_local(sh: &Shared, store: &mut Store) {
    if !store.propagation.is_empty() {
        let transaction = !store.propagation.unwrapped;
        crate::persist::aof::feed(sh, &store.propagation.take(), transaction);
    }
}

/// Appends a command that belongs to no database (PING, REPLCONF GETACK) to the stream.
pub fn feed_raw(sh: &Shared, args: &[&str]) {
    if !sh.repl.live.load(Relaxed) {
        return;
    }
    let mut out = Vec::new();
    encode(&mut out, args);
    let end = {
        let mut b = sh.repl.backlog();
        b.append(&out);
        b.end()
    };
    sh.repl.fed.send_replace(end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn op(db: usize, v: &[&str]) -> Op {
        Op {
            db,
            args: v
                .iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect(),
            repl_only: false,
        }
    }

    #[test]
    fn select_precedes_a_database_change_and_transactions_are_wrapped() {
        let mut b = Backlog::new(1 << 20);
        b.reset(0);
        append_ops(&mut b, &[op(0, &["SET", "a", "1"])], true);
        append_ops(
            &mut b,
            &[op(0, &["DEL", "x"]), op(2, &["SET", "b", "2"])],
            true,
        );
        let all = b.read(1, usize::MAX).unwrap();
        let text = String::from_utf8(all).unwrap();
        assert_eq!(
            text,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n\
             *1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\nx\r\n\
             *2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n\
             *1\r\n$4\r\nEXEC\r\n"
        );
    }
}
