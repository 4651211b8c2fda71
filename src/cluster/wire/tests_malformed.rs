//! Malformed-input tests: every check of `decode`/`frame_len`, and random bytes and random
//! mutations of valid frames, which must give an error or a message, never a panic.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::tests::{name, sample};
use super::*;

fn set16(frame: &mut [u8], at: usize, v: u16) {
    frame[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn set32(frame: &mut [u8], at: usize, v: u32) {
    frame[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Rewrites `totlen` to the frame's real length, so checks past the framing are reached.
fn fix_totlen(frame: &mut [u8]) {
    let len = frame.len() as u32;
    set32(frame, offset::TOTLEN, len);
}

fn prefix(frame: &[u8]) -> [u8; 8] {
    frame[..8].try_into().unwrap()
}

/// A PONG without gossip whose body is `ext_bytes`, announcing `extensions` extensions.
fn pong_with_raw_extensions(extensions: u16, ext_bytes: &[u8]) -> Vec<u8> {
    let mut f = encode(&Message {
        header: Header::new(MsgType::Pong, name(b's')),
        body: Body::Gossip {
            entries: vec![],
            extensions: vec![],
        },
    });
    f.extend_from_slice(ext_bytes);
    fix_totlen(&mut f);
    set16(&mut f, offset::EXTENSIONS, extensions);
    f[offset::MFLAGS] |= mflags0::EXT_DATA;
    f
}

fn ext_record(len: u32, ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(&ty.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn bad_ext(frame: &[u8]) -> (u16, ExtProblem) {
    match decode(frame) {
        Err(WireError::BadExtension { index, problem }) => (index, problem),
        other => panic!("expected BadExtension, got {other:?}"),
    }
}

#[test]
fn wrong_signature_closes_the_link() {
    let mut f = encode(&sample(MsgType::Ping));
    f[0] = b'X';
    let err = WireError::BadSignature(*b"XCmb");
    assert_eq!(frame_len(&prefix(&f), usize::MAX), Err(err.clone()));
    assert_eq!(decode(&f), Err(err.clone()));
    assert!(err.closes_link());
    assert!(err.to_string().contains("XCmb"));
}

#[test]
fn wrong_version_drops_the_message_only() {
    let mut f = encode(&sample(MsgType::Fail));
    set16(&mut f, offset::VER, 2);
    assert_eq!(decode(&f), Err(WireError::BadVersion(2)));
    assert!(!WireError::BadVersion(2).closes_link());
}

#[test]
fn totlen_below_the_header_is_rejected() {
    for totlen in [0u32, 8, 16, 2255] {
        let mut p = *b"RCmb\0\0\0\0";
        p[4..].copy_from_slice(&totlen.to_be_bytes());
        assert_eq!(
            frame_len(&p, usize::MAX),
            Err(WireError::TooShort { totlen })
        );
    }
    let mut f = encode(&sample(MsgType::MfStart));
    f.pop();
    fix_totlen(&mut f);
    assert_eq!(decode(&f), Err(WireError::TooShort { totlen: 2255 }));
    assert_eq!(frame_len(b"RCmb\0\0\x08\xd0", 2256), Ok(2256));
}

#[test]
fn declared_4_gib_is_refused_without_allocating() {
    let p = *b"RCmb\xff\xff\xff\xff";
    let max = 64 << 20;
    let err = frame_len(&p, max).unwrap_err();
    assert_eq!(
        err,
        WireError::TooLong {
            totlen: u32::MAX,
            max
        }
    );
    assert!(err.closes_link());
    let mut f = encode(&sample(MsgType::Ping));
    set32(&mut f, offset::TOTLEN, u32::MAX);
    let need = u32::MAX as usize;
    let got = f.len();
    assert_eq!(decode(&f), Err(WireError::Incomplete { need, got }));
}

#[test]
fn slices_that_disagree_with_totlen() {
    assert_eq!(
        decode(b"RCmb"),
        Err(WireError::Incomplete { need: 8, got: 4 })
    );
    let mut f = encode(&sample(MsgType::Update));
    f.push(0);
    assert_eq!(
        decode(&f),
        Err(WireError::Trailing {
            totlen: 4352,
            got: 4353
        })
    );
}

#[test]
fn unknown_types_are_not_decoded() {
    for t in [11u16, 0x8000, u16::MAX] {
        let mut f = encode(&sample(MsgType::MfStart));
        set16(&mut f, offset::TYPE, t);
        assert_eq!(decode(&f), Err(WireError::UnknownType(t)));
    }
}

#[test]
fn gossip_count_beyond_the_frame() {
    let mut f = pong_with_raw_extensions(0, &[]);
    f[offset::MFLAGS] = 0;
    for count in [1u16, 0xFFFF] {
        set16(&mut f, offset::COUNT, count);
        assert_eq!(
            decode(&f),
            Err(WireError::CountBeyondFrame { count, room: 0 })
        );
    }
    let mut two = encode(&sample(MsgType::Ping));
    set16(&mut two, offset::COUNT, 200);
    assert!(matches!(
        decode(&two),
        Err(WireError::CountBeyondFrame { count: 200, .. })
    ));
}

#[test]
fn malformed_extension_records() {
    use ExtProblem::*;
    let f = pong_with_raw_extensions(1, &[]);
    assert_eq!(bad_ext(&f), (0, HeaderBeyondFrame));
    let f = pong_with_raw_extensions(1, &[0, 0, 0, 8]);
    assert_eq!(bad_ext(&f), (0, HeaderBeyondFrame));
    let f = pong_with_raw_extensions(1, &ext_record(0, 0, &[]));
    assert_eq!(bad_ext(&f), (0, LengthTooSmall(0)));
    let f = pong_with_raw_extensions(1, &ext_record(12, 0, b"abc\0"));
    assert_eq!(bad_ext(&f), (0, Unaligned(12)));
    let f = pong_with_raw_extensions(1, &ext_record(16, 0, b"ab\0\0"));
    assert_eq!(bad_ext(&f), (0, BeyondFrame(16)));
    let f = pong_with_raw_extensions(1, &ext_record(0xFFFF_FFF8, 0, b"ab\0\0\0\0\0\0"));
    assert_eq!(bad_ext(&f), (0, BeyondFrame(0xFFFF_FFF8)));
    let f = pong_with_raw_extensions(1, &ext_record(16, 0, b"abcdefgh"));
    assert_eq!(bad_ext(&f), (0, Unterminated));
    let f = pong_with_raw_extensions(1, &ext_record(8, ext_type::HUMAN_NODENAME, &[]));
    assert_eq!(bad_ext(&f), (0, Unterminated));
    let f = pong_with_raw_extensions(1, &ext_record(40, ext_type::SHARDID, &[b'a'; 32]));
    assert_eq!(bad_ext(&f), (0, PayloadTooShort(40)));
    let f = pong_with_raw_extensions(1, &ext_record(48, ext_type::FORGOTTEN_NODE, &[1; 40]));
    assert_eq!(bad_ext(&f), (0, PayloadTooShort(48)));
    // A good record followed by a missing one.
    let f = pong_with_raw_extensions(2, &ext_record(16, 0, b"host\0\0\0\0"));
    assert_eq!(bad_ext(&f), (1, HeaderBeyondFrame));
}

#[test]
fn extension_bytes_must_be_declared() {
    let record = ext_record(16, 0, b"host\0\0\0\0");
    // EXT_DATA clear: Redis doesn't look for extensions, so the bytes are a length mismatch.
    let mut f = pong_with_raw_extensions(1, &record);
    f[offset::MFLAGS] &= !mflags0::EXT_DATA;
    let err = decode(&f).unwrap_err();
    assert_eq!(
        err,
        WireError::LengthMismatch {
            msg_type: MsgType::Pong,
            totlen: 2272,
            expected: 2256
        }
    );
    assert!(err.to_string().contains("pong"));
    // Fewer extensions declared than present.
    let mut twice = record.clone();
    twice.extend_from_slice(&record);
    let f = pong_with_raw_extensions(1, &twice);
    assert!(matches!(
        decode(&f),
        Err(WireError::LengthMismatch { expected: 2272, .. })
    ));
    // Declared and present: fine, and unknown types are kept.
    let f = pong_with_raw_extensions(2, &[record, ext_record(8, 999, &[])].concat());
    let Body::Gossip { extensions, .. } = decode(&f).unwrap().body else {
        panic!()
    };
    assert_eq!(
        extensions,
        [
            Extension::Hostname("host".into()),
            Extension::Unknown {
                ext_type: 999,
                payload: vec![]
            }
        ]
    );
}

#[test]
fn publish_lengths_beyond_the_frame() {
    let good = encode(&sample(MsgType::Publish));
    let at = HEADER_LEN;
    let mut f = good.clone();
    set32(&mut f, at, 5);
    assert!(matches!(
        decode(&f),
        Err(WireError::LengthMismatch { expected: 2280, .. })
    ));
    let mut f = good.clone();
    set32(&mut f, at, u32::MAX);
    set32(&mut f, at + 4, u32::MAX);
    let expected = 2264 + 2 * u64::from(u32::MAX);
    assert!(matches!(
        decode(&f),
        Err(WireError::LengthMismatch { expected: e, .. }) if e == expected
    ));
    // Lengths that wrap to the right total in u32 arithmetic are still wrong.
    let mut f = good.clone();
    set32(&mut f, at, 16);
    set32(&mut f, at + 4, u32::MAX);
    let expected = 2264 + 16 + u64::from(u32::MAX);
    assert!(matches!(
        decode(&f),
        Err(WireError::LengthMismatch { expected: e, .. }) if e == expected
    ));
    // Not even room for the two lengths.
    let mut f = good[..HEADER_LEN + 6].to_vec();
    fix_totlen(&mut f);
    assert!(matches!(
        decode(&f),
        Err(WireError::LengthMismatch { expected: 2264, .. })
    ));
}

#[test]
fn module_length_beyond_the_frame() {
    let mut f = encode(&sample(MsgType::Module));
    set32(&mut f, HEADER_LEN + 8, 15);
    assert!(matches!(
        decode(&f),
        Err(WireError::LengthMismatch { expected: 2284, .. })
    ));
    let mut f = f[..HEADER_LEN + 12].to_vec();
    fix_totlen(&mut f);
    assert!(matches!(
        decode(&f),
        Err(WireError::LengthMismatch { expected: 2269, .. })
    ));
}

#[test]
fn fixed_size_bodies_must_be_exact() {
    for (t, delta) in [
        (MsgType::Fail, 1i32),
        (MsgType::Fail, -1),
        (MsgType::Update, -1),
        (MsgType::Update, 8),
        (MsgType::FailoverAuthAck, 1),
        (MsgType::FailoverAuthRequest, 40),
        (MsgType::MfStart, 2),
    ] {
        let mut f = encode(&sample(t));
        let len = (f.len() as i32 + delta) as usize;
        f.resize(len, 0);
        fix_totlen(&mut f);
        let err = decode(&f).unwrap_err();
        assert!(
            matches!(err, WireError::LengthMismatch { msg_type, .. } if msg_type == t),
            "{t} {delta}: {err}"
        );
    }
}

#[test]
fn truncated_frames_fail_cleanly() {
    for t in MsgType::ALL {
        let frame = encode(&sample(t));
        for cut in 0..frame.len() {
            assert!(decode(&frame[..cut]).is_err(), "{t} cut at {cut}");
            if cut >= 8 {
                let mut f = frame[..cut].to_vec();
                fix_totlen(&mut f);
                let _ = decode(&f);
            }
        }
    }
}

#[test]
fn error_messages_are_readable() {
    let errors = [
        WireError::TooShort { totlen: 3 },
        WireError::CountBeyondFrame { count: 9, room: 3 },
        WireError::BadExtension {
            index: 2,
            problem: ExtProblem::Unaligned(12),
        },
        WireError::UnknownType(42),
    ];
    for e in errors {
        assert!(!e.to_string().is_empty());
    }
}

/// Decoding must never panic; whatever it accepts must survive a re-encode unchanged.
fn decode_checked(bytes: &[u8]) {
    if let Ok(msg) = decode(bytes) {
        let again = encode(&msg);
        assert_eq!(decode(&again).as_ref(), Ok(&msg));
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SmallRng::seed_from_u64(0x5107_cace);
    for i in 0..4000 {
        let len = rng.gen_range(0..3000);
        let mut buf = vec![0u8; len];
        rng.fill(&mut buf[..]);
        // Half of them get a plausible prefix, version and type, to reach the body checks.
        if i % 2 == 0 && len >= HEADER_LEN {
            buf[..4].copy_from_slice(&SIGNATURE);
            fix_totlen(&mut buf);
            set16(&mut buf, offset::VER, PROTO_VER);
            set16(&mut buf, offset::TYPE, rng.gen_range(0..12));
            set16(&mut buf, offset::COUNT, rng.gen_range(0..3));
            set16(&mut buf, offset::EXTENSIONS, rng.gen_range(0..4));
        }
        decode_checked(&buf);
    }
}

#[test]
fn mutated_frames_never_panic() {
    let mut rng = SmallRng::seed_from_u64(0x00b0_5b05);
    let frames: Vec<Vec<u8>> = MsgType::ALL.iter().map(|&t| encode(&sample(t))).collect();
    let mut accepted = 0;
    for _ in 0..6000 {
        let mut f = frames[rng.gen_range(0..frames.len())].clone();
        for _ in 0..rng.gen_range(1..6) {
            if f.is_empty() {
                break;
            }
            match rng.gen_range(0..4) {
                0 => {
                    // Flip a byte anywhere.
                    let at = rng.gen_range(0..f.len());
                    f[at] = rng.gen();
                }
                1 => {
                    // Hit the length/count fields, where the interesting checks are.
                    let fields = [offset::COUNT + 1, offset::EXTENSIONS + 1, HEADER_LEN + 3];
                    let at = fields[rng.gen_range(0..fields.len())];
                    if let Some(b) = f.get_mut(at) {
                        *b = rng.gen();
                    }
                }
                2 => f.truncate(rng.gen_range(0..=f.len())),
                _ => f.extend((0..rng.gen_range(1..40)).map(|_| rng.gen::<u8>())),
            }
        }
        if rng.gen_bool(0.7) && f.len() >= 8 {
            fix_totlen(&mut f);
        }
        if decode(&f).is_ok() {
            accepted += 1;
        }
        decode_checked(&f);
    }
    assert!(
        accepted > 0,
        "some mutations (e.g. of epochs) must stay valid"
    );
}
