//! The server: listeners, per-connection tasks, background jobs and shutdown.
//!
//! Thread model:
//! ```text
//!  tokio worker threads (one per core)         lazyfree thread
//!  ├─ accept loop per bind address              └─ drops big values / flushed dbs
//!  │                                           cluster-bus thread (cluster mode, own runtime)
//!  │                                            └─ bus listener, links, 100 ms cron
//!  ├─ connection task per client ──┐
//!  │     decode batch -> lock store once -> execute -> encode -> write
//!  └─ background task (hz): active expiry in short locked steps
//! ```
//! Nothing else depends on this module.
mod acl_gate;
mod background;
mod busy;
mod cluster_host;
mod conn;
mod dispatch;
mod route;
mod script_call;

use crate::config::Config;
use crate::state::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Binds every `bind` address ("*" = all IPv4, "-" prefix = optional, as Redis).
fn bind_all(config: &Config) -> std::io::Result<Vec<TcpListener>> {
    let port = config.hot.port;
    let mut out = Vec::new();
    for addr in &config.hot.bind {
        let (optional, addr) = match addr.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, addr.as_str()),
        };
        let ip = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            a => a,
        };
        let sa: SocketAddr = match format!("{ip}:{port}")
            .parse()
            .or_else(|_| format!("[{ip}]:{port}").parse())
        {
            Ok(sa) => sa,
            Err(_) if optional => continue,
            Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
        };
        match bind_one(sa) {
            Ok(l) => out.push(l),
            Err(e) if optional => tracing::debug!(addr = %sa, "optional bind failed: {e}"),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn bind_one(sa: SocketAddr) -> std::io::Result<TcpListener> {
    let sock = if sa.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    if sa.is_ipv6() {
        // Like Redis, "::" does not also take the IPv4 wildcard.
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                &on as *const _ as *const libc::c_void,
                4,
            );
        }
    }
    sock.bind(sa)?;
    sock.listen(511)
}

