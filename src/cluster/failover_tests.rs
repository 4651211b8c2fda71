//! Unit tests of the election (failover.rs) with an injected clock: scheduling by rank, vote
//! requests, the voting rules of primaries, promotion on a majority, expiry.
use super::*;
use crate::cluster::test_support::{add, new_state, outbound, Rx, NOW};
use crate::cluster::wire::{self, decode};

const ME: NodeId = [b'5'; 40];
const P: NodeId = [b'a'; 40];
const Q: NodeId = [b'b'; 40];
const R: NodeId = [b'c'; 40];
const SIB: NodeId = [b'd'; 40];

fn link(st: &mut ClusterState, node: NodeId) -> Rx {
    outbound(st, node).1
}

fn sent_types(rx: &mut Rx) -> Vec<MsgType> {
    let mut out = Vec::new();
    while let Ok(f) = rx.try_recv() {
        out.push(decode(&f).expect("valid frame").header.msg_type);
    }
    out
}

/// Me: a replica of P (slots 0..100); Q and R primaries with the rest.
fn replica_setup() -> ClusterState {
    let mut st = new_state(ME);
    add(&mut st, P, flag::MASTER, 1, 0..100);
    add(&mut st, Q, flag::MASTER, 2, 100..200);
    add(&mut st, R, flag::MASTER, 3, 200..300);
    let me = st.me_mut();
    me.flags = (me.flags & !flag::MASTER) | flag::SLAVE;
    me.primary = Some(P);
    st.repl.offset = 1000;
    st.repl.following = Some(("10.0.0.7".into(), 7001));
    st.repl.link_up = true;
    st
}

#[test]
fn a_replica_of_a_failed_primary_waits_by_rank_then_asks_for_votes() {
    let mut st = replica_setup();
    let (mut rq, mut rr) = (link(&mut st, Q), link(&mut st, R));
    tick(&mut st, NOW);
    assert_eq!(st.failover.election, Election::Idle, "primary is up");
    st.node_mut(&P).unwrap().flags |= flag::FAIL;
    // A sibling with a greater offset ranks before me: one more second of delay.
    add(&mut st, SIB, flag::SLAVE, 0, 0..0);
    let sib = st.node_mut(&SIB).unwrap();
    sib.primary = Some(P);
    sib.repl_offset = 2000;
    tick(&mut st, NOW);
    let Election::Scheduled { start_at, rank } = st.failover.election.clone() else {
        panic!("{:?}", st.failover.election)
    };
    assert_eq!(rank, 1);
    assert!(
        (NOW + 1500..NOW + 2000).contains(&start_at),
        "{}",
        start_at - NOW
    );
    tick(&mut st, start_at - 1);
    assert!(matches!(st.failover.election, Election::Scheduled { .. }));
    let epoch_before = st.current_epoch;
    tick(&mut st, start_at);
    let Election::Voting { epoch, .. } = &st.failover.election else {
        panic!("{:?}", st.failover.election)
    };
    assert_eq!(*epoch, epoch_before + 1);
    assert_eq!(st.current_epoch, epoch_before + 1);
    assert!(sent_types(&mut rq).contains(&MsgType::FailoverAuthRequest));
    assert!(sent_types(&mut rr).contains(&MsgType::FailoverAuthRequest));
}

#[test]
fn a_majority_of_votes_promotes_and_claims_the_primary_slots() {
    let mut st = replica_setup();
    st.node_mut(&P).unwrap().flags |= flag::FAIL;
    let _rq = link(&mut st, Q);
    st.failover.election = Election::Scheduled {
        start_at: NOW,
        rank: 0,
    };
    tick(&mut st, NOW);
    let epoch = st.current_epoch;
    let mut ack = Header::new(MsgType::FailoverAuthAck, Q);
    ack.current_epoch = epoch;
    on_ack(&mut st, &Q, &ack, NOW + 10);
    assert!(
        st.me().is_replica(),
        "one vote of three primaries is not a majority"
    );
    // A stale ack (older epoch) does not count.
    let mut old = Header::new(MsgType::FailoverAuthAck, R);
    old.current_epoch = epoch - 1;
    on_ack(&mut st, &R, &old, NOW + 10);
    assert!(st.me().is_replica());
    let mut ack = Header::new(MsgType::FailoverAuthAck, R);
    ack.current_epoch = epoch;
    on_ack(&mut st, &R, &ack, NOW + 20);
    assert!(st.me().is_primary());
    assert_eq!(st.me().config_epoch, epoch);
    assert_eq!(st.owner_id(0), Some(ME));
    assert_eq!(st.owner_id(99), Some(ME));
    assert_eq!(st.owner_id(100), Some(Q));
    assert_eq!(st.follow, Some(Follow::Primary));
    assert_eq!(st.failover.election, Election::Idle);
}

#[test]
fn an_attempt_without_majority_expires() {
    let mut st = replica_setup();
    st.node_mut(&P).unwrap().flags |= flag::FAIL;
    st.failover.election = Election::Scheduled {
        start_at: NOW,
        rank: 0,
    };
    tick(&mut st, NOW);
    assert!(matches!(st.failover.election, Election::Voting { .. }));
    tick(&mut st, NOW + 2000);
    assert!(matches!(st.failover.election, Election::Voting { .. }));
    tick(&mut st, NOW + 2001);
    assert_eq!(st.failover.election, Election::Idle);
    // The next attempt waits twice the auth timeout after the last one began.
    tick(&mut st, NOW + 3000);
    assert_eq!(st.failover.election, Election::Idle);
}

