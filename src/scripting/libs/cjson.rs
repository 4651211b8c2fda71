//! lua-cjson 2.1.0 (`cjson`) as Redis bundles it: `encode`/`decode`, the configuration
//! functions (kept per module table in a userdata upvalue, as the C library does), `new`,
//! `null` (a NULL lightuserdata), `_NAME` and `_VERSION`. Behaviour and error texts follow
//! the C library: numbers print with `%.14g` (the configured precision), '/' is escaped as
//! "\/", sparse arrays beyond ratio 2 / safe 10 raise "excessively sparse array", nesting
//! is limited to 1000 levels both ways, and decoding accepts what lua-cjson's tokenizer and
//! `strtod` accept (hex, inf and nan included, since decode_invalid_numbers defaults on).
use super::support::{self, arg_error, lua_State, raise};
use crate::scripting::lua;
use mlua_sys as ffi;
use std::ffi::{c_char, c_int, CStr};
use std::ptr;

mod decode;
use decode::decode;

/// The per-module settings (json_config_t without the buffers).
#[derive(Clone, Copy)]
#[repr(C)]
struct Config {
    sparse_convert: c_int,
    sparse_ratio: c_int,
    sparse_safe: c_int,
    encode_max_depth: c_int,
    encode_invalid_numbers: c_int, // 0 off, 1 on, 2 "null"
    encode_number_precision: c_int,
    encode_keep_buffer: c_int,
    decode_invalid_numbers: c_int,
    decode_max_depth: c_int,
}

const DEFAULT_CONFIG: Config = Config {
    sparse_convert: 0,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_max_depth: 1000,
    encode_invalid_numbers: 0,
    encode_number_precision: 14,
    encode_keep_buffer: 1,
    decode_invalid_numbers: 1,
    decode_max_depth: 1000,
};

unsafe fn config(l: *mut lua_State) -> *mut Config {
    let cfg = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *mut Config;
    if cfg.is_null() {
        raise!(l, c"BUG: Unable to fetch CJSON configuration");
    }
    cfg
}

// ===== Configuration =====

/// At most `args` arguments, padded with nils.
unsafe fn arg_init(l: *mut lua_State, args: c_int) -> *mut Config {
    if ffi::lua_gettop(l) > args {
        arg_error(l, args + 1, c"found too many arguments".as_ptr());
    }
    while ffi::lua_gettop(l) < args {
        ffi::lua_pushnil(l);
    }
    config(l)
}

/// Sets `*setting` from the integer at `idx` (if not nil) and pushes the current value.
unsafe fn int_option(
    l: *mut lua_State,
    idx: c_int,
    setting: &mut c_int,
    min: c_int,
    max: c_int,
) -> c_int {
    if ffi::lua_isnil(l, idx) == 0 {
        let value = ffi::luaL_checkinteger(l, idx) as c_int;
        if value < min || value > max {
            let msg =
                ffi::lua_pushfstring(l, c"expected integer between %d and %d".as_ptr(), min, max);
            arg_error(l, 1, msg);
        }
        *setting = value;
    }
    ffi::lua_pushinteger(l, *setting as ffi::lua_Integer);
    1
}

/// Sets `*setting` from a boolean or an option name ("off", "on", and "null" if `with_null`)
/// and pushes it back (a boolean for off and on).
unsafe fn enum_option(
    l: *mut lua_State,
    idx: c_int,
    setting: &mut c_int,
    with_null: bool,
) -> c_int {
    let null = if with_null {
        c"null".as_ptr()
    } else {
        ptr::null()
    };
    let options: [*const c_char; 4] = [c"off".as_ptr(), c"on".as_ptr(), null, ptr::null()];
    if ffi::lua_isnil(l, idx) == 0 {
        if ffi::lua_isboolean(l, idx) != 0 {
            *setting = ffi::lua_toboolean(l, idx);
        } else {
            *setting = ffi::luaL_checkoption(l, idx, ptr::null(), options.as_ptr());
        }
    }
    match *setting {
        0 | 1 => ffi::lua_pushboolean(l, *setting),
        n => ffi::lua_pushstring_(l, options[n as usize]),
    }
    1
}

