//! The cjson decoder: lua-cjson's tokenizer and recursive parser, with its error texts
//! ("Expected <what> but found <token> at character <n>") and nesting limit.
use super::{config, Config};
use crate::scripting::libs::support::{self, arg_error, lua_State, raise};
use crate::scripting::lua;
use mlua_sys as ffi;
use std::ffi::{c_char, c_int, CStr};
use std::ptr;

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str, // the text is in the parser's buffer
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static CStr),
}

impl Tok {
    fn name(self) -> &'static CStr {
        match self {
            Tok::ObjBegin => c"T_OBJ_BEGIN",
            Tok::ObjEnd => c"T_OBJ_END",
            Tok::ArrBegin => c"T_ARR_BEGIN",
            Tok::ArrEnd => c"T_ARR_END",
            Tok::Str => c"T_STRING",
            Tok::Number(_) => c"T_NUMBER",
            Tok::Boolean(_) => c"T_BOOLEAN",
            Tok::Null => c"T_NULL",
            Tok::Colon => c"T_COLON",
            Tok::Comma => c"T_COMMA",
            Tok::End => c"T_END",
            Tok::Error(why) => why,
        }
    }
}

/// A token and where it starts (or where its error is), 0-based.
#[derive(Clone, Copy)]
struct Token {
    tok: Tok,
    index: usize,
}

struct Parser<'a> {
    l: *mut lua_State,
    /// The JSON text; a Lua string, so `data.as_ptr()` is NUL-terminated for `strtod`.
    data: &'a [u8],
    pos: usize,
    tmp: &'a mut Vec<u8>,
    cfg: Config,
    depth: c_int,
}

