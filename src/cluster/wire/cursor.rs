//! Bounds-checked big-endian reading and writing for the cluster bus codec.
//!
//! Owns the only byte-level primitives of `wire`: every read goes through [`Reader`], which
//! returns `None` instead of indexing past the end, so the decoders cannot panic on hostile
//! input. Depends on nothing.

/// A forward-only view over a byte slice. Every read checks the remaining length first.
#[derive(Debug, Clone)]
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes, or `None` (and nothing consumed) if fewer remain.
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.remaining() {
            return None;
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Some(out)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(super) fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
}

pub(super) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(super) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(super) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(super) fn put_zeros(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, 0);
}

/// Writes `s` into a fixed `width`-byte C string field: at most `width - 1` bytes of `s`, then
/// NUL padding, so the field is always NUL-terminated (Redis reads these with `strcmp`/`memcpy`).
pub(super) fn put_cstr_field(out: &mut Vec<u8>, s: &str, width: usize) {
    let bytes = s.as_bytes();
    let n = bytes.len().min(width - 1);
    out.extend_from_slice(&bytes[..n]);
    put_zeros(out, width - n);
}

/// Reads a fixed-width C string field: the bytes before the first NUL, looking at no more than
/// `field.len() - 1` bytes (Redis forces the last byte of an address field to NUL before use).
/// Invalid UTF-8 is replaced rather than rejected: Redis does not validate these bytes either.
pub(super) fn cstr_field(field: &[u8]) -> String {
    let usable = &field[..field.len().saturating_sub(1)];
    let end = usable.iter().position(|&b| b == 0).unwrap_or(usable.len());
    String::from_utf8_lossy(&usable[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Some(0x0102));
        assert_eq!(r.u16(), None);
        assert_eq!(r.remaining(), 1, "a failed read consumes nothing");
        assert_eq!(r.u8(), Some(3));
        assert_eq!(r.take(0), Some(&[][..]));
        assert_eq!(r.u8(), None);
        assert_eq!(r.pos(), 3);
    }

    #[test]
    fn cstr_fields_are_truncated_and_terminated() {
        let mut out = Vec::new();
        put_cstr_field(&mut out, "abcdef", 4);
        assert_eq!(out, b"abc\0");
        assert_eq!(cstr_field(&out), "abc");
        assert_eq!(cstr_field(b"ab\0zz"), "ab");
        assert_eq!(
            cstr_field(b"abcd"),
            "abc",
            "the last byte is never part of the string"
        );
        assert_eq!(cstr_field(b""), "");
    }
}