/// A configuration function taking `$args` arguments; `$cfg` is the module's `&mut Config`.
macro_rules! config_fn {
    ($name:ident, $args:expr, |$l:ident, $cfg:ident| $body:expr) => {
        unsafe extern "C-unwind" fn $name($l: *mut lua_State) -> c_int {
            lua::guard($l, || {
                let $cfg = &mut *arg_init($l, $args);
                $body
            })
        }
    };
}

config_fn!(cfg_encode_sparse_array, 3, |l, c| {
    enum_option(l, 1, &mut c.sparse_convert, false);
    int_option(l, 2, &mut c.sparse_ratio, 0, c_int::MAX);
    int_option(l, 3, &mut c.sparse_safe, 0, c_int::MAX);
    3
});
config_fn!(cfg_encode_max_depth, 1, |l, c| int_option(
    l,
    1,
    &mut c.encode_max_depth,
    1,
    c_int::MAX
));
config_fn!(cfg_decode_max_depth, 1, |l, c| int_option(
    l,
    1,
    &mut c.decode_max_depth,
    1,
    c_int::MAX
));
config_fn!(cfg_encode_number_precision, 1, |l, c| int_option(
    l,
    1,
    &mut c.encode_number_precision,
    1,
    14
));
// Accepted for compatibility: the encoder here never keeps a buffer between calls.
config_fn!(cfg_encode_keep_buffer, 1, |l, c| enum_option(
    l,
    1,
    &mut c.encode_keep_buffer,
    false
));
config_fn!(cfg_encode_invalid_numbers, 1, |l, c| enum_option(
    l,
    1,
    &mut c.encode_invalid_numbers,
    true
));
config_fn!(cfg_decode_invalid_numbers, 1, |l, c| enum_option(
    l,
    1,
    &mut c.decode_invalid_numbers,
    false
));

// ===== Encoding =====

/// "Cannot serialise <type of the value at idx>: <reason>".
unsafe fn encode_error(l: *mut lua_State, idx: c_int, reason: &CStr) -> ! {
    let tname = ffi::lua_typename(l, ffi::lua_type(l, idx));
    raise!(l, c"Cannot serialise %s: %s", tname, reason.as_ptr())
}

/// lua-cjson's escape for `c`, if it needs one.
fn escape(c: u8) -> Option<&'static [u8]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const CONTROL: [[u8; 6]; 32] = {
        let mut t = [[0u8; 6]; 32];
        let mut i = 0;
        while i < 32 {
            t[i] = [b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 15]];
            i += 1;
        }
        t
    };
    Some(match c {
        8 => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        12 => b"\\f",
        b'\r' => b"\\r",
        0..=31 => &CONTROL[c as usize],
        b'"' => b"\\\"",
        b'/' => b"\\/",
        b'\\' => b"\\\\",
        127 => b"\\u007f",
        _ => return None,
    })
}

fn append_string(buf: &mut Vec<u8>, s: &[u8]) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    for &c in s {
        match escape(c) {
            Some(e) => buf.extend_from_slice(e),
            None => buf.push(c),
        }
    }
    buf.push(b'"');
}

