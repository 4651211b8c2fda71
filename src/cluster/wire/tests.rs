//! Layout and round-trip tests for the cluster bus codec, plus a PONG recorded from a real
//! redis-server 7.0.15.

use bytes::Bytes;

use super::*;

pub(super) fn name(c: u8) -> NodeName {
    [c; NAME_LEN]
}

fn be16(frame: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(frame[at..at + 2].try_into().unwrap())
}

fn be32(frame: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(frame[at..at + 4].try_into().unwrap())
}

fn be64(frame: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(frame[at..at + 8].try_into().unwrap())
}

/// A header whose every field has a distinct, recognisable value.
pub(super) fn busy_header(msg_type: MsgType) -> Header {
    let mut myslots = Box::new([0u8; SLOT_BITMAP_LEN]);
    myslots[0] = 0xA1;
    myslots[SLOT_BITMAP_LEN - 1] = 0x5C;
    Header {
        msg_type,
        port: 0x1234,
        current_epoch: 0x0102_0304_0506_0708,
        config_epoch: 0x1112_1314_1516_1718,
        offset: 0x2122_2324_2526_2728,
        sender: name(b's'),
        myslots,
        replicaof: Some(name(b'p')),
        myip: "10.1.2.3".into(),
        pport: 0x3456,
        cport: 0x4567,
        flags: node_flags::SLAVE | node_flags::PFAIL,
        state: STATE_FAIL,
        mflags: [mflags0::PAUSED | mflags0::FORCEACK, 0x77, 0x88],
    }
}

pub(super) fn gossip_entry(c: u8) -> GossipEntry {
    GossipEntry {
        node_id: name(c),
        ping_sent: 0xA0A1_A2A3,
        pong_received: 0xB0B1_B2B3,
        ip: "192.168.100.200".into(),
        port: 7000,
        cport: 17000,
        flags: node_flags::MASTER | node_flags::FAIL,
        pport: 6999,
    }
}

pub(super) fn every_extension() -> Vec<Extension> {
    vec![
        Extension::Hostname("host-a.example".into()),
        Extension::HumanNodename("node-1".into()),
        Extension::ForgottenNode {
            node_id: name(b'f'),
            ttl: 60,
        },
        Extension::ShardId(name(b'h')),
        Extension::Unknown {
            ext_type: 77,
            payload: vec![1, 2, 3, 4, 5, 6, 7, 8],
        },
        Extension::Hostname(String::new()),
    ]
}

/// A message of `msg_type` with a non-trivial body of the matching kind.
pub(super) fn sample(msg_type: MsgType) -> Message {
    use MsgType::*;
    let body = match msg_type {
        Ping | Pong | Meet => Body::Gossip {
            entries: vec![gossip_entry(b'a'), gossip_entry(b'b')],
            extensions: every_extension(),
        },
        Fail => Body::Fail {
            node_id: name(b'x'),
        },
        Publish | PublishShard => Body::Publish {
            channel: Bytes::from_static(b"news"),
            message: Bytes::from_static(b"hello world"),
        },
        Update => {
            let mut slots = Box::new([0u8; SLOT_BITMAP_LEN]);
            set_slot_bit(&mut slots, 42, true);
            Body::Update {
                config_epoch: 99,
                node_id: name(b'u'),
                slots,
            }
        }
        Module => Body::Module {
            module_id: 0x0102_0304_0506_0708,
            module_type: 200,
            payload: Bytes::from_static(b"module payload"),
        },
        FailoverAuthRequest | FailoverAuthAck | MfStart => Body::Empty,
    };
    Message {
        header: busy_header(msg_type),
        body,
    }
}