/// Me: primary Q with slots; P failed; S is P's replica asking for votes.
fn voter_setup() -> (ClusterState, Rx) {
    let mut st = new_state(ME);
    add(&mut st, P, flag::MASTER | flag::FAIL, 1, 0..100);
    add(&mut st, SIB, flag::SLAVE, 0, 0..0);
    st.node_mut(&SIB).unwrap().primary = Some(P);
    st.me_mut().config_epoch = 2;
    let i = st.my_idx();
    for s in 100..200 {
        st.add_slot(s, i);
    }
    st.current_epoch = 5;
    let rx = link(&mut st, SIB);
    (st, rx)
}

fn request(epoch: u64) -> Header {
    let mut h = Header::new(MsgType::FailoverAuthRequest, SIB);
    h.current_epoch = epoch;
    h.config_epoch = 1;
    for s in 0..100 {
        wire::set_slot_bit(&mut h.myslots, s, true);
    }
    h
}

#[test]
fn a_primary_votes_once_per_epoch_and_persists_it() {
    let (mut st, mut rx) = voter_setup();
    let h = request(5);
    on_request(&mut st, &SIB, &h, NOW);
    assert_eq!(sent_types(&mut rx), vec![MsgType::FailoverAuthAck]);
    assert_eq!(st.last_vote_epoch, 5);
    assert!(
        st.todo.save_config && st.todo.fsync_config,
        "saved with fsync"
    );
    // Same epoch again: refused.
    st.node_mut(&P).unwrap().voted_time = 0;
    on_request(&mut st, &SIB, &h, NOW + 1);
    assert!(sent_types(&mut rx).is_empty());
}

#[test]
fn a_primary_refuses_votes_the_rules_forbid() {
    // Older epoch than ours.
    let (mut st, mut rx) = voter_setup();
    on_request(&mut st, &SIB, &request(4), NOW);
    assert!(sent_types(&mut rx).is_empty());
    // Its primary is up, without FORCEACK; with it, granted.
    let (mut st, mut rx) = voter_setup();
    st.node_mut(&P).unwrap().flags &= !flag::FAIL;
    on_request(&mut st, &SIB, &request(5), NOW);
    assert!(sent_types(&mut rx).is_empty());
    let mut h = request(5);
    h.mflags[0] |= mflags0::FORCEACK;
    on_request(&mut st, &SIB, &h, NOW);
    assert_eq!(sent_types(&mut rx), vec![MsgType::FailoverAuthAck]);
    // Voted for a replica of the same primary less than 2 x node-timeout ago.
    let (mut st, mut rx) = voter_setup();
    st.node_mut(&P).unwrap().voted_time = NOW - 1500;
    on_request(&mut st, &SIB, &request(5), NOW);
    assert!(sent_types(&mut rx).is_empty());
    // A claimed slot's owner has a greater configEpoch than the request's.
    let (mut st, mut rx) = voter_setup();
    st.node_mut(&P).unwrap().config_epoch = 9;
    on_request(&mut st, &SIB, &request(5), NOW);
    assert!(sent_types(&mut rx).is_empty());
    // A replica does not vote.
    let (mut st, mut rx) = voter_setup();
    for s in 100..200 {
        st.del_slot(s);
    }
    on_request(&mut st, &SIB, &request(5), NOW);
    assert!(
        sent_types(&mut rx).is_empty(),
        "a primary without slots does not vote"
    );
}

#[test]
fn manual_failover_waits_for_the_paused_primary_offset() {
    let mut st = replica_setup();
    let _rq = link(&mut st, Q);
    st.failover.manual = Some(Manual {
        end: NOW + MANUAL_TIMEOUT_MS,
        force: false,
        primary_offset: None,
    });
    tick(&mut st, NOW);
    assert_eq!(st.failover.election, Election::Idle, "no offset yet");
    let mut h = Header::new(MsgType::Ping, P);
    h.offset = 1200;
    on_paused_offset(&mut st, &P, &h);
    assert_eq!(
        st.failover.manual.as_ref().unwrap().primary_offset,
        None,
        "not PAUSED"
    );
    h.mflags[0] |= mflags0::PAUSED;
    on_paused_offset(&mut st, &P, &h);
    tick(&mut st, NOW + 100);
    assert_eq!(
        st.failover.election,
        Election::Idle,
        "still behind the primary"
    );
    st.repl.offset = 1200;
    tick(&mut st, NOW + 200);
    tick(&mut st, NOW + 200);
    assert!(matches!(st.failover.election, Election::Voting { .. }));
    // The manual failover times out.
    tick(&mut st, NOW + MANUAL_TIMEOUT_MS + 1);
    assert!(st.failover.manual.is_none());
    assert_eq!(st.failover.election, Election::Idle);
}

#[test]
fn losing_the_last_slot_to_a_new_owner_makes_the_old_primary_its_replica() {
    let mut st = new_state(ME);
    add(&mut st, P, flag::MASTER, 5, 0..0);
    st.me_mut().config_epoch = 1;
    let i = st.my_idx();
    for s in 0..10 {
        st.add_slot(s, i);
    }
    let mut claim = [0u8; crate::slot::SLOTS / 8];
    for s in 0..10 {
        wire::set_slot_bit(&mut claim, s, true);
    }
    crate::cluster::ownership::update_slots_with(&mut st, &P, 5, &claim);
    assert!(st.me().is_replica());
    assert_eq!(st.me().primary, Some(P));
    assert_eq!(
        st.follow,
        Some(Follow::Replicate {
            ip: "10.0.0.7".into(),
            port: 7001
        })
    );
}
