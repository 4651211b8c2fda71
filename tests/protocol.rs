//! Every client-port row of ../shared/redis-reference/bad-inputs.md (recorded from redis-server
//! 7.0.15), as a test: same reply, same close-or-stay behaviour, and the server still answers.
//! Rows about data types, pub/sub and cluster mode live with those features' tests.
mod common;
use common::{resp, Server};

/// One row: input bytes, the exact reply, and whether the server closes the connection.
fn row(s: &Server, input: &[u8], expected: &str, closes: bool) {
    let mut c = s.raw();
    let got = c.reply(input, expected.len());
    assert_eq!(
        got,
        expected,
        "input {:?}",
        String::from_utf8_lossy(&input[..input.len().min(60)])
    );
    if closes {
        assert!(
            c.wait_closed(),
            "connection should be closed after {:?}",
            expected
        );
    } else {
        c.assert_open();
    }
    s.raw().assert_open();
}

const INVALID_MBULK: &str = "-ERR Protocol error: invalid multibulk length\r\n";
const INVALID_BULK: &str = "-ERR Protocol error: invalid bulk length\r\n";

#[test]
fn rows_1_to_12_framing_errors() {
    let s = Server::start(&[]);
    row(&s, b"*3000000000\r\n", INVALID_MBULK, true); // 1
    row(&s, b"*abc\r\n", INVALID_MBULK, true); // 2
    row(&s, b"*9223372036854775808\r\n", INVALID_MBULK, true); // 2
    row(&s, b"*-10\r\nPING\r\n", "+PONG\r\n", false); // 3
    row(&s, b"*0\r\nPING\r\n", "+PONG\r\n", false); // 4
    row(&s, b"\r\nPING\r\n", "+PONG\r\n", false); // 4
    row(
        &s,
        b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
        "-ERR Protocol error: expected '$', got 'f'\r\n",
        true,
    ); // 5
    row(
        &s,
        b"*1\r\nfoo\r\n",
        "-ERR Protocol error: expected '$', got 'f'\r\n",
        true,
    ); // 6
    row(&s, b"*2\r\n$3\r\nGET\r\n$-10\r\n", INVALID_BULK, true); // 7
    row(&s, b"*1\r\n$-1\r\n", INVALID_BULK, true); // 7
    row(
        &s,
        b"*2\r\n$3\r\nGET\r\n$2000000000\r\n",
        INVALID_BULK,
        true,
    ); // 8
    for bad in [&b"$blabla"[..], b"$+4", b"$ 4"] {
        let mut input = b"*2\r\n$3\r\nGET\r\n".to_vec();
        input.extend_from_slice(bad);
        input.extend_from_slice(b"\r\n");
        row(&s, &input, INVALID_BULK, true); // 9
    }
    row(&s, b"*1\r\n$4\r\nPINGXX\r\n", "+PONG\r\n", false); // 10: trailer not checked, as Redis
    row(
        &s,
        b"set \"\"\"test-key\"\"\" test-value\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
        true,
    ); // 11
    row(&s, b"PING\n", "+PONG\r\n", false); // 12
}

#[test]
fn rows_13_to_15_oversized_lines() {
    let s = Server::start(&[]);
    row(
        &s,
        &vec![b'A'; 70_000],
        "-ERR Protocol error: too big inline request\r\n",
        true,
    ); // 13
    let mut count = b"*".to_vec();
    count.extend(vec![b'1'; 70_000]);
    row(
        &s,
        &count,
        "-ERR Protocol error: too big mbulk count string\r\n",
        true,
    ); // 14
       // 15: a NUL then 1 KiB chunks: the server waits, then refuses past 64 KiB.
    for prefix in [&b"\x00"[..], b"*\x00", b"$\x00"] {
        let mut c = s.raw();
        c.send(prefix);
        for _ in 0..70 {
            c.send(&[b'A'; 1024]);
        }
        let (got, _) = c.read_at_least(20);
        let got = String::from_utf8_lossy(&got);
        assert!(
            got.starts_with("-ERR Protocol error: too big"),
            "{prefix:?}: {got}"
        );
        assert!(c.wait_closed());
    }
    s.raw().assert_open();
}

#[test]
fn rows_16_to_19_unknown_and_arity() {
    let s = Server::start(&[]);
    let unknown = |n: &str| format!("-ERR unknown command '{n}', with args beginning with: \r\n");
    let three = unknown("%1") + &unknown("+a") + &unknown("+b");
    row(&s, b"%1\r\n+a\r\n+b\r\n", &three, false); // 16
    row(
        &s,
        b"HELLO 4\r\n",
        "-NOPROTO unsupported protocol version\r\n",
        false,
    ); // 17
    row(&s, b"*1\r\n$7\r\nFOOBARX\r\n", &unknown("FOOBARX"), false); // 18
    let long = "X".repeat(300);
    row(
        &s,
        &resp(&[long.as_bytes()]),
        &unknown(&"X".repeat(128)),
        false,
    ); // 18: truncated to 128
    row(
        &s,
        b"*1\r\n$3\r\nGET\r\n",
        "-ERR wrong number of arguments for 'get' command\r\n",
        false,
    ); // 19
}

