//! Executing one request: look up and validate (table, arity, auth, pause, maxmemory), run the
//! handler with the store locked by the caller, then account (commandstats, errorstats,
//! slowlog, MONITOR). Every error reply passes through here, so errorstats sees them all.
use crate::commands::{arity_ok, flag, Ctx, Lookup, Resolved};
use crate::protocol::{ErrorReply, Reply, RespVersion};
use crate::state::{Client, Shared};
use crate::store::{notify, Store};
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

pub enum Outcome {
    Reply(Reply),
    /// CLIENT PAUSE applies to this command: retry it once the pause ends.
    Paused(u64),
    /// A write to keys a MIGRATE is moving (store/fence.rs): retry it once a fence lifts.
    Fenced(tokio::sync::watch::Receiver<u64>),
}

fn resolve(args: &[Bytes]) -> Result<Resolved, ErrorReply> {
    match crate::commands::index().lookup(args) {
        Lookup::Found(r) => Ok(r),
        Lookup::Container(r) if r.spec.handler.is_some() => Ok(r),
        Lookup::Container(r) => Err(ErrorReply::wrong_arity(r.spec.name)),
        Lookup::UnknownSub => Err(ErrorReply::unknown_subcommand(
            &args[1],
            &String::from_utf8_lossy(&args[0]),
        )),
        Lookup::Unknown => Err(ErrorReply::unknown_command(&args[0], &args[1..])),
    }
}

/// Checks that may reject the command before it runs.
fn admit(
    sh: &Shared,
    store: &mut Store,
    client: &mut Client,
    r: &Resolved,
    args: &[Bytes],
    now: u64,
) -> Result<(), ErrorReply> {
    if !arity_ok(r.spec, args.len()) {
        return Err(ErrorReply::wrong_arity(r.spec.name));
    }
    if r.flags & flag::NO_AUTH == 0 && client.needs_auth(&sh.acl) {
        return Err(ErrorReply::no_auth());
    }
    if client.multi.is_some() && r.flags & flag::NO_MULTI != 0 {
        return Err(ErrorReply::not_in_transaction());
    }
    if !client.script {
        if let Some(user) = super::acl_gate::restricted_user(sh, client) {
            if let Err(d) = super::acl_gate::check(sh, &user, r, args) {
                // Inside EXEC: the rules changed since the command was queued.
                let in_multi = client.multi.is_some() || client.in_exec;
                let context = if in_multi { "multi" } else { "toplevel" };
                super::acl_gate::log_denial(sh, client, r, args, d, context);
                return Err(super::acl_gate::error(r, d, client.in_exec));
            }
        }
    }
    if client.primary_link {
        // The primary's commands (and the AOF's, while it loads) are not redirected,
        // refused or evicted for (Redis's "obey client"); a replica ignores maxmemory
        // (replica-ignore-maxmemory).
        return Ok(());
    }
    if r.flags & flag::LOADING == 0 && sh.persist.loading.load(Relaxed) {
        return Err(ErrorReply::loading());
    }
    if client.script {
        // A script's command passed the script checks (server/script_call.rs).
        return Ok(());
    }
    if let Some((_, topo)) = &client.topology {
        super::route::check(topo, store, client, r, args, now)?;
    }
    // Commands inside EXEC were admitted when queued; EXEC is checked as what its queue
    // holds (Redis's mstate.cmd_flags / cmd_inv_flags): a write if one of them writes,
    // refused on a stale replica if one of them may not run there.
    let (any, inv) = match client.multi.as_ref().filter(|_| r.flags & flag::EXEC != 0) {
        Some(m) => {
            let (any, inv) = queued_flags(m);
            (r.flags | any, !r.flags | inv)
        }
        None => (r.flags, !r.flags),
    };
    let writes = any & flag::WRITE != 0;
    if writes && !client.in_exec {
        writes_allowed(sh, now)?;
    }
    if sh.repl.role_replica.load(Relaxed) {
        if inv & flag::STALE != 0 && stale_refused(sh) {
            return Err(ErrorReply::master_down());
        }
        // A replica never evicts (replica-ignore-maxmemory): its primary's DELs keep it in step.
        return Ok(());
    }
    // No eviction while clients are paused (its DELs would be writes), as Redis's
    // performEvictions returns at once then.
    if store.eviction.maxmemory > 0 && sh.pause_state(now).is_none() {
        let fits = store.evict_to_fit(&|| sh.allocated());
        if !fits && any & flag::DENYOOM != 0 {
            return Err(ErrorReply::oom());
        }
    }
    Ok(())
}

