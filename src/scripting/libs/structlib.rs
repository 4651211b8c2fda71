//! Roberto Ierusalimschy's `struct` library as Redis bundles it (deps/lua/src/lua_struct.c,
//! with Redis's bounds checks): `pack(fmt, ...)`, `unpack(fmt, s [, pos])` (the values, then
//! the next position) and `size(fmt)`. Format: `>` big endian, `<` little endian, `![n]`
//! alignment, `x` padding byte, `b/B h/H l/L T i[n]/I[n]` integers (lower case signed, `i`/`I`
//! up to 32 bytes held in 64 bits), `f`/`d` floats, `c[n]` fixed strings (`c0`: the whole
//! string, or in unpack the size from the previous value), `s` zero-terminated strings.
use super::support::{self, arg_error, check_stack, lua_State, raise};
use crate::scripting::lua;
use mlua_sys as ffi;
use std::ffi::{c_char, c_int};
use std::mem::MaybeUninit;

/// Largest `i`/`I` size (MAXINTSIZE).
const MAX_INT_SIZE: c_int = 32;
/// Default `!` alignment: the platform's maximum (double) alignment.
const MAX_ALIGN: c_int = 8;

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// The format string (argument 1) up to its first NUL, as the C code reads it.
unsafe fn format_arg<'a>(l: *mut lua_State) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::luaL_checklstring(l, 1, &mut len) as *const u8;
    let s = std::slice::from_raw_parts(p, len);
    match s.iter().position(|&b| b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

/// A decimal count at `*i` (advancing past it), or `default` if there is none.
unsafe fn get_num(l: *mut lua_State, fmt: &[u8], i: &mut usize, default: c_int) -> c_int {
    if !fmt.get(*i).is_some_and(u8::is_ascii_digit) {
        return default;
    }
    let mut a: c_int = 0;
    while let Some(&d) = fmt.get(*i).filter(|d| d.is_ascii_digit()) {
        let d = (d - b'0') as c_int;
        if a > c_int::MAX / 10 || a * 10 > c_int::MAX - d {
            raise!(l, c"integral size overflow");
        }
        a = a * 10 + d;
        *i += 1;
    }
    a
}

/// The size of option `opt` (reading its count from the format); 0 for options without one.
unsafe fn opt_size(l: *mut lua_State, opt: u8, fmt: &[u8], i: &mut usize) -> usize {
    match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => get_num(l, fmt, i, 1) as usize,
        b'i' | b'I' => {
            let sz = get_num(l, fmt, i, 4);
            if sz > MAX_INT_SIZE {
                raise!(
                    l,
                    c"integral size %d is larger than limit of %d",
                    sz,
                    MAX_INT_SIZE
                );
            }
            sz as usize
        }
        _ => 0,
    }
}

/// Padding needed before an item of `size` bytes at offset `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// Endianness, alignment and blanks; anything else is an invalid option.
unsafe fn control_option(l: *mut lua_State, opt: u8, fmt: &[u8], i: &mut usize, h: &mut Header) {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = get_num(l, fmt, i, MAX_ALIGN);
            if a <= 0 || a & (a - 1) != 0 {
                raise!(l, c"alignment %d is not a power of 2", a);
            }
            h.align = a as usize;
        }
        _ => {
            let msg = ffi::lua_pushfstring(l, c"invalid format option '%c'".as_ptr(), opt as c_int);
            arg_error(l, 1, msg);
        }
    }
}

/// The number at `arg` as the C code converts it to an unsigned 64-bit integer.
unsafe fn integer_arg(l: *mut lua_State, arg: c_int) -> u64 {
    let n = ffi::luaL_checknumber(l, arg);
    if n < 0.0 {
        support::c_i64(n) as u64
    } else {
        support::c_u64(n)
    }
}

unsafe fn add(b: *mut ffi::luaL_Buffer, bytes: &[u8]) {
    ffi::luaL_addlstring(b, bytes.as_ptr() as *const c_char, bytes.len());
}

