//! XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS / HELP (t_stream.c `xinfoCommand`),
//! field for field as 7.0.15 replies (maps: flat arrays in RESP2).
use super::streams::{entries_reply, entry_reply, id_reply, read_stream};
use super::{int_arg, is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::store::types::stream::{Stream, StreamId};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

fn field(name: &'static str, v: Reply) -> (Reply, Reply) {
    (Reply::bulk_static(name), v)
}

fn stream_or_nokey<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut Stream, ErrorReply> {
    read_stream(ctx, key)?.ok_or_else(ErrorReply::no_such_key)
}

fn lag_reply(s: &Stream, g: &crate::store::types::stream::Group) -> Reply {
    s.group_lag(g).map_or(Reply::Nil, Reply::Int)
}

fn entries_read_reply(g: &crate::store::types::stream::Group) -> Reply {
    g.entries_read.map_or(Reply::Nil, |r| Reply::Int(r as i64))
}

pub fn xinfo_stream(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let opts = &a[3..];
    let mut full = None;
    if !opts.is_empty() {
        if (opts.len() != 1 && opts.len() != 3) || !is(&opts[0], "FULL") {
            return Err(ErrorReply::subcommand_syntax(&a[1], "xinfo"));
        }
        let mut count = 10i64;
        if opts.len() == 3 {
            if !is(&opts[1], "COUNT") {
                return Err(ErrorReply::subcommand_syntax(&a[1], "xinfo"));
            }
            count = int_arg(&opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
        full = Some(count as usize);
    }
    let s = stream_or_nokey(ctx, &a[2])?;
    let mut m = vec![
        field("length", Reply::Int(s.length as i64)),
        field("radix-tree-keys", Reply::Int(s.node_count() as i64)),
        field("radix-tree-nodes", Reply::Int(s.rax_nodes() as i64)),
        field("last-generated-id", id_reply(s.last_id)),
        field("max-deleted-entry-id", id_reply(s.max_deleted)),
        field("entries-added", Reply::Int(s.entries_added as i64)),
        field("recorded-first-entry-id", id_reply(s.first_id)),
    ];
    let Some(count) = full else {
        m.push(field("groups", Reply::Int(s.groups.len() as i64)));
        let edge = |rev| {
            s.range(StreamId::MIN, StreamId::MAX, 1, rev)
                .pop()
                .map_or(Reply::Nil, |(id, f)| entry_reply(id, f))
        };
        m.push(field("first-entry", edge(false)));
        m.push(field("last-entry", edge(true)));
        return Ok(Reply::Map(m));
    };
    m.push(field(
        "entries",
        entries_reply(s.range(StreamId::MIN, StreamId::MAX, count, false)),
    ));
    let take = |n: usize| if count == 0 { n } else { n.min(count) };
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let pel = g
                .pel
                .iter()
                .take(take(g.pel.len()))
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::Bulk(p.consumer.clone()),
                        Reply::Int(p.delivery_time as i64),
                        Reply::Int(p.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let pending = c
                        .pel
                        .iter()
                        .take(take(c.pel.len()))
                        .map(|id| {
                            let p = &g.pel[id];
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Int(p.delivery_time as i64),
                                Reply::Int(p.delivery_count as i64),
                            ])
                        })
                        .collect();
                    Reply::Map(vec![
                        field("name", Reply::Bulk(cname.clone())),
                        field("seen-time", Reply::Int(c.seen_time as i64)),
                        field("pel-count", Reply::Int(c.pel.len() as i64)),
                        field("pending", Reply::Array(pending)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                field("name", Reply::Bulk(name.clone())),
                field("last-delivered-id", id_reply(g.last_id)),
                field("entries-read", entries_read_reply(g)),
                field("lag", lag_reply(s, g)),
                field("pel-count", Reply::Int(g.pel.len() as i64)),
                field("pending", Reply::Array(pel)),
                field("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    m.push(field("groups", Reply::Array(groups)));
    Ok(Reply::Map(m))
}

pub fn xinfo_groups(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let s = stream_or_nokey(ctx, &a[2])?;
    Ok(Reply::Array(
        s.groups
            .iter()
            .map(|(name, g)| {
                Reply::Map(vec![
                    field("name", Reply::Bulk(name.clone())),
                    field("consumers", Reply::Int(g.consumers.len() as i64)),
                    field("pending", Reply::Int(g.pel.len() as i64)),
                    field("last-delivered-id", id_reply(g.last_id)),
                    field("entries-read", entries_read_reply(g)),
                    field("lag", lag_reply(s, g)),
                ])
            })
            .collect(),
    ))
}

pub fn xinfo_consumers(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let now = ctx.now_ms;
    let (key, name) = (&a[2], &a[3]);
    let s = stream_or_nokey(ctx, key)?;
    let Some(g) = s.groups.get(name.as_ref()) else {
        return Err(ErrorReply::stream_nogroup_for_key(name, key));
    };
    Ok(Reply::Array(
        g.consumers
            .iter()
            .map(|(cname, c)| {
                Reply::Map(vec![
                    field("name", Reply::Bulk(cname.clone())),
                    field("pending", Reply::Int(c.pel.len() as i64)),
                    field("idle", Reply::Int((now as i64 - c.seen_time as i64).max(0))),
                ])
            })
            .collect(),
    ))
}

pub fn xinfo_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    ))
}
