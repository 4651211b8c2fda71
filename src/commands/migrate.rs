//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
//! [AUTH2 username password] [KEYS key ...]: moves keys to another node with RESTORE (RESTORE-
//! ASKING in cluster mode), with Redis 7.0's replies and errors: the keys are sent in one
//! write and deleted here only once the target acknowledged each one.
//!
//! Unlike Redis, the keyspace is not locked while the values are serialized and the target
//! answers (Redis blocks every client for that long: seconds for a big sorted set). Under the
//! lock, `migrate` captures the values (collections are shared, not copied) and fences the
//! keys (store/fence.rs: writes to them wait, reads go on); the connection runs the
//! `migrate::Job` as a task of its own, then `finish` deletes what the target
//! acknowledged and lifts the fence, again under the lock. The keys therefore cannot change
//! between capture and deletion, as with Redis. Inside MULTI the job runs inline (a
//! transaction cannot be suspended halfway).
use super::{is, Ctx};
use crate::migrate::{Done, Failure, Item, Job, Pending};
use crate::protocol::{ErrorReply, Reply};
use crate::state::{After, Client, Shared};
use crate::store::rdb::encode;
use crate::store::{notify, Store};
use bytes::Bytes;
use std::time::Duration;

type R = Result<Reply, ErrorReply>;

struct Args<'a> {
    host: &'a [u8],
    port: &'a [u8],
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    auth: Option<(Option<&'a Bytes>, &'a Bytes)>,
    keys: &'a [Bytes],
}

/// `redacted` gets the password arguments (hidden from MONITOR and SLOWLOG).
fn parse<'a>(a: &'a [Bytes], redacted: &mut u64) -> Result<Args<'a>, ErrorReply> {
    let (mut copy, mut replace, mut auth) = (false, false, None);
    let mut keys = &a[3..4];
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "COPY") {
            copy = true;
        } else if is(&a[j], "REPLACE") {
            replace = true;
        } else if is(&a[j], "AUTH") {
            if more < 1 {
                return Err(ErrorReply::syntax());
            }
            auth = Some((None, &a[j + 1]));
            *redacted |= 1 << (j + 1).min(63);
            j += 1;
        } else if is(&a[j], "AUTH2") {
            if more < 2 {
                return Err(ErrorReply::syntax());
            }
            auth = Some((Some(&a[j + 1]), &a[j + 2]));
            *redacted |= 0b11 << (j + 1).min(62);
            j += 2;
        } else if is(&a[j], "KEYS") {
            if !a[3].is_empty() {
                return Err(ErrorReply::migrate_keys_needs_empty_key());
            }
            keys = &a[j + 1..];
            break;
        } else {
            return Err(ErrorReply::syntax());
        }
        j += 1;
    }
    let timeout = super::int_arg(&a[5])?;
    let db = super::int_arg(&a[4])?;
    let timeout = if timeout <= 0 { 1000 } else { timeout };
    Ok(Args {
        host: &a[1],
        port: &a[2],
        db,
        timeout: Duration::from_millis(timeout as u64),
        copy,
        replace,
        auth,
        keys,
    })
}

pub fn migrate(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let mut redacted = 0;
    let parsed = parse(a, &mut redacted);
    ctx.client.redacted |= redacted;
    let m = parsed?;
    let db = ctx.db();
    // Keys present now (lookupKeyRead: hits and misses counted, expired keys dropped).
    let present: Vec<&Bytes> = m
        .keys
        .iter()
        .filter(|k| ctx.read_value(k).is_some())
        .collect();
    if present.is_empty() {
        return Ok(Reply::Status("NOKEY"));
    }
    let mut items = Vec::with_capacity(present.len());
    for k in present {
        let Some(e) = ctx.store.db(db).get(k) else {
            continue;
        };
        let ttl_ms = match e.expire_at() {
            None => 0,
            Some(t) if t < ctx.now_ms => continue,
            Some(t) => (t - ctx.now_ms).max(1),
        };
        items.push(Item {
            key: k.clone(),
            value: e.value.clone(),
            ttl_ms,
        });
    }
    let job = Job {
        host: String::from_utf8_lossy(m.host).into_owned(),
        port: String::from_utf8_lossy(m.port).into_owned(),
        db: m.db,
        timeout: m.timeout,
        replace: m.replace,
        auth: m.auth.map(|(u, p)| (u.cloned(), p.clone())),
        restore: if ctx.shared.cluster.is_some() {
            b"RESTORE-ASKING"
        } else {
            b"RESTORE"
        },
        opts: encode::Options::from_config(&ctx.shared.config()),
        items,
    };
    let pending = Pending {
        job,
        copy: m.copy,
        db,
    };
    if ctx.client.in_exec {
        // A transaction cannot be suspended: wait here, keyspace locked, as Redis does.
        let job = pending.job.run(&ctx.shared.migrate);
        let done = tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(job));
        return apply(ctx, &pending, done);
    }
    ctx.store
        .fences
        .add(pending.job.items.iter().map(|i| &i.key[..]));
    ctx.client.after = Some(After::Migrate(Box::new(pending)));
    // Not sent: the connection replies with what `finish` returns.
    Ok(Reply::Ok)
}

/// Ends a deferred MIGRATE under the store lock: deletes what the target acknowledged, lifts
/// the fence, and returns the reply. `done` is None when the job did not finish (it panicked):
/// nothing was acknowledged.
pub fn finish(
    sh: &Shared,
    store: &mut Store,
    client: &mut Client,
    pending: &Pending,
    done: Option<Done>,
) -> Reply {
    let now = crate::state::now_ms();
    let done = done.unwrap_or(Done {
        acked: vec![false; pending.job.items.len()],
        error: Some(Failure::Io("reading to target instance")),
    });
    let mut ctx = Ctx {
        shared: sh,
        store,
        client,
        now_ms: now,
    };
    let reply = match apply(&mut ctx, pending, done) {
        Ok(r) => r,
        Err(e) => {
            sh.stats.count_error(e.code());
            Reply::Error(e)
        }
    };
    store
        .fences
        .release(pending.job.items.iter().map(|i| &i.key[..]));
    reply
}

/// Deletes (unless COPY) every key the target acknowledged, and turns the outcome into
/// MIGRATE's reply.
fn apply(ctx: &mut Ctx, p: &Pending, done: Done) -> R {
    if !p.copy {
        for (item, acked) in p.job.items.iter().zip(&done.acked) {
            if !acked {
                continue;
            }
            if ctx.store.snapshot_active() {
                ctx.store.capture_key(&item.key);
            }
            if ctx.store.remove(p.db, &item.key, ctx.now_ms, true) {
                ctx.modified(&item.key);
                let del = vec![Bytes::from_static(b"DEL"), item.key.clone()];
                ctx.store.propagation.replace(p.db, del);
                ctx.notify(notify::GENERIC, "del", &item.key);
            }
        }
    }
    match done.error {
        None => Ok(Reply::Ok),
        Some(Failure::Io(what)) => Err(ErrorReply::migrate_io(what)),
        Some(Failure::Target(e)) => Err(ErrorReply::migrate_target(&e)),
    }
}
