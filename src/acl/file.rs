//! The ACL file (`aclfile`): one `user <name> <rules...>` line per user, as ACL SAVE writes
//! and ACL LOAD reads it. Loading is all or nothing: every error found is reported and the
//! active users stay as they were.
use super::catalog::Catalog;
use super::user::{self, User};
use super::Acl;

/// Parses an ACL file's text into users (Redis's ACLLoadFromFile), or the accumulated errors.
pub fn parse(
    catalog: &Catalog,
    text: &str,
    file: &str,
    pubsub_all: bool,
) -> Result<Vec<User>, String> {
    let mut users: Vec<User> = Vec::new();
    let mut errors = String::new();
    for (n, raw) in text.split('\n').enumerate() {
        let n = n + 1;
        let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split(' ').collect();
        if words[0] != "user" || words.len() < 2 {
            errors.push_str(&format!(
                "{file}:{n} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = words[1].as_bytes();
        if !user::valid_name(name) {
            errors.push_str(&format!(
                "'{file}:{n}: username '{}' contains invalid characters. ",
                words[1]
            ));
            continue;
        }
        if users.iter().any(|u| u.name == name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {n}. ",
                words[1]
            ));
            continue;
        }
        let rules: Vec<&[u8]> = words[2..].iter().map(|w| w.as_bytes()).collect();
        let rules = match user::merge_selector_args(&rules) {
            Ok(r) => r,
            Err(_) => {
                errors.push_str(&format!(
                    "{file}:{n}: Unmatched parenthesis in selector definition. "
                ));
                continue;
            }
        };
        let mut u = User::new(name, catalog, pubsub_all);
        let mut line_failed = false;
        for op in &rules {
            if let Err(e) = u.apply(catalog, op, pubsub_all) {
                if e == user::RuleError::NoEnt {
                    errors.push_str(&format!(
                        "{file}:{n}: Error in applying operation '{}': {}. ",
                        String::from_utf8_lossy(op),
                        e.message()
                    ));
                } else if !line_failed {
                    errors.push_str(&format!("{file}:{n}: {}. ", e.message()));
                }
                line_failed = true;
            }
        }
        users.push(u);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        Err(errors)
    }
}

/// ACL LOAD from `file`.
pub fn load(acl: &Acl, file: &str, pubsub_all: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{file}': {}",
            crate::util::strerror(&e)
        )
    })?;
    let users = parse(&acl.catalog, &text, file, pubsub_all)?;
    acl.replace_all(users);
    Ok(())
}

/// ACL SAVE to `file`, through a temporary file renamed over it.
pub fn save(acl: &Acl, file: &str) -> std::io::Result<()> {
    let mut text = String::new();
    for u in acl.all() {
        text.push_str(&super::describe::user_line(&acl.catalog, &u));
        text.push('\n');
    }
    let tmp = format!("{file}.tmp-{}", std::process::id());
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}
