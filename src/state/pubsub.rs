//! The Pub/Sub registry: channel, pattern and shard-channel subscriptions, and delivery.
//! Each subscribed connection owns an unbounded queue of messages; the publisher pushes into
//! it without waiting, and accounts the queued bytes against the pubsub class of
//! client-output-buffer-limit: a subscriber past the hard limit (or past the soft limit for
//! soft-seconds) is disconnected, and the publisher is never slowed down.
use super::ClientHandle;
use crate::config::BufferLimit;
use crate::util::glob;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
    /// A client-side-caching invalidation (`keys`; None = flush everything).
    Invalidate,
    /// The shard channel's slot moved to another node: the subscription is gone and the
    /// client is told with `sunsubscribe` (cluster mode).
    ShardLost,
    /// The client's CLIENT TRACKING REDIRECT target is gone (`payload`: its id): RESP3
    /// clients are told with a `tracking-redir-broken` push.
    RedirectBroken,
    /// No message: wakes the connection to look at its state (CLIENT KILL), so its read
    /// loop waits on this queue alone rather than also on a `Notify` per request.
    Wake,
}

/// A message on its way to one subscriber.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: Kind,
    /// The matching pattern, for pattern subscriptions (`pmessage`).
    pub pattern: Option<Bytes>,
    pub channel: Bytes,
    pub payload: Bytes,
    /// Invalidated keys, for `Kind::Invalidate` (None: all keys).
    pub keys: Option<Vec<Bytes>>,
}

impl Message {
    /// Approximate bytes the message occupies in the output buffer.
    pub fn size(&self) -> usize {
        if self.kind == Kind::Wake {
            return 0;
        }
        let keys: usize = self
            .keys
            .as_ref()
            .map_or(0, |k| k.iter().map(|k| k.len() + 16).sum());
        self.channel.len()
            + self.payload.len()
            + self.pattern.as_ref().map_or(0, |p| p.len())
            + keys
            + 48
    }

    pub fn wake() -> Message {
        Message {
            kind: Kind::Wake,
            pattern: None,
            channel: Bytes::new(),
            payload: Bytes::new(),
            keys: None,
        }
    }

    pub fn redirect_broken(target: u64) -> Message {
        Message {
            kind: Kind::RedirectBroken,
            pattern: None,
            channel: Bytes::new(),
            payload: Bytes::from(target.to_string()),
            keys: None,
        }
    }

    pub fn invalidate(keys: Option<Vec<Bytes>>) -> Message {
        Message {
            kind: Kind::Invalidate,
            pattern: None,
            channel: Bytes::new(),
            payload: Bytes::new(),
            keys,
        }
    }
}

/// The publishing side of one subscriber's queue.
#[derive(Clone)]
pub struct Mailbox {
    tx: UnboundedSender<Message>,
    /// Bytes queued and not yet written to the socket.
    pub pending: Arc<AtomicUsize>,
    /// When the queue first went over the soft limit (ms since epoch, 0 = not over).
    soft_since: Arc<AtomicU64>,
    handle: Weak<ClientHandle>,
}

impl Mailbox {
    pub fn new(handle: Weak<ClientHandle>) -> (Mailbox, UnboundedReceiver<Message>) {
        let (tx, rx) = unbounded_channel();
        let m = Mailbox {
            tx,
            pending: Arc::default(),
            soft_since: Arc::default(),
            handle,
        };
        (m, rx)
    }

    /// Wakes the connection's read loop (it then sees that it was killed).
    pub fn wake(&self) {
        let _ = self.tx.send(Message::wake());
    }

    /// Queues `m` unless that would break the output-buffer limit, in which case the client is
    /// disconnected. Returns true if queued.
    pub fn deliver(&self, m: Message, lim: BufferLimit, now_ms: u64) -> bool {
        let size = m.size();
        let pending = self.pending.load(Relaxed) + size;
        let over_hard = lim.hard > 0 && pending as u64 > lim.hard;
        let over_soft = lim.soft > 0 && pending as u64 > lim.soft;
        let soft_expired = if over_soft {
            let since = match self
                .soft_since
                .compare_exchange(0, now_ms, Relaxed, Relaxed)
            {
                Ok(_) => now_ms,
                Err(t) => t,
            };
            now_ms.saturating_sub(since) / 1000 >= lim.soft_seconds
        } else {
            self.soft_since.store(0, Relaxed);
            false
        };
        if over_hard || soft_expired {
            if let Some(h) = self.handle.upgrade().filter(|h| !h.is_killed()) {
                tracing::warn!(client = %h.addr, "Client scheduled to be closed ASAP for overcoming of output buffer limits.");
                h.kill();
            }
            return false;
        }
        self.pending.fetch_add(size, Relaxed);
        self.tx.send(m).is_ok()
    }
}

type Subs = HashMap<Bytes, HashMap<u64, Mailbox>>;

#[derive(Default)]
pub struct PubSub {
    channels: Mutex<Subs>,
    patterns: Mutex<Subs>,
    shards: Mutex<Subs>,
}

