//! XREAD and XREADGROUP (t_stream.c `xreadCommand`): parse, serve what is there, or block on
//! the keys through the machinery lists and sorted sets use (commands/blocking.rs). A blocked
//! XREAD retries with `$` replaced by the IDs it resolved to when it blocked; a blocked
//! XREADGROUP retries with `>` and fails as 7.0 does when its group or key goes away.
//! Replicas get what XREADGROUP did, never the read: an XCLAIM per delivered entry (or
//! XGROUP SETID / CREATECONSUMER with NOACK), as `streamPropagateXCLAIM` builds them.
use super::blocking::block_on_retrying;
use super::streams::{entries_reply, entry_reply, id_reply, parse_strict_id, read_stream};
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply, RespVersion};
use crate::store::notify;
use crate::store::types::stream::{Fields, Stream, StreamId};
use crate::store::Value;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

/// XREAD_BLOCKED_DEFAULT_COUNT: a blocked read without COUNT is served at most this many.
const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// What a stream position in the IDs list asks for.
#[derive(Clone, Copy, PartialEq)]
enum Pos {
    After(StreamId),
    /// `>`: entries never delivered to the group.
    New,
}

struct ReadArgs<'a> {
    block_ms: Option<u64>,
    count: usize,
    noack: bool,
    group: Option<(&'a Bytes, &'a Bytes)>,
    streams_arg: usize,
    keys: &'a [Bytes],
}

fn parse<'a>(ctx: &Ctx, a: &'a [Bytes], readgroup: bool) -> Result<ReadArgs<'a>, ErrorReply> {
    let mut r = ReadArgs {
        block_ms: None,
        count: 0,
        noack: false,
        group: None,
        streams_arg: 0,
        keys: &[],
    };
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        let o = &a[i];
        if is(o, "BLOCK") && more > 0 {
            if ctx.client.script {
                return Err(ErrorReply::stream_block_in_script(&a[0]));
            }
            i += 1;
            let ms = crate::util::num::parse_i64(&a[i]).ok_or_else(ErrorReply::timeout_invalid)?;
            if ms < 0 {
                return Err(ErrorReply::timeout_negative());
            }
            r.block_ms = Some(ms as u64);
        } else if is(o, "COUNT") && more > 0 {
            i += 1;
            r.count = int_arg(&a[i])?.max(0) as usize;
        } else if is(o, "STREAMS") && more > 0 {
            r.streams_arg = i + 1;
            let n = a.len() - r.streams_arg;
            if n % 2 != 0 {
                return Err(ErrorReply::stream_unbalanced());
            }
            r.keys = &a[r.streams_arg..r.streams_arg + n / 2];
            break;
        } else if is(o, "GROUP") && more >= 2 {
            if !readgroup {
                return Err(ErrorReply::stream_group_only_readgroup());
            }
            r.group = Some((&a[i + 1], &a[i + 2]));
            i += 2;
        } else if is(o, "NOACK") {
            if !readgroup {
                return Err(ErrorReply::stream_noack_only_readgroup());
            }
            r.noack = true;
        } else {
            return Err(ErrorReply::syntax());
        }
        i += 1;
    }
    if r.streams_arg == 0 {
        return Err(ErrorReply::syntax());
    }
    if readgroup && r.group.is_none() {
        return Err(ErrorReply::stream_missing_group());
    }
    Ok(r)
}

