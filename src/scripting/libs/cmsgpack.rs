//! lua-cmsgpack 0.4.0 (`cmsgpack`) as Redis bundles it: `pack(...)` (each argument encoded
//! and the encodings concatenated), `unpack(s)` (every value in `s`), `unpack_one(s [, offset])`
//! and `unpack_limit(s, limit [, offset])` (the next offset, -1 at the end, then the values).
//! Tables whose keys are exactly 1..n are arrays, other tables maps; numbers that are whole
//! int64 values are integers, others float32 when that is lossless, else float64; tables
//! nested 16 levels deep are encoded as nil (so circular references terminate).
use super::support::{self, arg_error, check_stack, lua_State, raise};
use crate::scripting::lua;
use mlua_sys as ffi;
use std::ffi::{c_char, c_int, CStr};

const MAX_NESTING: c_int = 16;

// ---------------------------------------------------------------- encoding

fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

fn encode_double(buf: &mut Vec<u8>, d: f64) {
    let f = d as f32;
    if d == f as f64 {
        buf.push(0xca);
        buf.extend_from_slice(&f.to_be_bytes());
    } else {
        buf.push(0xcb);
        buf.extend_from_slice(&d.to_be_bytes());
    }
}

fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2147483648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

/// An array (`fix`, `small`, `large` = 0x90, 0xdc, 0xdd) or map (0x80, 0xde, 0xdf) header.
fn encode_header(buf: &mut Vec<u8>, n: u64, fix: u8, small: u8, large: u8) {
    if n <= 15 {
        buf.push(fix | n as u8);
    } else if n <= 65535 {
        buf.push(small);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(large);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// True if the table on top has exactly the keys 1..n.
unsafe fn table_is_array(l: *mut lua_State) -> bool {
    let top = ffi::lua_gettop(l);
    let (mut count, mut max): (c_int, c_int) = (0, 0);
    check_stack(l, 2, c"in function table_is_an_array");
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pop(l, 1);
        let n = ffi::lua_tonumber(l, -1);
        if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER
            || n <= 0.0
            || n.is_infinite()
            || support::c_i32(n) as f64 != n
        {
            ffi::lua_settop(l, top);
            return false;
        }
        if n > max as f64 {
            max = n as c_int;
        }
        count = count.wrapping_add(1);
    }
    ffi::lua_settop(l, top);
    max == count
}

unsafe fn encode_table(l: *mut lua_State, buf: &mut Vec<u8>, level: c_int) {
    if table_is_array(l) {
        let len = ffi::lua_objlen(l, -1);
        encode_header(buf, len as u64, 0x90, 0xdc, 0xdd);
        check_stack(l, 1, c"in function mp_encode_lua_table_as_array");
        for j in 1..=len {
            ffi::lua_pushnumber(l, j as f64);
            ffi::lua_gettable(l, -2);
            encode_value(l, buf, level + 1);
        }
    } else {
        check_stack(l, 3, c"in function mp_encode_lua_table_as_map");
        let mut len: u64 = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pop(l, 1);
            len += 1;
        }
        encode_header(buf, len, 0x80, 0xde, 0xdf);
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pushvalue(l, -2);
            encode_value(l, buf, level + 1); // the key
            encode_value(l, buf, level + 1); // the value
        }
    }
}

/// Encodes the value on top of the stack and pops it.
unsafe fn encode_value(l: *mut lua_State, buf: &mut Vec<u8>, level: c_int) {
    let mut t = ffi::lua_type(l, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TSTRING => encode_bytes(buf, lua::to_bytes(l, -1).unwrap_or_default()),
        ffi::LUA_TBOOLEAN => buf.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => {
            let n = ffi::lua_tonumber(l, -1);
            if !n.is_infinite() && support::c_i64(n) as f64 == n {
                encode_int(buf, ffi::lua_tointeger_(l, -1) as i64);
            } else {
                encode_double(buf, n);
            }
        }
        ffi::LUA_TTABLE => encode_table(l, buf, level),
        _ => buf.push(0xc0),
    }
    ffi::lua_pop(l, 1);
}

