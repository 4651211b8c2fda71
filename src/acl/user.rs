//! ACL users and their selectors, and ACL SETUSER's rules applied to them (Redis's
//! ACLSetUser / ACLSetSelector). A user is a value: SETUSER edits a copy and swaps it in, so a
//! failing rule leaves the user as it was.
use super::catalog::{Catalog, CATEGORIES};
use sha2::{Digest, Sha256};

/// Read (`%R~`) and write (`%W~`) permission bits of a key pattern.
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub perms: u8,
}

#[derive(Clone, Debug)]
pub struct Selector {
    pub all_keys: bool,
    pub all_channels: bool,
    /// Set by `+@all`/`allcommands`, cleared by any command taken away.
    pub all_commands: bool,
    /// Redis's "future commands" bit: set only by `+@all`, cleared only by `-@all`.
    pub future: bool,
    /// One bit per command id.
    pub allowed: Vec<u64>,
    /// `+select|0`: first arguments allowed for a command whose bit is clear (by command id).
    pub first_args: Vec<(usize, Vec<Vec<u8>>)>,
    pub keys: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    /// Some(true): sanitize-payload; Some(false): skip-sanitize-payload.
    pub sanitize: Option<bool>,
    /// Lowercase hex SHA-256 digests, in the order added.
    pub passwords: Vec<String>,
    /// The root selector first, then those added with `(...)`.
    pub selectors: Vec<Selector>,
    /// Everything allowed by the root alone: the request path skips the checks.
    pub unrestricted: bool,
}

/// A rule SETUSER refused, with Redis's message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleError {
    NoEnt,
    Inval,
    Exist,
    IsDir,
    NoDev,
    BadMsg,
    Child,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::NoEnt => "Unknown command or category name in ACL",
            RuleError::Inval => "Syntax error",
            RuleError::Exist => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::IsDir => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoDev => "The password you are trying to remove from the user does not exist",
            RuleError::BadMsg => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::Child => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn has_space(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
}

/// Usernames may not contain whitespace or NUL.
pub fn valid_name(name: &[u8]) -> bool {
    !has_space(name)
}

impl Selector {
    pub fn new(catalog: &Catalog, all_channels: bool) -> Selector {
        Selector {
            all_keys: false,
            all_channels,
            all_commands: false,
            future: false,
            allowed: vec![0; catalog.len().div_ceil(64)],
            first_args: Vec::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    #[inline]
    pub fn bit(&self, id: usize) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// `+cmd` / `-cmd`: the command and, for a container, all its subcommands.
    pub fn change_command(&mut self, catalog: &Catalog, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.retain(|(c, _)| *c != id);
        for &s in &catalog.entries[id].subs {
            self.change_command(catalog, s, allow);
        }
    }

    /// `+@cat` / `-@cat`: every command (and subcommand) in the category.
    pub fn change_category(&mut self, catalog: &Catalog, cat: u32, allow: bool) {
        for id in 0..catalog.len() {
            if catalog.entries[id].categories & cat != 0 {
                self.change_command(catalog, id, allow);
            }
        }
    }

    fn set_all(&mut self, allow: bool) {
        let fill = if allow { u64::MAX } else { 0 };
        self.allowed.iter_mut().for_each(|w| *w = fill);
        self.all_commands = allow;
        self.future = allow;
        self.first_args.clear();
    }

    pub fn first_args_of(&self, id: usize) -> &[Vec<u8>] {
        self.first_args
            .iter()
            .find(|(c, _)| *c == id)
            .map_or(&[], |(_, a)| a.as_slice())
    }

    /// One rule of a selector (Redis's ACLSetSelector).
    pub fn apply(&mut self, catalog: &Catalog, op: &[u8]) -> Result<(), RuleError> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"allkeys" | b"~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            b"allchannels" | b"&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => self.set_all(true),
            b"nocommands" | b"-@all" => self.set_all(false),
            _ => match op.first() {
                Some(b'~') | Some(b'%') => self.add_key_pattern(op)?,
                Some(b'&') => {
                    if self.all_channels {
                        return Err(RuleError::IsDir);
                    }
                    let p = &op[1..];
                    if has_space(p) {
                        return Err(RuleError::Inval);
                    }
                    if !self.channels.iter().any(|c| c == p) {
                        self.channels.push(p.to_vec());
                    }
                }
                Some(&sign @ (b'+' | b'-')) => {
                    let allow = sign == b'+';
                    if op.get(1) == Some(&b'@') {
                        let cat = super::catalog::category_bit(&op[2..]).ok_or(RuleError::NoEnt)?;
                        self.change_category(catalog, cat, allow);
                    } else {
                        self.command_rule(catalog, &op[1..], allow)?;
                    }
                }
                _ => return Err(RuleError::Inval),
            },
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::Exist);
        }
        let mut perms = 0u8;
        let mut offset = 1;
        if op[0] == b'%' {
            while offset < op.len() {
                match op[offset].to_ascii_uppercase() {
                    b'R' if perms & READ == 0 => perms |= READ,
                    b'W' if perms & WRITE == 0 => perms |= WRITE,
                    b'~' => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Inval),
                }
                offset += 1;
            }
            if perms == 0 {
                return Err(RuleError::Inval);
            }
        } else {
            perms = READ | WRITE;
        }
        let p = &op[offset.min(op.len())..];
        if has_space(p) {
            return Err(RuleError::Inval);
        }
        match self.keys.iter_mut().find(|k| k.pattern == p) {
            Some(k) => k.perms |= perms,
            None => self.keys.push(KeyPattern {
                pattern: p.to_vec(),
                perms,
            }),
        }
        Ok(())
    }

    /// `+cmd`, `-cmd`, `+container|sub`, and the first-argument form `+select|0`.
    fn command_rule(
        &mut self,
        catalog: &Catalog,
        name: &[u8],
        allow: bool,
    ) -> Result<(), RuleError> {
        if let Some(id) = catalog.lookup(name) {
            self.change_command(catalog, id, allow);
            return Ok(());
        }
        let bar = name
            .iter()
            .rposition(|&c| c == b'|')
            .ok_or(RuleError::NoEnt)?;
        if !allow {
            return Err(RuleError::NoEnt);
        }
        let base = catalog.lookup(&name[..bar]).ok_or(RuleError::NoEnt)?;
        if catalog.entries[base].parent.is_some() {
            return Err(RuleError::Child);
        }
        let arg = &name[bar + 1..];
        if arg.is_empty() {
            return Err(RuleError::Inval);
        }
        if !catalog.entries[base].subs.is_empty() {
            // A container's unknown subcommand (a known one was found above).
            return Err(RuleError::NoEnt);
        }
        match self.first_args.iter_mut().find(|(c, _)| *c == base) {
            Some((_, list)) => {
                if !list.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                    list.push(arg.to_vec());
                }
            }
            None => self.first_args.push((base, vec![arg.to_vec()])),
        }
        Ok(())
    }
}

