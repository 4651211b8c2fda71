//! Option keywords compared the way Redis compares them. Redis matches option names with
//! `strcasecmp` (or char-by-char tests ending in `'\0'`) on the NUL-terminated argv strings,
//! so an argument is read only up to its first NUL byte: `"NX\0junk"` is the option `NX`.
//! Numbers, keys and values stay binary-safe; only keywords go through here.
//!
//! Pure: no I/O, no state.

/// The argument as C code sees it: up to (not including) the first NUL byte.
pub fn until_nul(arg: &[u8]) -> &[u8] {
    arg.iter().position(|&c| c == 0).map_or(arg, |i| &arg[..i])
}

/// `strcasecmp(arg, word) == 0` on the C-string view of `arg`.
pub fn keyword_eq(arg: &[u8], word: &str) -> bool {
    until_nul(arg).eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_first_nul() {
        assert!(keyword_eq(b"nx", "NX"));
        assert!(keyword_eq(b"NX\0garbage", "NX"));
        assert!(!keyword_eq(b"NXX", "NX"));
        assert!(!keyword_eq(b"\0NX", "NX"));
        assert_eq!(until_nul(b"ab"), b"ab");
    }
}