unsafe extern "C-unwind" fn pack(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        let nargs = ffi::lua_gettop(l);
        if nargs == 0 {
            arg_error(l, 0, c"MessagePack pack needs input.".as_ptr());
        }
        if ffi::lua_checkstack(l, nargs) == 0 {
            arg_error(l, 0, c"Too many arguments for MessagePack pack.".as_ptr());
        }
        let buf = support::push_buffer(l);
        for i in 1..=nargs {
            check_stack(l, 1, c"in function mp_check");
            ffi::lua_pushvalue(l, i);
            encode_value(l, &mut *buf, 0);
        }
        support::push_buffer_result(l, buf);
        1
    })
}

// ---------------------------------------------------------------- decoding

#[derive(Clone, Copy, PartialEq, Debug)]
enum DecodeError {
    Eof,
    BadFormat,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.left() < n {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }

    /// The `n` bytes after the type byte; the caller has checked `need(1 + n)`.
    fn be(&self, n: usize) -> u64 {
        self.data[self.pos + 1..self.pos + 1 + n]
            .iter()
            .fold(0, |acc, &b| acc << 8 | b as u64)
    }

    fn bytes(&self, from: usize, len: usize) -> &'a [u8] {
        &self.data[self.pos + from..self.pos + from + len]
    }
}

unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    ffi::lua_pushlstring_(l, b.as_ptr() as *const c_char, b.len());
}

/// Pushes a string of `len` bytes that starts `hdr` bytes after the cursor.
unsafe fn decode_str(
    l: *mut lua_State,
    c: &mut Cursor,
    hdr: usize,
    len: usize,
) -> Result<(), DecodeError> {
    c.need(hdr.saturating_add(len))?;
    push_bytes(l, c.bytes(hdr, len));
    c.pos += hdr + len;
    Ok(())
}

unsafe fn decode_array(l: *mut lua_State, c: &mut Cursor, len: usize) -> Result<(), DecodeError> {
    ffi::lua_createtable(l, 0, 0);
    check_stack(l, 1, c"in function mp_decode_to_lua_array");
    for i in 1..=len {
        ffi::lua_pushnumber(l, i as f64);
        decode_value(l, c)?;
        ffi::lua_settable(l, -3);
    }
    Ok(())
}

unsafe fn decode_map(l: *mut lua_State, c: &mut Cursor, len: usize) -> Result<(), DecodeError> {
    ffi::lua_createtable(l, 0, 0);
    for _ in 0..len {
        decode_value(l, c)?;
        decode_value(l, c)?;
        ffi::lua_settable(l, -3);
    }
    Ok(())
}

/// Decodes the value at the cursor and pushes it.
unsafe fn decode_value(l: *mut lua_State, c: &mut Cursor) -> Result<(), DecodeError> {
    c.need(1)?;
    check_stack(
        l,
        1,
        c"too many return values at once; use unpack_one or unpack_limit instead.",
    );
    let t = c.data[c.pos];
    // Fixed-size scalars: (encoding length, value as a number).
    let scalar = |n: usize| -> Result<u64, DecodeError> {
        c.need(1 + n)?;
        Ok(c.be(n))
    };
    let (len, num): (usize, f64) = match t {
        0xcc => (2, scalar(1)? as f64),
        0xd0 => (2, scalar(1)? as i8 as f64),
        0xcd => (3, scalar(2)? as f64),
        0xd1 => (3, scalar(2)? as i16 as f64),
        0xce => (5, scalar(4)? as f64),
        0xd2 => (5, scalar(4)? as i32 as f64),
        // uint64 goes through lua_pushinteger: values above 2^63 come out negative.
        0xcf | 0xd3 => (9, scalar(8)? as i64 as f64),
        0xca => (5, f32::from_bits(scalar(4)? as u32) as f64),
        0xcb => (9, f64::from_bits(scalar(8)?)),
        0xc0 | 0xc2 | 0xc3 => {
            match t {
                0xc0 => ffi::lua_pushnil(l),
                b => ffi::lua_pushboolean(l, (b == 0xc3) as c_int),
            }
            c.pos += 1;
            return Ok(());
        }
        0xd9..=0xdb => {
            let hdr = 1usize << (t - 0xd9); // 1, 2 or 4 length bytes
            let n = scalar(hdr)? as usize;
            return decode_str(l, c, 1 + hdr, n);
        }
        0xdc..=0xdf => {
            let hdr = if t == 0xdc || t == 0xde { 2 } else { 4 };
            let n = scalar(hdr)? as usize;
            c.pos += 1 + hdr;
            return if t <= 0xdd {
                decode_array(l, c, n)
            } else {
                decode_map(l, c, n)
            };
        }
        0x00..=0x7f => (1, t as f64),
        0xe0..=0xff => (1, t as i8 as f64),
        0xa0..=0xbf => return decode_str(l, c, 1, (t & 0x1f) as usize),
        0x90..=0x9f => {
            c.pos += 1;
            return decode_array(l, c, (t & 0xf) as usize);
        }
        0x80..=0x8f => {
            c.pos += 1;
            return decode_map(l, c, (t & 0xf) as usize);
        }
        _ => return Err(DecodeError::BadFormat),
    };
    ffi::lua_pushnumber(l, num);
    c.pos += len;
    Ok(())
}

