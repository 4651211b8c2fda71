use super::*;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;

const SMALL: Limits = Limits {
    entries: 128,
    value: 64,
};

/// A model: the ordered set of (score bits in an order-preserving form, member).
fn model_vec(m: &BTreeSet<(i64, Vec<u8>)>) -> Vec<(Vec<u8>, f64)> {
    m.iter().map(|(s, k)| (k.clone(), *s as f64)).collect()
}

fn contents(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
    z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
}

#[test]
fn sizes_stay_small() {
    // Value::ZSet boxes a ZSet: 16 bytes; a skiplist node is one 48-byte slot.
    assert_eq!(std::mem::size_of::<ZSet>(), 16);
    assert_eq!(std::mem::size_of::<Node>(), 48);
}

#[test]
fn compact_scores_round_trip() {
    let mut z = ZSet::new_compact();
    let scores = [
        0.0,
        -1e-320,
        1.0,
        -1.0,
        0.5,
        1e300,
        -1e-300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        4503599627370496.0,
        9007199254740993.0,
        -123456789.0,
    ];
    for (i, s) in scores.iter().enumerate() {
        assert_eq!(
            z.add(format!("m{i}").as_bytes(), *s, AddFlags::default(), SMALL),
            AddResult::Added(*s)
        );
    }
    for (i, s) in scores.iter().enumerate() {
        let got = z.score(format!("m{i}").as_bytes()).unwrap();
        assert_eq!(got.to_bits(), s.to_bits(), "{s}");
    }
    let c = contents(&z);
    assert!(c
        .windows(2)
        .all(|w| cmp_key(w[0].1, &w[0].0, w[1].1, &w[1].0) == Ordering::Less));
}

#[test]
fn converts_at_thresholds() {
    let lim = Limits {
        entries: 3,
        value: 5,
    };
    let mut z = ZSet::for_first_member(lim, 1);
    for m in ["a", "b", "c"] {
        z.add(m.as_bytes(), 1.0, AddFlags::default(), lim);
    }
    assert_eq!(z.encoding(), "listpack");
    z.add(b"d", 1.0, AddFlags::default(), lim);
    assert_eq!(z.encoding(), "skiplist");
    let mut z = ZSet::for_first_member(lim, 1);
    z.add(b"abcdef", 1.0, AddFlags::default(), lim);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(ZSet::for_first_member(lim, 6).encoding(), "skiplist");
    assert_eq!(
        ZSet::for_first_member(
            Limits {
                entries: 0,
                value: 64
            },
            1
        )
        .encoding(),
        "skiplist"
    );
}

#[test]
fn add_flags_follow_redis() {
    let mut z = ZSet::new_compact();
    let f = |nx, xx, gt, lt, incr| AddFlags {
        nx,
        xx,
        gt,
        lt,
        incr,
    };
    assert_eq!(
        z.add(b"a", 1.0, f(false, true, false, false, false), SMALL),
        AddResult::Skipped
    );
    assert_eq!(
        z.add(b"a", 1.0, f(true, false, false, false, false), SMALL),
        AddResult::Added(1.0)
    );
    assert_eq!(
        z.add(b"a", 5.0, f(true, false, false, false, false), SMALL),
        AddResult::Skipped
    );
    assert_eq!(
        z.add(b"a", 0.0, f(false, false, true, false, false), SMALL),
        AddResult::Skipped
    );
    assert_eq!(
        z.add(b"a", 2.0, f(false, false, true, false, false), SMALL),
        AddResult::Updated(2.0)
    );
    assert_eq!(
        z.add(b"a", 2.0, f(false, false, false, false, false), SMALL),
        AddResult::Unchanged(2.0)
    );
    assert_eq!(
        z.add(b"a", 3.0, f(false, false, false, false, true), SMALL),
        AddResult::Updated(5.0)
    );
    z.add(b"a", f64::INFINITY, AddFlags::default(), SMALL);
    assert_eq!(
        z.add(
            b"a",
            f64::NEG_INFINITY,
            f(false, false, false, false, true),
            SMALL
        ),
        AddResult::Nan
    );
    assert_eq!(
        z.add(b"b", f64::NAN, AddFlags::default(), SMALL),
        AddResult::Nan
    );
}

