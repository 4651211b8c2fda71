//! The C libraries Redis 7.0 bundles with its Lua (deps/lua/src: lua_cjson, lua_cmsgpack,
//! lua_struct, lua_bit), written again in Rust against the same Lua API. Each `open` behaves
//! like a `luaopen_*` function: called with the library name, it creates the library table,
//! stores it in the globals under that name and returns it.
pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;
mod support;