fn writes_allowed(sh: &Shared, now: u64) -> Result<(), ErrorReply> {
    crate::replication::writes_allowed(sh, now)
}

/// Whether CLIENT PAUSE WRITE holds this command back: a write, or a command that may
/// replicate (PFCOUNT, PUBLISH), or an EXEC whose queue holds one. A script command is held
/// unless its script is declared `no-writes` (Redis's evalGetCommandFlags).
fn pauses_for_writes(sh: &Shared, client: &Client, r: &Resolved, args: &[Bytes]) -> bool {
    if r.flags & flag::EXEC != 0 {
        // Each queued command as itself: a script by its own flags (scriptFlagsToCmdFlags).
        let queued = client.multi.as_ref().map_or(&[][..], |m| &m.queue[..]);
        return queued
            .iter()
            .any(|q| match crate::commands::index().lookup(q) {
                Lookup::Found(qr) | Lookup::Container(qr) => may_write(sh, &qr, q),
                _ => false,
            });
    }
    may_write(sh, r, args)
}

/// A write or a command that may replicate; a script command by its script's flags.
fn may_write(sh: &Shared, r: &Resolved, args: &[Bytes]) -> bool {
    if r.flags & flag::RUNS_SCRIPT != 0 {
        return crate::commands::script_may_write(sh, args);
    }
    r.flags & (flag::WRITE | flag::MAY_REPLICATE) != 0
}

/// The flags of the queued commands: (set in any, unset in any).
fn queued_flags(m: &crate::state::Multi) -> (u32, u32) {
    m.queue.iter().fold((0, 0), |(any, inv), q| {
        match crate::commands::index().lookup(q) {
            Lookup::Found(r) | Lookup::Container(r) => (any | r.flags, inv | !r.flags),
            _ => (any, inv),
        }
    })
}

fn stale_refused(sh: &Shared) -> bool {
    crate::replication::stale_refused(sh)
}

/// Runs one request and, once the outermost command is done (an EXEC after its queued
/// commands), hands what it did to the replication stream (replication/propagate.rs).
pub fn execute(sh: &Shared, store: &mut Store, client: &mut Client, args: &[Bytes]) -> Outcome {
    let out = run(sh, store, client, args);
    if !client.in_exec {
        if client.primary_link || sh.repl.role_replica.load(Relaxed) {
            // A replica forwards the primary's bytes instead (replication/link.rs); its own
            // clients' writes (replica-read-only no) stay local, as in Redis. Both reach
            // its AOF (an AOF being loaded appends nothing: persist::aof::feed).
            crate::replication::propagate::flush_local(sh, store);
        } else {
            let end = crate::replication::propagate::flush(sh, store);
            if end > 0 {
                client.woff = end;
            }
        }
    }
    out
}

/// A command from our primary's replication stream (the reply is not sent anywhere).
pub fn apply_from_primary(sh: &Shared, store: &mut Store, client: &mut Client, args: &[Bytes]) {
    if let Outcome::Reply(Reply::Error(e)) = execute(sh, store, client, args) {
        tracing::warn!(error = %e, command = %String::from_utf8_lossy(&args[0]), "Command from the primary failed");
    }
}

/// A blocked command answered without running again (timeout, CLIENT UNBLOCK): counted
/// now, as Redis's updateStatsOnUnblock does.
pub(super) fn count_unblocked(sh: &Shared, args: &[Bytes], failed: bool) {
    if let Ok(r) = resolve(args) {
        let stat = sh.stats.command(r.id);
        stat.calls.fetch_add(1, Relaxed);
        if failed {
            stat.failed.fetch_add(1, Relaxed);
        }
    }
}