/// Runs the server until SHUTDOWN, SIGTERM or SIGINT.
pub async fn run(config: Config) -> std::io::Result<()> {
    let inert = config.set_without_effect();
    if !inert.is_empty() {
        tracing::warn!(
            "These directives are accepted but have no effect in slotcache: {}",
            inert.join(", ")
        );
    }
    let listeners = bind_all(&config)?;
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(0, |a| a.port());
    let cluster = match config.hot.cluster_enabled {
        true => Some(open_cluster(&config, port).await?),
        false => None,
    };
    let replicaof = config.replicaof.clone();
    let shared = Shared::new(
        config,
        cluster.as_ref().map(|(c, _)| c.clone()),
        crate::acl::Acl::new(crate::commands::acl_catalog()),
    )
    .start();
    init_acl(&shared)?;
    let _ = shared.repl.apply.set(dispatch::apply_from_primary);
    let _ = shared.rebind.set(rebind);
    let _ = shared.scripting.call.set(script_call::call);
    shared
        .bound_port
        .store(port, std::sync::atomic::Ordering::Relaxed);
    if let Some((c, bus)) = cluster {
        let host = Arc::new(cluster_host::ServerHost(shared.clone()));
        crate::cluster::bus::start(c, host, bus.into_std()?)?;
    }
    // Clients may connect while the dataset loads: they get -LOADING until it is in (only
    // when there is a file: a server starting empty is never "loading"). With appendonly
    // yes the AOF is the dataset, as in Redis, and no write is served before the AOF is
    // open to log it.
    let aof = shared.config().get("appendonly") == Some("yes");
    if aof || crate::persist::rdb_path(&shared).exists() {
        shared
            .persist
            .loading
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    {
        // INFO used_memory_startup: the footprint before any dataset or client.
        let used = shared.lock_store().used_memory(shared.allocated());
        shared
            .stats
            .startup_memory
            .store(used as u64, std::sync::atomic::Ordering::Relaxed);
    }
    for l in listeners {
        tokio::spawn(accept_loop(shared.clone(), l, 0));
    }
    {
        let sh = shared.clone();
        tokio::task::spawn_blocking(move || match aof {
            true => crate::persist::aof::replay::load_at_startup(&sh),
            false => crate::persist::load::load_at_startup(&sh),
        })
        .await
        .map_err(std::io::Error::other)?;
    }
    crate::persist::start(shared.clone());
    crate::persist::aof::start_thread(shared.clone());
    if let Some((host, port)) = replicaof {
        let mut store = shared.lock_store();
        crate::replication::link::follow(&shared, &mut store, host, port);
    }
    tokio::spawn(crate::replication::primary::cron(shared.clone()));
    tokio::spawn(background::run(shared.clone()));
    tokio::spawn(background::sample_metrics(shared.clone()));
    tracing::info!(port, "Ready to accept connections tcp");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let by_signal = tokio::select! {
        _ = shared.shutdown.notified() => { tracing::warn!("User requested shutdown..."); false }
        _ = term.recv() => { tracing::warn!("Received SIGTERM scheduling shutdown..."); true }
        _ = tokio::signal::ctrl_c() => { tracing::warn!("Received SIGINT scheduling shutdown..."); true }
    };
    if by_signal {
        // SHUTDOWN saved already; a signal saves here when save points exist, as Redis does.
        let mut store = shared.lock_store();
        if let Err(e) = crate::persist::save_on_shutdown(&shared, &mut store, false, false) {
            tracing::warn!(error = %e, "Error trying to save the DB, can't exit");
        }
    }
    tracing::warn!("slotcache is now ready to exit, bye bye...");
    Ok(())
}

/// Cluster mode: nodes.conf (locked, loaded or created) and the bus listener on the client
/// port + 10000 (or cluster-port), bound on the same addresses as the client port.
/// The users at startup: requirepass, the `user` directives, or the ACL file (not both, as
/// in Redis). Any error stops the server.
fn init_acl(sh: &Shared) -> std::io::Result<()> {
    let fail = |msg: String| {
        tracing::error!("{msg}");
        std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)
    };
    let cfg = sh.config();
    let (pass, users, file) = (
        cfg.hot.requirepass.clone(),
        cfg.users.clone(),
        cfg.get("aclfile").unwrap_or_default().to_string(),
    );
    let pubsub_all = cfg
        .get("acl-pubsub-default")
        .is_some_and(|v| v.eq_ignore_ascii_case("allchannels"));
    sh.acl
        .set_log_max_len(cfg.num("acllog-max-len").max(0) as usize);
    drop(cfg);
    sh.acl.set_requirepass(pass.as_deref().map(str::as_bytes));
    if !users.is_empty() && !file.is_empty() {
        return Err(fail("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into()));
    }
    let mut seen = Vec::new();
    for u in &users {
        if seen.contains(&u[0]) {
            return Err(fail(format!("Error in user declaration '{}': Duplicate user found. A user can only be defined once in config files", u[0])));
        }
        seen.push(u[0].clone());
        let mut rules: Vec<&[u8]> = Vec::new();
        if u[0] == "default" {
            rules.push(b"reset");
        }
        rules.extend(u[1..].iter().map(|r| r.as_bytes()));
        sh.acl
            .setuser(u[0].as_bytes(), &rules, pubsub_all)
            .map_err(|e| fail(format!("Error in user declaration '{}': {e}", u[0])))?;
    }
    if !file.is_empty() {
        crate::acl::file::load(&sh.acl, &file, pubsub_all)
            .map_err(|e| fail(format!("Aborting Redis startup because of ACL errors: {e}")))?;
    }
    Ok(())
}

async fn open_cluster(
    config: &Config,
    port: u16,
) -> std::io::Result<(Arc<crate::cluster::Cluster>, TcpListener)> {
    let settings = config.cluster_settings(port);
    let cport = settings.cport;
    let now = crate::state::now_ms();
    let cluster = crate::cluster::Cluster::open(settings, now)?;
    let mut bus_config = config.clone();
    bus_config.hot.port = cport;
    let mut listeners = bind_all(&bus_config)?;
    if listeners.is_empty() {
        return Err(std::io::Error::other(format!(
            "Failed listening on the cluster bus port {cport}"
        )));
    }
    Ok((Arc::new(cluster), listeners.remove(0)))
}

/// CONFIG SET port/bind: binds the new listeners first (an error leaves the old ones
/// serving), then retires the old accept loops. Connected clients stay.
fn rebind(sh: &Shared, config: &Config) -> std::io::Result<u16> {
    let listeners = bind_all(config)?;
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map_or(0, |a| a.port());
    let mut generation = 0;
    sh.listen_generation.send_modify(|g| {
        *g += 1;
        generation = *g;
    });
    let me = sh.arc();
    for l in listeners {
        tokio::spawn(accept_loop(me.clone(), l, generation));
    }
    sh.bound_port
        .store(port, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(port, "Listening on the new client port");
    Ok(port)
}

async fn accept_loop(sh: Arc<Shared>, listener: TcpListener, generation: u64) {
    let mut retired = sh.listen_generation.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = retired.wait_for(|g| *g != generation) => return,
        };
        match accepted {
            Ok((stream, addr)) => {
                tokio::spawn(conn::serve(sh.clone(), stream, addr));
            }
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
