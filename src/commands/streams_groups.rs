//! Consumer groups: XGROUP CREATE/SETID/DESTROY/CREATECONSUMER/DELCONSUMER/HELP, XACK,
//! XPENDING, XCLAIM and XAUTOCLAIM (t_stream.c), with 7.0's order of checks and errors.
//! XCLAIM/XAUTOCLAIM reach replicas as one idempotent XCLAIM per entry they touched (as
//! XREADGROUP's deliveries do, streams_read.rs), never as received.
use super::streams::{
    entry_reply, id_reply, parse_bound, parse_id, parse_strict_id, read_stream, write_stream,
};
use super::streams_read::{setid_prop, xclaim_prop};
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::notify;
use crate::store::types::stream::{Group, Pending, Stream, StreamId};
use crate::store::{CowBox, Value};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// The prelude 7.0's `xgroupCommand` runs for every subcommand with a key: options from
/// argv[5] (MKSTREAM for CREATE, ENTRIESREAD for CREATE and SETID), then the key's type, then
/// the key (unless MKSTREAM) and, for SETID / CREATECONSUMER / DELCONSUMER, the group.
struct GroupArgs {
    mkstream: bool,
    entries_read: Option<u64>,
    exists: bool,
}

fn group_prelude(ctx: &mut Ctx, a: &[Bytes], needs_group: bool) -> Result<GroupArgs, ErrorReply> {
    let create = is(&a[1], "CREATE");
    let setid = is(&a[1], "SETID");
    let mut g = GroupArgs {
        mkstream: false,
        entries_read: None,
        exists: false,
    };
    let mut i = 5;
    while i < a.len() {
        if create && is(&a[i], "MKSTREAM") {
            g.mkstream = true;
            i += 1;
        } else if (create || setid) && is(&a[i], "ENTRIESREAD") && i + 1 < a.len() {
            let n = int_arg(&a[i + 1])?;
            if n < -1 {
                return Err(ErrorReply::stream_entries_read());
            }
            g.entries_read = (n >= 0).then_some(n as u64);
            i += 2;
        } else {
            return Err(ErrorReply::subcommand_syntax(&a[1], "xgroup"));
        }
    }
    let (key, name) = (&a[2], &a[3]);
    let s = write_stream(ctx, key)?;
    g.exists = s.is_some();
    if !g.mkstream {
        let Some(s) = s else {
            return Err(ErrorReply::stream_needs_key());
        };
        if needs_group && !s.groups.contains_key(name.as_ref()) {
            return Err(ErrorReply::stream_nogroup_for_key(name, key));
        }
    }
    Ok(g)
}

pub fn xgroup_create(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let g = group_prelude(ctx, a, false)?;
    if a.len() > 8 {
        return Err(ErrorReply::subcommand_syntax(&a[1], "xgroup"));
    }
    let (key, name) = (&a[2], &a[3]);
    let last_id = if a[4].as_ref() == b"$" {
        write_stream(ctx, key)?.map_or(StreamId::MIN, |s| s.last_id)
    } else {
        parse_strict_id(&a[4])?
    };
    if !g.exists {
        ctx.put_value(key, Value::Stream(CowBox::new(Stream::default())));
    }
    let s = write_stream(ctx, key)?.expect("stream present");
    if s.groups.contains_key(name.as_ref()) {
        return Err(ErrorReply::stream_busy_group());
    }
    s.groups
        .insert(name.clone(), Group::new(last_id, g.entries_read));
    ctx.store.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-create", key);
    Ok(Reply::Ok)
}

pub fn xgroup_setid(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let g = group_prelude(ctx, a, true)?;
    if a.len() != 5 && a.len() != 7 {
        return Err(ErrorReply::subcommand_syntax(&a[1], "xgroup"));
    }
    let (key, name) = (&a[2], &a[3]);
    let s = write_stream(ctx, key)?.expect("stream checked");
    let id = if a[4].as_ref() == b"$" {
        s.last_id
    } else {
        parse_id(&a[4], 0)?
    };
    let grp = s.groups.get_mut(name.as_ref()).expect("group checked");
    grp.last_id = id;
    grp.entries_read = g.entries_read;
    ctx.store.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-setid", key);
    Ok(Reply::Ok)
}