pub(super) fn run(sh: &Shared, store: &mut Store, client: &mut Client, args: &[Bytes]) -> Outcome {
    // One clock read gives the command's time and the start of its commandstats timing (as
    // Redis's call() times commands with ustime(), the wall clock).
    let wall = std::time::SystemTime::now();
    let now = client
        .time_snapshot
        .unwrap_or_else(|| crate::util::unix_ms(wall));
    if client.unwatch_pending {
        client.unwatch_pending = false;
        store.watches.unwatch_all(client.id);
    }
    let r = match resolve(args) {
        Ok(r) => r,
        Err(e) => return Outcome::Reply(reject(sh, client, e)),
    };
    if !client.script {
        client.handle.last_cmd.store(r.id, Relaxed);
    }
    if !store.tracking.is_empty() {
        store.tracking.enforce_limit(); // tracking-table-max-keys, as processCommand does
    }
    if client.resp == RespVersion::Resp2
        && client.subscribed()
        && r.flags & flag::SUBSCRIBED_OK == 0
    {
        return Outcome::Reply(reject(
            sh,
            client,
            ErrorReply::subscribed_context(r.spec.name),
        ));
    }
    // A monitor is a replica to Redis: it may not touch the keyspace (nor be paused).
    if client.monitor && r.flags & (flag::WRITE | flag::READONLY | flag::MAY_REPLICATE) != 0 {
        return Outcome::Reply(reject(sh, client, ErrorReply::replica_sync_refused()));
    }
    let stat = sh.stats.command(r.id);
    if let (Some(cluster), false) = (&sh.cluster, client.primary_link || client.script) {
        cluster.refresh(&mut client.topology);
    }
    if let Err(e) = admit(sh, store, client, &r, args, now) {
        stat.rejected.fetch_add(1, Relaxed);
        if r.flags & flag::EXEC != 0 && e.is_cluster_redirect() {
            // A redirected EXEC discards the transaction (Redis's discardTransaction).
            client.multi = None;
            store.watches.unwatch_all(client.id);
            return Outcome::Reply(error(sh, e));
        }
        return Outcome::Reply(reject_command(sh, client, r.flags, e));
    }
    // After the checks that answer at once (arity, auth, ACL, ...), before MULTI queueing,
    // as in Redis's processCommand.
    if !client.in_exec && !client.primary_link && !client.monitor {
        if let Some(p) = sh.pause_state(now) {
            if !p.write_only || pauses_for_writes(sh, client, &r, args) {
                return Outcome::Paused(p.until_ms);
            }
        }
    }
    if client.tracking && !client.in_exec && !store.tracking.pending.is_empty() {
        take_early_invalidations(store, client);
    }
    if !client.in_exec && !store.fences.is_empty() && must_wait(store, client, &r, args) {
        return Outcome::Fenced(store.fences.waiter());
    }
    if let Some(m) = client.multi.as_mut() {
        if r.flags & flag::MULTI_CONTROL == 0 {
            m.queue.push(args.to_vec());
            return Outcome::Reply(Reply::Status("QUEUED"));
        }
        if r.flags & flag::EXEC != 0 {
            stat.calls.fetch_add(1, Relaxed);
            sh.stats.commands_processed.fetch_add(1, Relaxed);
            let reply = exec_transaction(sh, store, client, now);
            deliver_invalidations(sh, store, now);
            // Fed after its commands, as Redis's call() feeds monitors once a command is done.
            sh.feed_monitor(client, args, now);
            return Outcome::Reply(reply);
        }
    }
    // ASKING holds for the next command only (inside MULTI: until EXEC), as in Redis.
    if client.asking && r.flags & flag::KEEPS_ASKING == 0 && client.multi.is_none() {
        client.asking = false;
    }
    if store.snapshot_active() && r.flags & flag::WRITE != 0 {
        capture_for_snapshot(store, &r, args);
    }
    let handler = r.spec.handler.expect("resolved commands have handlers");
    let dirty_before = store.dirty;
    let mark = store.propagation.len();
    let result = {
        let mut ctx = Ctx {
            shared: sh,
            store,
            client,
            now_ms: now,
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&mut ctx, args)))
    };
    let result = match result {
        Ok(result) => result,
        Err(panic) => Err(contain_panic(sh, store, client, &r, args, mark, now, panic)),
    };
    let us = wall.elapsed().map_or(0, |d| d.as_micros() as u64);
    // Monitors see a command once it ran (not a blocked command's retries), with the
    // arguments its handler redacted; admin commands and scripts (fed as they start) are not.
    if r.flags & (flag::SKIP_MONITOR | flag::ADMIN) == 0 && !client.block_retry {
        sh.feed_monitor(client, args, now);
    }
    // A command that reset the counter (DEBUG LOADAOF, DEBUG RELOAD) wrote nothing to
    // propagate (Redis clamps the difference at 0).
    let wrote = store.dirty > dirty_before;
    store.propagation.command_done(client.db, args, wrote);
    if r.flags & flag::TOUCHES_ARBITRARY_KEYS != 0 && !client.in_exec && !client.script {
        store.propagation.unwrapped = true;
    }
    if client.tracking {
        track_reads(store, client, &r, args, result.is_ok());
    } else if let Some(caller) = client.acting_for {
        track_script_reads(store, caller, &client.script_keys, &r, result.is_ok());
    }
    publish_events(sh, store, now);
    // BCAST invalidations gather until the outermost command (EXEC, a script) is done.
    if !client.in_exec && !client.script {
        deliver_invalidations(sh, store, now);
    }
    sh.stats.commands_processed.fetch_add(1, Relaxed);
    // A command that blocked is counted once, by the run that answers it (Redis's
    // updateStatsOnUnblock), not also when it starts waiting.
    let blocked = matches!(client.after, Some(crate::state::After::Block { .. }));
    if !blocked {
        stat.calls.fetch_add(1, Relaxed);
        stat.usec.fetch_add(us, Relaxed);
        stat.hist.record(us);
        let event = if r.flags & flag::FAST != 0 {
            "fast-command"
        } else {
            "command"
        };
        sh.latency.sample(event, us / 1000, now / 1000);
        slowlog(sh, client, &r, args, us);
    }
    client.redacted = 0;
    match result {
        Ok(reply) => {
            if let Reply::Error(_) = reply {
                // An error a nested command already counted (a script's): failed, but not
                // counted twice in errorstats (Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE).
                stat.failed.fetch_add(1, Relaxed);
            }
            Outcome::Reply(reply)
        }
        Err(e) => {
            stat.failed.fetch_add(1, Relaxed);
            Outcome::Reply(error(sh, e))
        }
    }
}

