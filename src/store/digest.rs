//! DEBUG DIGEST / DEBUG DIGEST-VALUE: the SHA1-based dataset digest redis-server computes
//! (debug.c `computeDatasetDigest` / `xorObjectDigest`), byte for byte, so two nodes (ours or
//! Redis's) holding the same data give the same answer. Ordered data (keys' values, list
//! elements) is mixed in (`mix`: digest = SHA1(digest xor SHA1(data))); unordered
//! collections xor their elements' digests so their iteration order does not matter.
use super::types::stream::StreamId;
use super::value::Entry;
use super::{Store, Value};
use sha1_smol::Sha1;

pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    Sha1::from(data).digest().bytes()
}

fn xor(d: &mut Digest, data: &[u8]) {
    let h = sha1(data);
    d.iter_mut().zip(h).for_each(|(a, b)| *a ^= b);
}

fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, data);
    *d = sha1(d);
}

/// Redis's object type numbers (OBJ_STRING ...), mixed in as a big-endian u32.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Int(_) | Value::Str(_) | Value::Raw(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// `xorObjectDigest`: the value's contribution, plus the expire marker.
pub fn value_digest(d: &mut Digest, e: &Entry) {
    mix(d, &type_code(&e.value).to_be_bytes());
    match &e.value {
        Value::Int(_) | Value::Str(_) | Value::Raw(_) => {
            mix(d, &e.value.as_bytes().expect("string"));
        }
        Value::List(l) => {
            for el in l.iter() {
                mix(d, &el.to_bytes());
            }
        }
        Value::Set(s) => {
            for m in s.iter() {
                xor(d, &m.bytes());
            }
        }
        Value::ZSet(z) => {
            for (m, score) in z.iter() {
                let mut ele = [0u8; 20];
                mix(&mut ele, m);
                mix(&mut ele, crate::util::num::format_g(score, 17).as_bytes());
                xor(d, &ele);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut ele = [0u8; 20];
                mix(&mut ele, &f.bytes());
                mix(&mut ele, &v.bytes());
                xor(d, &ele);
            }
        }
        Value::Stream(st) => {
            // Entries in order: "<ms>.<seq>", then each field and value (groups not included).
            for (id, fields) in st.range(StreamId::MIN, StreamId::MAX, 0, false) {
                mix(d, format!("{}.{}", id.ms, id.seq).as_bytes());
                for (f, v) in fields {
                    mix(d, &f);
                    mix(d, &v);
                }
            }
        }
    }
    if e.expire_at().is_some() {
        xor(d, b"!!expire!!");
    }
}

/// `computeDatasetDigest`: all zeros for an empty dataset.
pub fn dataset_digest(store: &Store) -> Digest {
    let mut fin = [0u8; 20];
    for i in 0..store.databases() {
        let db = store.db(i);
        if db.is_empty() {
            continue;
        }
        mix(&mut fin, &(i as u32).to_be_bytes());
        for e in db.iter() {
            let mut d = [0u8; 20];
            mix(&mut d, &e.key);
            value_digest(&mut d, e);
            xor(&mut fin, &d);
        }
    }
    fin
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
