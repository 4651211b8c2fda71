//! Streams in RDB (`rdbSaveObject` / `rdbLoadObject` for OBJ_STREAM): the nodes as they are
//! (16-byte big-endian master ID, then the listpack), the counters, and the consumer groups
//! with their PELs. Writes RDB_TYPE_STREAM_LISTPACKS_2 as 7.0 does; reads it and the older
//! RDB_TYPE_STREAM_LISTPACKS (no first ID / max deleted ID / entries added / entries read,
//! which are derived as 7.0 derives them). Every node is validated in full before use.
use super::decode::Reader;
use super::encode::{write_len, write_string, Options, Sink};
use super::*;
use crate::store::types::stream::node::Node;
use crate::store::types::stream::{Consumer, Group, Pending, Stream, StreamId};
use bytes::Bytes;
use std::io::Read;

fn write_id(out: &mut impl Sink, id: StreamId) {
    write_len(out, id.ms);
    write_len(out, id.seq);
}

pub fn write_stream(out: &mut impl Sink, s: &Stream, opts: &Options) {
    write_len(out, s.nodes().len() as u64);
    for n in s.nodes() {
        write_string(out, &n.master.to_be_bytes(), opts);
        write_string(out, &n.lp, opts);
    }
    write_len(out, s.length);
    write_id(out, s.last_id);
    write_id(out, s.first_id);
    write_id(out, s.max_deleted);
    write_len(out, s.entries_added);
    write_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        write_string(out, name, opts);
        write_id(out, g.last_id);
        write_len(out, g.entries_read.unwrap_or(u64::MAX));
        write_len(out, g.pel.len() as u64);
        for (id, p) in &g.pel {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            write_len(out, p.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            write_string(out, cname, opts);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

impl<R: Read> Reader<R> {
    fn read_id(&mut self) -> Result<StreamId> {
        Ok(StreamId::new(self.read_len()?, self.read_len()?))
    }

    fn read_raw_id(&mut self) -> Result<StreamId> {
        let b: [u8; 16] = self.read_array()?;
        Ok(StreamId::from_be_bytes(&b).unwrap_or_default())
    }

    pub fn read_stream(&mut self, t: u8) -> Result<Stream> {
        let n = self.read_len()?;
        let mut nodes = Vec::new();
        for _ in 0..n {
            let key = self.read_string()?;
            let Some(master) = StreamId::from_be_bytes(&key) else {
                return self.corrupt("stream node key is not a 128-bit ID");
            };
            let lp = self.read_string()?;
            let node = Node { master, lp };
            if node.validate().is_none() {
                return self.corrupt("invalid stream listpack");
            }
            nodes.push(node);
        }
        let Some(mut s) = Stream::from_nodes(nodes) else {
            return self.corrupt("stream nodes out of order");
        };
        let length = self.read_len()?;
        if length != s.length {
            return self.corrupt("stream length does not match its entries");
        }
        s.last_id = self.read_id()?;
        if s.edge_id(false).is_some_and(|l| l > s.last_id) {
            return self.corrupt("stream last ID below its entries");
        }
        let v2 = t == RDB_TYPE_STREAM_LISTPACKS_2;
        if v2 {
            s.first_id = self.read_id()?;
            s.max_deleted = self.read_id()?;
            s.entries_added = self.read_len()?;
        } else {
            s.first_id = s.edge_id(true).unwrap_or(StreamId::MIN);
            s.entries_added = s.length;
        }
        let groups = self.read_len()?;
        for _ in 0..groups {
            let name = Bytes::from(self.read_string()?);
            let last_id = self.read_id()?;
            let entries_read = if v2 {
                match self.read_len()? {
                    u64::MAX => None,
                    r => Some(r),
                }
            } else {
                s.estimate_entries_read(last_id)
            };
            let mut g = Group::new(last_id, entries_read);
            for _ in 0..self.read_len()? {
                let id = self.read_raw_id()?;
                let delivery_time = self.read_u64_le()?;
                let delivery_count = self.read_len()?;
                let p = Pending {
                    consumer: Bytes::new(),
                    delivery_time,
                    delivery_count,
                };
                if g.pel.insert(id, p).is_some() {
                    return self.corrupt("duplicated ID in a group PEL");
                }
            }
            for _ in 0..self.read_len()? {
                let cname = Bytes::from(self.read_string()?);
                let seen_time = self.read_u64_le()?;
                let mut c = Consumer {
                    seen_time,
                    ..Consumer::default()
                };
                for _ in 0..self.read_len()? {
                    let id = self.read_raw_id()?;
                    match g.pel.get_mut(&id) {
                        Some(p) if p.consumer.is_empty() => p.consumer = cname.clone(),
                        _ => return self.corrupt("consumer PEL entry not in the group PEL"),
                    }
                    c.pel.insert(id);
                }
                if g.consumers.insert(cname, c).is_some() {
                    return self.corrupt("duplicated consumer name");
                }
            }
            if g.pel.values().any(|p| p.consumer.is_empty()) {
                return self.corrupt("group PEL entry without a consumer");
            }
            if s.groups.insert(name, g).is_some() {
                return self.corrupt("duplicated consumer group name");
            }
        }
        Ok(s)
    }
}
