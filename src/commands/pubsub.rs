//! Pub/Sub: SUBSCRIBE/UNSUBSCRIBE, PSUBSCRIBE/PUNSUBSCRIBE, SSUBSCRIBE/SUNSUBSCRIBE, PUBLISH,
//! SPUBLISH and PUBSUB. Delivery and buffer limits live in state::pubsub; the connection
//! writes queued messages as they arrive. Shard channels behave as on a standalone Redis; their
//! cluster routing (by slot) arrives with cluster mode.
use super::{help_reply, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::state::pubsub::Kind;
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

type R = Result<Reply, ErrorReply>;

fn confirm(what: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk_static(what),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

fn subscribe_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind) -> R {
    let id = ctx.client.id;
    let mailbox = ctx.client.handle.mailbox.clone();
    let mut out = Vec::new();
    for name in &a[1..] {
        let subs = ctx.client.subs();
        let set = match kind {
            Kind::Channel => &mut subs.channels,
            Kind::Pattern => &mut subs.patterns,
            Kind::Shard
            | Kind::Invalidate
            | Kind::ShardLost
            | Kind::Wake
            | Kind::RedirectBroken => &mut subs.shards,
        };
        if set.insert(name.clone()) {
            ctx.shared.pubsub.subscribe(kind, name, id, &mailbox);
        }
        let (what, count) = match kind {
            Kind::Channel => ("subscribe", subs.count()),
            Kind::Pattern => ("psubscribe", subs.count()),
            Kind::Shard
            | Kind::Invalidate
            | Kind::ShardLost
            | Kind::Wake
            | Kind::RedirectBroken => ("ssubscribe", subs.shards.len()),
        };
        out.push(confirm(what, Some(name.clone()), count));
    }
    Ok(Reply::Many(out))
}

fn unsubscribe_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind) -> R {
    let id = ctx.client.id;
    let what = match kind {
        Kind::Channel => "unsubscribe",
        Kind::Pattern => "punsubscribe",
        Kind::Shard | Kind::Invalidate | Kind::ShardLost | Kind::Wake | Kind::RedirectBroken => {
            "sunsubscribe"
        }
    };
    let subs = ctx.client.subs();
    let names: Vec<Bytes> = if a.len() > 1 {
        a[1..].to_vec()
    } else {
        match kind {
            Kind::Channel => subs.channels.iter().cloned().collect(),
            Kind::Pattern => subs.patterns.iter().cloned().collect(),
            Kind::Shard
            | Kind::Invalidate
            | Kind::ShardLost
            | Kind::Wake
            | Kind::RedirectBroken => subs.shards.iter().cloned().collect(),
        }
    };
    let count = |s: &crate::state::client::Subscriptions| {
        if kind == Kind::Shard {
            s.shards.len()
        } else {
            s.count()
        }
    };
    if names.is_empty() {
        return Ok(confirm(what, None, count(subs)));
    }
    let mut out = Vec::new();
    for name in names {
        let set = match kind {
            Kind::Channel => &mut subs.channels,
            Kind::Pattern => &mut subs.patterns,
            Kind::Shard
            | Kind::Invalidate
            | Kind::ShardLost
            | Kind::Wake
            | Kind::RedirectBroken => &mut subs.shards,
        };
        if set.remove(&name) {
            ctx.shared.pubsub.unsubscribe(kind, &name, id);
        }
        out.push(confirm(what, Some(name), count(subs)));
    }
    Ok(Reply::Many(out))
}

pub fn subscribe(ctx: &mut Ctx, a: &[Bytes]) -> R {
    subscribe_generic(ctx, a, Kind::Channel)
}

pub fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) -> R {
    subscribe_generic(ctx, a, Kind::Pattern)
}

pub fn ssubscribe(ctx: &mut Ctx, a: &[Bytes]) -> R {
    subscribe_generic(ctx, a, Kind::Shard)
}

pub fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> R {
    unsubscribe_generic(ctx, a, Kind::Channel)
}

pub fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> R {
    unsubscribe_generic(ctx, a, Kind::Pattern)
}

pub fn sunsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> R {
    unsubscribe_generic(ctx, a, Kind::Shard)
}

/// Drops every subscription of a departing client.
pub fn unsubscribe_all(shared: &crate::state::Shared, client: &mut crate::state::Client) {
    let id = client.id;
    if let Some(s) = client.sub.take() {
        for c in &s.channels {
            shared.pubsub.unsubscribe(Kind::Channel, c, id);
        }
        for p in &s.patterns {
            shared.pubsub.unsubscribe(Kind::Pattern, p, id);
        }
        for c in &s.shards {
            shared.pubsub.unsubscribe(Kind::Shard, c, id);
        }
    }
}

fn publish_generic(ctx: &mut Ctx, a: &[Bytes], shard: bool) -> R {
    let lim = ctx.shared.config().hot.obuf_pubsub;
    let (n, dropped) = ctx
        .shared
        .pubsub
        .publish(shard, &a[1], &a[2], lim, ctx.now_ms);
    // In a cluster the message also goes over the bus: PUBLISH to every node, SPUBLISH to the
    // other nodes of this shard. The reply counts local receivers only, as in Redis.
    // Standalone, replicas get the message through the replication stream.
    match &ctx.shared.cluster {
        Some(c) => crate::cluster::messages::publish(&mut c.lock(), shard, &a[1], &a[2]),
        None => ctx.store.propagation.force_repl_only(),
    }
    if dropped > 0 {
        ctx.shared
            .stats
            .client_outbuf_limit_disconnections
            .fetch_add(dropped as u64, Relaxed);
    }
    Ok(Reply::Int(n as i64))
}

pub fn publish(ctx: &mut Ctx, a: &[Bytes]) -> R {
    publish_generic(ctx, a, false)
}

pub fn spublish(ctx: &mut Ctx, a: &[Bytes]) -> R {
    publish_generic(ctx, a, true)
}

fn channels_reply(ctx: &Ctx, a: &[Bytes], shard: bool) -> R {
    let pat = a.get(2).map(|p| p.as_ref());
    Ok(Reply::Array(
        ctx.shared
            .pubsub
            .channels(shard, pat)
            .into_iter()
            .map(Reply::Bulk)
            .collect(),
    ))
}

pub fn pubsub_channels(ctx: &mut Ctx, a: &[Bytes]) -> R {
    channels_reply(ctx, a, false)
}

pub fn pubsub_shardchannels(ctx: &mut Ctx, a: &[Bytes]) -> R {
    channels_reply(ctx, a, true)
}

fn numsub_reply(ctx: &Ctx, a: &[Bytes], shard: bool) -> R {
    let mut out = Vec::new();
    for c in &a[2..] {
        out.push(Reply::Bulk(c.clone()));
        out.push(Reply::Int(ctx.shared.pubsub.numsub(shard, c) as i64));
    }
    Ok(Reply::Array(out))
}

pub fn pubsub_numsub(ctx: &mut Ctx, a: &[Bytes]) -> R {
    numsub_reply(ctx, a, false)
}

pub fn pubsub_shardnumsub(ctx: &mut Ctx, a: &[Bytes]) -> R {
    numsub_reply(ctx, a, true)
}

pub fn pubsub_numpat(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(Reply::Int(ctx.shared.pubsub.numpat() as i64))
}

pub fn pubsub_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(help_reply(
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    ))
}
