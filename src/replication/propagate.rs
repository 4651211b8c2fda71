//! The one propagation point: what the store's propagation queue collected for a command (or a
//! background deletion) goes into the backlog as RESP commands, in execution order, under the
//! store lock the caller holds: a SELECT when the database changes, and MULTI/EXEC around more
//! than one command (Redis 7.0's `propagatePendingCommands`). Without a backlog (no replica
//! ever attached) the ops are dropped and the offset does not move, as in Redis.
use super::backlog::Backlog;
use crate::state::Shared;
use crate::store::propagation::Op;
use crate::store::Store;
use std::sync::atomic::Ordering::Relaxed;

/// `*<n>\r\n$<len>\r\n<arg>\r\n...`
pub fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `ops` to `b` (SELECT and MULTI/EXEC as needed).
pub fn append_ops(b: &mut Backlog, ops: &[Op]) {
    let mut out = Vec::new();
    let wrap = ops.len() > 1;
    if wrap {
        // MULTI runs in the first command's database, so its SELECT comes first (as Redis).
        if b.last_db != Some(ops[0].db) {
            encode(&mut out, &["SELECT", &ops[0].db.to_string()]);
            b.last_db = Some(ops[0].db);
        }
        encode(&mut out, &["MULTI"]);
    }
    for op in ops {
        if b.last_db != Some(op.db) {
            encode(&mut out, &["SELECT", &op.db.to_string()]);
            b.last_db = Some(op.db);
        }
        encode(&mut out, &op.args);
    }
    if wrap {
        encode(&mut out, &["EXEC"]);
    }
    b.append(&out);
}

/// Feeds what the store queued to the replication stream. Returns the stream's end offset.
pub fn flush(sh: &Shared, store: &mut Store) -> u64 {
    if store.propagation.is_empty() {
        return 0;
    }
    let ops = store.propagation.take();
    if !sh.repl.live.load(Relaxed) {
        return 0;
    }
    let end = {
        let mut b = sh.repl.backlog();
        append_ops(&mut b, &ops);
        b.end()
    };
    sh.repl.fed.send_replace(end);
    end
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
        }
    }

    #[test]
    fn select_precedes_a_database_change_and_transactions_are_wrapped() {
        let mut b = Backlog::new(1 << 20);
        b.reset(0);
        append_ops(&mut b, &[op(0, &["SET", "a", "1"])]);
        append_ops(&mut b, &[op(0, &["DEL", "x"]), op(2, &["SET", "b", "2"])]);
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
