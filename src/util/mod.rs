//! Small pure helpers shared by the protocol, the store and the commands: Redis-compatible
//! number parsing/formatting (including the x87 `long double` INCRBYFLOAT uses), option
//! keyword matching and glob matching. No I/O, no state.
pub mod cstr;
pub mod geohash;
pub mod glob;
pub mod longdouble;
pub mod num;
