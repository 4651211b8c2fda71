//! Small pure helpers shared by the protocol, the store and the commands: Redis-compatible
//! number parsing/formatting (including the x87 `long double` INCRBYFLOAT uses), option
//! keyword matching, glob matching and the wall clock in unix ms. No I/O, no state.
pub mod cstr;
pub mod geohash;
pub mod glob;
pub mod longdouble;
pub mod num;

/// Wall-clock time in unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