unsafe fn append_number(l: *mut lua_State, cfg: &Config, buf: &mut Vec<u8>, idx: c_int) {
    let num = ffi::lua_tonumber(l, idx);
    let invalid = num.is_nan() || num.is_infinite();
    match cfg.encode_invalid_numbers {
        0 if invalid => encode_error(l, idx, c"must not be NaN or Inf"),
        1 if num.is_nan() => return buf.extend_from_slice(b"nan"),
        0 | 1 => {}
        _ if invalid => return buf.extend_from_slice(b"null"),
        _ => {}
    }
    // fpconv_g_fmt: printf's "%.<precision>g" (the C locale's '.' decimal point).
    let p = cfg.encode_number_precision.clamp(1, 14) as u8;
    let fmt: [u8; 6] = if p >= 10 {
        [b'%', b'.', b'1', b'0' + p - 10, b'g', 0]
    } else {
        [b'%', b'.', b'0' + p, b'g', 0, 0]
    };
    let mut out = [0u8; 32];
    let n = libc::snprintf(
        out.as_mut_ptr() as *mut c_char,
        out.len(),
        fmt.as_ptr() as *const c_char,
        num,
    );
    buf.extend_from_slice(&out[..(n.max(0) as usize).min(out.len() - 1)]);
}

/// The length of the table on top if it encodes as an array (keys are integers >= 1), else
/// -1 (or an error for an excessively sparse array when conversion is off).
unsafe fn array_length(l: *mut lua_State, cfg: &Config) -> c_int {
    let (mut max, mut items) = (0 as c_int, 0 as c_int);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(l, -2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                if k > max as f64 {
                    max = support::c_i32(k);
                }
                items = items.wrapping_add(1);
                ffi::lua_pop(l, 1);
                continue;
            }
        }
        ffi::lua_pop(l, 2);
        return -1;
    }
    if cfg.sparse_ratio > 0 && max > items.wrapping_mul(cfg.sparse_ratio) && max > cfg.sparse_safe {
        if cfg.sparse_convert == 0 {
            encode_error(l, -1, c"excessively sparse array");
        }
        return -1;
    }
    max
}

/// Appends the JSON for the value on top of the stack (left in place).
unsafe fn append_value(l: *mut lua_State, cfg: &Config, depth: c_int, buf: &mut Vec<u8>) {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => append_string(buf, lua::to_bytes(l, -1).unwrap_or_default()),
        ffi::LUA_TNUMBER => append_number(l, cfg, buf, -1),
        ffi::LUA_TBOOLEAN => {
            let text: &[u8] = if ffi::lua_toboolean(l, -1) != 0 {
                b"true"
            } else {
                b"false"
            };
            buf.extend_from_slice(text);
        }
        ffi::LUA_TTABLE => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
                raise!(l, c"Cannot serialise, excessive nesting (%d)", depth);
            }
            let len = array_length(l, cfg);
            if len > 0 {
                append_array(l, cfg, depth, buf, len);
            } else {
                append_object(l, cfg, depth, buf);
            }
        }
        ffi::LUA_TNIL => buf.extend_from_slice(b"null"),
        ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
            buf.extend_from_slice(b"null")
        }
        _ => encode_error(l, -1, c"type not supported"),
    }
}

unsafe fn append_array(
    l: *mut lua_State,
    cfg: &Config,
    depth: c_int,
    buf: &mut Vec<u8>,
    len: c_int,
) {
    buf.push(b'[');
    for i in 1..=len {
        if i > 1 {
            buf.push(b',');
        }
        ffi::lua_rawgeti_(l, -1, i);
        append_value(l, cfg, depth, buf);
        ffi::lua_pop(l, 1);
    }
    buf.push(b']');
}

unsafe fn append_object(l: *mut lua_State, cfg: &Config, depth: c_int, buf: &mut Vec<u8>) {
    buf.push(b'{');
    let mut first = true;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if !first {
            buf.push(b',');
        }
        first = false;
        match ffi::lua_type(l, -2) {
            ffi::LUA_TNUMBER => {
                buf.push(b'"');
                append_number(l, cfg, buf, -2);
                buf.extend_from_slice(b"\":");
            }
            ffi::LUA_TSTRING => {
                append_string(buf, lua::to_bytes(l, -2).unwrap_or_default());
                buf.push(b':');
            }
            _ => encode_error(l, -2, c"table key must be a number or string"),
        }
        append_value(l, cfg, depth, buf);
        ffi::lua_pop(l, 1);
    }
    buf.push(b'}');
}