#[test]
fn rows_20_to_29_numeric_limits() {
    let s = Server::start(&[]);
    let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    row(
        &s,
        &resp(&[b"SETRANGE", b"k", b"9223372036854775807", b"A"]),
        too_big,
        false,
    ); // 20
    row(
        &s,
        &resp(&[b"SETRANGE", b"k", b"536870908", b"world"]),
        too_big,
        false,
    ); // 21
    row(
        &s,
        &resp(&[b"SETRANGE", b"k", b"-1", b"A"]),
        "-ERR offset is out of range\r\n",
        false,
    ); // 22
    row(&s, &resp(&[b"SET", b"foo", b"bar"]), "+OK\r\n", false);
    row(
        &s,
        &resp(&[b"GETRANGE", b"foo", b"0", b"4294967297"]),
        "$3\r\nbar\r\n",
        false,
    ); // 23
    row(
        &s,
        &resp(&[b"SET", b"n", b"9223372036854775807"]),
        "+OK\r\n",
        false,
    );
    row(
        &s,
        &resp(&[b"INCR", b"n"]),
        "-ERR increment or decrement would overflow\r\n",
        false,
    ); // 24
    row(
        &s,
        &resp(&[b"DECRBY", b"x", b"-9223372036854775808"]),
        "-ERR decrement would overflow\r\n",
        false,
    ); // 25
    row(
        &s,
        &resp(&[b"INCRBYFLOAT", b"f", b"+inf"]),
        "-ERR increment would produce NaN or Infinity\r\n",
        false,
    ); // 26
    for v in [&b"abc"[..], b"  11"] {
        row(&s, &resp(&[b"SET", b"s", v]), "+OK\r\n", false);
        row(
            &s,
            &resp(&[b"INCR", b"s"]),
            "-ERR value is not an integer or out of range\r\n",
            false,
        ); // 27
    }
    row(
        &s,
        &resp(&[b"EXPIRE", b"foo", b"9223372036854775807"]),
        "-ERR invalid expire time in 'expire' command\r\n",
        false,
    ); // 28
    row(
        &s,
        &resp(&[b"SET", b"e", b"1", b"EX", b"0"]),
        "-ERR invalid expire time in 'set' command\r\n",
        false,
    ); // 29
    row(
        &s,
        &resp(&[b"SET", b"e", b"1", b"PX", b"9223372036854775807"]),
        "-ERR invalid expire time in 'set' command\r\n",
        false,
    ); // 29
}

