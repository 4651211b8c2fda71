//! Values between Lua and the protocol, as Redis 7.0 converts them (script_lua.c): a command's
//! reply becomes a Lua value in the RESP version the script chose (`redis.setresp`), and the
//! script's return value becomes the reply to the caller.
use super::lua::{self, lua_State};
use crate::protocol::{ErrorReply, Reply, RespVersion};
use bytes::Bytes;
use mlua_sys as ffi;

/// Deepest table nesting converted; deeper levels reply an error element, as Redis does when
/// its Lua stack is exhausted ("reached lua stack limit").
const MAX_DEPTH: usize = 1000;

/// Pushes the Lua form of a command's reply.
pub unsafe fn push_reply(l: *mut lua_State, r: &Reply, resp: RespVersion) {
    if ffi::lua_checkstack(l, 4) == 0 {
        lua::raise_str(l, "reached lua stack limit");
    }
    let r3 = resp == RespVersion::Resp3;
    match r {
        Reply::Ok => push_status(l, b"OK"),
        Reply::Status(s) => push_status(l, s.as_bytes()),
        Reply::StatusOwned(s) => push_status(l, s.as_bytes()),
        Reply::Error(e) => {
            let text = [b"-", e.text().as_bytes()].concat();
            push_error(l, &text, true)
        }
        Reply::Int(i) => ffi::lua_pushnumber(l, *i as f64),
        Reply::Bulk(b) => lua::push_bytes(l, b),
        Reply::ShortBulk { len, buf } => lua::push_bytes(l, &buf[..*len as usize]),
        Reply::Nil | Reply::NilArray | Reply::NoReply => {
            if r3 {
                ffi::lua_pushnil(l)
            } else {
                ffi::lua_pushboolean(l, 0)
            }
        }
        Reply::Array(items) | Reply::Push(items) => push_array(l, items, resp),
        // Several replies (a push before the real reply): the script sees the last one.
        Reply::Many(items) => match items.last() {
            Some(r) => push_reply(l, r, resp),
            None => ffi::lua_pushnil(l),
        },
        // Attributes are not exposed to scripts (Redis parses and drops them).
        Reply::Attribute(_, r) => push_reply(l, r, resp),
        Reply::Set(items) if r3 => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, items.len() as i32);
            for it in items {
                push_reply(l, it, resp);
                ffi::lua_pushboolean(l, 1);
                ffi::lua_settable(l, -3);
            }
            lua::set_field(l, -2, "set");
        }
        Reply::Set(items) => push_array(l, items, resp),
        Reply::Map(pairs) if r3 => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, pairs.len() as i32);
            for (k, v) in pairs {
                push_reply(l, k, resp);
                push_reply(l, v, resp);
                ffi::lua_settable(l, -3);
            }
            lua::set_field(l, -2, "map");
        }
        Reply::Map(pairs) => {
            ffi::lua_createtable(l, (pairs.len() * 2) as i32, 0);
            for (i, (k, v)) in pairs.iter().enumerate() {
                push_reply(l, k, resp);
                ffi::lua_rawseti_(l, -2, (2 * i + 1) as i32);
                push_reply(l, v, resp);
                ffi::lua_rawseti_(l, -2, (2 * i + 2) as i32);
            }
        }
        Reply::Double(d) if r3 => push_double(l, *d),
        Reply::Double(d) => lua::push_str(l, &crate::util::num::format_double_reply(*d)),
        Reply::DoubleText(t) if r3 => push_double(l, t.parse().unwrap_or(0.0)),
        Reply::DoubleText(t) => lua::push_str(l, t),
        Reply::Bool(b) if r3 => ffi::lua_pushboolean(l, *b as i32),
        Reply::Bool(b) => ffi::lua_pushnumber(l, *b as i32 as f64),
        Reply::Verbatim(b) if r3 => push_verbatim(l, b"txt", b),
        Reply::VerbatimFmt(f, b) if r3 => push_verbatim(l, f, b),
        Reply::Verbatim(b) | Reply::VerbatimFmt(_, b) => lua::push_bytes(l, b),
        Reply::BigNumber(b) if r3 => {
            ffi::lua_createtable(l, 0, 1);
            lua::push_bytes(l, b);
            lua::set_field(l, -2, "big_number");
        }
        Reply::BigNumber(b) => lua::push_bytes(l, b),
    }
}

