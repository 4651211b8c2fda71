//! Writing a snapshot: `SnapshotWriter` streams it to any `Write` (a file, or a replica's
//! socket through a channel) with the CRC64 kept as bytes pass, then EOF + checksum.
//! `SnapshotFile` is the file case: `temp-<pid>-<n>.rdb` in the working directory, fsync,
//! rename over `dbfilename`, and fsync of the directory, so a crash at any point leaves the
//! previous file intact.
use crate::store::rdb::{encode, encode::Sink, CRC64};
use crate::store::snapshot::{encode_deferred, Chunk};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const FLUSH_BYTES: usize = 256 * 1024;

/// Encoder output that goes to the writer every `FLUSH_BYTES` (see `write_chunk`).
struct FileSink<'a, W: Write> {
    file: &'a mut SnapshotWriter<W>,
    buf: Vec<u8>,
    err: Option<std::io::Error>,
    pace: bool,
    since: Instant,
}

impl<W: Write> FileSink<'_, W> {
    fn flush(&mut self) {
        if self.err.is_none() {
            if let Err(e) = self.file.write(&self.buf) {
                self.err = Some(e);
            }
        }
        self.buf.clear();
        if self.pace {
            let rest = self.since.elapsed() * 3;
            std::thread::sleep(rest.min(std::time::Duration::from_millis(50)));
            self.since = Instant::now();
        }
    }
}

impl<W: Write> Sink for FileSink<'_, W> {
    fn push(&mut self, b: u8) {
        self.buf.push(b);
        if self.buf.len() >= FLUSH_BYTES {
            self.flush();
        }
    }

    fn extend_from_slice(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= FLUSH_BYTES {
            self.flush();
        }
    }
}

pub struct SnapshotWriter<W: Write> {
    w: W,
    crc: crc::Digest<'static, u64, crc::Table<16>>,
    checksum: bool,
    pub opts: encode::Options,
    pub bytes: u64,
}

impl<W: Write> SnapshotWriter<W> {
    pub fn new(w: W, opts: encode::Options, checksum: bool) -> SnapshotWriter<W> {
        SnapshotWriter {
            w,
            crc: CRC64.digest(),
            checksum,
            opts,
            bytes: 0,
        }
    }

    pub fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        if self.checksum {
            self.crc.update(b);
        }
        self.bytes += b.len() as u64;
        self.w.write_all(b)
    }

    /// Writes a step's bytes, then its deferred values, encoded here (outside the store lock)
    /// and streamed to the file in 256 KiB pieces. With `pace`, the encoder rests after each
    /// piece three times as long as the piece took (the snapshot thread's duty cycle, so one
    /// huge value does not take the core from clients in one burst).
    pub fn write_chunk(&mut self, c: &Chunk, pace: bool) -> std::io::Result<()> {
        self.write(&c.bytes)?;
        if !c.deferred.is_empty() {
            let opts = self.opts;
            let mut sink = FileSink {
                buf: Vec::with_capacity(FLUSH_BYTES + 1024),
                file: self,
                err: None,
                pace,
                since: Instant::now(),
            };
            encode_deferred(&mut sink, &c.deferred, &opts);
            sink.flush();
            if let Some(e) = sink.err {
                return Err(e);
            }
        }
        Ok(())
    }

    /// EOF and checksum (0 when rdbchecksum is off); returns the writer, flushed.
    pub fn finish_stream(mut self) -> std::io::Result<W> {
        self.write(&[crate::store::rdb::RDB_OPCODE_EOF])?;
        let crc = if self.checksum {
            self.crc.clone().finalize()
        } else {
            0
        };
        self.w.write_all(&crc.to_le_bytes())?;
        self.bytes += 8;
        self.w.flush()?;
        Ok(self.w)
    }
}

pub struct SnapshotFile {
    pub out: SnapshotWriter<BufWriter<File>>,
    tmp: PathBuf,
    target: PathBuf,
}

impl SnapshotFile {
    pub fn create(
        target: PathBuf,
        seq: u64,
        opts: encode::Options,
        checksum: bool,
    ) -> std::io::Result<SnapshotFile> {
        let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
        let tmp = dir.join(format!("temp-{}-{seq}.rdb", std::process::id()));
        let f = File::create(&tmp)?;
        Ok(SnapshotFile {
            out: SnapshotWriter::new(BufWriter::with_capacity(1 << 20, f), opts, checksum),
            tmp,
            target,
        })
    }

    pub fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.out.write(b)
    }

    pub fn write_chunk(&mut self, c: &Chunk, pace: bool) -> std::io::Result<()> {
        self.out.write_chunk(c, pace)
    }

    /// EOF, checksum, fsync, rename, directory fsync. Returns the file's size.
    pub fn finish(self) -> std::io::Result<u64> {
        let bytes = self.out.bytes + 9;
        let w = self.out.finish_stream()?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&self.tmp, &self.target)?;
        let dir = self
            .target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(bytes)
    }

    /// Removes the temporary file of a save that did not complete.
    pub fn discard(self) {
        let tmp = self.tmp.clone();
        drop(self.out);
        let _ = std::fs::remove_file(tmp);
    }
}