unsafe extern "C-unwind" fn pack(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        let fmt = format_arg(l);
        let mut h = Header::new();
        let mut arg: c_int = 2;
        let mut total: usize = 0;
        ffi::lua_pushnil(l); // separates the arguments from the buffer's pieces
        let mut buffer = MaybeUninit::<ffi::luaL_Buffer>::uninit();
        let b = buffer.as_mut_ptr();
        ffi::luaL_buffinit(l, b);
        let mut i = 0;
        while i < fmt.len() {
            let opt = fmt[i];
            i += 1;
            let mut size = opt_size(l, opt, fmt, &mut i);
            let pad = to_align(total, &h, opt, size);
            total = total.wrapping_add(pad);
            for _ in 0..pad {
                add(b, &[0]);
            }
            match opt {
                b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                    let mut value = integer_arg(l, arg);
                    arg += 1;
                    let mut bytes = [0u8; MAX_INT_SIZE as usize];
                    for k in 0..size {
                        let at = if h.little { k } else { size - 1 - k };
                        bytes[at] = value as u8;
                        value >>= 8;
                    }
                    add(b, &bytes[..size]);
                }
                b'x' => add(b, &[0]),
                b'f' => {
                    let f = ffi::luaL_checknumber(l, arg) as f32;
                    arg += 1;
                    add(
                        b,
                        &if h.little {
                            f.to_le_bytes()
                        } else {
                            f.to_be_bytes()
                        },
                    );
                }
                b'd' => {
                    let d = ffi::luaL_checknumber(l, arg);
                    arg += 1;
                    add(
                        b,
                        &if h.little {
                            d.to_le_bytes()
                        } else {
                            d.to_be_bytes()
                        },
                    );
                }
                b'c' | b's' => {
                    let mut len = 0usize;
                    let s = ffi::luaL_checklstring(l, arg, &mut len);
                    arg += 1;
                    if size == 0 {
                        size = len;
                    }
                    if len < size {
                        arg_error(l, arg, c"string too short".as_ptr());
                    }
                    ffi::luaL_addlstring(b, s, size);
                    if opt == b's' {
                        add(b, &[0]);
                        size += 1;
                    }
                }
                _ => control_option(l, opt, fmt, &mut i, &mut h),
            }
            total = total.wrapping_add(size);
        }
        ffi::luaL_pushresult(b);
        1
    })
}

/// The integer of `bytes.len()` bytes, sign-extended if `signed` (in 64 bits).
fn get_integer(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let mut v: u64 = 0;
    let mut take = |b: u8| v = v << 8 | b as u64;
    if little {
        bytes.iter().rev().for_each(|&b| take(b));
    } else {
        bytes.iter().for_each(|&b| take(b));
    }
    if !signed {
        return v as f64;
    }
    // As compiled C computes `~0 << (size*8 - 1)`: the shift count is taken modulo 64.
    let mask = u64::MAX.wrapping_shl((bytes.len() as u32).wrapping_mul(8).wrapping_sub(1));
    if v & mask != 0 {
        v |= mask;
    }
    v as i64 as f64
}

