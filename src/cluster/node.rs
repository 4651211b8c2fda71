//! One cluster node as this node knows it: identity, addresses, role, epoch, slots, timers and
//! failure reports. Plain data plus small helpers; the rules that change it live in `gossip`,
//! `failure` and `epoch`. Depends on nothing but `slot`.
use crate::slot::SLOTS;

/// A node name: 40 lowercase hex characters, as on the wire.
pub type NodeId = [u8; 40];

pub const NULL_ID: NodeId = [0; 40];

/// A new random node name (Redis's `getRandomHexChars`).
pub fn random_id() -> NodeId {
    let mut id = [0u8; 40];
    for c in id.iter_mut() {
        *c = b"0123456789abcdef"[(rand::random::<u8>() & 15) as usize];
    }
    id
}

pub fn id_str(id: &NodeId) -> &str {
    std::str::from_utf8(id).unwrap_or("????????????????????????????????????????")
}

/// Parses a 40-character node name (any bytes are kept; Redis compares names bytewise).
pub fn parse_id(s: &[u8]) -> Option<NodeId> {
    s.try_into().ok()
}

/// Node flags, with Redis's bit values (they travel in the bus header and gossip entries).
pub mod flag {
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const MIGRATE_TO: u16 = 256;
    pub const NOFAILOVER: u16 = 512;

    /// Names in CLUSTER NODES order (Redis's `redisNodeFlagsTable`).
    pub const NAMES: [(u16, &str); 8] = [
        (MYSELF, "myself"),
        (MASTER, "master"),
        (SLAVE, "slave"),
        (PFAIL, "fail?"),
        (FAIL, "fail"),
        (HANDSHAKE, "handshake"),
        (NOADDR, "noaddr"),
        (NOFAILOVER, "nofailover"),
    ];

    /// "myself,master", or "noflags".
    pub fn describe(flags: u16) -> String {
        let names: Vec<&str> = NAMES
            .iter()
            .filter(|(f, _)| flags & f != 0)
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            "noflags".into()
        } else {
            names.join(",")
        }
    }

    /// Inverse of `describe` (nodes.conf loading); unknown names are ignored.
    pub fn parse(s: &str) -> u16 {
        s.split(',')
            .map(|n| {
                NAMES
                    .iter()
                    .find(|(_, name)| *name == n)
                    .map_or(0, |(f, _)| *f)
            })
            .fold(0, |a, f| a | f)
    }
}

/// A slot bitmap in the wire layout (bit `s % 8` of byte `s / 8`).
#[derive(Clone, PartialEq, Eq)]
pub struct SlotBits(pub Box<[u8; SLOTS / 8]>);

impl Default for SlotBits {
    fn default() -> Self {
        SlotBits(Box::new([0; SLOTS / 8]))
    }
}

impl std::fmt::Debug for SlotBits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBits({} slots)", self.count())
    }
}

impl SlotBits {
    pub fn get(&self, slot: u16) -> bool {
        self.0[slot as usize / 8] & (1 << (slot % 8)) != 0
    }
    pub fn set(&mut self, slot: u16) {
        self.0[slot as usize / 8] |= 1 << (slot % 8);
    }
    pub fn clear(&mut self, slot: u16) {
        self.0[slot as usize / 8] &= !(1 << (slot % 8));
    }
    pub fn count(&self) -> u32 {
        self.0.iter().map(|b| b.count_ones()).sum()
    }
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOTS as u16).filter(|&s| self.get(s))
    }
    /// Contiguous ranges of set bits, in order.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        ranges_of(self.iter())
    }
}

