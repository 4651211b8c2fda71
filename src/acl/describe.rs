//! A user as text: the command rules regenerated from a selector's bits (Redis 7.0's
//! ACLDescribeSelectorCommandRules: the categories that best explain the bits, greedily, then
//! single commands to fix up the difference), and the `user ...` lines of ACL LIST and the ACL
//! file.
use super::catalog::{Catalog, CATEGORIES};
use super::user::{Selector, User, READ, WRITE};

/// The command rules of a selector (`+@all -get`, `-@all +@string -append ...`).
pub fn command_rules(catalog: &Catalog, sel: &Selector) -> String {
    let (additive, mut out) = if sel.future {
        (false, String::from("+@all"))
    } else {
        (true, String::from("-@all"))
    };
    let mut fake = Selector::new(catalog, false);
    if !additive {
        fake.change_category(catalog, u32::MAX, true);
    }
    let mut temp = sel.clone();
    let mut applied = 0u32;
    loop {
        let mut best: Option<u32> = None;
        let (mut mindiff, mut maxsame) = (usize::MAX, 0usize);
        for (i, _) in CATEGORIES.iter().enumerate() {
            let cat = 1u32 << i;
            if applied & cat != 0 {
                continue;
            }
            let (mut on, mut off) = (0usize, 0usize);
            for id in 0..catalog.len() {
                if catalog.entries[id].categories & cat != 0 {
                    if temp.bit(id) {
                        on += 1;
                    } else {
                        off += 1;
                    }
                }
            }
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                best = Some(cat);
                mindiff = diff;
                maxsame = same;
            }
        }
        let Some(cat) = best else { break };
        let name = CATEGORIES[cat.trailing_zeros() as usize];
        out.push_str(if additive { " +@" } else { " -@" });
        out.push_str(name);
        fake.change_category(catalog, cat, additive);
        temp.change_category(catalog, cat, !additive);
        applied |= cat;
    }
    for id in catalog.top_level() {
        fix_up(catalog, sel, &mut fake, id, &mut out);
    }
    out
}

fn fix_up(catalog: &Catalog, sel: &Selector, fake: &mut Selector, id: usize, out: &mut String) {
    let (u, f) = (sel.bit(id), fake.bit(id));
    let name = catalog.entries[id].name;
    if u != f {
        out.push_str(if u { " +" } else { " -" });
        out.push_str(name);
        fake.change_command(catalog, id, u);
    }
    for &s in &catalog.entries[id].subs {
        fix_up(catalog, sel, fake, s, out);
    }
    if !u {
        for a in sel.first_args_of(id) {
            out.push_str(" +");
            out.push_str(name);
            out.push('|');
            out.push_str(&String::from_utf8_lossy(a));
        }
    }
}

/// Key patterns as GETUSER shows them: `~*`, or `~p`, `%R~p`, `%W~p` joined by spaces.
pub fn keys(sel: &Selector) -> String {
    if sel.all_keys {
        return "~*".into();
    }
    let parts: Vec<String> = sel
        .keys
        .iter()
        .map(|k| {
            let prefix = match k.perms {
                p if p == READ | WRITE => "~",
                READ => "%R~",
                WRITE => "%W~",
                _ => "~",
            };
            format!("{prefix}{}", String::from_utf8_lossy(&k.pattern))
        })
        .collect();
    parts.join(" ")
}

/// Channel patterns as GETUSER shows them: `&*` or `&p ...`.
pub fn channels(sel: &Selector) -> String {
    if sel.all_channels {
        return "&*".into();
    }
    let parts: Vec<String> = sel
        .channels
        .iter()
        .map(|c| format!("&{}", String::from_utf8_lossy(c)))
        .collect();
    parts.join(" ")
}

/// A selector as ACL LIST writes it: keys, channels (`resetchannels &p ...` when restricted),
/// then the command rules.
pub fn selector(catalog: &Catalog, sel: &Selector) -> String {
    let mut parts = Vec::new();
    let k = keys(sel);
    if !k.is_empty() {
        parts.push(k);
    }
    if sel.all_channels {
        parts.push("&*".into());
    } else {
        parts.push("resetchannels".into());
        let c = channels(sel);
        if !c.is_empty() {
            parts.push(c);
        }
    }
    parts.push(command_rules(catalog, sel));
    parts.join(" ")
}

/// `user <name> <flags> <#hashes> <root> (<selector>)...`: an ACL LIST entry, an ACL file line.
pub fn user_line(catalog: &Catalog, u: &User) -> String {
    let mut parts = vec![format!("user {}", String::from_utf8_lossy(&u.name))];
    parts.extend(u.flag_names().iter().map(|f| f.to_string()));
    parts.extend(u.passwords.iter().map(|p| format!("#{p}")));
    parts.push(selector(catalog, u.root()));
    for s in &u.selectors[1..] {
        parts.push(format!("({})", selector(catalog, s)));
    }
    parts.join(" ")
}