pub fn xgroup_destroy(ctx: &mut Ctx, a: &[Bytes]) -> R {
    group_prelude(ctx, a, false)?;
    let (key, name) = (&a[2], &a[3]);
    let s = write_stream(ctx, key)?.expect("stream checked");
    if s.groups.remove(name.as_ref()).is_none() {
        return Ok(Reply::Int(0));
    }
    ctx.store.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-destroy", key);
    // Clients blocked in XREADGROUP on this group get NOGROUP (streams_read.rs).
    let db = ctx.client.db;
    ctx.store.blocked.signal(db, key);
    Ok(Reply::Int(1))
}

pub fn xgroup_createconsumer(ctx: &mut Ctx, a: &[Bytes]) -> R {
    group_prelude(ctx, a, true)?;
    let (key, name) = (&a[2], &a[3]);
    let now = ctx.now_ms;
    let s = write_stream(ctx, key)?.expect("stream checked");
    let g = s.groups.get_mut(name.as_ref()).expect("group checked");
    let (_, created) = g.consumer(&a[4], now);
    if created {
        ctx.store.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    Ok(Reply::Int(created as i64))
}

pub fn xgroup_delconsumer(ctx: &mut Ctx, a: &[Bytes]) -> R {
    group_prelude(ctx, a, true)?;
    let (key, name) = (&a[2], &a[3]);
    let s = write_stream(ctx, key)?.expect("stream checked");
    let g = s.groups.get_mut(name.as_ref()).expect("group checked");
    let Some(pending) = g.delete_consumer(&a[4]) else {
        return Ok(Reply::Int(0));
    };
    ctx.store.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-delconsumer", key);
    Ok(Reply::Int(pending as i64))
}

pub fn xgroup_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    ))
}

pub fn xack(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (key, name) = (&a[1], &a[2]);
    match read_stream(ctx, key)? {
        Some(s) if s.groups.contains_key(name.as_ref()) => {}
        _ => return Ok(Reply::Int(0)),
    }
    let ids = a[3..]
        .iter()
        .map(|x| parse_strict_id(x))
        .collect::<Result<Vec<_>, _>>()?;
    let s = write_stream(ctx, key)?.expect("stream checked");
    let g = s.groups.get_mut(name.as_ref()).expect("group checked");
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    ctx.store.dirty += acked as u64;
    Ok(Reply::Int(acked as i64))
}

/// The group `name` of the stream at `key`, for XPENDING / XCLAIM / XAUTOCLAIM.
fn group_or_nogroup<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
    name: &[u8],
) -> Result<&'c mut Stream, ErrorReply> {
    match read_stream(ctx, key)? {
        Some(s) if s.groups.contains_key(name) => Ok(s),
        _ => Err(ErrorReply::stream_nogroup(key, name)),
    }
}