impl User {
    /// A user as `ACL SETUSER name` creates it: off, no passwords, nothing allowed.
    pub fn new(name: &[u8], catalog: &Catalog, pubsub_all: bool) -> User {
        let mut u = User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(catalog, pubsub_all)],
            unrestricted: false,
        };
        u.refresh();
        u
    }

    /// The default user as Redis creates it: `on nopass ~* &* +@all`.
    pub fn superuser(name: &[u8], catalog: &Catalog) -> User {
        let mut u = User::new(name, catalog, true);
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            u.apply(catalog, op.as_bytes(), true).expect("valid rules");
        }
        u
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    fn refresh(&mut self) {
        let r = &self.selectors[0];
        self.unrestricted = r.all_commands && r.all_keys && r.all_channels;
    }

    /// One SETUSER rule (Redis's ACLSetUser). `pubsub_all`: acl-pubsub-default is allchannels.
    pub fn apply(
        &mut self,
        catalog: &Catalog,
        op: &[u8],
        pubsub_all: bool,
    ) -> Result<(), RuleError> {
        let r = self.apply_inner(catalog, op, pubsub_all);
        self.refresh();
        r
    }

    fn apply_inner(
        &mut self,
        catalog: &Catalog,
        op: &[u8],
        pubsub_all: bool,
    ) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"skip-sanitize-payload" => self.sanitize = Some(false),
            b"sanitize-payload" => self.sanitize = Some(true),
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"clearselectors" => self.selectors.truncate(1),
            b"reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels"] {
                    self.apply_inner(catalog, r.as_bytes(), pubsub_all)?;
                }
                if pubsub_all {
                    self.apply_inner(catalog, b"allchannels", pubsub_all)?;
                }
                for r in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                    self.apply_inner(catalog, r.as_bytes(), pubsub_all)?;
                }
            }
            _ => match op[0] {
                b'>' => {
                    let h = sha256_hex(&op[1..]);
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                b'#' => {
                    let h = valid_hash(&op[1..])?;
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                b'<' => {
                    let h = sha256_hex(&op[1..]);
                    self.remove_password(&h)?;
                }
                b'!' => {
                    let h = valid_hash(&op[1..])?;
                    self.remove_password(&h)?;
                }
                b'(' if op.last() == Some(&b')') => {
                    let mut s = Selector::new(catalog, pubsub_all);
                    let inner = &op[1..op.len() - 1];
                    let parts =
                        crate::protocol::inline::split_args(inner).map_err(|_| RuleError::Inval)?;
                    for p in parts {
                        s.apply(catalog, &p)?;
                    }
                    self.selectors.push(s);
                }
                _ => self.selectors[0].apply(catalog, op)?,
            },
        }
        Ok(())
    }

    fn remove_password(&mut self, h: &str) -> Result<(), RuleError> {
        let before = self.passwords.len();
        self.passwords.retain(|p| p != h);
        if self.passwords.len() == before {
            return Err(RuleError::NoDev);
        }
        Ok(())
    }

    /// Whether `pass` opens this user (enabled, and nopass or one of its passwords).
    pub fn check_password(&self, pass: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&sha256_hex(pass)))
    }

    /// The flags GETUSER and LIST show, in Redis's order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }
}