fn hex_digit(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

impl Parser<'_> {
    /// The byte at `i`; the NUL terminator (0) at and past the end, as the C parser sees it.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, lit: &[u8]) -> bool {
        self.data[self.pos..].starts_with(lit)
    }

    fn hex4(&self, i: usize) -> Option<u32> {
        (0..4).try_fold(0, |acc, k| Some(acc << 4 | hex_digit(self.at(i + k))?))
    }

    /// `\uXXXX` (or a surrogate pair) at `pos` appended as UTF-8; false if invalid.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xf800 == 0xd800 {
            if cp & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xfc00 != 0xdc00 {
                return false;
            }
            cp = (((cp & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            len = 12;
        }
        // cp is never a surrogate here, so it is a char; its UTF-8 is what the C code writes.
        let Some(ch) = char::from_u32(cp) else {
            return false;
        };
        self.tmp
            .extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
        self.pos += len;
        true
    }

    fn string_token(&mut self) -> Tok {
        self.pos += 1;
        self.tmp.clear();
        loop {
            let mut ch = self.at(self.pos);
            match ch {
                b'"' => break,
                0 => return Tok::Error(c"unexpected end of string"),
                b'\\' => {
                    ch = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 12,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape() {
                                continue;
                            }
                            return Tok::Error(c"invalid unicode escape code");
                        }
                        _ => return Tok::Error(c"invalid escape code"),
                    };
                    self.pos += 1;
                }
                _ => {}
            }
            self.tmp.push(ch);
            self.pos += 1;
        }
        self.pos += 1;
        Tok::Str
    }

    /// Numbers strict JSON rejects but strtod takes: leading '+', hex, leading zeros, inf, nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if (c as i8) <= b'9' as i8 {
            return false;
        }
        let head = [self.at(p), self.at(p + 1), self.at(p + 2)];
        head.eq_ignore_ascii_case(b"inf") || head.eq_ignore_ascii_case(b"nan")
    }

    fn number_token(&mut self) -> Tok {
        let start = unsafe { self.data.as_ptr().add(self.pos) } as *const c_char;
        let mut end = start as *mut c_char;
        let n = unsafe { libc::strtod(start, &mut end) };
        let used = end as usize - start as usize;
        if used == 0 {
            return Tok::Error(c"invalid number");
        }
        self.pos += used;
        Tok::Number(n)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let ch = self.at(self.pos);
        let single = match ch {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            0 => {
                return Token {
                    tok: Tok::End,
                    index,
                }
            }
            _ => None,
        };
        if let Some(tok) = single {
            self.pos += 1;
            return Token { tok, index };
        }
        let tok = match ch {
            b'"' => self.string_token(),
            b'-' | b'0'..=b'9' => {
                if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                    Tok::Error(c"invalid number")
                } else {
                    self.number_token()
                }
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.starts_with(b"true") {
                    self.pos += 4;
                    Tok::Boolean(true)
                } else if self.starts_with(b"false") {
                    self.pos += 5;
                    Tok::Boolean(false)
                } else if self.starts_with(b"null") {
                    self.pos += 4;
                    Tok::Null
                } else if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
                    self.number_token()
                } else {
                    Tok::Error(c"invalid token")
                }
            }
            _ => Tok::Error(c"invalid token"),
        };
        // An error token points at where the error is.
        let index = if matches!(tok, Tok::Error(_)) {
            self.pos
        } else {
            index
        };
        Token { tok, index }
    }

    unsafe fn parse_error(&self, expected: &CStr, t: Token) -> ! {
        raise!(
            self.l,
            c"Expected %s but found %s at character %d",
            expected.as_ptr(),
            t.tok.name().as_ptr(),
            (t.index + 1) as c_int,
        )
    }

    unsafe fn descend(&mut self, slots: c_int) {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth || ffi::lua_checkstack(self.l, slots) == 0 {
            raise!(
                self.l,
                c"Found too many nested data structures (%d) at character %d",
                self.depth,
                self.pos as c_int,
            );
        }
    }

    unsafe fn push_tmp(&self) {
        ffi::lua_pushlstring_(self.l, self.tmp.as_ptr() as *const c_char, self.tmp.len());
    }

    unsafe fn object(&mut self) {
        self.descend(3);
        ffi::lua_createtable(self.l, 0, 0);
        let mut t = self.next_token();
        if t.tok == Tok::ObjEnd {
            self.depth -= 1;
            return;
        }
        loop {
            if t.tok != Tok::Str {
                self.parse_error(c"object key string", t);
            }
            self.push_tmp();
            t = self.next_token();
            if t.tok != Tok::Colon {
                self.parse_error(c"colon", t);
            }
            t = self.next_token();
            self.value(t);
            ffi::lua_rawset(self.l, -3);
            t = self.next_token();
            if t.tok == Tok::ObjEnd {
                self.depth -= 1;
                return;
            }
            if t.tok != Tok::Comma {
                self.parse_error(c"comma or object end", t);
            }
            t = self.next_token();
        }
    }

    unsafe fn array(&mut self) {
        self.descend(2);
        ffi::lua_createtable(self.l, 0, 0);
        let mut t = self.next_token();
        if t.tok == Tok::ArrEnd {
            self.depth -= 1;
            return;
        }
        let mut i: c_int = 1;
        loop {
            self.value(t);
            ffi::lua_rawseti_(self.l, -2, i);
            i = i.wrapping_add(1);
            t = self.next_token();
            if t.tok == Tok::ArrEnd {
                self.depth -= 1;
                return;
            }
            if t.tok != Tok::Comma {
                self.parse_error(c"comma or array end", t);
            }
            t = self.next_token();
        }
    }

    unsafe fn value(&mut self, t: Token) {
        match t.tok {
            Tok::Str => self.push_tmp(),
            Tok::Number(n) => ffi::lua_pushnumber(self.l, n),
            Tok::Boolean(b) => ffi::lua_pushboolean(self.l, b as c_int),
            Tok::ObjBegin => self.object(),
            Tok::ArrBegin => self.array(),
            Tok::Null => ffi::lua_pushlightuserdata(self.l, ptr::null_mut()),
            _ => self.parse_error(c"value", t),
        }
    }
}

pub(super) unsafe extern "C-unwind" fn decode(l: *mut lua_State) -> c_int {
    lua::guard(l, || {
        if ffi::lua_gettop(l) != 1 {
            arg_error(l, 1, c"expected 1 argument".as_ptr());
        }
        let cfg = *config(l);
        let mut len = 0usize;
        let p = ffi::luaL_checklstring(l, 1, &mut len) as *const u8;
        let data = std::slice::from_raw_parts(p, len);
        if len >= 2 && (data[0] == 0 || data[1] == 0) {
            raise!(l, c"JSON parser does not support UTF-16 or UTF-32");
        }
        let tmp = support::push_buffer(l);
        (*tmp).reserve(len);
        let mut parser = Parser {
            l,
            data,
            pos: 0,
            tmp: &mut *tmp,
            cfg,
            depth: 0,
        };
        let t = parser.next_token();
        parser.value(t);
        let t = parser.next_token();
        if t.tok != Tok::End {
            parser.parse_error(c"the end", t);
        }
        1
    })
}