unsafe fn push_array(l: *mut lua_State, items: &[Reply], resp: RespVersion) {
    ffi::lua_createtable(l, items.len() as i32, 0);
    for (i, it) in items.iter().enumerate() {
        push_reply(l, it, resp);
        ffi::lua_rawseti_(l, -2, i as i32 + 1);
    }
}

unsafe fn push_status(l: *mut lua_State, s: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    lua::push_bytes(l, s);
    lua::set_field(l, -2, "ok");
}

unsafe fn push_double(l: *mut lua_State, d: f64) {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushnumber(l, d);
    lua::set_field(l, -2, "double");
}

unsafe fn push_verbatim(l: *mut lua_State, fmt: &[u8], s: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_createtable(l, 0, 2);
    lua::push_bytes(l, s);
    lua::set_field(l, -2, "string");
    lua::push_bytes(l, fmt);
    lua::set_field(l, -2, "format");
    lua::set_field(l, -2, "verbatim_string");
}

/// The `{err=...}` table of Redis's luaPushErrorBuff: "-CODE msg" keeps its code, a message
/// without one gets `ERR`; trailing CR/LF are trimmed. `from_command` marks errors a command
/// already counted in errorstats.
pub unsafe fn push_error(l: *mut lua_State, text: &[u8], from_command: bool) {
    let msg = error_text(text);
    ffi::lua_createtable(l, 0, 2);
    lua::push_bytes(l, &msg);
    lua::set_field(l, -2, "err");
    if from_command {
        ffi::lua_pushboolean(l, 1);
        lua::set_field(l, -2, "ignore_error_stats_update");
    }
}

/// The text of an error table (luaPushErrorBuff): "-CODE msg" keeps its code, a plain
/// message gets `ERR`; trailing CR/LF are trimmed.
pub fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(body) => match body.iter().position(|&c| c == b' ') {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (b"ERR", body),
        },
        None => (b"ERR", text),
    };
    let mut msg = msg;
    while let [rest @ .., b'\r' | b'\n'] = msg {
        msg = rest;
    }
    while let [b'\r' | b'\n', rest @ ..] = msg {
        msg = rest;
    }
    let mut out = Vec::with_capacity(code.len() + 1 + msg.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

/// Converts the value on top of the stack into the reply for the caller and pops it.
/// `script_resp` is the script's protocol (booleans differ), as in luaReplyToRedisReply.
/// The flag says the reply is an error table a command already counted in errorstats.
pub unsafe fn pop_reply(l: *mut lua_State, script_resp: RespVersion) -> (Reply, bool) {
    let counted = ffi::lua_type(l, -1) == ffi::LUA_TTABLE && {
        lua::raw_get_field(l, -1, b"ignore_error_stats_update");
        let b = ffi::lua_toboolean(l, -1) != 0;
        ffi::lua_pop(l, 1);
        b
    };
    let r = to_reply(l, script_resp, 0);
    ffi::lua_pop(l, 1);
    (r, counted)
}

unsafe fn to_reply(l: *mut lua_State, resp: RespVersion, depth: usize) -> Reply {
    if depth > MAX_DEPTH || ffi::lua_checkstack(l, 4) == 0 {
        return Reply::Error(ErrorReply::script("ERR reached lua stack limit".into()));
    }
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => Reply::Bulk(Bytes::copy_from_slice(
            lua::to_bytes(l, -1).unwrap_or_default(),
        )),
        ffi::LUA_TBOOLEAN => {
            let b = ffi::lua_toboolean(l, -1) != 0;
            match (resp, b) {
                (RespVersion::Resp3, b) => Reply::Bool(b),
                (_, true) => Reply::Int(1),
                (_, false) => Reply::Nil,
            }
        }
        ffi::LUA_TNUMBER => Reply::Int(ffi::lua_tonumber(l, -1) as i64),
        ffi::LUA_TTABLE => table_to_reply(l, resp, depth),
        _ => Reply::Nil,
    }
}