unsafe extern "C-unwind" fn unpack(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        let mut h = Header::new();
        let fmt = format_arg(l);
        let mut ld = 0usize;
        let data = ffi::luaL_checklstring(l, 2, &mut ld) as *const u8;
        let data = std::slice::from_raw_parts(data, ld);
        let mut pos = ffi::luaL_optinteger(l, 3, 1) as usize;
        if pos == 0 {
            arg_error(l, 3, c"offset must be 1 or greater".as_ptr());
        }
        pos -= 1;
        let mut n: c_int = 0;
        let fits = |pos: usize, size: usize| size <= ld && pos <= ld - size;
        let mut i = 0;
        while i < fmt.len() {
            let opt = fmt[i];
            i += 1;
            let mut size = opt_size(l, opt, fmt, &mut i);
            pos = pos.wrapping_add(to_align(pos, &h, opt, size));
            if !fits(pos, size) {
                arg_error(l, 2, c"data string too short".as_ptr());
            }
            check_stack(l, 2, c"too many results");
            match opt {
                b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                    let v = get_integer(&data[pos..pos + size], h.little, opt.is_ascii_lowercase());
                    ffi::lua_pushnumber(l, v);
                    n += 1;
                }
                b'x' => {}
                b'f' => {
                    let raw: [u8; 4] = data[pos..pos + 4].try_into().unwrap();
                    let f = if h.little {
                        f32::from_le_bytes(raw)
                    } else {
                        f32::from_be_bytes(raw)
                    };
                    ffi::lua_pushnumber(l, f as f64);
                    n += 1;
                }
                b'd' => {
                    let raw: [u8; 8] = data[pos..pos + 8].try_into().unwrap();
                    let d = if h.little {
                        f64::from_le_bytes(raw)
                    } else {
                        f64::from_be_bytes(raw)
                    };
                    ffi::lua_pushnumber(l, d);
                    n += 1;
                }
                b'c' => {
                    if size == 0 {
                        if n == 0 || ffi::lua_isnumber(l, -1) == 0 {
                            raise!(l, c"format 'c0' needs a previous size");
                        }
                        size = support::c_u64(ffi::lua_tonumber(l, -1)) as usize;
                        ffi::lua_pop(l, 1);
                        n -= 1;
                        if !fits(pos, size) {
                            arg_error(l, 2, c"data string too short".as_ptr());
                        }
                    }
                    lua::push_bytes(l, &data[pos..pos + size]);
                    n += 1;
                }
                b's' => {
                    let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                        raise!(l, c"unfinished string in data");
                    };
                    size = end + 1;
                    lua::push_bytes(l, &data[pos..pos + end]);
                    n += 1;
                }
                _ => control_option(l, opt, fmt, &mut i, &mut h),
            }
            pos = pos.wrapping_add(size);
        }
        ffi::lua_pushinteger(l, pos.wrapping_add(1) as ffi::lua_Integer);
        n + 1
    })
}

unsafe extern "C-unwind" fn size(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        let mut h = Header::new();
        let fmt = format_arg(l);
        let mut pos: usize = 0;
        let mut i = 0;
        while i < fmt.len() {
            let opt = fmt[i];
            i += 1;
            let size = opt_size(l, opt, fmt, &mut i);
            pos = pos.wrapping_add(to_align(pos, &h, opt, size));
            if opt == b's' {
                arg_error(l, 1, c"option 's' has no fixed size".as_ptr());
            } else if opt == b'c' && size == 0 {
                arg_error(l, 1, c"option 'c0' has no fixed size".as_ptr());
            }
            if !opt.is_ascii_alphanumeric() {
                control_option(l, opt, fmt, &mut i, &mut h);
            }
            pos = pos.wrapping_add(size);
        }
        ffi::lua_pushinteger(l, pos as ffi::lua_Integer);
        1
    })
}

/// `luaopen_struct`: the `struct` table, also stored as a global.
///
/// # Safety
/// `l` is a valid Lua state; called as a Lua C function (through `lua_call`/`lua_pcall`).
pub unsafe extern "C-unwind" fn open(l: *mut lua_State) -> c_int {
    let funcs: [(&std::ffi::CStr, ffi::lua_CFunction); 3] =
        [(c"pack", pack), (c"unpack", unpack), (c"size", size)];
    ffi::lua_createtable(l, 0, funcs.len() as c_int);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"struct".as_ptr());
    for (name, f) in funcs {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
    1
}

#[cfg(test)]
mod tests {
    use super::super::support::testing::eval;

    const HEX: &str = "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end ";