#[test]
fn header_fields_sit_at_redis_offsets() {
    let msg = Message {
        header: busy_header(MsgType::FailoverAuthAck),
        body: Body::Empty,
    };
    let f = encode(&msg);
    assert_eq!(f.len(), HEADER_LEN);
    assert_eq!(HEADER_LEN, 2256);
    assert_eq!(&f[offset::SIG..4], b"RCmb");
    assert_eq!(be32(&f, offset::TOTLEN), 2256);
    assert_eq!(be16(&f, offset::VER), 1);
    assert_eq!(be16(&f, offset::PORT), 0x1234);
    assert_eq!(be16(&f, offset::TYPE), 6);
    assert_eq!(be16(&f, offset::COUNT), 0);
    assert_eq!(be64(&f, offset::CURRENT_EPOCH), 0x0102_0304_0506_0708);
    assert_eq!(be64(&f, offset::CONFIG_EPOCH), 0x1112_1314_1516_1718);
    assert_eq!(be64(&f, offset::OFFSET), 0x2122_2324_2526_2728);
    assert_eq!(&f[offset::SENDER..offset::SENDER + 40], &name(b's'));
    assert_eq!(f[offset::MYSLOTS], 0xA1);
    assert_eq!(f[offset::MYSLOTS + 2047], 0x5C);
    assert_eq!(&f[offset::SLAVEOF..offset::SLAVEOF + 40], &name(b'p'));
    assert_eq!(&f[offset::MYIP..offset::MYIP + 9], b"10.1.2.3\0");
    assert!(f[offset::MYIP + 9..offset::EXTENSIONS]
        .iter()
        .all(|&b| b == 0));
    assert_eq!(be16(&f, offset::EXTENSIONS), 0);
    assert!(f[offset::NOTUSED1..offset::PPORT].iter().all(|&b| b == 0));
    assert_eq!(be16(&f, offset::PPORT), 0x3456);
    assert_eq!(be16(&f, offset::CPORT), 0x4567);
    assert_eq!(be16(&f, offset::FLAGS), 6);
    assert_eq!(f[offset::STATE], 1);
    assert_eq!(&f[offset::MFLAGS..offset::DATA], &[3, 0x77, 0x88]);
    // The literal offsets of Redis 7.0's static_asserts.
    let redis = [
        (offset::TOTLEN, 4),
        (offset::VER, 8),
        (offset::PORT, 10),
        (offset::TYPE, 12),
        (offset::COUNT, 14),
        (offset::CURRENT_EPOCH, 16),
        (offset::CONFIG_EPOCH, 24),
        (offset::OFFSET, 32),
        (offset::SENDER, 40),
        (offset::MYSLOTS, 80),
        (offset::SLAVEOF, 2128),
        (offset::MYIP, 2168),
        (offset::EXTENSIONS, 2214),
        (offset::NOTUSED1, 2216),
        (offset::PPORT, 2246),
        (offset::CPORT, 2248),
        (offset::FLAGS, 2250),
        (offset::STATE, 2252),
        (offset::MFLAGS, 2253),
        (offset::DATA, 2256),
    ];
    for (ours, theirs) in redis {
        assert_eq!(ours, theirs);
    }
}

#[test]
fn no_replica_of_is_all_zero_and_long_ips_are_truncated() {
    let mut header = busy_header(MsgType::MfStart);
    header.replicaof = None;
    header.myip = "x".repeat(60);
    let f = encode(&Message {
        header,
        body: Body::Empty,
    });
    assert!(f[offset::SLAVEOF..offset::MYIP].iter().all(|&b| b == 0));
    assert_eq!(
        &f[offset::MYIP..offset::MYIP + 45],
        "x".repeat(45).as_bytes()
    );
    assert_eq!(f[offset::MYIP + 45], 0, "always NUL-terminated");
    let back = decode(&f).unwrap();
    assert_eq!(back.header.replicaof, None);
    assert_eq!(back.header.myip, "x".repeat(45));
}

#[test]
fn gossip_entry_layout() {
    assert_eq!(GOSSIP_ENTRY_LEN, 104);
    let f = encode(&Message {
        header: Header::new(MsgType::Ping, name(b's')),
        body: Body::Gossip {
            entries: vec![gossip_entry(b'a'), gossip_entry(b'b')],
            extensions: vec![],
        },
    });
    assert_eq!(f.len(), 2256 + 2 * 104);
    assert_eq!(be32(&f, offset::TOTLEN) as usize, f.len());
    assert_eq!(be16(&f, offset::COUNT), 2);
    assert_eq!(f[offset::MFLAGS] & mflags0::EXT_DATA, 0);
    let e = &f[HEADER_LEN + GOSSIP_ENTRY_LEN..];
    assert_eq!(&e[..40], &name(b'b'));
    assert_eq!(be32(e, gossip_offset::PING_SENT), 0xA0A1_A2A3);
    assert_eq!(be32(e, gossip_offset::PONG_RECEIVED), 0xB0B1_B2B3);
    assert_eq!(
        &e[gossip_offset::IP..gossip_offset::IP + 16],
        b"192.168.100.200\0"
    );
    assert_eq!(be16(e, gossip_offset::PORT), 7000);
    assert_eq!(be16(e, gossip_offset::CPORT), 17000);
    assert_eq!(be16(e, gossip_offset::FLAGS), 9);
    assert_eq!(be16(e, gossip_offset::PPORT), 6999);
    assert_eq!(be16(e, gossip_offset::NOTUSED1), 0);
}

