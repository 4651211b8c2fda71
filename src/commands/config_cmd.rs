//! CONFIG GET/SET/RESETSTAT/REWRITE/HELP over the directive table (config::table).
use super::Ctx;
use crate::protocol::{ErrorReply, Reply};
use bytes::Bytes;

type R = Result<Reply, ErrorReply>;

pub fn config_get(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let cfg = ctx.shared.config();
    let mut seen = std::collections::BTreeMap::new();
    for pat in &a[2..] {
        for (name, value) in cfg.matching(pat) {
            seen.insert(name, value);
        }
    }
    Ok(Reply::Map(
        seen.into_iter()
            .map(|(k, v)| (Reply::bulk_static(k), Reply::bulk(v.as_bytes())))
            .collect(),
    ))
}

pub fn config_set(ctx: &mut Ctx, a: &[Bytes]) -> R {
    if a.len() % 2 != 0 {
        return Err(ErrorReply::wrong_arity("config|set"));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, kv) in a[2..].chunks(2).enumerate() {
        let name = String::from_utf8_lossy(&kv[0]).to_ascii_lowercase();
        match crate::config::table::find(&name) {
            None => return Err(ErrorReply::unknown_config("SET", &kv[0])),
            Some(p) if p.sensitive => ctx.redact(3 + 2 * i),
            Some(_) => {}
        }
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(ErrorReply::config_set_duplicate(&name));
        }
        pairs.push((name, String::from_utf8_lossy(&kv[1]).into_owned()));
    }
    // `dir` is the working directory, as in Redis: changing it is a chdir (snapshots are
    // written relative to it).
    if let Some((_, d)) = pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case("dir")) {
        if let Err(e) = std::env::set_current_dir(d) {
            let reason = e.to_string();
            let reason = reason.split(" (os error").next().unwrap_or(&reason);
            return Err(ErrorReply::config_set_failed("dir", reason));
        }
    }
    let mut cfg = ctx.shared.config.write().unwrap_or_else(|e| e.into_inner());
    let before = cfg.clone();
    cfg.set_many(&pairs)
        .map_err(|(name, reason)| ErrorReply::config_set_failed(&name, &reason))?;
    // New listeners first: if the port cannot be bound, every value goes back (Redis's
    // apply-then-rollback).
    // Only a real change rebinds (setting the current values is a no-op, as in Redis).
    let moved = cfg.hot.port != before.hot.port || cfg.hot.bind != before.hot.bind;
    if moved && cfg.hot.port != 0 {
        let rebind = ctx.shared.rebind.get().copied();
        if let Some(Err(e)) = rebind.map(|f| f(ctx.shared, &cfg)) {
            *cfg = before;
            let name = if pairs.iter().any(|(n, _)| n == "port") {
                "port"
            } else {
                "bind"
            };
            return Err(ErrorReply::config_set_failed(
                name,
                &format!(
                    "Unable to listen on this port: {}",
                    crate::util::strerror(&e)
                ),
            ));
        }
    }
    // Push the new values to the parts that keep their own copy.
    if pairs.iter().any(|(n, _)| n == "requirepass") {
        let pass = cfg.hot.requirepass.clone();
        ctx.shared
            .acl
            .set_requirepass(pass.as_deref().map(str::as_bytes));
    }
    ctx.shared
        .acl
        .set_log_max_len(cfg.num("acllog-max-len").max(0) as usize);
    ctx.store.eviction = cfg.eviction();
    ctx.store.events.flags = cfg.hot.notify_flags;
    ctx.store.tracking.max_keys = cfg.num("tracking-table-max-keys") as usize;
    let latency = cfg.num("latency-monitor-threshold").max(0) as u64;
    ctx.shared
        .latency
        .threshold_ms
        .store(latency, std::sync::atomic::Ordering::Relaxed);
    ctx.shared
        .slowlog
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .set_max_len(cfg.hot.slowlog_max_len);
    ctx.shared.slowlog_slower_than.store(
        cfg.hot.slowlog_slower_than,
        std::sync::atomic::Ordering::Relaxed,
    );
    let min_replicas = cfg
        .get("min-replicas-to-write")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ctx.shared
        .repl
        .min_replicas
        .store(min_replicas, std::sync::atomic::Ordering::Relaxed);
    if let Some(c) = &ctx.shared.cluster {
        // cluster-* settings apply at once, as in Redis (the bus cron would see them too).
        let port = ctx
            .shared
            .bound_port
            .load(std::sync::atomic::Ordering::Relaxed);
        let settings = cfg.cluster_settings(port);
        drop(cfg);
        c.lock().apply_settings(settings);
    } else {
        drop(cfg);
    }
    if pairs
        .iter()
        .any(|(n, _)| n == "appendonly" || n == "appendfsync")
    {
        let in_exec = ctx.client.in_exec;
        if let Err(e) = crate::persist::aof::apply_config(ctx.shared, ctx.store, in_exec) {
            tracing::warn!("{e}");
            let mut cfg = ctx.shared.config.write().unwrap_or_else(|e| e.into_inner());
            let _ = cfg.set_many(&[("appendonly".to_string(), "no".to_string())]);
            return Err(ErrorReply::config_set_failed(
                "appendonly",
                "Unable to turn on AOF. Check server logs.",
            ));
        }
    }
    // A lower maxmemory evicts at once, as Redis's eviction timer does right after the
    // change (not at the next write). A replica leaves it to its primary.
    let replica = ctx
        .shared
        .repl
        .role_replica
        .load(std::sync::atomic::Ordering::Relaxed);
    if pairs.iter().any(|(n, _)| n == "maxmemory") && ctx.store.eviction.maxmemory > 0 && !replica {
        let sh = ctx.shared;
        let _ = ctx.store.evict_to_fit(&|| sh.allocated());
    }
    Ok(Reply::Ok)
}

pub fn config_resetstat(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    ctx.shared.stats.reset();
    ctx.store.stats = Default::default();
    ctx.store.reset_lazyfreed_objects();
    ctx.shared
        .slowlog
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reset();
    Ok(Reply::Ok)
}

pub fn config_rewrite(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let cfg = ctx.shared.config();
    let Some(path) = cfg.file.clone() else {
        return Err(ErrorReply::no_config_file());
    };
    // Users go to the config file unless an ACL file holds them.
    let users: Vec<String> = if cfg.get("aclfile").unwrap_or_default().is_empty() {
        let acl = &ctx.shared.acl;
        acl.all()
            .iter()
            .map(|u| crate::acl::describe::user_line(&acl.catalog, u))
            .collect()
    } else {
        Vec::new()
    };
    crate::config::rewrite::rewrite(&cfg, &path, &users)
        .map_err(|e| ErrorReply::config_rewrite_failed(&e.to_string()))?;
    Ok(Reply::Ok)
}

pub fn config_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    ))
}
