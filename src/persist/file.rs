//! Writing a snapshot file: `temp-<pid>-<n>.rdb` in the working directory, the CRC64 kept as
//! bytes pass, then EOF + checksum, fsync, rename over `dbfilename`, and fsync of the
//! directory, so a crash at any point leaves the previous file intact.
use crate::store::rdb::{encode, CRC64};
use crate::store::snapshot::{encode_deferred, Chunk};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct SnapshotFile {
    w: BufWriter<File>,
    tmp: PathBuf,
    target: PathBuf,
    crc: crc::Digest<'static, u64, crc::Table<16>>,
    checksum: bool,
    pub opts: encode::Options,
    pub bytes: u64,
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
            w: BufWriter::with_capacity(1 << 20, f),
            tmp,
            target,
            crc: CRC64.digest(),
            checksum,
            opts,
            bytes: 0,
        })
    }

    pub fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        if self.checksum {
            self.crc.update(b);
        }
        self.bytes += b.len() as u64;
        self.w.write_all(b)
    }

    /// Writes a step's bytes, then its deferred values (encoded here, outside the lock).
    pub fn write_chunk(&mut self, c: &Chunk) -> std::io::Result<()> {
        self.write(&c.bytes)?;
        if !c.deferred.is_empty() {
            let mut buf = Vec::new();
            encode_deferred(&mut buf, &c.deferred, &self.opts);
            self.write(&buf)?;
        }
        Ok(())
    }

    /// EOF, checksum (0 when rdbchecksum is off), fsync, rename, directory fsync.
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.write(&[crate::store::rdb::RDB_OPCODE_EOF])?;
        let crc = if self.checksum {
            self.crc.clone().finalize()
        } else {
            0
        };
        self.w.write_all(&crc.to_le_bytes())?;
        self.bytes += 8;
        let f = self.w.into_inner().map_err(|e| e.into_error())?;
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
        Ok(self.bytes)
    }

    /// Removes the temporary file of a save that did not complete.
    pub fn discard(self) {
        let tmp = self.tmp.clone();
        drop(self.w);
        let _ = std::fs::remove_file(tmp);
    }
}