unsafe extern "C-unwind" fn encode(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        let cfg = *config(l);
        if ffi::lua_gettop(l) != 1 {
            arg_error(l, 1, c"expected 1 argument".as_ptr());
        }
        let buf = support::push_buffer(l);
        ffi::lua_pushvalue(l, 1);
        append_value(l, &cfg, 0, &mut *buf);
        support::push_buffer_result(l, buf);
        1
    })
}

// ===== Module =====

unsafe extern "C-unwind" fn new(l: *mut lua_State) -> c_int {
    create_module(l);
    1
}

/// lua_cjson_new: a module table whose functions share a fresh configuration.
unsafe fn create_module(l: *mut lua_State) {
    let funcs: [(&CStr, ffi::lua_CFunction); 10] = [
        (c"encode", encode),
        (c"decode", decode),
        (c"encode_sparse_array", cfg_encode_sparse_array),
        (c"encode_max_depth", cfg_encode_max_depth),
        (c"decode_max_depth", cfg_decode_max_depth),
        (c"encode_number_precision", cfg_encode_number_precision),
        (c"encode_keep_buffer", cfg_encode_keep_buffer),
        (c"encode_invalid_numbers", cfg_encode_invalid_numbers),
        (c"decode_invalid_numbers", cfg_decode_invalid_numbers),
        (c"new", new),
    ];
    ffi::lua_createtable(l, 0, 0);
    let cfg = ffi::lua_newuserdata(l, std::mem::size_of::<Config>()) as *mut Config;
    cfg.write(DEFAULT_CONFIG);
    for (name, f) in funcs {
        ffi::lua_pushvalue(l, -1);
        ffi::lua_pushcclosure(l, f, 1);
        ffi::lua_setfield(l, -3, name.as_ptr());
    }
    ffi::lua_pop(l, 1);
    ffi::lua_pushlightuserdata(l, ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    ffi::lua_pushstring_(l, c"cjson".as_ptr());
    ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
    ffi::lua_pushstring_(l, c"2.1.0".as_ptr());
    ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
}

/// `luaopen_cjson` (built with ENABLE_CJSON_GLOBAL, as Redis does).
///
/// # Safety
/// `l` is a valid Lua state; called as a Lua C function (through `lua_call`/`lua_pcall`).
pub unsafe extern "C-unwind" fn open(l: *mut lua_State) -> c_int {
    create_module(l);
    ffi::lua_pushvalue(l, -1);
    ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"cjson".as_ptr());
    1
}

#[cfg(test)]
mod tests {
    use super::super::support::testing::check;

