//! `slotcache-server [/path/to/config] [--directive value ...]`, parsed as redis-server does;
//! `slotcache-server --cluster-form host:port ...` forms a cluster of running nodes.
use clap::Parser;
use slotcache::observability::alloc::CountingAlloc;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[derive(Parser)]
#[command(
    name = "slotcache-server",
    version,
    about = "A Redis-Cluster-compatible sharded cache server"
)]
struct Cli {
    /// A redis.conf-style file, then `--directive value ...` options.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    if cli.args.first().map(String::as_str) == Some("--cluster-form") {
        match slotcache::cluster::form::form(&cli.args[1..], std::time::Duration::from_secs(60)) {
            Ok(report) => print!("{report}"),
            Err(e) => {
                eprintln!("cluster formation failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let config = match slotcache::config::file::from_args(&cli.args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    slotcache::observability::log::init(
        config.get("loglevel").unwrap_or("notice"),
        config.get("logfile").unwrap_or(""),
    );
    if let Some(dir) = config.get("dir").filter(|d| !d.is_empty()) {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("Can't chdir to '{dir}': {e}");
            std::process::exit(1);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(slotcache::server::run(config)) {
        tracing::error!("Failed listening: {e}");
        eprintln!("Could not start: {e}");
        std::process::exit(1);
    }
    // Exit without waiting for the runtime's threads: one may be inside a script that only
    // SHUTDOWN NOSAVE ends (Redis exits the same way).
    std::process::exit(0);
}
