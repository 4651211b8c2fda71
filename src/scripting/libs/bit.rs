//! LuaBitOp 1.0.2 (`bit`), the bitwise operations library Redis bundles: every argument is
//! normalised to a signed 32-bit integer the way LuaBitOp does it (adding 2^52+2^51 to the
//! double and keeping the low 32 bits of its representation, so values wrap modulo 2^32 and
//! fractions round to nearest-even), and every result is returned as a signed 32-bit number.
use super::support::lua_State;
use crate::scripting::lua;
use mlua_sys as ffi;
use std::ffi::{c_char, c_int};

/// The argument at `idx` as 32 bits; a non-number raises LuaBitOp's type error.
unsafe fn arg(l: *mut lua_State, idx: c_int) -> u32 {
    let b = to_bits(ffi::lua_tonumber(l, idx));
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        ffi::luaL_typerror(l, idx, c"number".as_ptr());
    }
    b
}

/// LuaBitOp's normalisation: 2^52+2^51 moves the integer part into the low mantissa bits.
fn to_bits(n: f64) -> u32 {
    (n + 6755399441055744.0).to_bits() as u32
}

unsafe fn ret(l: *mut lua_State, b: u32) -> c_int {
    ffi::lua_pushnumber(l, b as i32 as f64);
    1
}

unsafe extern "C-unwind" fn tobit(l: *mut lua_State) -> c_int {
    lua::guard(l, || ret(l, arg(l, 1)))
}

unsafe extern "C-unwind" fn bnot(l: *mut lua_State) -> c_int {
    lua::guard(l, || ret(l, !arg(l, 1)))
}

/// band/bor/bxor: the first argument combined with the others, last to second.
unsafe fn fold(l: *mut lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let mut b = arg(l, 1);
    let mut i = ffi::lua_gettop(l);
    while i > 1 {
        b = op(b, arg(l, i));
        i -= 1;
    }
    ret(l, b)
}

unsafe extern "C-unwind" fn band(l: *mut lua_State) -> c_int {
    lua::guard(l, || fold(l, |a, b| a & b))
}

unsafe extern "C-unwind" fn bor(l: *mut lua_State) -> c_int {
    lua::guard(l, || fold(l, |a, b| a | b))
}

unsafe extern "C-unwind" fn bxor(l: *mut lua_State) -> c_int {
    lua::guard(l, || fold(l, |a, b| a ^ b))
}

/// Shifts and rotations: the count is taken modulo 32.
unsafe fn shift(l: *mut lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let b = arg(l, 1);
    let n = arg(l, 2) & 31;
    ret(l, op(b, n))
}

unsafe extern "C-unwind" fn lshift(l: *mut lua_State) -> c_int {
    lua::guard(l, || shift(l, |b, n| b << n))
}

unsafe extern "C-unwind" fn rshift(l: *mut lua_State) -> c_int {
    lua::guard(l, || shift(l, |b, n| b >> n))
}

unsafe extern "C-unwind" fn arshift(l: *mut lua_State) -> c_int {
    lua::guard(l, || shift(l, |b, n| ((b as i32) >> n) as u32))
}

unsafe extern "C-unwind" fn rol(l: *mut lua_State) -> c_int {
    lua::guard(l, || shift(l, |b, n| b.rotate_left(n)))
}

unsafe extern "C-unwind" fn ror(l: *mut lua_State) -> c_int {
    lua::guard(l, || shift(l, |b, n| b.rotate_right(n)))
}

unsafe extern "C-unwind" fn bswap(l: *mut lua_State) -> c_int {
    lua::guard(l, || ret(l, arg(l, 1).swap_bytes()))
}

/// tohex(x [, n]): the low |n| hex digits (default 8, at most 8), upper case if n < 0.
unsafe extern "C-unwind" fn tohex(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        let mut b = arg(l, 1);
        let mut n = if ffi::lua_isnone(l, 2) != 0 {
            8
        } else {
            arg(l, 2) as i32
        };
        let digits: &[u8; 16] = if n < 0 {
            n = n.wrapping_neg();
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        // -(-2^31) overflows in C too (reading past its buffer); clamp it to 8 digits.
        let n = if !(0..=8).contains(&n) { 8 } else { n as usize };
        let mut buf = [0u8; 8];
        for i in (0..n).rev() {
            buf[i] = digits[(b & 15) as usize];
            b >>= 4;
        }
        ffi::lua_pushlstring_(l, buf.as_ptr() as *const c_char, n);
        1
    })
}