/// A handler panicked (a bug): the process and every other client go on. What the command had
/// half done must not stay, so the policy is: the keys a write command names are deleted (a
/// value may be half-built; a missing key is a state Redis clients already handle, as after an
/// eviction), what it had queued for replicas and the AOF is replaced by those DELs, and the
/// client's connection is closed after the error (its protocol state is unknown). Reads change
/// nothing to undo. Handlers still validate before they mutate, so this is a last resort.
/// Locks: the store mutex (parking_lot) does not poison; std mutexes elsewhere are taken with
/// `unwrap_or_else(PoisonError::into_inner)` on purpose, their data being valid between
/// statements.
#[allow(clippy::too_many_arguments)]
fn contain_panic(
    sh: &Shared,
    store: &mut Store,
    client: &mut Client,
    r: &Resolved,
    args: &[Bytes],
    mark: usize,
    now: u64,
    panic: Box<dyn std::any::Any + Send>,
) -> ErrorReply {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(
        command = r.spec.name,
        client = client.id,
        "Command panicked: {what}"
    );
    store.propagation.truncate(mark);
    if r.flags & flag::WRITE != 0 {
        let mut keys = Vec::new();
        super::route::keys_of(r, args, &mut keys);
        for k in keys {
            if store.remove(client.db, k, now, false) {
                store.propagation.deleted(client.db, k);
                store.dirty += 1;
            }
        }
    }
    store.propagation.skip_self();
    if !client.script && !client.primary_link {
        client.after = Some(crate::state::After::Close);
    }
    let _ = sh;
    ErrorReply::command_panicked(r.spec.name)
}

