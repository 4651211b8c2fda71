//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
//! [AUTH2 username password] [KEYS key ...]: moves keys to another node with RESTORE (RESTORE-
//! ASKING in cluster mode), as Redis 7.0's `migrateCommand`: the keys are serialized, sent in
//! one write, and deleted here only once the target acknowledged each one; a socket error
//! before any reply is retried once on a fresh connection. Like Redis, the call runs with the
//! keyspace locked (the keys cannot change between serialization and deletion), bounded by
//! `timeout` per network operation.
use super::{is, Ctx};
use crate::protocol::{encode_request, ErrorReply, Reply};
use crate::store::notify;
use crate::store::rdb::encode;
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
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    keys: &'a [Bytes],
}

fn parse(a: &[Bytes]) -> Result<Args<'_>, ErrorReply> {
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
            auth = Some((None, &a[j + 1][..]));
            j += 1;
        } else if is(&a[j], "AUTH2") {
            if more < 2 {
                return Err(ErrorReply::syntax());
            }
            auth = Some((Some(&a[j + 1][..]), &a[j + 2][..]));
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

/// Where the exchange failed (for the IOERR text) and whether it was a timeout (never retried).
struct Failure {
    writing: bool,
    timed_out: bool,
}

impl Failure {
    fn new(writing: bool, e: &std::io::Error) -> Failure {
        let timed_out = matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        );
        Failure { writing, timed_out }
    }
}

pub fn migrate(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let m = parse(a)?;
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
    let host = String::from_utf8_lossy(m.host).into_owned();
    let port = String::from_utf8_lossy(m.port).into_owned();
    let opts = encode::Options::from_config(&ctx.shared.config());
    let restore: &[u8] = if ctx.shared.cluster.is_some() {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let mut may_retry = true;
    loop {
        let mut conn = match ctx.shared.migrate.take(&host, &port, m.timeout) {
            Ok(c) => c,
            // Redis's non-blocking connect does not see a refusal: its first write fails.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                if may_retry {
                    may_retry = false;
                    continue;
                }
                return Err(ErrorReply::migrate_io("writing to target instance"));
            }
            Err(_) => return Err(ErrorReply::migrate_io("connecting to the client")),
        };
        let mut cmd = Vec::new();
        if let Some((user, pass)) = m.auth {
            match user {
                Some(u) => encode_request(&mut cmd, &[b"AUTH", u, pass]),
                None => encode_request(&mut cmd, &[b"AUTH", pass]),
            }
        }
        let select = conn.last_db != m.db;
        if select {
            encode_request(&mut cmd, &[b"SELECT", m.db.to_string().as_bytes()]);
        }
        // Serialize the keys still alive, with their remaining TTL.
        let mut sent: Vec<&Bytes> = Vec::with_capacity(present.len());
        for k in &present {
            let Some(e) = ctx.store.db(db).get(k) else {
                continue;
            };
            let ttl = match e.expire_at() {
                None => 0,
                Some(t) if t < ctx.now_ms => continue,
                Some(t) => (t - ctx.now_ms).max(1),
            };
            let payload = encode::dump_payload(&e.value, &opts);
            let ttl = ttl.to_string();
            let mut args: Vec<&[u8]> = vec![restore, k, ttl.as_bytes(), &payload];
            if m.replace {
                args.push(b"REPLACE");
            }
            encode_request(&mut cmd, &args);
            sent.push(k);
        }
        let outcome = exchange(
            &mut conn,
            &cmd,
            m.auth.is_some(),
            select,
            sent.len(),
            m.timeout,
        );
        match outcome {
            Err((failure, replies)) => {
                // Nothing acknowledged and not a timeout: one retry on a fresh connection (the
                // cached one may have been closed by the target).
                if may_retry && replies.is_none() && !failure.timed_out {
                    may_retry = false;
                    continue;
                }
                let what = if failure.writing {
                    "writing to target instance"
                } else {
                    "reading to target instance"
                };
                // Keys the target acknowledged before the error are gone from here.
                if let Some(acked) = replies {
                    apply(ctx, &sent, &acked, m.copy);
                }
                return Err(ErrorReply::migrate_io(what));
            }
            Ok((pre_error, acked)) => {
                let target_error = pre_error.or_else(|| acked.iter().find_map(|r| r.clone().err()));
                apply(ctx, &sent, &acked, m.copy);
                match target_error {
                    Some(e) => return Err(ErrorReply::migrate_target(&e)),
                    None => {
                        conn.last_db = m.db;
                        ctx.shared.migrate.put(&host, &port, conn);
                        return Ok(Reply::Ok);
                    }
                }
            }
        }
    }
}

type Acks = Vec<Result<(), String>>;

/// Sends `cmd` and reads the AUTH, SELECT and `n` RESTORE replies. Ok: an AUTH/SELECT error
/// (if any) and each RESTORE's outcome. Err: where it failed, with the replies read so far
/// (None when no RESTORE reply arrived).
fn exchange(
    conn: &mut crate::migrate::Conn,
    cmd: &[u8],
    auth: bool,
    select: bool,
    n: usize,
    timeout: Duration,
) -> Result<(Option<String>, Acks), (Failure, Option<Acks>)> {
    if let Err(e) = conn.send(cmd, timeout) {
        return Err((Failure::new(true, &e), None));
    }
    let mut pre_error = None;
    for wanted in [auth, select] {
        if !wanted {
            continue;
        }
        match conn.read_line(timeout) {
            Ok(l) if l.starts_with('-') => pre_error = pre_error.or(Some(l[1..].to_string())),
            Ok(_) => {}
            Err(e) => return Err((Failure::new(false, &e), None)),
        }
    }
    let mut acks = Vec::with_capacity(n);
    for _ in 0..n {
        match conn.read_line(timeout) {
            Ok(l) if l.starts_with('-') => acks.push(Err(l[1..].to_string())),
            // Behind a failed AUTH/SELECT nothing was restored where we meant it.
            Ok(_) if pre_error.is_some() => acks.push(Err(String::new())),
            Ok(_) => acks.push(Ok(())),
            Err(e) => {
                let some = (!acks.is_empty()).then_some(acks);
                return Err((Failure::new(false, &e), some));
            }
        }
    }
    Ok((pre_error, acks))
}

/// Deletes (unless COPY) every key the target acknowledged.
fn apply(ctx: &mut Ctx, sent: &[&Bytes], acks: &Acks, copy: bool) {
    if copy {
        return;
    }
    let db = ctx.db();
    for (k, ack) in sent.iter().zip(acks) {
        if ack.is_ok() && ctx.store.remove(db, k, ctx.now_ms, false) {
            ctx.modified(k);
            ctx.notify(notify::GENERIC, "del", k);
        }
    }
}