unsafe fn table_to_reply(l: *mut lua_State, resp: RespVersion, depth: usize) -> Reply {
    if lua::raw_get_field(l, -1, b"err") == ffi::LUA_TSTRING {
        let text = lua::to_bytes(l, -1).unwrap_or_default().to_vec();
        ffi::lua_pop(l, 1);
        return Reply::Error(ErrorReply::script(sanitize(&text)));
    }
    ffi::lua_pop(l, 1);
    if lua::raw_get_field(l, -1, b"ok") == ffi::LUA_TSTRING {
        let s = sanitize(lua::to_bytes(l, -1).unwrap_or_default());
        ffi::lua_pop(l, 1);
        return Reply::StatusOwned(s);
    }
    ffi::lua_pop(l, 1);
    if lua::raw_get_field(l, -1, b"double") == ffi::LUA_TNUMBER {
        let d = ffi::lua_tonumber(l, -1);
        ffi::lua_pop(l, 1);
        return Reply::Double(d);
    }
    ffi::lua_pop(l, 1);
    if lua::raw_get_field(l, -1, b"big_number") == ffi::LUA_TSTRING {
        let s = sanitize(lua::to_bytes(l, -1).unwrap_or_default());
        ffi::lua_pop(l, 1);
        return Reply::BigNumber(Bytes::from(s));
    }
    ffi::lua_pop(l, 1);
    if lua::raw_get_field(l, -1, b"verbatim_string") == ffi::LUA_TTABLE {
        let fmt_t = lua::raw_get_field(l, -1, b"format");
        let str_t = lua::raw_get_field(l, -2, b"string");
        if fmt_t == ffi::LUA_TSTRING && str_t == ffi::LUA_TSTRING {
            let fmt = lua::to_bytes(l, -2).unwrap_or_default();
            let s = Bytes::copy_from_slice(lua::to_bytes(l, -1).unwrap_or_default());
            let mut f = [b' '; 3];
            for (d, c) in f.iter_mut().zip(fmt.iter()) {
                *d = *c;
            }
            ffi::lua_pop(l, 3);
            return Reply::VerbatimFmt(f, s);
        }
        ffi::lua_pop(l, 2);
    }
    ffi::lua_pop(l, 1);
    if lua::raw_get_field(l, -1, b"map") == ffi::LUA_TTABLE {
        let mut pairs = Vec::new();
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pushvalue(l, -2);
            let k = to_reply(l, resp, depth + 1);
            ffi::lua_pop(l, 1);
            let v = to_reply(l, resp, depth + 1);
            ffi::lua_pop(l, 1);
            pairs.push((k, v));
        }
        ffi::lua_pop(l, 1);
        return Reply::Map(pairs);
    }
    ffi::lua_pop(l, 1);
    if lua::raw_get_field(l, -1, b"set") == ffi::LUA_TTABLE {
        let mut items = Vec::new();
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pop(l, 1);
            items.push(to_reply(l, resp, depth + 1));
        }
        ffi::lua_pop(l, 1);
        return Reply::Set(items);
    }
    ffi::lua_pop(l, 1);
    let mut items = Vec::new();
    let mut j = 1;
    loop {
        ffi::lua_rawgeti_(l, -1, j);
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_pop(l, 1);
            break;
        }
        items.push(to_reply(l, resp, depth + 1));
        ffi::lua_pop(l, 1);
        j += 1;
    }
    Reply::Array(items)
}

/// Status and error texts cannot hold CR or LF (Redis maps them to spaces).
fn sanitize(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}
