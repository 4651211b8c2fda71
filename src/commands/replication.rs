//! Replication commands: REPLICAOF/SLAVEOF, ROLE, WAIT, and the replica-side protocol commands
//! PSYNC, SYNC and REPLCONF (the connection becomes a replica link; replication/ does the
//! rest). FAILOVER (standalone coordinated failover) lives in failover_cmd.rs.
use super::{is, Ctx};
use crate::protocol::{ErrorReply, Reply};
use crate::replication::{link, primary};
use crate::state::After;
use crate::util::num::parse_i64;
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

pub fn replicaof(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if ctx.shared.cluster.is_some() {
        return Err(ErrorReply::replicaof_cluster());
    }
    if ctx.shared.repl.state().failover != crate::replication::failover::State::None {
        return Err(ErrorReply::err("REPLICAOF not allowed while failing over."));
    }
    if is(&a[1], "no") && is(&a[2], "one") {
        if ctx.shared.repl.is_replica() {
            link::stop_following(ctx.shared, ctx.store);
        }
        return Ok(Reply::Ok);
    }
    if ctx.client.replica_hello.is_some() {
        return Err(ErrorReply::err(
            "Command is not valid when client is a replica.",
        ));
    }
    let port = parse_i64(&a[2])
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(ErrorReply::invalid_master_port)? as u16;
    let host = String::from_utf8_lossy(&a[1]).into_owned();
    let same = ctx
        .shared
        .repl
        .state()
        .primary
        .as_ref()
        .is_some_and(|p| p.host.eq_ignore_ascii_case(&host) && p.port == port);
    if same {
        return Ok(Reply::Status("OK Already connected to specified master"));
    }
    link::follow(&ctx.shared.arc(), ctx.store, host, port);
    tracing::info!(primary = %format!("{}:{port}", String::from_utf8_lossy(&a[1])), "REPLICAOF enabled (user request)");
    Ok(Reply::Ok)
}

pub fn slaveof(ctx: &mut Ctx, a: &[Bytes]) -> R {
    replicaof(ctx, a)
}

pub fn role(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let offset = ctx.shared.repl.offset() as i64;
    let st = ctx.shared.repl.state();
    Ok(match &st.primary {
        Some(p) => Reply::Array(vec![
            Reply::bulk(b"slave"),
            Reply::bulk(p.host.as_bytes()),
            Reply::Int(p.port as i64),
            Reply::bulk(p.link.role_name().as_bytes()),
            Reply::Int(if p.link == crate::replication::LinkState::Connected {
                offset
            } else {
                -1
            }),
        ]),
        None => Reply::Array(vec![
            Reply::bulk(b"master"),
            Reply::Int(offset),
            Reply::Array(
                st.replicas
                    .values()
                    .filter(|r| r.state == crate::replication::ReplicaState::Online)
                    .map(|r| {
                        Reply::Array(vec![
                            Reply::bulk(r.ip.as_bytes()),
                            Reply::bulk(r.port.to_string().as_bytes()),
                            Reply::bulk(r.ack_offset.to_string().as_bytes()),
                        ])
                    })
                    .collect(),
            ),
        ]),
    })
}

/// WAIT numreplicas timeout: how many replicas acknowledged this client's last write.
pub fn wait(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if ctx.shared.repl.is_replica() {
        return Err(ErrorReply::wait_on_replica());
    }
    let replicas = parse_i64(&a[1]).ok_or_else(ErrorReply::not_integer)?;
    let timeout = parse_i64(&a[2]).ok_or_else(ErrorReply::timeout_invalid)?;
    if timeout < 0 {
        return Err(ErrorReply::timeout_negative());
    }
    let offset = ctx.client.woff;
    let acked = ctx.shared.repl.acked_at_least(offset);
    if acked as i64 >= replicas || ctx.client.in_exec {
        return Ok(Reply::Int(acked as i64));
    }
    ctx.client.after = Some(After::Wait {
        offset,
        replicas: replicas.max(0) as usize,
        deadline_ms: match timeout {
            0 => 0,
            t => ctx.now_ms.saturating_add(t as u64),
        },
    });
    Ok(Reply::NoReply)
}

fn begin_sync(ctx: &mut Ctx, plan: primary::Plan) -> R {
    if ctx.client.replica_hello.as_ref().is_some_and(|h| h.synced) {
        return Ok(Reply::NoReply);
    }
    if ctx.shared.repl.state().failover != crate::replication::failover::State::None {
        return Err(ErrorReply::no_master_link_failing_over());
    }
    let linked = ctx
        .shared
        .repl
        .state()
        .primary
        .as_ref()
        .map(|p| p.link == crate::replication::LinkState::Connected);
    if linked == Some(false) {
        return Err(ErrorReply::no_master_link());
    }
    ctx.client
        .replica_hello
        .get_or_insert_with(Default::default)
        .synced = true;
    ctx.client.after = Some(After::Replica(plan));
    Ok(Reply::NoReply)
}