/// Random operations on both encodings against a BTreeSet model.
#[test]
fn matches_a_model() {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    for limits in [
        SMALL,
        Limits {
            entries: 0,
            value: 0,
        },
    ] {
        let mut z = ZSet::for_first_member(limits, 1);
        let mut model: BTreeSet<(i64, Vec<u8>)> = BTreeSet::new();
        for step in 0..20000 {
            let m = format!("m{}", rng.gen_range(0..600)).into_bytes();
            let s = rng.gen_range(-50..50) as i64;
            match rng.gen_range(0..10) {
                0..=5 => {
                    let old = model.iter().find(|(_, k)| *k == m).cloned();
                    if let Some(o) = old {
                        model.remove(&o);
                    }
                    model.insert((s, m.clone()));
                    z.add(&m, s as f64, AddFlags::default(), limits);
                }
                6 | 7 => {
                    let old = model.iter().find(|(_, k)| *k == m).cloned();
                    assert_eq!(z.remove(&m), old.is_some());
                    if let Some(o) = old {
                        model.remove(&o);
                    }
                }
                8 => {
                    let n = model.len();
                    if n > 0 {
                        let a = rng.gen_range(0..n);
                        let b = (a + rng.gen_range(0..5)).min(n - 1);
                        let v: Vec<_> = model.iter().cloned().collect();
                        for e in &v[a..=b] {
                            model.remove(e);
                        }
                        assert_eq!(z.remove_range(a, b), b - a + 1);
                    }
                }
                _ => {
                    let v = model_vec(&model);
                    if let Some(i) = v.iter().position(|(k, _)| *k == m) {
                        assert_eq!(z.rank(&m), Some(i));
                        let r = rng.gen_range(0..v.len());
                        let back: Vec<_> =
                            z.iter_from(r, true).map(|(m, s)| (m.to_vec(), s)).collect();
                        let want: Vec<_> = v[..=r].iter().rev().cloned().collect();
                        assert_eq!(back, want);
                    } else {
                        assert_eq!(z.rank(&m), None);
                    }
                }
            }
            assert_eq!(z.len(), model.len(), "step {step}");
            if step % 500 == 0 {
                assert_eq!(contents(&z), model_vec(&model));
            }
        }
        assert_eq!(contents(&z), model_vec(&model));
    }
}

#[test]
fn long_members_survive_compaction() {
    let long = |i: usize| format!("{i:040}").into_bytes();
    let mut z = ZSet::new_indexed();
    for i in 0..6000 {
        z.add(&long(i), (i % 7) as f64, AddFlags::default(), SMALL);
    }
    for i in (0..6000).filter(|i| i % 10 != 0) {
        assert!(z.remove(&long(i)));
    }
    let Repr::Indexed(t) = &z.repr else {
        panic!("indexed")
    };
    assert!(
        t.slots < 1500,
        "compacted once under a quarter live: {}",
        t.slots
    );
    assert_eq!(t.member_heap, 600 * 40);
    for i in (0..6000).step_by(10) {
        assert_eq!(z.score(&long(i)), Some((i % 7) as f64));
    }
    let c = contents(&z);
    assert!(c
        .windows(2)
        .all(|w| cmp_key(w[0].1, &w[0].0, w[1].1, &w[1].0) == Ordering::Less));
}

#[test]
fn bounds_and_scan_on_a_big_tree() {
    let items: Vec<(Vec<u8>, f64)> = (0..5000)
        .map(|i| (format!("k{i:05}").into_bytes(), (i / 10) as f64))
        .collect();
    let mut z = ZSet::from_sorted(items.clone(), SMALL);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(z.first_where(|_, s| s >= 10.0), Some(100));
    assert_eq!(z.last_where(|_, s| s < 10.0), Some(99));
    assert_eq!(z.first_where(|_, s| s > 1e9), None);
    assert_eq!(z.get(4321).unwrap().0, b"k04321");
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = z.scan(cursor, 7, &mut seen);
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 5000);
    // Mass deletion compacts the slots; an old cursor restarts rather than skipping.
    let mut out = Vec::new();
    let c = z.scan(0, 100, &mut out);
    assert_ne!(c, 0);
    assert_eq!(z.remove_range(0, 4899), 4900);
    assert_eq!(z.len(), 100);
    let mut out = Vec::new();
    let mut c = z.scan(c, 1000, &mut out);
    while c != 0 {
        c = z.scan(c, 1000, &mut out);
    }
    let out: Vec<(Vec<u8>, f64)> = out.into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
    let mut got = out.clone();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    got.dedup();
    assert_eq!(got, items[4900..].to_vec());
    assert_eq!(z.pop(End::Max).unwrap().0, b"k04999");
    assert_eq!(z.pop(End::Min).unwrap().0, b"k04900");
}
