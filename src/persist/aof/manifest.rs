//! The AOF manifest (Redis 7.0's multi-part AOF): which files in `appenddirname` make up the
//! dataset, one line per file, `file <name> seq <n> type <b|h|i>`. The base file comes
//! first, then the history files (to delete), then the incremental files in sequence order.
//! Written to a temp file, fsynced and renamed, so a crash leaves the previous manifest.
//! Parse errors are Redis's texts (a bad manifest stops the server at startup).
use std::io::Write;
use std::path::Path;

/// Redis's MANIFEST_MAX_LINE.
const MAX_LINE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Base,
    History,
    Incr,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Base => 'b',
            Kind::History => 'h',
            Kind::Incr => 'i',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub seq: u64,
    pub kind: Kind,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileInfo>,
    pub history: Vec<FileInfo>,
    pub incr: Vec<FileInfo>,
    /// The highest sequence numbers handed out (new names continue from them).
    pub base_seq: u64,
    pub incr_seq: u64,
}

impl Manifest {
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incr.is_empty()
    }

    /// The files holding data, in loading order: the base, then the incremental files.
    pub fn live(&self) -> impl Iterator<Item = &FileInfo> {
        self.base.iter().chain(self.incr.iter())
    }

    /// Redis's getNewBaseFileNameAndMarkPreAsHistory: `<prefix>.<seq>.base.rdb`.
    pub fn new_base(&mut self, prefix: &str) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = Kind::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let name = format!("{prefix}.{}.base.rdb", self.base_seq);
        self.base = Some(FileInfo {
            name: name.clone(),
            seq: self.base_seq,
            kind: Kind::Base,
        });
        name
    }

    /// Redis's getNewIncrAofName: `<prefix>.<seq>.incr.aof`, appended to the list.
    pub fn new_incr(&mut self, prefix: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{prefix}.{}.incr.aof", self.incr_seq);
        self.incr.push(FileInfo {
            name: name.clone(),
            seq: self.incr_seq,
            kind: Kind::Incr,
        });
        name
    }

    /// The incremental file being written to (a new one when there is none).
    pub fn last_incr(&mut self, prefix: &str) -> String {
        match self.incr.last() {
            Some(f) => f.name.clone(),
            None => self.new_incr(prefix),
        }
    }

    /// After a rewrite: the incremental files it covers become history. `keep_last`: the
    /// newest one (opened when the rewrite began) is still being written.
    pub fn rewritten(&mut self, keep_last: bool) {
        let keep = if keep_last { self.incr.pop() } else { None };
        for mut f in self.incr.drain(..).rev() {
            f.kind = Kind::History;
            self.history.insert(0, f);
        }
        self.incr.extend(keep);
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let all = self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incr.iter());
        for f in all {
            let name = if needs_repr(&f.name) {
                crate::util::repr(f.name.as_bytes())
            } else {
                f.name.clone()
            };
            out.push_str(&format!(
                "file {name} seq {} type {}\n",
                f.seq,
                f.kind.letter()
            ));
        }
        out
    }

    /// Parses a manifest file's content as Redis's aofLoadManifestFromFile.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        if text.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        let mut rest = text;
        while !rest.is_empty() {
            // fgets: at most MAX_LINE bytes, up to and including the newline.
            let take = rest
                .iter()
                .take(MAX_LINE)
                .position(|&c| c == b'\n')
                .map_or(rest.len().min(MAX_LINE), |p| p + 1);
            let (line, tail) = rest.split_at(take);
            rest = tail;
            if line.first() == Some(&b'#') {
                continue;
            }
            if !line.contains(&b'\n') {
                return Err("The AOF manifest file contains too long line".into());
            }
            m.add_line(line)?;
        }
        Ok(m)
    }

    fn add_line(&mut self, line: &[u8]) -> Result<(), String> {
        let invalid = || "Invalid AOF manifest file format".to_string();
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return Err(invalid());
        }
        let argv = crate::protocol::inline::split_args(trimmed).map_err(|_| invalid())?;
        if argv.len() < 6 || argv.len() % 2 != 0 {
            return Err(invalid());
        }
        let (mut name, mut seq, mut kind) = (None, 0u64, None);
        for kv in argv.chunks(2) {
            let v = &kv[1];
            if kv[0].eq_ignore_ascii_case(b"file") {
                let n = String::from_utf8_lossy(v).into_owned();
                if n.contains('/') {
                    return Err("File can't be a path, just a filename".into());
                }
                name = Some(n);
            } else if kv[0].eq_ignore_ascii_case(b"seq") {
                seq = atoll(v);
            } else if kv[0].eq_ignore_ascii_case(b"type") {
                kind = v.first().copied();
            }
        }
        let (Some(name), Some(kind)) = (name.filter(|n| !n.is_empty()), kind) else {
            return Err(invalid());
        };
        if seq == 0 || kind == 0 {
            return Err(invalid());
        }
        match kind {
            b'b' => {
                if self.base.is_some() {
                    return Err("Found duplicate base file information".into());
                }
                self.base_seq = seq;
                self.base = Some(FileInfo {
                    name,
                    seq,
                    kind: Kind::Base,
                });
            }
            b'h' => self.history.push(FileInfo {
                name,
                seq,
                kind: Kind::History,
            }),
            b'i' => {
                if self.incr.last().is_some_and(|l| seq <= l.seq) {
                    return Err("Found a non-monotonic sequence number".into());
                }
                self.incr_seq = seq;
                self.incr.push(FileInfo {
                    name,
                    seq,
                    kind: Kind::Incr,
                });
            }
            _ => return Err("Unknown AOF file type".into()),
        }
        Ok(())
    }
}