pub fn xpending(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() != 3 && !(6..=9).contains(&a.len()) {
        return Err(ErrorReply::syntax());
    }
    let mut range = None;
    let mut min_idle = 0i64;
    let mut consumer: Option<&Bytes> = None;
    if a.len() >= 6 {
        let mut at = 3;
        if is(&a[3], "IDLE") {
            min_idle = int_arg(&a[4])?;
            if a.len() < 8 {
                return Err(ErrorReply::syntax());
            }
            at += 2;
        }
        let count = int_arg(&a[at + 2])?.max(0) as usize;
        let start = parse_bound(&a[at], true)?;
        let end = parse_bound(&a[at + 1], false)?;
        consumer = a.get(at + 3);
        range = Some((start, end, count));
    }
    let (key, name) = (&a[1], &a[2]);
    let now = ctx.now_ms;
    let s = group_or_nogroup(ctx, key, name)?;
    let g = &s.groups[name.as_ref()];
    let Some((start, end, count)) = range else {
        if g.pel.is_empty() {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        }
        let first = *g.pel.keys().next().expect("non-empty");
        let last = *g.pel.keys().next_back().expect("non-empty");
        let per: Vec<Reply> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| {
                Reply::Array(vec![
                    Reply::Bulk(n.clone()),
                    Reply::Bulk(Bytes::from(c.pel.len().to_string())),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(per),
        ]));
    };
    let ids: Vec<StreamId> = match consumer {
        Some(c) => match g.consumers.get(c.as_ref()) {
            Some(c) => c.pel.range(start..).copied().collect(),
            None => return Ok(Reply::Array(vec![])),
        },
        None => g.pel.range(start..).map(|(id, _)| *id).collect(),
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() >= count || id > end {
            break;
        }
        let p = &g.pel[&id];
        let idle = now as i64 - p.delivery_time as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::Bulk(p.consumer.clone()),
            Reply::Int(idle.max(0)),
            Reply::Int(p.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

/// XCLAIM's options after its IDs.
struct ClaimOpts {
    force: bool,
    justid: bool,
    delivery_time: Option<i64>,
    retrycount: Option<i64>,
    last_id: StreamId,
}

fn parse_claim_opts(a: &[Bytes], mut j: usize, now: u64) -> Result<ClaimOpts, ErrorReply> {
    let mut o = ClaimOpts {
        force: false,
        justid: false,
        delivery_time: None,
        retrycount: None,
        last_id: StreamId::MIN,
    };
    let num = |b: &Bytes, e: fn() -> ErrorReply| crate::util::num::parse_i64(b).ok_or_else(e);
    while j < a.len() {
        let more = a.len() - 1 - j;
        let opt = &a[j];
        if is(opt, "FORCE") {
            o.force = true;
        } else if is(opt, "JUSTID") {
            o.justid = true;
        } else if is(opt, "IDLE") && more > 0 {
            j += 1;
            let idle = num(&a[j], ErrorReply::stream_xclaim_idle)?;
            o.delivery_time = Some((now as i64).wrapping_sub(idle));
        } else if is(opt, "TIME") && more > 0 {
            j += 1;
            o.delivery_time = Some(num(&a[j], ErrorReply::stream_xclaim_time)?);
        } else if is(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            o.retrycount = Some(num(&a[j], ErrorReply::stream_xclaim_retrycount)?);
        } else if is(opt, "LASTID") && more > 0 {
            j += 1;
            o.last_id = parse_strict_id(&a[j])?;
        } else {
            return Err(ErrorReply::stream_xclaim_option(opt));
        }
        j += 1;
    }
    Ok(o)
}

/// A pending entry whose stream entry was deleted leaves the PEL; replicas get the XCLAIM
/// that makes theirs drop it too.
fn drop_deleted(g: &mut Group, key: &Bytes, name: &Bytes, id: StreamId) -> Vec<Bytes> {
    let p = g.pel[&id].clone();
    let prop = xclaim_prop(
        key,
        name,
        &p.consumer,
        id,
        p.delivery_time,
        p.delivery_count,
        g.last_id,
    );
    g.ack(id);
    prop
}

/// The end of XCLAIM / XAUTOCLAIM: the consumer creation event, one dirty change per
/// propagated XCLAIM, which replicas get instead of the command.
fn finish_claims(ctx: &mut Ctx, key: &[u8], created_consumer: bool, props: Vec<Vec<Bytes>>) {
    if created_consumer {
        ctx.store.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    ctx.store.dirty += props.len() as u64;
    for p in props {
        ctx.propagate_as(p);
    }
    ctx.store.propagation.skip_self();
}

/// Moves pending entry `id` to `consumer` (creating the consumer once); true if it was
/// created.
fn claim_one(
    g: &mut Group,
    id: StreamId,
    consumer: &Bytes,
    time: u64,
    count: u64,
    now: u64,
) -> bool {
    let (c, created) = g.consumer(consumer, now);
    c.seen_time = now;
    g.deliver(id, consumer, time, count);
    created
}

pub fn xclaim(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (key, name, consumer) = (&a[1], &a[2], &a[3]);
    group_or_nogroup(ctx, key, name)?;
    let min_idle = crate::util::num::parse_i64(&a[4])
        .ok_or_else(ErrorReply::stream_xclaim_min_idle)?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < a.len() {
        match parse_strict_id(&a[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now_ms;
    let o = parse_claim_opts(a, j, now)?;
    let s = write_stream(ctx, key)?.expect("stream checked");
    let mut propagate_last = false;
    {
        let g = s.groups.get_mut(name.as_ref()).expect("group checked");
        if o.last_id > g.last_id {
            g.last_id = o.last_id;
            propagate_last = true;
        }
    }
    let time = match o.delivery_time {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    let mut out = Vec::new();
    let mut props = Vec::new();
    let mut created_consumer = false;
    for id in ids {
        let exists = s.contains(id);
        let g = s.groups.get_mut(name.as_ref()).expect("group checked");
        let pending = g.pel.get(&id).cloned();
        if !exists {
            if pending.is_some() {
                props.push(drop_deleted(g, key, name, id));
            }
            continue;
        }
        let p = match pending {
            Some(p) => p,
            None if o.force => Pending {
                consumer: Bytes::new(),
                delivery_time: now,
                delivery_count: 0,
            },
            None => continue,
        };
        let forced = p.consumer.is_empty();
        if !forced && min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
            continue;
        }
        let count = match o.retrycount {
            Some(n) if n >= 0 => n as u64,
            _ if !o.justid => p.delivery_count + 1,
            _ => p.delivery_count,
        };
        if forced {
            g.pel.insert(id, p);
        }
        created_consumer |= claim_one(g, id, consumer, time, count, now);
        let last = g.last_id;
        props.push(xclaim_prop(key, name, consumer, id, time, count, last));
        propagate_last = false;
        out.push(if o.justid {
            id_reply(id)
        } else {
            entry_reply(id, s.get(id).unwrap_or_default())
        });
    }
    if propagate_last {
        props.push(setid_prop(key, name, s));
    }
    finish_claims(ctx, key, created_consumer, props);
    Ok(Reply::Array(out))
}

pub fn xautoclaim(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let (key, name, consumer) = (&a[1], &a[2], &a[3]);
    let min_idle = crate::util::num::parse_i64(&a[4])
        .ok_or_else(ErrorReply::stream_xautoclaim_min_idle)?
        .max(0);
    let start = parse_bound(&a[5], true)?;
    let mut count: u64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "COUNT") && more > 0 {
            let max = i64::MAX / 16;
            count = crate::util::num::parse_i64(&a[j + 1])
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(ErrorReply::stream_xautoclaim_count)? as u64;
            j += 1;
        } else if is(&a[j], "JUSTID") {
            justid = true;
        } else {
            return Err(ErrorReply::syntax());
        }
        j += 1;
    }
    group_or_nogroup(ctx, key, name)?;
    let now = ctx.now_ms;
    let s = write_stream(ctx, key)?.expect("stream checked");
    let mut attempts = count.saturating_mul(10);
    let candidates: Vec<StreamId> = {
        let g = &s.groups[name.as_ref()];
        g.pel.range(start..).map(|(id, _)| *id).collect()
    };
    let mut it = candidates.into_iter();
    let (mut out, mut deleted, mut props) = (Vec::new(), Vec::new(), Vec::new());
    let mut created_consumer = false;
    let mut next_cursor = StreamId::MIN;
    loop {
        if attempts == 0 || count == 0 {
            next_cursor = it.next().unwrap_or(StreamId::MIN);
            break;
        }
        attempts -= 1;
        let Some(id) = it.next() else { break };
        let exists = s.contains(id);
        let g = s.groups.get_mut(name.as_ref()).expect("group checked");
        let p = g.pel[&id].clone();
        if !exists {
            props.push(drop_deleted(g, key, name, id));
            deleted.push(id_reply(id));
            count -= 1;
            continue;
        }
        if min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
            continue;
        }
        let n = if justid {
            p.delivery_count
        } else {
            p.delivery_count + 1
        };
        created_consumer |= claim_one(g, id, consumer, now, n, now);
        let last = g.last_id;
        props.push(xclaim_prop(key, name, consumer, id, now, n, last));
        out.push(if justid {
            id_reply(id)
        } else {
            entry_reply(id, s.get(id).unwrap_or_default())
        });
        count -= 1;
    }
    finish_claims(ctx, key, created_consumer, props);
    Ok(Reply::Array(vec![
        id_reply(next_cursor),
        Reply::Array(out),
        Reply::Array(deleted),
    ]))
}