/// PSYNC replid offset [FAILOVER].
pub fn psync(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let offset = parse_i64(&a[2]).ok_or_else(ErrorReply::not_integer)?;
    if a.len() > 3 && is(&a[3], "failover") {
        // Our primary hands over (coordinated failover): promote, then answer as a primary.
        tracing::warn!(replid = %String::from_utf8_lossy(&a[1]), "Failover request received");
        let st = ctx.shared.repl.state();
        if st.primary.is_none() {
            return Err(ErrorReply::err("PSYNC FAILOVER can't be sent to a master."));
        }
        if st.replid.as_bytes() != a[1] {
            return Err(ErrorReply::err(
                "PSYNC FAILOVER replid must match my replid.",
            ));
        }
        drop(st);
        link::stop_following(ctx.shared, ctx.store);
    }
    let plan = primary::decide(ctx.shared, &a[1], offset);
    begin_sync(ctx, plan)
}

/// SYNC: the pre-PSYNC protocol: an RDB (always with a length) then the stream.
pub fn sync(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    ctx.shared
        .repl
        .counters
        .sync_full
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    begin_sync(ctx, primary::Plan::Full { psync: false })
}

/// REPLCONF option value [option value ...]: what a replica says about itself.
pub fn replconf(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() % 2 == 0 {
        return Err(ErrorReply::syntax());
    }
    for pair in a[1..].chunks_exact(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "listening-port") {
            let port = parse_i64(val).ok_or_else(ErrorReply::not_integer)?;
            ctx.client
                .replica_hello
                .get_or_insert_with(Default::default)
                .listening_port = port.clamp(0, 65535) as u16;
        } else if is(opt, "ip-address") {
            if val.len() >= 46 {
                return Err(ErrorReply::err(format!(
                    "REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    val.len()
                )));
            }
            ctx.client
                .replica_hello
                .get_or_insert_with(Default::default)
                .ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "capa") {
            let h = ctx
                .client
                .replica_hello
                .get_or_insert_with(Default::default);
            if is(val, "eof") {
                h.capa_eof = true;
            } else if is(val, "psync2") {
                h.capa_psync2 = true;
            }
        } else if is(opt, "ack") || is(opt, "getack") {
            // ACKs arrive on the replica link (replication/primary.rs) and GETACKs on the
            // primary's (replication/link.rs); elsewhere they get no reply, as in Redis.
            return Ok(Reply::NoReply);
        } else if is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
            // Accepted: the snapshot is always complete (no module data to filter).
        } else {
            return Err(ErrorReply::unrecognized_replconf(opt));
        }
    }
    Ok(Reply::Ok)
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (replication/failover.rs does it).
pub fn failover(ctx: &mut Ctx, a: &[Bytes]) -> R {
    use crate::replication::failover::{self as fo, State};
    if ctx.shared.cluster.is_some() {
        return Err(ErrorReply::err(
            "FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.",
        ));
    }
    if a.len() == 2 && is(&a[1], "abort") {
        if ctx.shared.repl.state().failover == State::None {
            return Err(ErrorReply::err("No failover in progress."));
        }
        fo::abort(ctx.shared, ctx.store, "Failover manually aborted");
        return Ok(Reply::Ok);
    }
    let (mut timeout, mut force, mut target) = (0i64, false, None);
    let mut j = 1;
    while j < a.len() {
        if is(&a[j], "timeout") && j + 1 < a.len() && timeout == 0 {
            timeout = parse_i64(&a[j + 1]).ok_or_else(ErrorReply::not_integer)?;
            if timeout <= 0 {
                return Err(ErrorReply::err("FAILOVER timeout must be greater than 0"));
            }
            j += 2;
        } else if is(&a[j], "to") && j + 2 < a.len() && target.is_none() {
            let port = parse_i64(&a[j + 2]).ok_or_else(ErrorReply::not_integer)?;
            target = Some((String::from_utf8_lossy(&a[j + 1]).into_owned(), port));
            j += 3;
        } else if is(&a[j], "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(ErrorReply::syntax());
        }
    }
    let st = ctx.shared.repl.state();
    if st.failover != State::None {
        return Err(ErrorReply::err("FAILOVER already in progress."));
    }
    if st.primary.is_some() {
        return Err(ErrorReply::err(
            "FAILOVER is not valid when server is a replica.",
        ));
    }
    if st.replicas.is_empty() {
        return Err(ErrorReply::err("FAILOVER requires connected replicas."));
    }
    if force && (timeout == 0 || target.is_none()) {
        return Err(ErrorReply::err(
            "FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    let target = match target {
        None => None,
        Some((host, port)) => {
            let r = st
                .replicas
                .values()
                .find(|r| r.ip == host && r.port as i64 == port)
                .ok_or_else(|| {
                    ErrorReply::err("FAILOVER target HOST and PORT is not a replica.")
                })?;
            if r.state != crate::replication::ReplicaState::Online {
                return Err(ErrorReply::err("FAILOVER target replica is not online."));
            }
            Some((host, port as u16))
        }
    };
    drop(st);
    fo::start(ctx.shared, target, timeout as u64, force);
    Ok(Reply::Ok)
}