    fn ok(code: &str) -> String {
        eval(code).unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    fn hex(args: &str) -> String {
        ok(&format!("{HEX} return hex(struct.pack({args}))"))
    }

    fn err(code: &str) -> String {
        eval(code).expect_err(code)
    }

    #[test]
    fn pack_integers() {
        assert_eq!(hex("'>I2', 0x1234"), "1234");
        assert_eq!(hex("'<I2', 0x1234"), "3412");
        assert_eq!(hex("'<i', -2"), "feffffff");
        assert_eq!(hex("'>bBhH', -1, 255, -2, 65535"), "fffffffeffff");
        assert_eq!(hex("'>l', 1"), "0000000000000001");
        assert_eq!(hex("'<i3', 0x123456"), "563412");
        assert_eq!(hex("'>i10', -1"), "0000ffffffffffffffff");
        assert_eq!(hex("'<I2', 65537"), "0100");
        assert_eq!(hex("'>i', 2.9"), "00000002");
    }

    #[test]
    fn pack_other_options() {
        assert_eq!(hex("'>d', 1.5"), "3ff8000000000000");
        assert_eq!(hex("'<f', 1.5"), "0000c03f");
        assert_eq!(hex("'bxb', 1, 2"), "010002");
        assert_eq!(hex("'s', 'ab'"), "616200");
        assert_eq!(hex("'c0', 'abc'"), "616263");
        assert_eq!(hex("'c2', 'abc'"), "6162");
        assert_eq!(hex("'!4 b i', 1, 2"), "0100000002000000");
        assert_eq!(hex("'!b d', 1, 0"), format!("01{}", "00".repeat(15)));
    }

    #[test]
    fn unpack() {
        assert_eq!(ok("return struct.unpack('<h', '\\254\\255')"), "-2 3");
        assert_eq!(ok("return struct.unpack('<H', '\\254\\255')"), "65534 3");
        assert_eq!(ok("return struct.unpack('>i3', '\\255\\255\\254')"), "-2 4");
        assert_eq!(ok("return struct.unpack('s', 'ab\\0cd')"), "ab 4");
        assert_eq!(ok("return struct.unpack('bc0', '\\3abcd')"), "abc 5");
        assert_eq!(ok("return struct.unpack('c2', 'abcd', 2)"), "bc 4");
        assert_eq!(
            ok("return struct.unpack('>d', struct.pack('>d', 0.1))"),
            "0.1 9"
        );
        assert_eq!(
            ok("return struct.unpack('<f', struct.pack('<f', 1.5))"),
            "1.5 5"
        );
        assert_eq!(
            ok("return struct.unpack('!4 b i', struct.pack('!4 b i', 7, -9))"),
            "7 -9 9"
        );
        assert_eq!(
            ok("return struct.unpack('>I8', string.rep('\\255', 8))"),
            "1.844674407371e+19 9"
        );
        assert_eq!(
            ok("return struct.unpack('>i8', string.rep('\\255', 8))"),
            "-1 9"
        );
    }

    #[test]
    fn size() {
        assert_eq!(
            ok("return struct.size('bi'), struct.size('!4 b i'), struct.size('>dhc3')"),
            "5 8 13"
        );
        assert_eq!(ok("return struct.size('!b d'), struct.size('z')"), "16 0");
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("struct.unpack('i', 'ab')"),
            "bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            err("struct.unpack('i', 'abcd', 2)"),
            "bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            err("struct.unpack('i', 'abcd', 0)"),
            "bad argument #3 to 'unpack' (offset must be 1 or greater)"
        );
        assert_eq!(
            err("struct.unpack('i', 'abcd', -1)"),
            "bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(err("struct.unpack('s', 'ab')"), "unfinished string in data");
        assert_eq!(
            err("struct.unpack('c0', 'ab')"),
            "format 'c0' needs a previous size"
        );
        assert_eq!(
            err("struct.unpack('bc0', '\\9ab')"),
            "bad argument #2 to 'unpack' (data string too short)"
        );
        assert_eq!(
            err("struct.pack('i33', 1)"),
            "integral size 33 is larger than limit of 32"
        );
        assert_eq!(
            err("struct.pack('i99999999999', 1)"),
            "integral size overflow"
        );
        assert_eq!(
            err("struct.pack('y')"),
            "bad argument #1 to 'pack' (invalid format option 'y')"
        );
        assert_eq!(err("struct.pack('!3')"), "alignment 3 is not a power of 2");
        assert_eq!(
            err("struct.pack('c3', 'ab')"),
            "bad argument #3 to 'pack' (string too short)"
        );
        assert_eq!(
            err("struct.pack('i', 'x')"),
            "bad argument #2 to 'pack' (number expected, got string)"
        );
        assert_eq!(
            err("struct.pack('i')"),
            "bad argument #2 to 'pack' (number expected, got nil)"
        );
        assert_eq!(
            err("struct.size('s')"),
            "bad argument #1 to 'size' (option 's' has no fixed size)"
        );
        assert_eq!(
            err("struct.size('c0')"),
            "bad argument #1 to 'size' (option 'c0' has no fixed size)"
        );
        assert_eq!(
            err("struct.size('?')"),
            "bad argument #1 to 'size' (invalid format option '?')"
        );
    }
}
