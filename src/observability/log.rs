//! Logging through `tracing`, in redis-server's line format:
//! `pid:M 22 Nov 2026 15:21:58.123 * Ready to accept connections`, to stdout or `logfile`,
//! filtered by `loglevel` (debug, verbose, notice, warning, nothing).
use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

struct RedisFormat;

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mark = match *event.metadata().level() {
            Level::ERROR | Level::WARN => '#',
            Level::INFO => '*',
            Level::DEBUG => '-',
            Level::TRACE => '.',
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        write!(w, "{}:M {}.{:03} {} ", std::process::id(), now.as_secs(), now.subsec_millis(), mark)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Installs the subscriber. `loglevel` uses Redis's names.
pub fn init(loglevel: &str, logfile: &str) {
    let level = match loglevel {
        "debug" => "trace",
        "verbose" => "debug",
        "notice" => "info",
        "warning" => "warn",
        _ => "off",
    };
    let filter = tracing_subscriber::EnvFilter::new(format!("slotcache={level}"));
    let builder = tracing_subscriber::fmt().with_ansi(false).event_format(RedisFormat).with_env_filter(filter);
    if logfile.is_empty() {
        let _ = builder.with_writer(std::io::stdout).try_init();
    } else {
        match std::fs::OpenOptions::new().create(true).append(true).open(logfile) {
            Ok(f) => {
                let _ = builder.with_writer(std::sync::Mutex::new(f)).try_init();
            }
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                std::process::exit(1);
            }
        }
    }
}