unsafe fn unpack_full(l: *mut lua_State, limit: i64, offset: i64) -> c_int {
    let mut len = 0usize;
    let s = ffi::luaL_checklstring(l, 1, &mut len) as *const u8;
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        raise!(
            l,
            c"Invalid request to unpack with offset of %d and limit of %d.",
            offset as c_int,
            len as c_int
        );
    } else if offset as u64 > len as u64 {
        raise!(
            l,
            c"Start offset %d greater than input length %d.",
            offset as c_int,
            len as c_int
        );
    }
    let limit = if decode_all { c_int::MAX as i64 } else { limit };
    let mut c = Cursor {
        data: std::slice::from_raw_parts(s, len),
        pos: offset as usize,
    };
    let mut cnt: c_int = 0;
    while c.left() > 0 && (cnt as i64) < limit {
        match decode_value(l, &mut c) {
            Ok(()) => {}
            Err(DecodeError::Eof) => raise!(l, c"Missing bytes in input."),
            Err(DecodeError::BadFormat) => raise!(l, c"Bad data format in input."),
        }
        cnt += 1;
    }
    if !decode_all {
        check_stack(l, 1, c"in function mp_unpack_full");
        let next = if c.left() == 0 {
            -1
        } else {
            c.pos as ffi::lua_Integer
        };
        ffi::lua_pushinteger(l, next);
        ffi::lua_insert(l, 2);
        cnt += 1;
    }
    cnt
}

unsafe extern "C-unwind" fn unpack(l: *mut lua_State) -> c_int {
    lua::guard(l, || unpack_full(l, 0, 0))
}

unsafe extern "C-unwind" fn unpack_one(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        let offset = ffi::luaL_optinteger(l, 2, 0);
        ffi::lua_pop(l, ffi::lua_gettop(l) - 1);
        unpack_full(l, 1, offset as i64)
    })
}

unsafe extern "C-unwind" fn unpack_limit(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        let limit = ffi::luaL_checkinteger(l, 2);
        let offset = ffi::luaL_optinteger(l, 3, 0);
        ffi::lua_pop(l, ffi::lua_gettop(l) - 1);
        unpack_full(l, limit as i64, offset as i64)
    })
}

/// `luaopen_cmsgpack`: the `cmsgpack` table, also stored as a global.
///
/// # Safety
/// `l` is a valid Lua state; called as a Lua C function (through `lua_call`/`lua_pcall`).
pub unsafe extern "C-unwind" fn open(l: *mut lua_State) -> c_int {
    let funcs: [(&CStr, ffi::lua_CFunction); 4] = [
        (c"pack", pack),
        (c"unpack", unpack),
        (c"unpack_one", unpack_one),
        (c"unpack_limit", unpack_limit),
    ];
    ffi::lua_createtable(l, 0, 0);
    for (name, f) in funcs {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
    let meta: [(&CStr, &CStr); 4] = [
        (c"_NAME", c"cmsgpack"),
        (c"_VERSION", c"lua-cmsgpack 0.4.0"),
        (c"_COPYRIGHT", c"Copyright (C) 2012, Salvatore Sanfilippo"),
        (c"_DESCRIPTION", c"MessagePack C implementation for Lua"),
    ];
    for (k, v) in meta {
        ffi::lua_pushstring_(l, v.as_ptr());
        ffi::lua_setfield(l, -2, k.as_ptr());
    }
    ffi::lua_pushvalue(l, -1);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"cmsgpack".as_ptr());
    1
}

