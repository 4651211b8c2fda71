//! What a command did that replicas must do too, collected while the store lock is held (Redis's
//! `server.also_propagate`): the store queues the deletions it makes on its own (lazy and
//! active expiry, eviction, a slot given away) and handlers queue the effective form of a
//! non-deterministic write (`Ctx::propagate_as`). The dispatcher adds the command itself when
//! it wrote (dirty changed) and was not replaced, and hands the whole list to the replication
//! stream (`replication::propagate`) once the outermost command is done, so the stream holds
//! effects in execution order. This module only holds argument vectors: no RESP, no offsets.
use bytes::Bytes;

/// One command for the replication stream, to run in database `db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub db: usize,
    pub args: Vec<Bytes>,
    /// For replicas only, not the AOF (PUBLISH: Redis's PROPAGATE_REPL).
    pub repl_only: bool,
}

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

/// The RESP of `ops` for a stream whose last SELECT was `last_db`: a SELECT when the
/// database changes, and MULTI/EXEC around more than one command (Redis 7.0's
/// `propagatePendingCommands`). Shared by the replication stream and the AOF.
pub fn encode_ops<O: std::borrow::Borrow<Op>>(
    out: &mut Vec<u8>,
    last_db: &mut Option<usize>,
    ops: &[O],
    transaction: bool,
) {
    let wrap = transaction && ops.len() > 1;
    if wrap {
        // MULTI runs in the first command's database, so its SELECT comes first (as Redis).
        let first = ops[0].borrow().db;
        if *last_db != Some(first) {
            encode(out, &["SELECT", &first.to_string()]);
            *last_db = Some(first);
        }
        encode(out, &["MULTI"]);
    }
    for op in ops {
        let op = op.borrow();
        if *last_db != Some(op.db) {
            encode(out, &["SELECT", &op.db.to_string()]);
            *last_db = Some(op.db);
        }
        encode(out, &op.args);
    }
    if wrap {
        encode(out, &["EXEC"]);
    }
}

/// How lookups treat a key whose TTL has passed (Redis's `expireIfNeeded` by role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryMode {
    /// A primary deletes it and propagates DEL.
    #[default]
    Delete,
    /// A replica hides it from its clients but keeps it: the primary's DEL will come.
    Hide,
    /// The primary's own commands on a replica still see it (its DEL may not be sent yet).
    Ignore,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Force {
    #[default]
    No,
    All,
    ReplOnly,
}

#[derive(Debug, Default)]
pub struct Propagation {
    ops: Vec<Op>,
    /// The running command queued its effective form: do not add the command itself.
    replaced: bool,
    /// The running command must be propagated even if it changed nothing (FLUSHALL on an
    /// empty keyspace, PUBLISH).
    forced: Force,
    pub expiry: ExpiryMode,
    /// The queued ops are not one transaction (a SCAN's lazy-expiry DELs).
    pub unwrapped: bool,
    /// A replication stream exists (a replica attached once, or this node follows a
    /// primary): until then nothing is recorded, so a lone primary pays nothing per write.
    pub enabled: bool,
}

impl Propagation {
    /// A deletion the store made by itself (expiry, eviction, slot handover).
    pub fn deleted(&mut self, db: usize, key: &[u8]) {
        if !self.enabled {
            return;
        }
        self.ops.push(Op {
            db,
            args: vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)],
            repl_only: false,
        });
    }

    /// A handler's effective form of the running command (call once per command it
    /// stands for): the command as received is then not propagated.
    pub fn replace(&mut self, db: usize, args: Vec<Bytes>) {
        if self.enabled {
            self.ops.push(Op {
                db,
                args,
                repl_only: false,
            });
        }
        self.replaced = true;
    }

    pub fn force(&mut self) {
        self.forced = Force::All;
    }

    /// Replicas get the running command even if it changed nothing, the AOF does not
    /// (PUBLISH).
    pub fn force_repl_only(&mut self) {
        self.forced = Force::ReplOnly;
    }

    /// After a command ran: queue it as received if it wrote (or was forced) and no handler
    /// replaced it. Resets the per-command flags.
    pub fn command_done(&mut self, db: usize, args: &[Bytes], wrote: bool) {
        if (wrote || self.forced != Force::No) && !self.replaced && self.enabled {
            self.ops.push(Op {
                db,
                args: args.to_vec(),
                repl_only: self.forced == Force::ReplOnly,
            });
        }
        self.replaced = false;
        self.forced = Force::No;
    }

    /// The queued ops, leaving the queue empty (and the per-command flags reset).
    pub fn take(&mut self) -> Vec<Op> {
        self.unwrapped = false;
        self.replaced = false;
        self.forced = Force::No;
        std::mem::take(&mut self.ops)
    }

    /// The running command is not propagated as received (EVAL/FCALL: the script's commands
    /// were queued instead).
    pub fn skip_self(&mut self) {
        self.replaced = true;
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Forgets what was queued after `mark` (a `len()`): a script's command run with
    /// redis.set_repl(redis.REPL_NONE).
    pub fn truncate(&mut self, mark: usize) {
        self.ops.truncate(mark);
        self.replaced = false;
        self.forced = Force::No;
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Forgets what was queued (a replica applying its primary's stream forwards the bytes it
    /// received instead).
    pub fn discard(&mut self) {
        self.unwrapped = false;
        self.ops.clear();
        self.replaced = false;
        self.forced = Force::No;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_recorded_without_a_stream() {
        let mut p = Propagation::default();
        p.deleted(0, b"k");
        p.replace(0, vec![Bytes::from_static(b"SREM")]);
        p.command_done(0, &[Bytes::from_static(b"SET")], true);
        assert!(p.is_empty());
    }

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn command_is_queued_after_the_deletions_it_caused() {
        let mut p = Propagation {
            enabled: true,
            ..Default::default()
        };
        p.deleted(0, b"old");
        p.command_done(0, &args(&["SET", "k", "v"]), true);
        let ops = p.take();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].args, args(&["DEL", "old"]));
        assert_eq!(ops[1].args, args(&["SET", "k", "v"]));
        assert!(p.is_empty());
    }

    #[test]
    fn replaced_and_read_commands_are_not_queued_as_received() {
        let mut p = Propagation {
            enabled: true,
            ..Default::default()
        };
        p.replace(0, args(&["SREM", "s", "a"]));
        p.command_done(0, &args(&["SPOP", "s"]), true);
        p.command_done(0, &args(&["GET", "k"]), false);
        p.force();
        p.command_done(3, &args(&["FLUSHALL"]), false);
        let ops = p.take();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].args, args(&["SREM", "s", "a"]));
        assert_eq!((ops[1].db, ops[1].args.clone()), (3, args(&["FLUSHALL"])));
    }
}