/// `luaopen_bit`: the `bit` table, also stored as a global.
///
/// # Safety
/// `l` is a valid Lua state; called as a Lua C function (through `lua_call`/`lua_pcall`).
pub unsafe extern "C-unwind" fn open(l: *mut lua_State) -> c_int {
    let funcs: [(&std::ffi::CStr, ffi::lua_CFunction); 12] = [
        (c"tobit", tobit),
        (c"bnot", bnot),
        (c"band", band),
        (c"bor", bor),
        (c"bxor", bxor),
        (c"lshift", lshift),
        (c"rshift", rshift),
        (c"arshift", arshift),
        (c"rol", rol),
        (c"ror", ror),
        (c"bswap", bswap),
        (c"tohex", tohex),
    ];
    ffi::lua_createtable(l, 0, funcs.len() as c_int);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"bit".as_ptr());
    for (name, f) in funcs {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
    1
}

#[cfg(test)]
mod tests {
    use super::super::support::testing::eval;

    fn ok(code: &str) -> String {
        eval(code).unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    #[test]
    fn normalisation() {
        assert_eq!(ok("return bit.tobit(0xffffffff)"), "-1");
        assert_eq!(ok("return bit.tobit(0xffffffff + 1)"), "0");
        assert_eq!(ok("return bit.tobit(2^40 + 1234)"), "1234");
        assert_eq!(
            ok("return bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5)"),
            "2 2 -2"
        );
        assert_eq!(ok("return bit.tobit('10')"), "10");
        assert_eq!(ok("return bit.tobit(2147483648)"), "-2147483648");
    }

    #[test]
    fn logic_ops() {
        assert_eq!(
            ok("return bit.bnot(0), bit.bnot(0x12345678)"),
            "-1 -305419897"
        );
        assert_eq!(ok("return bit.bor(1,2,4,8,16,32,64,128)"), "255");
        assert_eq!(ok("return bit.band(0x12345678, 0xff)"), "120");
        assert_eq!(ok("return bit.bxor(0xa5a5f0f0, 0xaa55ff00)"), "267390960");
        assert_eq!(ok("return bit.band(1), bit.bxor(1, 2)"), "1 3");
        assert_eq!(ok("return bit.band(0xff, 0x0f, 0x3c)"), "12");
    }

    #[test]
    fn shifts_and_rotations() {
        assert_eq!(
            ok("return bit.lshift(1, 0), bit.lshift(1, 8), bit.lshift(1, 40)"),
            "1 256 256"
        );
        assert_eq!(
            ok("return bit.rshift(256, 8), bit.rshift(-256, 8), bit.arshift(-256, 8)"),
            "1 16777215 -1"
        );
        assert_eq!(ok("return bit.lshift(0x87654321, 12)"), "1412567040");
        assert_eq!(ok("return bit.rshift(0x87654321, 12)"), "554580");
        assert_eq!(ok("return bit.arshift(0x87654321, 12)"), "-493996");
        assert_eq!(
            ok("return bit.rol(0x12345678, 12), bit.ror(0x12345678, 12)"),
            "1164411171 1736516421"
        );
        assert_eq!(
            ok("return bit.rol(0x12345678, 0), bit.ror(0x12345678, 32)"),
            "305419896 305419896"
        );
        assert_eq!(
            ok("return bit.bswap(0x12345678), bit.bswap(0x78563412)"),
            "2018915346 305419896"
        );
    }

    #[test]
    fn tohex() {
        assert_eq!(
            ok("return bit.tohex(1), bit.tohex(-1), bit.tohex(0xffffffff)"),
            "00000001 ffffffff ffffffff"
        );
        assert_eq!(
            ok("return bit.tohex(-1, -8), bit.tohex(0x21, 4), bit.tohex(0x87654321, 4)"),
            "FFFFFFFF 0021 4321"
        );
        assert_eq!(
            ok("return bit.tohex(0x87654321, 20), bit.tohex(255, -2), bit.tohex(1, 0) == ''"),
            "87654321 FF true"
        );
    }

    #[test]
    fn type_errors() {
        assert_eq!(
            eval("return bit.tobit('x')").unwrap_err(),
            "bad argument #1 to 'tobit' (number expected, got string)"
        );
        assert_eq!(
            eval("return bit.band(1, {})").unwrap_err(),
            "bad argument #2 to 'band' (number expected, got table)"
        );
        assert_eq!(
            eval("return bit.lshift(1)").unwrap_err(),
            "bad argument #2 to 'lshift' (number expected, got no value)"
        );
        // A string that converts to 0 is a number.
        assert_eq!(ok("return bit.bor('0', 1)"), "1");
    }

    #[test]
    fn redis_suite_minimal() {
        assert_eq!(ok("assert(bit.tobit(1) == 1); assert(bit.band(1) == 1); assert(bit.bxor(1,2) == 3); assert(bit.bor(1,2,4,8,16,32,64,128) == 255); return 1"), "1");
        let v = ok("local version = 0x070012; return bit.band(bit.rshift(version, 16), 0x000000ff), bit.band(bit.rshift(version, 8), 0x000000ff), bit.band(version, 0x000000ff)");
        assert_eq!(v, "7 0 18");
    }
}