#[cfg(test)]
mod tests {
    use super::super::support::testing::eval;

    const HEX: &str = "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end ";

    fn ok(code: &str) -> String {
        eval(code).unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    fn packed(args: &str) -> String {
        ok(&format!("{HEX} return hex(cmsgpack.pack({args}))"))
    }

    #[test]
    fn pack_scalars() {
        assert_eq!(packed("0.1"), "cb3fb999999999999a");
        assert_eq!(packed("-1099511627776"), "d3ffffff0000000000");
        assert_eq!(packed("1, -1, 127, 128, -32, -33"), "01ff7fcc80e0d0df");
        assert_eq!(
            packed("256, 65535, 65536, -129, -32769"),
            "cd0100cdffffce00010000d1ff7fd2ffff7fff"
        );
        assert_eq!(
            packed("2^32, -2^31, -2^31 - 1"),
            "cf0000000100000000d280000000d3ffffffff7fffffff"
        );
        assert_eq!(
            packed("1.5, -0.25, 1/0, 2^63"),
            "ca3fc00000cabe800000ca7f800000ca5f000000"
        );
        assert_eq!(packed("true, false, nil"), "c3c2c0");
        assert_eq!(packed("'abc', ''"), "a3616263a0");
        assert_eq!(
            packed("string.rep('x', 32)"),
            format!("d920{}", "78".repeat(32))
        );
        assert_eq!(
            ok(&format!(
                "{HEX} return hex(cmsgpack.pack(string.rep('x', 256)):sub(1, 4))"
            )),
            "da010078"
        );
        assert_eq!(
            ok(&format!(
                "{HEX} return hex(cmsgpack.pack(string.rep('x', 65536)):sub(1, 6))"
            )),
            "db0001000078"
        );
        assert_eq!(packed("function() end"), "c0");
    }

    #[test]
    fn pack_tables() {
        assert_eq!(packed("{1, 2, 3}"), "93010203");
        assert_eq!(packed("{}"), "90");
        assert_eq!(packed("{a=1}"), "81a16101");
        let sparse = packed("{[1]=1, [3]=3}");
        assert!(sparse == "8201010303" || sparse == "8203030101", "{sparse}");
        assert_eq!(packed("{[1.5]=true}"), "81ca3fc00000c3");
        let big = ok(&format!(
            "{HEX} local t = {{}} for i = 1, 16 do t[i] = i end return hex(cmsgpack.pack(t))"
        ));
        assert!(big.starts_with("dc0010010203"), "{big}");
    }

    #[test]
    fn circular_references_stop_at_depth_16() {
        let v = ok(&format!(
            "{HEX} local a = {{x=nil,y=5}} local b = {{x=a}} a['x'] = b local e = cmsgpack.pack(a) local re = cmsgpack.unpack(e)
             assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y) assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x)
             assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil) return hex(e)"
        ));
        assert_eq!(v, "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0");
    }

    #[test]
    fn unpack_values() {
        assert_eq!(
            ok("return cmsgpack.unpack(cmsgpack.pack(1, -1, 'abc', true, 0.1, 2^40, -3147483648))"),
            "1 -1 abc true 0.1 1099511627776 -3147483648"
        );
        assert_eq!(
            ok("return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')"),
            "-1"
        );
        assert_eq!(ok("return cmsgpack.unpack('\\192\\1')"), "nil 1");
        assert_eq!(
            ok("local t = cmsgpack.unpack(cmsgpack.pack({1, {a='b'}, 3})) return #t, t[2].a, t[3]"),
            "3 b 3"
        );
        assert_eq!(ok("return cmsgpack.unpack('')"), "");
        assert_eq!(ok("return cmsgpack.unpack('\\202\\63\\192\\0\\0')"), "1.5");
    }

    #[test]
    fn unpack_one_and_limit() {
        assert_eq!(
            ok("local s = cmsgpack.pack(1, 'two', 3) return cmsgpack.unpack_one(s)"),
            "1 1"
        );
        assert_eq!(
            ok("local s = cmsgpack.pack(1, 'two', 3) return cmsgpack.unpack_one(s, 1)"),
            "5 two"
        );
        assert_eq!(
            ok("local s = cmsgpack.pack(1, 'two', 3) return cmsgpack.unpack_one(s, 5)"),
            "-1 3"
        );
        assert_eq!(
            ok("local s = cmsgpack.pack(1, 'two', 3) return cmsgpack.unpack_limit(s, 2)"),
            "5 1 two"
        );
        assert_eq!(
            ok("local s = cmsgpack.pack(1, 'two', 3) return cmsgpack.unpack_limit(s, 0, 0)"),
            "1 two 3"
        );
        assert_eq!(
            ok("local s = cmsgpack.pack(1, 'two', 3) return cmsgpack.unpack_limit(s, 5, 1)"),
            "-1 two 3"
        );
        assert_eq!(ok("return cmsgpack.unpack_one('\\1', 1)"), "-1");
    }

    #[test]
    fn errors() {
        assert_eq!(
            eval("cmsgpack.pack()").unwrap_err(),
            "bad argument #0 to 'pack' (MessagePack pack needs input.)"
        );
        assert_eq!(
            eval("cmsgpack.unpack('\\205\\1')").unwrap_err(),
            "Missing bytes in input."
        );
        assert_eq!(
            eval("cmsgpack.unpack('\\147\\1')").unwrap_err(),
            "Missing bytes in input."
        );
        assert_eq!(
            eval("cmsgpack.unpack('\\193')").unwrap_err(),
            "Bad data format in input."
        );
        assert_eq!(
            eval("cmsgpack.unpack('\\196\\1\\1')").unwrap_err(),
            "Bad data format in input."
        );
        assert_eq!(
            eval("cmsgpack.unpack_one('\\1', 3)").unwrap_err(),
            "Start offset 3 greater than input length 1."
        );
        assert_eq!(
            eval("cmsgpack.unpack_one('\\1\\2', -1)").unwrap_err(),
            "Invalid request to unpack with offset of -1 and limit of 2."
        );
        assert_eq!(
            eval("cmsgpack.unpack_limit('\\1')").unwrap_err(),
            "bad argument #2 to 'unpack_limit' (number expected, got no value)"
        );
        assert_eq!(
            eval("cmsgpack.unpack({})").unwrap_err(),
            "bad argument #1 to 'unpack' (string expected, got table)"
        );
        assert_eq!(
            eval("cmsgpack.unpack('\\129\\192\\1')").unwrap_err(),
            "table index is nil"
        );
        let many =
            eval("return select('#', cmsgpack.unpack(string.rep('\\1', 10000)))").unwrap_err();
        assert!(many.contains("too many return values at once"), "{many}");
    }

    #[test]
    fn redis_smoke_test() {
        let code = r#"
            local str_lt_32 = string.rep("x", 30)
            local str_lt_255 = string.rep("x", 250)
            local str_lt_65535 = string.rep("x", 65530)
            local str_long = string.rep("x", 100000)
            local array_big = {}
            for i=1, 100000 do array_big[i] = i end
            local map_big = {}
            for i=1, 100000 do map_big[tostring(i)] = i end
            local some_map = {s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1, i1=1,
                i2=250, i3=65530, i4=100000, i5=2^40, i6=-1, i7=-120, i8=-32000, i9=-100000,
                i10=-3147483648, a1={1, 2, 3, 4, 5}, a3=array_big, m1={a=1, b=2}, m2=map_big,
                b1=false, b2=true, n=nil}
            local encoded = cmsgpack.pack(some_map)
            local decoded = cmsgpack.unpack(encoded)
            assert(decoded.s4 == str_long and decoded.i10 == -3147483648 and decoded.a3[100000] == 100000)
            assert(decoded.m2["777"] == 777 and decoded.d1 == 0.1 and decoded.b1 == false)
            local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
            assert(offset == -1 and decoded_one.i5 == 2^40)
            local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
            local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0)
            assert(obj == str_lt_32)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_255)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_lt_65535)
            offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
            assert(obj == str_long)
            assert(offset == -1)
            return 'done'"#;
        assert_eq!(ok(code), "done");
    }
}