/// Groups ascending slots into inclusive ranges.
pub fn ranges_of(slots: impl Iterator<Item = u16>) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for s in slots {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == s => *end = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// "PFAIL seen by `from` at `time`" (Redis's clusterNodeFailReport).
#[derive(Debug, Clone)]
pub struct FailReport {
    pub from: NodeId,
    pub time: u64,
}

/// Identifies one bus connection (see `bus`).
pub type LinkId = u64;

#[derive(Debug, Clone)]
pub struct Node {
    pub id: NodeId,
    pub flags: u16,
    /// When this node object was created (handshake timeout), unix ms.
    pub ctime: u64,
    pub ip: String,
    /// Client port (plaintext), TLS port, bus port.
    pub port: u16,
    pub pport: u16,
    pub cport: u16,
    pub hostname: String,
    pub human_nodename: String,
    pub shard_id: NodeId,
    /// The primary this node replicates, if it is a replica.
    pub primary: Option<NodeId>,
    pub config_epoch: u64,
    pub slots: SlotBits,
    pub numslots: u32,
    /// Unix ms of the unanswered PING (0 = none pending), of the last PONG, of the last data.
    pub ping_sent: u64,
    pub pong_received: u64,
    pub data_received: u64,
    /// Unix ms when this node was flagged FAIL.
    pub fail_time: u64,
    pub voted_time: u64,
    pub repl_offset: u64,
    pub fail_reports: Vec<FailReport>,
    /// Our outbound link to it and its inbound link to us.
    pub link: Option<LinkId>,
    pub inbound_link: Option<LinkId>,
    /// The node advertised ping-extension support (7.2's flag bit 10): only such nodes get
    /// the 7.2 extensions (shard id, forgotten node), which 7.0 logs as unknown on every ping.
    pub ext_supported: bool,
    /// Stamp of the last PING that gossiped about this node (no duplicates in one message).
    pub last_in_ping_gossip: u64,
}

impl Node {
    pub fn new(id: NodeId, flags: u16, now: u64) -> Node {
        Node {
            id,
            flags,
            ctime: now,
            ip: String::new(),
            port: 0,
            pport: 0,
            cport: 0,
            hostname: String::new(),
            human_nodename: String::new(),
            shard_id: random_id(),
            primary: None,
            config_epoch: 0,
            slots: SlotBits::default(),
            numslots: 0,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            voted_time: 0,
            repl_offset: 0,
            fail_reports: Vec::new(),
            link: None,
            inbound_link: None,
            ext_supported: false,
            last_in_ping_gossip: 0,
        }
    }

    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
    pub fn is_primary(&self) -> bool {
        self.has(flag::MASTER)
    }
    pub fn is_replica(&self) -> bool {
        self.has(flag::SLAVE)
    }
    pub fn is_myself(&self) -> bool {
        self.has(flag::MYSELF)
    }
    pub fn in_handshake(&self) -> bool {
        self.has(flag::HANDSHAKE)
    }
    pub fn failing(&self) -> bool {
        self.has(flag::FAIL | flag::PFAIL)
    }
    pub fn id_str(&self) -> &str {
        id_str(&self.id)
    }

    pub fn add_slot(&mut self, slot: u16) -> bool {
        if self.slots.get(slot) {
            return false;
        }
        self.slots.set(slot);
        self.numslots += 1;
        true
    }

    pub fn del_slot(&mut self, slot: u16) -> bool {
        if !self.slots.get(slot) {
            return false;
        }
        self.slots.clear(slot);
        self.numslots -= 1;
        true
    }

    /// Records `from`'s PFAIL report (refreshing its time); true if it is new.
    pub fn add_fail_report(&mut self, from: NodeId, now: u64) -> bool {
        if let Some(r) = self.fail_reports.iter_mut().find(|r| r.from == from) {
            r.time = now;
            return false;
        }
        self.fail_reports.push(FailReport { from, time: now });
        true
    }

    pub fn del_fail_report(&mut self, from: &NodeId) -> bool {
        let before = self.fail_reports.len();
        self.fail_reports.retain(|r| &r.from != from);
        before != self.fail_reports.len()
    }

    /// Drops reports older than `max_age` ms and returns how many remain.
    pub fn valid_fail_reports(&mut self, now: u64, max_age: u64) -> usize {
        self.fail_reports
            .retain(|r| now.saturating_sub(r.time) <= max_age);
        self.fail_reports.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip() {
        let f = flag::MYSELF | flag::MASTER;
        assert_eq!(flag::describe(f), "myself,master");
        assert_eq!(flag::parse("myself,master"), f);
        assert_eq!(flag::describe(0), "noflags");
        assert_eq!(flag::describe(flag::MASTER | flag::PFAIL), "master,fail?");
    }

    #[test]
    fn slot_bits_and_ranges() {
        let mut n = Node::new(random_id(), flag::MASTER, 0);
        for s in (0..10).chain(20..21).chain(16383..16384) {
            assert!(n.add_slot(s));
        }
        assert!(!n.add_slot(3));
        assert_eq!(n.numslots, 12);
        assert_eq!(n.slots.ranges(), vec![(0, 9), (20, 20), (16383, 16383)]);
        assert!(n.del_slot(20));
        assert_eq!(n.slots.count(), 11);
    }

    #[test]
    fn fail_reports_expire() {
        let mut n = Node::new(random_id(), flag::MASTER, 0);
        let a = random_id();
        assert!(n.add_fail_report(a, 100));
        assert!(!n.add_fail_report(a, 200));
        assert!(n.add_fail_report(random_id(), 1000));
        assert_eq!(n.valid_fail_reports(1150, 1000), 2);
        assert_eq!(
            n.valid_fail_reports(1500, 1000),
            1,
            "the refreshed report (200) is too old"
        );
        assert_eq!(n.valid_fail_reports(2100, 1000), 0);
    }
}
