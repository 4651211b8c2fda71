//! Inline commands (`PING\r\n`, telnet, health checks): one line split into arguments with the
//! quoting rules of Redis's `sdssplitargs`.
use super::ErrorReply;
use bytes::Bytes;

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits one inline line. A NUL byte ends the line, as it does for Redis's C string.
pub fn split_args(line: &[u8]) -> Result<Vec<Bytes>, ErrorReply> {
    let line = match line.iter().position(|&c| c == 0) {
        Some(n) => &line[..n],
        None => line,
    };
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Ok(args);
        }
        let (arg, next) = one_arg(line, i)?;
        args.push(Bytes::from(arg));
        i = next;
    }
}

fn one_arg(line: &[u8], mut i: usize) -> Result<(Vec<u8>, usize), ErrorReply> {
    let mut cur = Vec::new();
    let (mut inq, mut insq) = (false, false);
    loop {
        let c = line.get(i).copied();
        if inq {
            let c = c.ok_or_else(ErrorReply::unbalanced_quotes)?;
            let n1 = line.get(i + 1).copied();
            if c == b'\\' && n1 == Some(b'x') {
                if let (Some(h), Some(l)) = (
                    line.get(i + 2).and_then(|&c| hex(c)),
                    line.get(i + 3).and_then(|&c| hex(c)),
                ) {
                    cur.push(h * 16 + l);
                    i += 4;
                    continue;
                }
            }
            if c == b'\\' && n1.is_some() {
                let e = n1.unwrap();
                cur.push(match e {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
                i += 2;
                continue;
            }
            if c == b'"' {
                if let Some(n) = n1 {
                    if !is_space(n) {
                        return Err(ErrorReply::unbalanced_quotes());
                    }
                }
                return Ok((cur, i + 1));
            }
            cur.push(c);
        } else if insq {
            let c = c.ok_or_else(ErrorReply::unbalanced_quotes)?;
            let n1 = line.get(i + 1).copied();
            if c == b'\\' && n1 == Some(b'\'') {
                cur.push(b'\'');
                i += 2;
                continue;
            }
            if c == b'\'' {
                if let Some(n) = n1 {
                    if !is_space(n) {
                        return Err(ErrorReply::unbalanced_quotes());
                    }
                }
                return Ok((cur, i + 1));
            }
            cur.push(c);
        } else {
            match c {
                None => return Ok((cur, i)),
                Some(c) if is_space(c) => return Ok((cur, i)),
                Some(b'"') => inq = true,
                Some(b'\'') => insq = true,
                Some(c) => cur.push(c),
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_sdssplitargs() {
        let a = split_args(b"set \"a b\" 'c\\'d' \"\\x41\\n\"").unwrap();
        assert_eq!(
            a,
            vec![
                Bytes::from("set"),
                Bytes::from("a b"),
                Bytes::from("c'd"),
                Bytes::from("A\n")
            ]
        );
        assert!(split_args(b"set \"\"\"test-key\"\"\" v").is_err());
        assert!(split_args(b"get \"abc").is_err());
        assert!(split_args(b"   ").unwrap().is_empty());
        assert!(split_args(b"\x00abc").unwrap().is_empty());
    }
}