/// C's atoll as Redis uses it for `seq`: leading digits, 0 when none (then refused). A
/// negative number is taken as not given.
fn atoll(v: &[u8]) -> u64 {
    let digits: Vec<u8> = v.iter().copied().take_while(u8::is_ascii_digit).collect();
    std::str::from_utf8(&digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// sdsneedsrepr: a name with spaces, quotes or unprintable bytes is written quoted.
fn needs_repr(s: &str) -> bool {
    s.bytes().any(|c| {
        matches!(c, b'\\' | b'"' | b'\n' | b'\r' | b'\t' | 7 | 8)
            || !(0x20..=0x7e).contains(&c)
            || c == b' '
    })
}

pub fn file_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

/// Reads `dir/<prefix>.manifest`: Ok(None) when the directory or the file is missing.
pub fn read(dir: &Path, prefix: &str) -> Result<Option<Manifest>, String> {
    let path = dir.join(file_name(prefix));
    match std::fs::read(&path) {
        Ok(text) => Manifest::parse(&text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "can't open the AOF manifest file {} for reading: {e}",
            path.display()
        )),
    }
}

/// Writes the manifest atomically: temp file, fsync, rename, directory fsync.
pub fn write(dir: &Path, prefix: &str, m: &Manifest) -> std::io::Result<()> {
    let tmp = dir.join(format!("temp-{}", file_name(prefix)));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(m.render().as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(file_name(prefix)))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_parses_back() {
        let mut m = Manifest::default();
        m.new_base("appendonly.aof");
        m.new_incr("appendonly.aof");
        m.new_incr("appendonly.aof");
        m.new_base("appendonly.aof");
        m.rewritten(true);
        let text = m.render();
        assert_eq!(
            text,
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn names_with_spaces_are_quoted() {
        let mut m = Manifest::default();
        m.new_incr("my aof");
        let text = m.render();
        assert_eq!(text, "file \"my aof.1.incr.aof\" seq 1 type i\n");
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
    }

    #[test]
    fn malformed_manifests_get_redis_errors() {
        let err = |t: &str| Manifest::parse(t.as_bytes()).unwrap_err();
        assert_eq!(err(""), "Found an empty AOF manifest");
        assert_eq!(
            err("file a seq 1 type b"),
            "The AOF manifest file contains too long line"
        );
        assert_eq!(err("\n"), "Invalid AOF manifest file format");
        assert_eq!(err("file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(
            err("file a seq 0 type b\n"),
            "Invalid AOF manifest file format"
        );
        assert_eq!(
            err("file x/a seq 1 type b\n"),
            "File can't be a path, just a filename"
        );
        assert_eq!(
            err("file a seq 1 type b\nfile b seq 2 type b\n"),
            "Found duplicate base file information"
        );
        assert_eq!(
            err("file a seq 2 type i\nfile b seq 2 type i\n"),
            "Found a non-monotonic sequence number"
        );
        assert_eq!(err("file a seq 1 type x\n"), "Unknown AOF file type");
        let long = format!("file {} seq 1 type b\n", "a".repeat(1100));
        assert_eq!(err(&long), "The AOF manifest file contains too long line");
        // Comments and extra keys (forward compatibility) are fine.
        let m = Manifest::parse(b"# hi\nfile a seq 3 type i startoffset 5\n").unwrap();
        assert_eq!(m.incr_seq, 3);
    }
}