/// Whether a write (or an EXEC of queued writes) touches keys a MIGRATE is moving. Commands
/// queued inside MULTI wait at EXEC, not when queued.
fn must_wait(store: &Store, client: &Client, r: &Resolved, args: &[Bytes]) -> bool {
    let fenced = |r: &Resolved, args: &[Bytes]| {
        if r.flags & flag::WRITE == 0 {
            return false;
        }
        let mut keys = Vec::new();
        super::route::keys_of(r, args, &mut keys);
        store.fences.blocks(&keys)
    };
    match &client.multi {
        None => fenced(r, args),
        Some(m) if r.flags & flag::EXEC != 0 => m.queue.iter().any(|q| {
            let q_r = match crate::commands::index().lookup(q) {
                Lookup::Found(r) | Lookup::Container(r) => r,
                _ => return false,
            };
            fenced(&q_r, q)
        }),
        Some(_) => false,
    }
}

/// Before a write runs during a snapshot, its keys' versions are preserved for the snapshot
/// (store/snapshot.rs); a write without keys (FLUSHDB, SWAPDB, FLUSHALL) captures everything.
fn capture_for_snapshot(store: &mut Store, r: &Resolved, args: &[Bytes]) {
    let mut keys = Vec::new();
    super::route::keys_of(r, args, &mut keys);
    if keys.is_empty() {
        store.capture_all();
    }
    for k in keys {
        store.capture_key(k);
    }
}

fn slowlog(sh: &Shared, client: &Client, r: &Resolved, args: &[Bytes], us: u64) {
    if r.flags & flag::SKIP_SLOWLOG != 0 {
        return;
    }
    let threshold = sh.slowlog_slower_than.load(Relaxed);
    if threshold < 0 || us < threshold as u64 {
        return;
    }
    let name = client
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let args = crate::state::redact(args, client.redacted);
    sh.slowlog.lock().unwrap_or_else(|e| e.into_inner()).push(
        &args,
        us,
        client.handle.addr.to_string(),
        name,
    );
}

/// Publishes the keyspace notifications the command raised.
pub fn publish_events(sh: &Shared, store: &mut Store, now: u64) {
    if store.events.queue.is_empty() {
        return;
    }
    let flags = store.events.flags;
    let lim = sh.config().hot.obuf_pubsub;
    for e in std::mem::take(&mut store.events.queue) {
        if flags & notify::KEYSPACE != 0 {
            let ch = Bytes::from([format!("__keyspace@{}__:", e.db).as_bytes(), &e.key].concat());
            sh.pubsub.publish(
                false,
                &ch,
                &Bytes::from_static(e.event.as_bytes()),
                lim,
                now,
            );
        }
        if flags & notify::KEYEVENT != 0 {
            let ch = Bytes::from(format!("__keyevent@{}__:{}", e.db, e.event));
            sh.pubsub.publish(false, &ch, &e.key, lim, now);
        }
    }
}

/// Remembers the keys a tracking client read (default mode), honouring OPTIN/OPTOUT and
/// CLIENT CACHING, which applies to the next command only.
fn track_reads(store: &mut Store, client: &mut Client, r: &Resolved, args: &[Bytes], ok: bool) {
    let caching = if r.flags & flag::KEEPS_CACHING != 0 {
        return;
    } else {
        client.caching.take()
    };
    // A script's declared keys are tracked when the script reads (track_script_reads).
    if !ok || r.flags & flag::READONLY == 0 || r.spec.acl.contains(&"@scripting") {
        return;
    }
    let Some(o) = store.tracking.options(client.id) else {
        return;
    };
    let wanted = if o.bcast {
        false
    } else if o.optin {
        caching == Some(true)
    } else if o.optout {
        caching != Some(false)
    } else {
        true
    };
    if wanted {
        for k in r.spec.keys(args).unwrap_or_default() {
            store.tracking.remember(client.id, &args[k.index]);
        }
    }
}

