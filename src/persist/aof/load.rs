//! Reading AOF files (Redis's loadSingleAppendOnlyFile): an optional RDB part (a base file,
//! or an old-style AOF with an RDB preamble), then commands in RESP multibulk form, `#`
//! annotation lines skipped. A file cut short (a crash mid-write) is truncated to its last
//! complete command when it is the last file and aof-load-truncated is on; a MULTI without
//! its EXEC at the end is dropped the same way. The reader never allocates more than the
//! file holds, whatever lengths a damaged file declares.
use bytes::Bytes;
use std::io::{BufRead, Read};

/// Redis's AOF_ANNOTATION_LINE_MAX_LEN: header lines are read in pieces this long.
const LINE_MAX: usize = 1024;

/// Why reading stopped before the end of the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// The file ends inside a command (or inside a transaction).
    ShortRead,
    /// Bytes that are not an AOF command.
    Format,
    /// The operating system failed the read.
    Io(String),
}

/// Commands read one by one from the tail of an AOF file.
pub struct Commands<R> {
    r: R,
    /// Bytes consumed so far (from where the reader was handed over).
    pub offset: u64,
    /// Offset after the last complete command outside a transaction.
    pub valid_up_to: u64,
    valid_before_multi: u64,
    in_multi: bool,
}

impl<R: BufRead> Commands<R> {
    pub fn new(r: R, start: u64) -> Commands<R> {
        Commands {
            r,
            offset: start,
            valid_up_to: start,
            valid_before_multi: start,
            in_multi: false,
        }
    }

    /// A header line (up to LINE_MAX bytes, as fgets); None at the end of the file.
    fn line(&mut self) -> Result<Option<Vec<u8>>, Stop> {
        let mut buf = Vec::new();
        let n = (&mut self.r)
            .take(LINE_MAX as u64 - 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Stop::Io(e.to_string()))?;
        self.offset += n as u64;
        Ok((n > 0).then_some(buf))
    }

    fn number(line: &[u8]) -> i64 {
        // strtol/atoi: optional sign, then leading digits.
        let s = String::from_utf8_lossy(line);
        let s = s.trim_end_matches(['\r', '\n']);
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        let v = digits[..end].parse::<i64>().unwrap_or(i64::MAX);
        if neg {
            -v
        } else {
            v
        }
    }

    /// The next command; Ok(None) at a clean end of file.
    pub fn next_command(&mut self) -> Result<Option<Vec<Bytes>>, Stop> {
        let head = loop {
            match self.line()? {
                None => {
                    if self.in_multi {
                        // Redis: "Revert incomplete MULTI/EXEC transaction".
                        self.valid_up_to = self.valid_before_multi;
                        return Err(Stop::ShortRead);
                    }
                    return Ok(None);
                }
                Some(l) if l.first() == Some(&b'#') => {
                    self.valid_up_to = self.offset;
                    continue;
                }
                Some(l) => break l,
            }
        };
        if head[0] != b'*' {
            return Err(Stop::Format);
        }
        if head.len() == 1 {
            return Err(Stop::ShortRead);
        }
        let argc = Self::number(&head[1..]);
        if argc < 1 {
            return Err(Stop::Format);
        }
        let mut args = Vec::new();
        for _ in 0..argc {
            let Some(l) = self.line()? else {
                return Err(Stop::ShortRead);
            };
            if l[0] != b'$' {
                return Err(Stop::Format);
            }
            let len = Self::number(&l[1..]).max(0) as u64;
            let mut arg = Vec::new();
            let got = (&mut self.r)
                .take(len)
                .read_to_end(&mut arg)
                .map_err(|e| Stop::Io(e.to_string()))?;
            self.offset += got as u64;
            if (got as u64) < len {
                return Err(Stop::ShortRead);
            }
            let mut crlf = Vec::new();
            let got = (&mut self.r)
                .take(2)
                .read_to_end(&mut crlf)
                .map_err(|e| Stop::Io(e.to_string()))?;
            self.offset += got as u64;
            if got < 2 {
                return Err(Stop::ShortRead);
            }
            args.push(Bytes::from(arg));
        }
        let name = &args[0];
        if name.eq_ignore_ascii_case(b"multi") {
            self.valid_before_multi = self.valid_up_to;
            self.in_multi = true;
        } else if name.eq_ignore_ascii_case(b"exec") || name.eq_ignore_ascii_case(b"discard") {
            self.in_multi = false;
        }
        Ok(Some(args))
    }

    /// Marks the command just returned as applied: the file is valid up to here.
    pub fn applied(&mut self) {
        if !self.in_multi {
            self.valid_up_to = self.offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8]) -> (Vec<Vec<Bytes>>, Result<(), Stop>, u64) {
        let mut c = Commands::new(text, 0);
        let mut out = Vec::new();
        loop {
            match c.next_command() {
                Ok(Some(a)) => {
                    out.push(a);
                    c.applied();
                }
                Ok(None) => return (out, Ok(()), c.valid_up_to),
                Err(e) => return (out, Err(e), c.valid_up_to),
            }
        }
    }

    #[test]
    fn reads_commands_and_skips_annotations() {
        let t =
            b"#TS:123\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";
        let (cmds, end, valid) = all(t);
        assert_eq!(end, Ok(()));
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[1], vec![Bytes::from("SET"), "k".into(), "".into()]);
        assert_eq!(valid, t.len() as u64);
    }

    #[test]
    fn a_cut_file_stops_at_its_last_whole_command() {
        let whole = b"*1\r\n$4\r\nPING\r\n".to_vec();
        let mut t = whole.clone();
        t.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$100\r\nabc");
        let (cmds, end, valid) = all(&t);
        assert_eq!(
            (cmds.len(), end, valid),
            (1, Err(Stop::ShortRead), whole.len() as u64)
        );
        // A declared length past the end allocates nothing large and is a short read.
        let (_, end, _) = all(b"*1\r\n$999999999999\r\nx");
        assert_eq!(end, Err(Stop::ShortRead));
        let (_, end, _) = all(b"*99999999999\r\n");
        assert_eq!(end, Err(Stop::ShortRead));
    }

    #[test]
    fn an_unfinished_transaction_is_dropped() {
        let head = b"*1\r\n$4\r\nPING\r\n".to_vec();
        let mut t = head.clone();
        t.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n");
        let (_, end, valid) = all(&t);
        assert_eq!((end, valid), (Err(Stop::ShortRead), head.len() as u64));
        t.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        let (cmds, end, valid) = all(&t);
        assert_eq!((cmds.len(), end, valid), (4, Ok(()), t.len() as u64));
    }

    #[test]
    fn garbage_is_a_format_error() {
        assert_eq!(all(b"hello\r\n").1, Err(Stop::Format));
        assert_eq!(all(b"*0\r\n").1, Err(Stop::Format));
        assert_eq!(all(b"*1\r\nxx\r\n").1, Err(Stop::Format));
    }
}