fn valid_hash(h: &[u8]) -> Result<String, RuleError> {
    if h.len() != 64 || !h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(RuleError::BadMsg);
    }
    Ok(String::from_utf8_lossy(h).into_owned())
}

/// Joins SETUSER arguments that spell one selector across several (`"(+get" "~x)"`), as
/// Redis's ACLMergeSelectorArguments. Err: the argument that opened an unclosed selector.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut out = Vec::new();
    let mut open: Option<(Vec<u8>, &[u8])> = None;
    for &a in args {
        if let Some((cur, _)) = open.as_mut() {
            cur.push(b' ');
            cur.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(open.take().expect("open").0);
            }
        } else if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some((a.to_vec(), a));
        } else {
            out.push(a.to_vec());
        }
    }
    match open {
        Some((_, first)) => Err(first.to_vec()),
        None => Ok(out),
    }
}

/// Names of a category set, for ACL CAT-like listings.
pub fn category_names(bits: u32) -> impl Iterator<Item = &'static str> {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(move |(i, _)| bits & (1 << i) != 0)
        .map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::catalog::{category_bit, Catalog, Entry};

    fn catalog() -> Catalog {
        let e = |name, parent, cats: &[&str]| Entry {
            name,
            parent,
            subs: Vec::new(),
            categories: cats
                .iter()
                .map(|c| category_bit(c.as_bytes()).unwrap())
                .fold(0, |a, b| a | b),
            no_auth: false,
        };
        Catalog::new(vec![
            e("get", None, &["read", "string", "fast"]),
            e("set", None, &["write", "string", "slow"]),
            e("config", None, &["slow"]),
            e("config|get", Some(2), &["admin", "slow", "dangerous"]),
            e("select", None, &["fast", "connection"]),
        ])
    }

    #[test]
    fn rules_apply_in_order_and_fail_as_a_whole() {
        let cat = catalog();
        let mut u = User::new(b"u", &cat, false);
        for op in [
            "on",
            "+@string",
            "-set",
            "+config|get",
            "+select|0",
            "%R~r*",
            "%W~r*",
            "&c",
        ] {
            u.apply(&cat, op.as_bytes(), false).unwrap();
        }
        let r = u.root();
        assert!(r.bit(0) && !r.bit(1) && !r.bit(2) && r.bit(3) && !r.bit(4));
        assert_eq!(r.first_args_of(4), [b"0".to_vec()]);
        assert_eq!(
            r.keys,
            vec![KeyPattern {
                pattern: b"r*".to_vec(),
                perms: READ | WRITE
            }]
        );
        assert_eq!(
            u.apply(&cat, b"+config|get|x", false),
            Err(RuleError::Child)
        );
        assert_eq!(
            u.apply(&cat, b"+config|nosuch", false),
            Err(RuleError::NoEnt)
        );
        assert_eq!(u.apply(&cat, b"-select|0", false), Err(RuleError::NoEnt));
        assert_eq!(u.apply(&cat, b"%~x", false), Err(RuleError::Inval));
        assert_eq!(u.apply(&cat, b"<nope", false), Err(RuleError::NoDev));
        u.apply(&cat, b"+config", false).unwrap();
        assert!(u.root().bit(2) && u.root().bit(3));
        u.apply(&cat, b"reset", false).unwrap();
        assert!(!u.enabled && u.root().allowed.iter().all(|w| *w == 0));
    }

    #[test]
    fn selectors_spanning_arguments_are_merged() {
        let args: Vec<&[u8]> = vec![b"on", b"(+get", b"~x)", b"(+set)"];
        let merged = merge_selector_args(&args).unwrap();
        assert_eq!(
            merged,
            vec![b"on".to_vec(), b"(+get ~x)".to_vec(), b"(+set)".to_vec()]
        );
        let open: Vec<&[u8]> = vec![b"(+get", b"~x"];
        assert_eq!(merge_selector_args(&open), Err(b"(+get".to_vec()));
    }

    #[test]
    fn descriptions_pick_categories_then_fix_up_commands() {
        let cat = catalog();
        let mut u = User::new(b"u", &cat, false);
        u.apply(&cat, b"+@string", false).unwrap();
        u.apply(&cat, b"-set", false).unwrap();
        // @string explains get but not set; @read explains get alone: the greedy pick.
        assert_eq!(
            super::super::describe::command_rules(&cat, u.root()),
            "-@all +@read"
        );
        u.apply(&cat, b"+select", false).unwrap();
        assert_eq!(
            super::super::describe::command_rules(&cat, u.root()),
            "-@all +@fast"
        );
        u.apply(&cat, b"+@all", false).unwrap();
        u.apply(&cat, b"-config|get", false).unwrap();
        // config|get is all of @admin here.
        assert_eq!(
            super::super::describe::command_rules(&cat, u.root()),
            "+@all -@admin"
        );
    }
}
