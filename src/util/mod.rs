//! Small pure helpers shared by the protocol, the store and the commands: Redis-compatible
//! number parsing/formatting and glob matching. No I/O, no state.
pub mod glob;
pub mod num;