fn lock(m: &Mutex<Subs>) -> std::sync::MutexGuard<'_, Subs> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PubSub {
    fn table(&self, kind: Kind) -> &Mutex<Subs> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard
            | Kind::Invalidate
            | Kind::ShardLost
            | Kind::Wake
            | Kind::RedirectBroken => &self.shards,
        }
    }

    pub fn subscribe(&self, kind: Kind, name: &Bytes, client: u64, mb: &Mailbox) {
        lock(self.table(kind))
            .entry(name.clone())
            .or_default()
            .insert(client, mb.clone());
    }

    /// Per client: its channels and shard channels, and its patterns (ACL changes check them).
    pub fn subscriptions_by_client(&self) -> HashMap<u64, (Vec<Bytes>, Vec<Bytes>)> {
        let mut out: HashMap<u64, (Vec<Bytes>, Vec<Bytes>)> = HashMap::new();
        for (kind, is_pattern) in [
            (Kind::Channel, false),
            (Kind::Shard, false),
            (Kind::Pattern, true),
        ] {
            for (name, subs) in lock(self.table(kind)).iter() {
                for id in subs.keys() {
                    let e = out.entry(*id).or_default();
                    if is_pattern {
                        e.1.push(name.clone());
                    } else {
                        e.0.push(name.clone());
                    }
                }
            }
        }
        out
    }

    pub fn unsubscribe(&self, kind: Kind, name: &[u8], client: u64) {
        let mut t = lock(self.table(kind));
        if let Some(subs) = t.get_mut(name) {
            subs.remove(&client);
            if subs.is_empty() {
                t.remove(name);
            }
        }
    }

    /// Delivers to channel (or shard-channel) subscribers and matching patterns. Returns the
    /// number of clients that received it and the number disconnected for their buffer.
    pub fn publish(
        &self,
        shard: bool,
        channel: &Bytes,
        payload: &Bytes,
        lim: BufferLimit,
        now_ms: u64,
    ) -> (usize, usize) {
        let kind = if shard { Kind::Shard } else { Kind::Channel };
        let (mut n, mut dropped) = (0, 0);
        let targets: Vec<Mailbox> = lock(self.table(kind))
            .get(channel)
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default();
        for mb in targets {
            let m = Message {
                kind,
                pattern: None,
                channel: channel.clone(),
                payload: payload.clone(),
                keys: None,
            };
            let ok = mb.deliver(m, lim, now_ms);
            n += ok as usize;
            dropped += !ok as usize;
        }
        if shard {
            return (n, dropped);
        }
        let pats: Vec<(Bytes, Mailbox)> = lock(&self.patterns)
            .iter()
            .filter(|(p, _)| glob::matches(p, channel, false))
            .flat_map(|(p, subs)| subs.values().map(move |mb| (p.clone(), mb.clone())))
            .collect();
        for (p, mb) in pats {
            let m = Message {
                kind: Kind::Pattern,
                pattern: Some(p),
                channel: channel.clone(),
                payload: payload.clone(),
                keys: None,
            };
            let ok = mb.deliver(m, lim, now_ms);
            n += ok as usize;
            dropped += !ok as usize;
        }
        (n, dropped)
    }

    /// Removes the shard channels `keep` rejects and tells their subscribers (Redis's
    /// `removeChannelsInSlot`, when this node stops serving a slot).
    pub fn drop_shard_channels(&self, keep: impl Fn(&[u8]) -> bool, now_ms: u64) {
        let gone: Vec<(Bytes, HashMap<u64, Mailbox>)> = {
            let mut t = lock(&self.shards);
            let names: Vec<Bytes> = t.keys().filter(|c| !keep(c)).cloned().collect();
            names
                .into_iter()
                .filter_map(|c| t.remove(&c).map(|subs| (c, subs)))
                .collect()
        };
        for (channel, subs) in gone {
            for mb in subs.values() {
                let m = Message {
                    kind: Kind::ShardLost,
                    pattern: None,
                    channel: channel.clone(),
                    payload: Bytes::new(),
                    keys: None,
                };
                mb.deliver(m, BufferLimit::default(), now_ms);
            }
        }
    }

    /// Active channels (or shard channels) matching `pattern` (PUBSUB CHANNELS).
    pub fn channels(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let t = lock(if shard { &self.shards } else { &self.channels });
        t.keys()
            .filter(|c| pattern.map_or(true, |p| glob::matches(p, c, false)))
            .cloned()
            .collect()
    }

    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        lock(if shard { &self.shards } else { &self.channels })
            .get(channel)
            .map_or(0, |s| s.len())
    }

    /// Number of distinct patterns subscribed (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        lock(&self.patterns).len()
    }

    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("pubsub_channels", lock(&self.channels).len()),
            ("pubsub_patterns", lock(&self.patterns).len()),
            ("pubsubshard_channels", lock(&self.shards).len()),
        ])
    }
}