    #[test]
    fn encode_values() {
        check(
            r#"
eq(cjson.encode({1,2,3}), '[1,2,3]')
eq(cjson.encode('a/b"c\\'), [["a\/b\"c\\"]])
eq(cjson.encode('\1\8\9\10\12\13\31\127\200'), '"\\u0001\\b\\t\\n\\f\\r\\u001f\\u007f\200"')
eq(cjson.encode(0.1), '0.1')
eq(cjson.encode(1/3), '0.33333333333333')
eq(cjson.encode(1e20), '1e+20')
eq(cjson.encode(-0.5e-7), '-5e-08')
eq(cjson.encode(123456789012345), '1.2345678901234e+14')
eq(cjson.encode(true), 'true')
eq(cjson.encode(nil), 'null')
eq(cjson.encode(cjson.null), 'null')
eq(cjson.encode({}), '{}')
eq(cjson.encode({{}, {a={}}}), '[{},{"a":{}}]')
eq(cjson.encode({[1.5]='x'}), '{"1.5":"x"}')
eq(cjson.encode({[-1]=1}), '{"-1":1}')
eq(cjson.encode({[1]=1,[3]=3}), '[1,null,3]')
eq(cjson.encode({[1]=1,[10]=2}), '[1,null,null,null,null,null,null,null,null,2]')
local t, c = {}, nil
c = t for i = 1, 999 do c[1] = {} c = c[1] end
eq(#cjson.encode(t), 2000)
"#,
        );
    }

    #[test]
    fn encode_errors() {
        check(
            r#"
eq(err(cjson.encode, {[true]=1}), 'Cannot serialise boolean: table key must be a number or string')
eq(err(cjson.encode, function() end), 'Cannot serialise function: type not supported')
eq(err(cjson.encode, {x=0/0}), 'Cannot serialise number: must not be NaN or Inf')
eq(err(cjson.encode, {[1/0]=1}), 'Cannot serialise number: must not be NaN or Inf')
eq(err(cjson.encode, {[1]=1,[20]=2}), 'Cannot serialise table: excessively sparse array')
eq(err(function() cjson.encode(1, 2) end), "bad argument #1 to 'encode' (expected 1 argument)")
local t, c = {}, nil
c = t for i = 1, 1000 do c[1] = {} c = c[1] end
eq(err(cjson.encode, t), 'Cannot serialise, excessive nesting (1001)')
t = {} t[1] = t
eq(err(cjson.encode, t), 'Cannot serialise, excessive nesting (1001)')
"#,
        );
    }

    #[test]
    fn configuration() {
        check(
            r#"
eq(select('#', cjson.encode_sparse_array()), 3)
local a, b, c = cjson.encode_sparse_array(true)
eq(a, true) eq(b, 2) eq(c, 10)
local d = cjson.decode(cjson.encode({[1]=1,[20]=2}))
eq(d['1'], 1) eq(d['20'], 2)
cjson.encode_sparse_array(false, 0)
eq(#cjson.encode({[1]=1,[20]=2}), 95)
eq(err(function() cjson.encode_sparse_array(1) end), "bad argument #1 to 'encode_sparse_array' (invalid option '1')")
eq(cjson.encode_max_depth(), 1000)
eq(cjson.decode_max_depth(5), 5)
eq(cjson.decode_max_depth(), 5)
eq(err(function() cjson.encode_max_depth(0) end), "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)")
eq(err(function() cjson.encode_number_precision(15) end), "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)")
eq(err(function() cjson.encode_max_depth(1, 2) end), "bad argument #2 to 'encode_max_depth' (found too many arguments)")
eq(cjson.encode_number_precision(3), 3)
eq(cjson.encode(3.14159), '3.14')
eq(cjson.encode_invalid_numbers('null'), 'null')
eq(cjson.encode(0/0), 'null')
eq(cjson.encode({1/0}), '[null]')
eq(cjson.encode_invalid_numbers(true), true)
eq(cjson.encode(0/0), 'nan')
eq(cjson.encode(-1/0), '-inf')
eq(cjson.encode_keep_buffer(false), false)
eq(cjson.encode_keep_buffer(), false)
eq(cjson._NAME, 'cjson') eq(cjson._VERSION, '2.1.0')
eq(type(cjson.null), 'userdata') eq(cjson.null == nil, false)
local c2 = cjson.new()
c2.encode_number_precision(2)
eq(c2.encode(1.234), '1.2')
eq(cjson.encode(1.234), '1.23')
"#,
        );
    }

    #[test]
    fn decode_values() {
        check(
            r#"
eq(table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' '), '0 -5000 -1 0.0003 1023.2 0')
local d = cjson.decode('{"keya": "a", "keyb": "b"}')
eq(d.keya, 'a') eq(d.keyb, 'b')
eq(cjson.decode([["\u00e9\u20ac\ud83d\ude00\/\n\"\\\b\f\r\t"]]), '\195\169\226\130\172\240\159\152\128/\n"\\\8\12\13\9')
d = cjson.decode('[null, true, false]')
eq(d[1], cjson.null) eq(d[2], true) eq(d[3], false)
eq(cjson.decode('0x10'), 16)
eq(cjson.decode(' -inf '), -1/0)
eq(cjson.decode('+1'), 1)
eq(cjson.decode('1e400'), 1/0)
local nan = cjson.decode('nan') eq(nan ~= nan, true)
eq(type(cjson.decode('{}\0junk')), 'table')
eq(cjson.decode(' "x" '), 'x')
eq(cjson.decode(cjson.encode({a={1,2,{b='c'}}})).a[3].b, 'c')
eq(cjson.decode(42), 42)
eq(#cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)), 1)
"#,
        );
    }

    #[test]
    fn decode_errors() {
        check(
            r#"
local function derr(s) return err(cjson.decode, s) end
eq(derr('x'), 'Expected value but found invalid token at character 1')
eq(derr(''), 'Expected value but found T_END at character 1')
eq(derr('[1,2'), 'Expected comma or array end but found T_END at character 5')
eq(derr('{"a" 1}'), 'Expected colon but found T_NUMBER at character 6')
eq(derr('{1:1}'), 'Expected object key string but found T_NUMBER at character 2')
eq(derr('[1] 2'), 'Expected the end but found T_NUMBER at character 5')
eq(derr('{"a":1 ]'), 'Expected comma or object end but found T_ARR_END at character 8')
eq(derr('"abc'), 'Expected value but found unexpected end of string at character 5')
eq(derr([["\x"]]), 'Expected value but found invalid escape code at character 2')
eq(derr([["\ud800"]]), 'Expected value but found invalid unicode escape code at character 2')
eq(derr([["\udc00"]]), 'Expected value but found invalid unicode escape code at character 2')
eq(derr([["\u12"]]), 'Expected value but found invalid unicode escape code at character 2')
eq(derr('[nil]'), 'Expected value but found invalid token at character 2')
eq(derr('-'), 'Expected value but found invalid number at character 1')
eq(derr('[\0'), 'JSON parser does not support UTF-16 or UTF-32')
eq(derr(string.rep('[', 1001) .. string.rep(']', 1001)), 'Found too many nested data structures (1001) at character 1001')
eq(err(function() cjson.decode() end), "bad argument #1 to 'decode' (expected 1 argument)")
eq(err(function() cjson.decode({}) end), "bad argument #1 to 'decode' (string expected, got table)")
cjson.decode_invalid_numbers(false)
eq(derr('0x10'), 'Expected value but found invalid number at character 1')
eq(derr('+1'), 'Expected value but found invalid token at character 1')
eq(derr('01'), 'Expected value but found invalid number at character 1')
eq(cjson.decode('-0.5'), -0.5)
"#,
        );
    }

    #[test]
    fn redis_smoke_test() {
        check(
            r#"
local some_map = {s1="Some string", n1=100, a1={"Some","String","Array"}, nil1=nil, b1=true, b2=false}
local encoded = cjson.encode(some_map)
local decoded = cjson.decode(encoded)
assert(table.concat(some_map) == table.concat(decoded))
cjson.encode_keep_buffer(false)
encoded = cjson.encode(some_map)
decoded = cjson.decode(encoded)
assert(table.concat(some_map) == table.concat(decoded))
local table1 = {one="one", [1]="one"}
decoded = cjson.decode(cjson.encode(table1))
assert(decoded["one"] == table1["one"])
assert(decoded["1"] == table1[1])
local invalid_map = {}
invalid_map[false] = "false"
assert(pcall(cjson.encode, invalid_map) == false)
cjson.encode_max_depth(1)
assert(pcall(cjson.encode, some_map) == false)
cjson.decode_max_depth(1)
assert(pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}') == false)
assert(pcall(cjson.encode, {num1=0/0}) == false)
cjson.encode_invalid_numbers(true)
assert(pcall(cjson.encode, {num1=0/0}) == true)
"#,
        );
    }
}
