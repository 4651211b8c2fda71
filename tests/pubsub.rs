//! Pub/Sub across connections in RESP2 and RESP3, patterns and shard channels, the subscribed
//! context of RESP2, PUBSUB introspection, and the pubsub output-buffer limit (row 43 of the
//! Redis reference: a subscriber that never reads is disconnected, the publisher is not slowed).
mod common;
use common::{resp, wait_for, Server};

#[test]
fn publish_reaches_channel_and_pattern_subscribers() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    let r = sub.reply(&resp(&[b"SUBSCRIBE", b"news", b"sport"]), 66);
    assert_eq!(r, "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n");
    let mut psub = s.raw();
    assert_eq!(
        psub.reply(&resp(&[b"HELLO", b"3"]), 10).chars().next(),
        Some('%')
    );
    let r = psub.reply(&resp(&[b"PSUBSCRIBE", b"n*"]), 30);
    assert_eq!(r, ">3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n");
    let mut c = s.client();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let (got, _) = sub.read_at_least(38);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    );
    let want = ">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    let (got, _) = psub.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    // RESP3 subscribers may run normal commands; RESP2 ones may not.
    assert_eq!(psub.reply(&resp(&[b"GET", b"x"]), 3), "_\r\n");
    let r = sub.reply(&resp(&[b"GET", b"x"]), 20);
    assert!(r.starts_with("-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET"), "{r}");
    assert_eq!(
        sub.reply(&resp(&[b"PING"]), 20),
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .arg("none")
        .query(&mut c)
        .unwrap();
    assert_eq!(numsub.len(), 4);
    let numpat: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut c).unwrap();
    assert_eq!(numpat, 1);
    let mut chans: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
    chans.sort();
    assert_eq!(chans, vec!["news", "sport"]);
    let r = sub.reply(&resp(&[b"UNSUBSCRIBE"]), 70);
    assert!(r.contains("unsubscribe") && r.ends_with(":0\r\n"), "{r}");
    assert_eq!(sub.reply(&resp(&[b"GET", b"x"]), 5), "$-1\r\n");
    // A departed subscriber no longer counts.
    drop(psub);
    wait_for("pattern subscriber to go", || {
        (redis::cmd("PUBLISH")
            .arg("news")
            .arg("x")
            .query::<i64>(&mut c)
            .unwrap()
            == 0)
            .then_some(())
    });
}

#[test]
fn shard_channels_are_separate() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    let r = sub.reply(&resp(&[b"SSUBSCRIBE", b"orders"]), 32);
    assert_eq!(r, "*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n");
    let mut c = s.client();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("orders")
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0, "PUBLISH does not reach shard subscribers");
    let n: i64 = redis::cmd("SPUBLISH")
        .arg("orders")
        .arg("paid")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let want = "*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$4\r\npaid\r\n";
    let (got, _) = sub.read_at_least(want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
    let chans: Vec<String> = redis::cmd("PUBSUB")
        .arg("SHARDCHANNELS")
        .query(&mut c)
        .unwrap();
    assert_eq!(chans, vec!["orders"]);
}

#[test]
fn slow_subscriber_is_disconnected_publisher_unaffected() {
    let s = Server::start(&["--client-output-buffer-limit", "pubsub 1mb 512kb 5"]);
    let mut sub = s.raw();
    sub.send(&resp(&[b"SUBSCRIBE", b"firehose"]));
    let (got, _) = sub.read_at_least(30);
    assert!(String::from_utf8_lossy(&got).contains("subscribe"));
    // Stop reading. Publish 10 MB in 100 KB messages.
    let mut c = s.client();
    let payload = vec![b'x'; 100 * 1024];
    for _ in 0..100 {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("firehose")
            .arg(&payload)
            .query(&mut c)
            .unwrap();
    }
    wait_for("the slow subscriber to be dropped", || {
        let n: i64 = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("firehose")
            .query::<Vec<redis::Value>>(&mut c)
            .ok()?
            .len() as i64;
        let subs: Vec<redis::Value> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("firehose")
            .query(&mut c)
            .ok()?;
        (n == 2 && subs[1] == redis::Value::Int(0)).then_some(())
    });
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(
        !info.contains("client_output_buffer_limit_disconnections:0"),
        "{info}"
    );
    let _: () = redis::cmd("SET")
        .arg("still")
        .arg("fine")
        .query(&mut c)
        .unwrap();
}
