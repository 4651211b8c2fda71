//! Reading a whole RDB stream (`rdbLoadRioWithLoadingCtx`): the "REDIS" magic and version
//! (1-10), then opcodes until EOF, then the CRC64 trailer. Each key goes to the caller's
//! `on_key`; AUX fields are collected. Module AUX data is skipped (there are no modules);
//! function libraries (FUNCTION2) are returned as their code for the caller to load.
use super::decode::Reader;
use super::encode::Access;
use super::*;
use crate::store::Value;
use std::io::Read;

/// One key read from the stream.
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_at: Option<u64>,
    pub access: Access,
}

/// What the stream said about itself.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub version: u16,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub keys: u64,
    /// The code of each function library (RDB_OPCODE_FUNCTION2), in stream order.
    pub functions: Vec<Vec<u8>>,
}

impl Summary {
    pub fn aux(&self, name: &str) -> Option<&[u8]> {
        self.aux
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }
}

/// Loads the stream. `databases` bounds SELECTDB; `check_crc` is `rdbchecksum`. `on_key`
/// may refuse a key (an error ends the load).
pub fn load<R: Read>(
    r: &mut Reader<R>,
    databases: usize,
    limits: &Limits,
    check_crc: bool,
    mut on_key: impl FnMut(LoadedKey) -> Result<()>,
) -> Result<Summary> {
    let mut magic = [0u8; 9];
    r.read_exact(&mut magic)?;
    if &magic[..5] != b"REDIS" {
        return r.corrupt("wrong signature trying to load DB from file");
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    if !(1..=RDB_VERSION).contains(&version) {
        return r.corrupt(format!("can't handle RDB format version {version}"));
    }
    let mut sum = Summary {
        version,
        ..Summary::default()
    };
    let mut db = 0usize;
    let mut expire_at: Option<u64> = None;
    let mut access = Access::None;
    loop {
        let op = r.read_u8()?;
        match op {
            RDB_OPCODE_EXPIRETIME => {
                expire_at = Some((r.read_i32_le()? as i64 as u64).wrapping_mul(1000));
            }
            RDB_OPCODE_EXPIRETIME_MS => expire_at = Some(r.read_u64_le()?),
            RDB_OPCODE_FREQ => access = Access::Freq(r.read_u8()?),
            RDB_OPCODE_IDLE => access = Access::Idle(r.read_len()?),
            RDB_OPCODE_EOF => break,
            RDB_OPCODE_SELECTDB => {
                let id = r.read_len()?;
                if id >= databases as u64 {
                    return r.corrupt(format!(
                        "data file was created with a server configured to handle more than \
                         {databases} databases"
                    ));
                }
                db = id as usize;
            }
            RDB_OPCODE_RESIZEDB => {
                r.read_len()?;
                r.read_len()?;
            }
            RDB_OPCODE_AUX => {
                let k = r.read_string()?;
                let v = r.read_string()?;
                sum.aux.push((k, v));
            }
            RDB_OPCODE_MODULE_AUX => {
                r.read_len()?; // module id
                let when_op = r.read_len()?;
                if when_op != RDB_MODULE_OPCODE_UINT {
                    return r.corrupt("bad module aux when-opcode");
                }
                r.read_len()?;
                r.skip_module_value()?;
            }
            RDB_OPCODE_FUNCTION2 => {
                sum.functions.push(r.read_string()?);
            }
            RDB_OPCODE_FUNCTION => {
                return r.corrupt("pre-release function format (7.0 rc1/rc2) is not supported");
            }
            t => {
                let key = r.read_string()?;
                let value = r.read_value(t, limits)?;
                sum.keys += 1;
                on_key(LoadedKey {
                    db,
                    key,
                    value,
                    expire_at: expire_at.take(),
                    access: std::mem::replace(&mut access, Access::None),
                })?;
            }
        }
    }
    if version >= 5 {
        let computed = r.crc();
        let stored = r.read_u64_le()?;
        if check_crc && stored != 0 && stored != computed {
            return r.corrupt("wrong RDB checksum");
        }
    }
    Ok(sum)
}