/// A read-only command inside a script makes the tracking caller track the keys it declared
/// to the script (Redis's trackingRememberKeys on the script caller).
fn track_script_reads(store: &mut Store, caller: u64, keys: &[Bytes], r: &Resolved, ok: bool) {
    if !ok || keys.is_empty() || r.flags & flag::READONLY == 0 {
        return;
    }
    let wanted = store
        .tracking
        .options(caller)
        .is_some_and(|o| !o.bcast && !o.optin);
    if wanted {
        for k in keys {
            store.tracking.remember(caller, k);
        }
    }
}

/// Sends the invalidations the command caused to the tracking clients (or their redirect).
/// Moves the invalidations for `client` itself queued before its command runs to the client,
/// which writes them ahead of the reply.
fn take_early_invalidations(store: &mut Store, client: &mut Client) {
    let id = client.id;
    let redirected = store
        .tracking
        .options(id)
        .is_some_and(|o| o.redirect.is_some_and(|r| r != id));
    if redirected {
        return;
    }
    let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut store.tracking.pending)
        .into_iter()
        .partition(|(target, _)| *target == id);
    store.tracking.pending = rest;
    client
        .early_invalidations
        .extend(mine.into_iter().map(|(_, keys)| keys));
}

pub fn deliver_invalidations(sh: &Shared, store: &mut Store, now: u64) {
    store.tracking.flush_broadcasts();
    if store.tracking.pending.is_empty() {
        return;
    }
    for (id, keys) in std::mem::take(&mut store.tracking.pending) {
        let target = store
            .tracking
            .options(id)
            .and_then(|o| o.redirect)
            .unwrap_or(id);
        if let Some(h) = sh.clients.get(target) {
            h.mailbox.deliver(
                crate::state::pubsub::Message::invalidate(keys),
                Default::default(),
                now,
            );
        } else if let Some(h) = sh.clients.get(id) {
            // The redirect target went away: the tracking client is told (Redis's
            // sendTrackingMessage), and CLIENT LIST shows it with flag R.
            h.view_mut().tracking_broken = true;
            h.mailbox.deliver(
                crate::state::pubsub::Message::redirect_broken(target),
                Default::default(),
                now,
            );
        }
    }
}

/// EXEC: runs the queued commands back to back under the store lock the caller holds, so the
/// transaction is atomic; aborts on a queueing error (EXECABORT) or a spoiled WATCH (null).
fn exec_transaction(sh: &Shared, store: &mut Store, client: &mut Client, now: u64) -> Reply {
    let m = client.multi.take().expect("in MULTI");
    let watched_expired = store
        .watches
        .live_keys_of(client.id)
        .any(|(db, key)| store.db(*db).get(key).is_some_and(|e| e.is_expired(now)));
    let spoiled = store.watches.is_dirty(client.id) || watched_expired;
    store.watches.unwatch_all(client.id);
    if m.failed {
        return error(sh, ErrorReply::exec_abort());
    }
    if spoiled {
        return Reply::NilArray;
    }
    client.in_exec = true;
    let mut replies = Vec::with_capacity(m.queue.len());
    for args in &m.queue {
        match run(sh, store, client, args) {
            Outcome::Reply(r) => replies.push(r),
            Outcome::Paused(_) | Outcome::Fenced(_) => {
                unreachable!("pauses and fences do not apply inside EXEC")
            }
        }
    }
    client.in_exec = false;
    Reply::Array(replies)
}

/// An error before execution: inside MULTI it also dooms the transaction (EXECABORT).
fn reject(sh: &Shared, client: &mut Client, e: ErrorReply) -> Reply {
    if let Some(m) = client.multi.as_mut() {
        m.failed = true;
    }
    error(sh, e)
}

/// A command refused before it ran (Redis's rejectCommand): an open transaction is flagged
/// and fails at EXEC; a refused EXEC itself discards the transaction, giving the reason.
pub(super) fn reject_command(sh: &Shared, client: &mut Client, flags: u32, e: ErrorReply) -> Reply {
    if flags & flag::EXEC != 0 && client.multi.take().is_some() {
        client.unwatch_pending = true;
        return error(sh, ErrorReply::exec_abort_because(&e));
    }
    reject(sh, client, e)
}

fn error(sh: &Shared, e: ErrorReply) -> Reply {
    sh.stats.count_error(e.code());
    Reply::Error(e)
}