#[test]
fn rows_33_34_36_37_keys_and_binary_safety() {
    let s = Server::start(&[]);
    let key40 = "a".repeat(40);
    row(
        &s,
        &resp(&[b"SET", key40.as_bytes(), b"v"]),
        "+OK\r\n",
        false,
    );
    let pat = "a*".repeat(20) + "b";
    row(&s, &resp(&[b"KEYS", pat.as_bytes()]), "*0\r\n", false); // 33
    let key50k = "a".repeat(50_000);
    row(
        &s,
        &resp(&[b"SET", key50k.as_bytes(), b"v"]),
        "+OK\r\n",
        false,
    );
    let pat = "*?".repeat(50_000);
    row(&s, &resp(&[b"KEYS", pat.as_bytes()]), "*0\r\n", false); // 34
    row(&s, &resp(&[b"SET", b"k\r\n-ER", b"v"]), "+OK\r\n", false); // 36
    row(&s, &resp(&[b"GET", b"k\r\n-ER"]), "$1\r\nv\r\n", false);
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..10_000 {
        args.push(format!("key{i}").into_bytes());
        args.push(format!("val{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    row(&s, &resp(&refs), "+OK\r\n", false); // 37
    row(&s, &resp(&[b"GET", b"key9999"]), "$7\r\nval9999\r\n", false);
}

#[test]
fn rows_39_to_41_requirepass() {
    let s = Server::start(&["--requirepass", "secret"]);
    row(
        &s,
        b"*11\r\n",
        "-ERR Protocol error: unauthenticated multibulk length\r\n",
        true,
    ); // 39
    row(
        &s,
        b"*2\r\n$3\r\nGET\r\n$16385\r\n",
        "-ERR Protocol error: unauthenticated bulk length\r\n",
        true,
    ); // 40
    let mut c = s.raw();
    assert_eq!(
        c.reply(&resp(&[b"GET", b"x"]), 10),
        "-NOAUTH Authentication required.\r\n"
    ); // 41
    assert_eq!(
        c.reply(&resp(&[b"AUTH", b"nope"]), 20),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.reply(&resp(&[b"AUTH", b"secret"]), 5), "+OK\r\n");
    // Once authenticated the normal limits apply.
    let big = vec![b'v'; 20_000];
    assert_eq!(c.reply(&resp(&[b"SET", b"x", &big]), 5), "+OK\r\n");
}

#[test]
fn row_42_maxclients() {
    let s = Server::start(&["--maxclients", "64"]);
    let mut held: Vec<common::Raw> = (0..64).map(|_| s.raw()).collect();
    for c in held.iter_mut() {
        c.assert_open();
    }
    let mut extra = s.raw();
    let (got, _) = extra.read_at_least(10);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR max number of clients reached\r\n"
    );
    assert!(extra.wait_closed());
    drop(held.pop());
    // A slot frees up once the server sees the close.
    common::wait_for("a free client slot", || {
        let mut c = s.raw();
        let r = c.reply(b"PING\r\n", 7);
        (r == "+PONG\r\n").then_some(())
    });
}

#[test]
fn row_44_protected_mode_refuses_non_loopback() {
    let s = Server::start(&["--bind", "127.0.0.1 127.0.0.2"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        sock.connect(format!("127.0.0.1:{}", s.port).parse().unwrap())
            .await
            .unwrap()
    });
    let std = stream.into_std().unwrap();
    std.set_nonblocking(false).unwrap();
    std.set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let mut c = common::Raw { s: std };
    let (got, _) = c.read_at_least(20);
    assert!(String::from_utf8_lossy(&got).starts_with("-DENIED Redis is running in protected mode"));
    assert!(c.wait_closed());
    s.raw().assert_open();
}

#[test]
fn deep_pipelines_reply_in_order() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut req = Vec::new();
    let mut expected = String::new();
    for i in 0..5000 {
        req.extend(resp(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
        req.extend(resp(&[b"GET", format!("k{i}").as_bytes()]));
        expected.push_str(&format!("+OK\r\n${}\r\n{i}\r\n", i.to_string().len()));
    }
    assert_eq!(c.reply(&req, expected.len()), expected);
}

#[test]
fn nested_arrays_and_random_bytes_never_crash() {
    let s = Server::start(&[]);
    // redis-protocol 6 overflows its stack on this; our flat parser sees an expected-'$' error.
    let mut c = s.raw();
    let got = c.reply(&b"*1\r\n".repeat(7000), 10);
    assert!(
        got.starts_with("-ERR Protocol error: expected '$', got '*'"),
        "{got}"
    );
    let mut seed = 0x2545F4914F6CDD1Du64;
    for _ in 0..200 {
        let mut junk = Vec::new();
        for _ in 0..(seed % 300) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push((seed & 0xff) as u8);
        }
        let mut c = s.raw();
        c.send(&junk);
    }
    s.raw().assert_open();
}

#[test]
fn query_and_output_buffer_limits_close_the_client() {
    let s = Server::start(&["--client-query-buffer-limit", "1mb"]);
    let mut c = s.raw();
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000\r\n");
    for _ in 0..20 {
        c.send(&[b'x'; 100_000]);
    }
    assert!(
        c.wait_closed(),
        "query buffer past client-query-buffer-limit must close the client"
    );
    let mut admin = s.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-query-buffer-limit")
        .arg("1gb")
        .query(&mut admin)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(vec![b'x'; 2 << 20])
        .query(&mut admin)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("normal 1mb 0 0")
        .query(&mut admin)
        .unwrap();
    let mut c = s.raw();
    c.send(&resp(&[b"GET", b"big"]));
    let (got, closed) = c.read_at_least(1);
    assert!(
        got.is_empty() && (closed || c.wait_closed()),
        "reply over the hard limit must close the client"
    );
    let info: String = redis::cmd("INFO").arg("stats").query(&mut admin).unwrap();
    assert!(
        info.contains("client_query_buffer_limit_disconnections:1"),
        "{info}"
    );
    assert!(
        info.contains("client_output_buffer_limit_disconnections:1"),
        "{info}"
    );
    s.raw().assert_open();
}

#[test]
fn rows_30_32_35_data_type_limits() {
    let s = Server::start(&[]);
    row(
        &s,
        &resp(&[b"RPUSH", b"l", b"a", b"b", b"c"]),
        ":3\r\n",
        false,
    );
    row(
        &s,
        &resp(&[
            b"LRANGE",
            b"l",
            b"-9223372036854775808",
            b"9223372036854775807",
        ]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        false,
    ); // 30
    row(&s, &resp(&[b"SADD", b"st", b"x"]), ":1\r\n", false);
    row(
        &s,
        &resp(&[b"SRANDMEMBER", b"st", b"-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
        false,
    ); // 32
    row(&s, &resp(&[b"RPUSH", b"l2", b"a"]), ":1\r\n", false);
    row(
        &s,
        &resp(&[b"GET", b"l2"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        false,
    ); // 35
}
