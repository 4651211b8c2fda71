//! LATENCY: the latency monitor's events (observability/latency.rs) and the per-command
//! latency histograms, with Redis's reply shapes.
use super::{index, Ctx, Lookup};
use crate::observability::latency::Event;
use crate::protocol::{ErrorReply, Reply};
use bytes::Bytes;
use std::collections::BTreeMap;

type R = Result<Reply, ErrorReply>;

/// LATENCY LATEST: [event, time of the latest spike, its ms, the worst ms] per event.
pub fn latency_latest(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let rows = ctx
        .shared
        .latency
        .events()
        .into_iter()
        .filter_map(|(name, e)| {
            let (t, ms) = *e.samples.back()?;
            Some(Reply::Array(vec![
                Reply::bulk_static(name),
                Reply::Int(t as i64),
                Reply::Int(ms as i64),
                Reply::Int(e.max as i64),
            ]))
        });
    Ok(Reply::Array(rows.collect()))
}

fn event(ctx: &Ctx, name: &[u8]) -> Option<Event> {
    let events = ctx.shared.latency.events();
    events
        .into_iter()
        .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, e)| e)
}

/// LATENCY HISTORY event: its [time, ms] samples, oldest first.
pub fn latency_history(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let samples = event(ctx, &a[2]).map(|e| e.samples).unwrap_or_default();
    Ok(Reply::Array(
        samples
            .into_iter()
            .map(|(t, ms)| Reply::Array(vec![Reply::Int(t as i64), Reply::Int(ms as i64)]))
            .collect(),
    ))
}

pub fn latency_reset(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let names: Vec<&[u8]> = a[2..].iter().map(|n| n.as_ref()).collect();
    Ok(Reply::Int(ctx.shared.latency.reset(&names) as i64))
}

/// LATENCY GRAPH event: an ASCII chart of the samples, one column each (the tallest mark is
/// the highest sample), with the age of each sample written vertically under it.
pub fn latency_graph(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let Some(e) = event(ctx, &a[2]) else {
        return Err(ErrorReply::err(format!(
            "No samples available for event '{}'",
            String::from_utf8_lossy(&a[2])
        )));
    };
    let name = String::from_utf8_lossy(&a[2]).to_ascii_lowercase();
    let high = e.samples.iter().map(|s| s.1).max().unwrap_or(0);
    let low = e.samples.iter().map(|s| s.1).min().unwrap_or(0);
    let mut out = format!(
        "{name} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        e.max,
        "-".repeat(80)
    );
    const ROWS: u64 = 4;
    let cols: Vec<&(u64, u64)> = e.samples.iter().rev().take(80).rev().collect();
    for row in (1..=ROWS).rev() {
        let line: String = cols
            .iter()
            .map(|&&(_, ms)| {
                let level = if high == 0 {
                    0
                } else {
                    (ms * ROWS).div_ceil(high)
                };
                match level.cmp(&row) {
                    std::cmp::Ordering::Less => ' ',
                    std::cmp::Ordering::Equal => '_',
                    std::cmp::Ordering::Greater => '|',
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    let now = ctx.now_ms / 1000;
    let ages: Vec<String> = cols
        .iter()
        .map(|&&(t, _)| age_label(now.saturating_sub(t)))
        .collect();
    let depth = ages.iter().map(|s| s.len()).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = ages
            .iter()
            .map(|s| s.chars().nth(i).unwrap_or(' '))
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

/// How long ago, as Redis labels its graph columns: 5s, 3m, 2h, 1d.
fn age_label(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// LATENCY DOCTOR: a report on the recorded spikes.
pub fn latency_doctor(ctx: &mut Ctx, _a: &[Bytes]) -> R {
    let events = ctx.shared.latency.events();
    let threshold = ctx
        .shared
        .latency
        .threshold_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut out = String::new();
    if events.is_empty() {
        out.push_str(if threshold == 0 {
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
        } else {
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep a little more.\n"
        });
        return Ok(Reply::Verbatim(Bytes::from(out)));
    }
    out.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
    for (i, (name, e)) in events.iter().enumerate() {
        let n = e.samples.len() as u64;
        let avg = e.samples.iter().map(|s| s.1).sum::<u64>() / n.max(1);
        let mad = e.samples.iter().map(|s| s.1.abs_diff(avg)).sum::<u64>() / n.max(1);
        let period = match (e.samples.front(), e.samples.back()) {
            (Some(a), Some(b)) if n > 1 => (b.0 - a.0) / (n - 1),
            _ => 0,
        };
        out.push_str(&format!(
            "{}. {name}: {n} latency spikes (average {avg}ms, mean deviation {mad}ms, period {period} sec). Worst all time event {}ms.\n",
            i + 1,
            e.max
        ));
    }
    out.push_str("\nI have a few advices for you:\n\n");
    if events.contains_key("command") || events.contains_key("fast-command") {
        out.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if events.contains_key("expire-cycle") {
        out.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

/// LATENCY HISTOGRAM [command ...]: per command (a container stands for its subcommands),
/// its calls and the cumulative distribution of its durations in µs.
pub fn latency_histogram(ctx: &mut Ctx, a: &[Bytes]) -> R {
    let idx = index();
    let mut ids: Vec<usize> = Vec::new();
    if a.len() == 2 {
        ids.extend(0..idx.all.len());
    } else {
        for name in &a[2..] {
            let argv: Vec<Bytes> = name
                .split(|&c| c == b'|')
                .map(Bytes::copy_from_slice)
                .collect();
            match idx.lookup(&argv) {
                Lookup::Found(r) if r.spec.subcommands.is_empty() => ids.push(r.id),
                Lookup::Found(r) | Lookup::Container(r) => {
                    ids.push(r.id);
                    ids.extend((r.id + 1..).take(r.spec.subcommands.len()));
                }
                _ => {}
            }
        }
    }
    let mut seen = BTreeMap::new();
    for id in ids {
        let stat = ctx.shared.stats.command(id);
        let calls = stat.calls.load(std::sync::atomic::Ordering::Relaxed);
        if calls == 0 {
            continue;
        }
        let cdf = stat
            .hist
            .cumulative()
            .into_iter()
            .map(|(b, n)| (Reply::Int(b as i64), Reply::Int(n as i64)))
            .collect();
        seen.insert(
            idx.all[id].0.name,
            Reply::Map(vec![
                (Reply::bulk_static("calls"), Reply::Int(calls as i64)),
                (Reply::bulk_static("histogram_usec"), Reply::Map(cdf)),
            ]),
        );
    }
    Ok(Reply::Map(
        seen.into_iter()
            .map(|(k, v)| (Reply::bulk_static(k), v))
            .collect(),
    ))
}

pub fn latency_help(_ctx: &mut Ctx, _a: &[Bytes]) -> R {
    Ok(super::help_reply(
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    ))
}