/// Resolves the IDs list with 7.0's checks, per stream in order.
fn positions(
    ctx: &mut Ctx,
    a: &[Bytes],
    r: &ReadArgs,
    readgroup: bool,
) -> Result<Vec<Pos>, ErrorReply> {
    let n = r.keys.len();
    let retry = ctx.client.block_retry;
    let mut out = Vec::with_capacity(n);
    for (k, key) in r.keys.iter().enumerate() {
        let arg = &a[r.streams_arg + n + k];
        let s = match read_stream(ctx, key) {
            // Woken up on a key that is no longer a stream: XREAD waits on, XREADGROUP fails.
            Err(_) if retry && readgroup => return Err(ErrorReply::stream_key_deleted()),
            Err(_) if retry => None,
            other => other?,
        };
        if let Some((group, _)) = r.group {
            if !s
                .as_ref()
                .is_some_and(|s| s.groups.contains_key(group.as_ref()))
            {
                if retry {
                    return Err(match s {
                        None => ErrorReply::stream_key_deleted(),
                        Some(_) => ErrorReply::stream_group_gone(),
                    });
                }
                return Err(ErrorReply::stream_nogroup_readgroup(key, group));
            }
        }
        let pos = match arg.as_ref() {
            b"$" => {
                if readgroup {
                    return Err(ErrorReply::stream_dollar_in_readgroup());
                }
                Pos::After(s.map_or(StreamId::MIN, |s| s.last_id))
            }
            b">" => {
                if !readgroup {
                    return Err(ErrorReply::stream_gt_only_readgroup());
                }
                Pos::New
            }
            _ => Pos::After(parse_strict_id(arg)?),
        };
        out.push(pos);
    }
    Ok(out)
}

/// XREADGROUP's consumer-PEL history from `start`: each entry, or `[id, nil]` when it was
/// deleted meanwhile; served entries count one more delivery.
fn serve_history(
    s: &mut Stream,
    group: &[u8],
    consumer: &Bytes,
    start: StreamId,
    count: usize,
    now: u64,
) -> Reply {
    let Some(g) = s.groups.get(group) else {
        return Reply::Array(vec![]);
    };
    let ids: Vec<StreamId> = g
        .consumers
        .get(consumer)
        .map(|c| {
            let it = c.pel.range(start..).copied();
            if count > 0 {
                it.take(count).collect()
            } else {
                it.collect()
            }
        })
        .unwrap_or_default();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match s.get(id) {
            Some(fields) => {
                if let Some(p) = s.groups.get_mut(group).and_then(|g| g.pel.get_mut(&id)) {
                    p.delivery_time = now;
                    p.delivery_count += 1;
                }
                out.push(entry_reply(id, fields));
            }
            None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
        }
    }
    Reply::Array(out)
}

/// XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last: how a
/// delivery or claim reaches replicas (`streamPropagateXCLAIM`).
pub(super) fn xclaim_prop(
    key: &Bytes,
    group: &Bytes,
    consumer: &Bytes,
    id: StreamId,
    time: u64,
    count: u64,
    last: StreamId,
) -> Vec<Bytes> {
    let b = Bytes::from_static;
    vec![
        b(b"XCLAIM"),
        key.clone(),
        group.clone(),
        consumer.clone(),
        b(b"0"),
        id.to_bytes(),
        b(b"TIME"),
        Bytes::from(time.to_string()),
        b(b"RETRYCOUNT"),
        Bytes::from(count.to_string()),
        b(b"FORCE"),
        b(b"JUSTID"),
        b(b"LASTID"),
        last.to_bytes(),
    ]
}

/// XGROUP SETID key group last ENTRIESREAD n (`streamPropagateGroupID`).
pub(super) fn setid_prop(key: &Bytes, group: &Bytes, s: &Stream) -> Vec<Bytes> {
    let g = &s.groups[group.as_ref()];
    let read = g.entries_read.map_or(-1, |r| r as i64);
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        key.clone(),
        group.clone(),
        g.last_id.to_bytes(),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(read.to_string()),
    ]
}

/// New entries after `start` for a group: the group advances, entries enter the PELs
/// (unless NOACK); returns the entries and the commands replicas need.
fn serve_new(
    s: &mut Stream,
    key: &Bytes,
    group: &Bytes,
    consumer: &Bytes,
    start: StreamId,
    count: usize,
    noack: bool,
    now: u64,
) -> (Vec<(StreamId, Fields)>, Vec<Vec<Bytes>>) {
    let entries = s.range(start, StreamId::MAX, count, false);
    let mut props = Vec::new();
    let mut advanced = false;
    for (id, _) in &entries {
        let before = s.groups[group.as_ref()].last_id;
        s.advance_group(group, *id);
        advanced |= s.groups[group.as_ref()].last_id != before;
        if !noack {
            let g = s.groups.get_mut(group.as_ref()).expect("group checked");
            g.deliver(*id, consumer, now, 1);
            props.push(xclaim_prop(key, group, consumer, *id, now, 1, g.last_id));
        }
    }
    if noack && advanced {
        props.push(setid_prop(key, group, s));
    }
    (entries, props)
}