#[test]
fn extension_layout() {
    let f = encode(&Message {
        header: Header::new(MsgType::Pong, name(b's')),
        body: Body::Gossip {
            entries: vec![],
            extensions: vec![
                Extension::Hostname("abcdefg".into()), // 7 + NUL = 8: no padding
                Extension::Hostname("abcdefgh".into()), // 8 + NUL: padded to 16
                Extension::ForgottenNode {
                    node_id: name(b'f'),
                    ttl: 0x0102_0304_0506_0708,
                },
                Extension::ShardId(name(b'h')),
            ],
        },
    });
    assert_eq!(be16(&f, offset::EXTENSIONS), 4);
    assert_eq!(f[offset::MFLAGS], mflags0::EXT_DATA);
    let mut at = HEADER_LEN;
    // length u32 first, then type u16 and two unused bytes.
    assert_eq!(&f[at..at + 16], b"\0\0\0\x10\0\0\0\0abcdefg\0");
    at += 16;
    assert_eq!(&f[at..at + 8], &[0, 0, 0, 24, 0, 0, 0, 0]);
    assert_eq!(&f[at + 8..at + 24], b"abcdefgh\0\0\0\0\0\0\0\0");
    at += 24;
    assert_eq!(&f[at..at + 8], &[0, 0, 0, 56, 0, 2, 0, 0]);
    assert_eq!(&f[at + 8..at + 48], &name(b'f'));
    assert_eq!(be64(&f, at + 48), 0x0102_0304_0506_0708);
    at += 56;
    assert_eq!(&f[at..at + 8], &[0, 0, 0, 48, 0, 3, 0, 0]);
    assert_eq!(&f[at + 8..at + 48], &name(b'h'));
    assert_eq!(at + 48, f.len());
}

#[test]
fn fixed_and_variable_body_layouts() {
    let fail = encode(&sample(MsgType::Fail));
    assert_eq!(fail.len(), 2296);
    assert_eq!(&fail[HEADER_LEN..], &name(b'x'));

    let update = encode(&sample(MsgType::Update));
    assert_eq!(
        update.len(),
        4352,
        "the one type as long as sizeof(clusterMsg)"
    );
    assert_eq!(be64(&update, HEADER_LEN), 99);
    assert_eq!(&update[HEADER_LEN + 8..HEADER_LEN + 48], &name(b'u'));
    assert_eq!(update[HEADER_LEN + 48 + 42 / 8], 1 << (42 % 8));

    let publish = encode(&sample(MsgType::PublishShard));
    assert_eq!(publish.len(), 2256 + 8 + 4 + 11);
    assert_eq!(be16(&publish, offset::TYPE), 10);
    assert_eq!(be32(&publish, HEADER_LEN), 4);
    assert_eq!(be32(&publish, HEADER_LEN + 4), 11);
    assert_eq!(&publish[HEADER_LEN + 8..], b"newshello world");

    let module = encode(&sample(MsgType::Module));
    assert_eq!(module.len(), 2256 + 13 + 14);
    assert_eq!(be64(&module, HEADER_LEN), 0x0102_0304_0506_0708);
    assert_eq!(be32(&module, HEADER_LEN + 8), 14);
    assert_eq!(module[HEADER_LEN + 12], 200);
    assert_eq!(&module[HEADER_LEN + 13..], b"module payload");

    for t in [
        MsgType::FailoverAuthRequest,
        MsgType::FailoverAuthAck,
        MsgType::MfStart,
    ] {
        assert_eq!(encode(&sample(t)).len(), HEADER_LEN);
    }
}

#[test]
fn every_type_round_trips() {
    for t in MsgType::ALL {
        let msg = sample(t);
        let frame = encode(&msg);
        assert_eq!(frame.len(), msg.wire_len());
        assert_eq!(
            frame_len(frame[..8].try_into().unwrap(), 1 << 20),
            Ok(frame.len())
        );
        let back = decode(&frame).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(back, msg, "{t}");
        assert_eq!(encode(&back), frame, "{t}");
    }
}

#[test]
fn every_extension_round_trips_alone() {
    for ext in every_extension() {
        let msg = Message {
            header: Header::new(MsgType::Meet, name(b's')),
            body: Body::Gossip {
                entries: vec![],
                extensions: vec![ext.clone()],
            },
        };
        let frame = encode(&msg);
        assert_eq!(frame.len(), HEADER_LEN + ext.wire_len());
        assert_eq!(ext.wire_len() % 8, 0);
        assert_eq!(decode(&frame).unwrap(), msg, "{ext:?}");
    }
}

