//! Requests that arrive while a Lua script runs (the script holds the store lock for its
//! whole run, so it is atomic). They wait here, on `RunState::changed`, instead of on the
//! store mutex, so no worker thread blocks and the cluster bus keeps running. Once the script
//! passes busy-reply-threshold they are answered as Redis answers them: -BUSY, except the
//! commands flagged `allow-busy`. Of those, SCRIPT KILL, FUNCTION KILL, FUNCTION STATS and
//! SHUTDOWN NOSAVE act on the running script or the process, and MULTI only on the client:
//! they are served here without the store; the others (WATCH, AUTH...) wait for the script
//! to end. A refusal flags an open transaction, and a refused EXEC discards it, as Redis's
//! rejectCommand does.
use crate::commands::{flag, Lookup};
use crate::protocol::{ErrorReply, Reply};
use crate::state::{Client, Shared};
use bytes::Bytes;

pub enum Busy {
    /// No script runs (any more), or the command may wait for it: take the store lock.
    Proceed,
    Reply(Reply),
    /// SHUTDOWN NOSAVE during a busy script: stop the process.
    Shutdown,
}

/// Waits while a script runs; decides what to do with `args` if it times out.
pub async fn wait(sh: &Shared, client: &mut Client, args: &[Bytes]) -> Busy {
    loop {
        let changed = sh.scripting.run.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if !sh.scripting.run.running() {
            return Busy::Proceed;
        }
        if sh.scripting.run.timed_out() {
            match decide(sh, client, args) {
                Some(b) => return b,
                // Allowed but needs the store: wait for the end of the script.
                None => {
                    changed.await;
                    continue;
                }
            }
        }
        changed.await;
    }
}

/// What a timed-out script lets this command do (processCommand's busy check).
fn decide(sh: &Shared, client: &mut Client, args: &[Bytes]) -> Option<Busy> {
    let r = match crate::commands::index().lookup(args) {
        Lookup::Found(r) | Lookup::Container(r) => r,
        Lookup::UnknownSub => {
            let e = ErrorReply::unknown_subcommand(&args[1], &String::from_utf8_lossy(&args[0]));
            return Some(Busy::Reply(super::dispatch::reject_command(
                sh, client, 0, e,
            )));
        }
        Lookup::Unknown => {
            let e = ErrorReply::unknown_command(&args[0], &args[1..]);
            return Some(Busy::Reply(super::dispatch::reject_command(
                sh, client, 0, e,
            )));
        }
    };
    let eval = sh.scripting.run.current().is_some_and(|i| i.eval);
    if r.flags & flag::ALLOW_BUSY == 0 {
        let e = if eval {
            ErrorReply::busy_eval()
        } else {
            ErrorReply::busy_function()
        };
        return Some(Busy::Reply(super::dispatch::reject_command(
            sh, client, r.flags, e,
        )));
    }
    // These act on the running script itself (or end the process), so they cannot wait for
    // the store lock the script holds.
    let result = match r.spec.name {
        "script|kill" => crate::commands::script_kill_reply(sh, true),
        "function|kill" => crate::commands::script_kill_reply(sh, false),
        "function|stats" => crate::commands::function_stats_reply(sh),
        "multi" => crate::commands::begin_multi(client),
        "shutdown" if args[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) => {
            return Some(Busy::Shutdown)
        }
        _ => return None,
    };
    Some(Busy::Reply(result.unwrap_or_else(|e| {
        sh.stats.count_error(e.code());
        Reply::Error(e)
    })))
}