fn xread_generic(ctx: &mut Ctx, a: &[Bytes], readgroup: bool) -> R {
    let r = parse(ctx, a, readgroup)?;
    let pos = positions(ctx, a, &r, readgroup)?;
    let count = if r.count == 0 && ctx.client.block_retry {
        BLOCKED_DEFAULT_COUNT
    } else {
        r.count
    };
    let now = ctx.now_ms;
    let mut served: Vec<(Reply, Reply)> = Vec::new();
    for (i, key) in r.keys.iter().enumerate() {
        let mut props: Vec<Vec<Bytes>> = Vec::new();
        let mut created = false;
        let reply = {
            let s = match ctx.read_value(key) {
                Some(Value::Stream(s)) => s,
                _ => continue,
            };
            match (r.group, pos[i]) {
                (None, Pos::After(gt)) => {
                    if s.length == 0 || !s.edge_id(false).is_some_and(|m| m > gt) {
                        continue;
                    }
                    let Some(start) = gt.next() else { continue };
                    entries_reply(s.range(start, StreamId::MAX, count, false))
                }
                (Some((group, consumer)), p) => {
                    let last = s.groups[group.as_ref()].last_id;
                    let start = match p {
                        Pos::After(gt) => Some(gt),
                        Pos::New if s.length > 0 && s.edge_id(false).is_some_and(|m| m > last) => {
                            None
                        }
                        Pos::New => continue,
                    };
                    let g = s.groups.get_mut(group.as_ref()).expect("group checked");
                    let (c, new) = g.consumer(consumer, now);
                    c.seen_time = now;
                    created = new;
                    if new && r.noack {
                        props.push(vec![
                            Bytes::from_static(b"XGROUP"),
                            Bytes::from_static(b"CREATECONSUMER"),
                            key.clone(),
                            group.clone(),
                            consumer.clone(),
                        ]);
                    }
                    match start {
                        Some(gt) => {
                            let from = gt.next().unwrap_or(StreamId::MAX);
                            serve_history(s, group, consumer, from, r.count, now)
                        }
                        None => {
                            let from = last.next().unwrap_or(StreamId::MAX);
                            let (entries, more) =
                                serve_new(s, key, group, consumer, from, count, r.noack, now);
                            props.extend(more);
                            entries_reply(entries)
                        }
                    }
                }
                (None, Pos::New) => continue,
            }
        };
        if r.group.is_some() {
            ctx.store.dirty += 1 + created as u64;
            if created {
                ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
            }
        }
        for p in props {
            ctx.propagate_as(p);
        }
        served.push((Reply::Bulk(key.clone()), reply));
    }
    // Replicas get what was delivered (above), never the read itself.
    ctx.store.propagation.skip_self();
    if !served.is_empty() {
        return Ok(match ctx.client.resp {
            RespVersion::Resp2 => Reply::Array(
                served
                    .into_iter()
                    .map(|(k, v)| Reply::Array(vec![k, v]))
                    .collect(),
            ),
            _ => Reply::Map(served),
        });
    }
    let Some(ms) = r.block_ms else {
        return Ok(Reply::NilArray);
    };
    let deadline = if ms == 0 {
        0
    } else {
        ctx.now_ms.saturating_add(ms)
    };
    // `$` means "after the last ID now": retry with the IDs it stood for.
    let mut retry = a.to_vec();
    let n = r.keys.len();
    for (k, p) in pos.iter().enumerate() {
        if let Pos::After(id) = p {
            retry[r.streams_arg + n + k] = id.to_bytes();
        }
    }
    block_on_retrying(ctx, r.keys, deadline, Reply::NilArray, Some(retry))
}

pub fn xread(ctx: &mut Ctx, a: &[Bytes]) -> R {
    xread_generic(ctx, a, false)
}

pub fn xreadgroup(ctx: &mut Ctx, a: &[Bytes]) -> R {
    xread_generic(ctx, a, true)
}