#[test]
fn empty_publish_and_module_round_trip() {
    for body in [
        Body::Publish {
            channel: Bytes::new(),
            message: Bytes::new(),
        },
        Body::Module {
            module_id: 0,
            module_type: 0,
            payload: Bytes::new(),
        },
    ] {
        let t = if matches!(body, Body::Publish { .. }) {
            MsgType::Publish
        } else {
            MsgType::Module
        };
        let msg = Message {
            header: Header::new(t, name(b's')),
            body,
        };
        assert_eq!(decode(&encode(&msg)).unwrap(), msg);
    }
}

#[test]
fn ext_data_bit_is_derived_from_the_body() {
    let mut msg = sample(MsgType::Ping);
    msg.header.mflags[0] |= mflags0::EXT_DATA;
    let Body::Gossip { extensions, .. } = &mut msg.body else {
        unreachable!()
    };
    extensions.clear();
    let frame = encode(&msg);
    assert_eq!(frame[offset::MFLAGS] & mflags0::EXT_DATA, 0);
    assert_eq!(be16(&frame, offset::EXTENSIONS), 0);
    let back = decode(&frame).unwrap();
    assert_eq!(back.header.mflags[0], mflags0::PAUSED | mflags0::FORCEACK);
}

#[test]
fn message_type_table() {
    assert_eq!(MsgType::COUNT, 11);
    for (i, t) in MsgType::ALL.iter().enumerate() {
        assert_eq!(*t as usize, i);
        assert_eq!(MsgType::from_u16(i as u16), Some(*t));
    }
    assert_eq!(MsgType::from_u16(11), None);
    let names: Vec<_> = MsgType::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            "ping",
            "pong",
            "meet",
            "fail",
            "publish",
            "auth-req",
            "auth-ack",
            "update",
            "mfstart",
            "module",
            "publishshard"
        ]
    );
}

#[test]
fn slot_bits_are_least_significant_first() {
    let mut bits = [0u8; SLOT_BITMAP_LEN];
    set_slot_bit(&mut bits, 0, true);
    set_slot_bit(&mut bits, 5, true);
    set_slot_bit(&mut bits, 9, true);
    set_slot_bit(&mut bits, 16383, true);
    assert_eq!((bits[0], bits[1], bits[2047]), (0x21, 0x02, 0x80));
    assert!(slot_bit(&bits, 9) && !slot_bit(&bits, 8));
    set_slot_bit(&mut bits, 5, false);
    assert_eq!(bits[0], 0x01);
}

/// PONG from redis-server 7.0.15 (port 17391, `cluster-announce-hostname host-a.example`,
/// slots 0 5 9 16383, one known peer on 17392), read from its bus port in reply to a MEET
/// built by hand (the same bytes `encode` produces for `tests_live`'s MEET without a body).
const REDIS_7_0_15_PONG: &str = include_str!("testdata/pong_7_0_15.hex");

pub(super) fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn decodes_a_pong_recorded_from_redis_7_0() {
    let frame = unhex(REDIS_7_0_15_PONG);
    assert_eq!(frame.len(), 2384);
    let msg = decode(&frame).unwrap();
    let h = &msg.header;
    assert_eq!(h.msg_type, MsgType::Pong);
    assert_eq!(&h.sender, b"b6acbf892a474b17c920ae3765e3d4c79bf39f2d");
    assert_eq!((h.port, h.cport, h.pport), (17391, 27391, 0));
    assert_eq!(h.flags, node_flags::MASTER | node_flags::MYSELF);
    assert_eq!(
        (h.state, h.replicaof, h.myip.as_str()),
        (STATE_FAIL, None, ""),
        "not every slot is covered, so the cluster is down from its point of view"
    );
    let owned: Vec<u16> = (0..16384).filter(|&s| slot_bit(&h.myslots, s)).collect();
    assert_eq!(owned, [0, 5, 9, 16383]);
    let Body::Gossip {
        entries,
        extensions,
    } = &msg.body
    else {
        panic!("not a gossip body: {:?}", msg.body)
    };
    assert_eq!(entries.len(), 1);
    let peer = &entries[0];
    assert_eq!(&peer.node_id, b"5125a765b8e86af751e7d2968d30b17b25ce8162");
    assert_eq!(
        (peer.ip.as_str(), peer.port, peer.cport),
        ("127.0.0.1", 17392, 27392)
    );
    assert_eq!((peer.flags, peer.ping_sent), (node_flags::MASTER, 0));
    assert_eq!(extensions, &[Extension::Hostname("host-a.example".into())]);
    assert_eq!(encode(&msg), frame, "we write what Redis writes");
}
