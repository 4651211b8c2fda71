//! Access control lists, as Redis 7.0: users with passwords and selectors of allowed
//! commands, key patterns (read/write) and channel patterns; the permission check every
//! request passes; ACL LOG; the ACL file. Depends on `catalog` (built by `commands` from the
//! command table), `protocol::inline` (selector argument splitting) and `util`.
//!
//! Users are immutable values in a map; a change swaps the user's `Arc` and bumps `version`.
//! Clients keep the name of their user and a cached `Arc` they refresh when `version` moves,
//! so a change applies from each client's next command, as in Redis, and the request path costs
//! one atomic load (and nothing more for an unrestricted user such as the default one).
pub mod catalog;
pub mod check;
pub mod describe;
pub mod file;
pub mod log;
pub mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
pub use user::User;

pub const DEFAULT_USER: &[u8] = b"default";

pub struct Acl {
    pub catalog: catalog::Catalog,
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    version: AtomicU64,
    /// The default user lets clients in without AUTH (on and nopass).
    default_open: AtomicBool,
    pub log: Mutex<log::AclLog>,
    /// acllog-max-len.
    log_max_len: std::sync::atomic::AtomicUsize,
}

/// A client's view of its user: the user's name and the `Arc` it saw last.
#[derive(Clone)]
pub struct Session {
    pub name: Arc<[u8]>,
    cached: Option<(u64, Arc<User>)>,
}

impl Default for Session {
    fn default() -> Session {
        Session {
            name: Arc::from(DEFAULT_USER),
            cached: None,
        }
    }
}

impl Session {
    pub fn for_user(name: &[u8]) -> Session {
        Session {
            name: Arc::from(name),
            cached: None,
        }
    }

    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// Why SETUSER failed, formatted as Redis's reply text (without the "ERR ").
pub fn setuser_error(op: &[u8], e: user::RuleError) -> String {
    format!(
        "Error in ACL SETUSER modifier '{}': {}",
        String::from_utf8_lossy(op),
        e.message()
    )
}

impl Acl {
    pub fn new(catalog: catalog::Catalog) -> Acl {
        let default = User::superuser(DEFAULT_USER, &catalog);
        let mut users = BTreeMap::new();
        users.insert(DEFAULT_USER.to_vec(), Arc::new(default));
        Acl {
            catalog,
            users: RwLock::new(users),
            version: AtomicU64::new(1),
            default_open: AtomicBool::new(true),
            log: Mutex::new(log::AclLog::default()),
            log_max_len: std::sync::atomic::AtomicUsize::new(128),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Arc<User>>> {
        // A panic while holding the lock cannot leave the map half-changed (entries are
        // swapped whole), so a poisoned lock is used as is.
        self.users.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Arc<User>>> {
        self.users.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self, users: &BTreeMap<Vec<u8>, Arc<User>>) {
        let open = users
            .get(DEFAULT_USER)
            .is_some_and(|d| d.nopass && d.enabled);
        self.default_open.store(open, Relaxed);
        self.version.fetch_add(1, Relaxed);
    }

    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.read().get(name).cloned()
    }

    /// The session's user as of now (None once the user is deleted).
    #[inline]
    pub fn session_user(&self, s: &mut Session) -> Option<Arc<User>> {
        self.session_user_ref(s).cloned()
    }

    /// As `session_user`, borrowed: the request path's check costs one atomic load and no
    /// reference-count traffic while the users do not change.
    #[inline]
    pub fn session_user_ref<'s>(&self, s: &'s mut Session) -> Option<&'s Arc<User>> {
        let v = self.version.load(Relaxed);
        if !matches!(&s.cached, Some((cv, _)) if *cv == v) {
            s.cached = Some((v, self.user(&s.name)?));
        }
        s.cached.as_ref().map(|(_, u)| u)
    }

    /// Whether a client not authenticated by AUTH/HELLO must authenticate first.
    pub fn auth_required(&self) -> bool {
        !self.default_open.load(Relaxed)
    }

    pub fn names(&self) -> Vec<Vec<u8>> {
        self.read().keys().cloned().collect()
    }

    pub fn all(&self) -> Vec<Arc<User>> {
        self.read().values().cloned().collect()
    }

    /// ACL SETUSER: the rules apply to a copy of the user (or a new one); all or nothing.
    /// Returns the user as it was before, if it existed.
    pub fn setuser(
        &self,
        name: &[u8],
        rules: &[&[u8]],
        pubsub_all: bool,
    ) -> Result<Option<Arc<User>>, String> {
        if !user::valid_name(name) {
            return Err("Usernames can't contain spaces or null characters".into());
        }
        let rules = user::merge_selector_args(rules).map_err(|first| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(&first)
            )
        })?;
        let mut users = self.write();
        let old = users.get(name).cloned();
        let mut u = match &old {
            Some(u) => (**u).clone(),
            None => User::new(name, &self.catalog, pubsub_all),
        };
        for op in &rules {
            u.apply(&self.catalog, op, pubsub_all)
                .map_err(|e| setuser_error(op, e))?;
        }
        users.insert(name.to_vec(), Arc::new(u));
        self.changed(&users);
        Ok(old)
    }

    /// ACL DELUSER: how many of `names` existed. The default user cannot go.
    pub fn deluser(&self, names: &[&[u8]]) -> Result<usize, String> {
        if names.contains(&DEFAULT_USER) {
            return Err("The 'default' user cannot be removed".into());
        }
        let mut users = self.write();
        let n = names.iter().filter(|n| users.remove(**n).is_some()).count();
        self.changed(&users);
        Ok(n)
    }

    /// AUTH: the user if `pass` opens it.
    pub fn authenticate(&self, name: &[u8], pass: &[u8]) -> Option<Arc<User>> {
        self.user(name).filter(|u| u.check_password(pass))
    }

    /// requirepass sets the default user's one password (empty: nopass).
    pub fn set_requirepass(&self, pass: Option<&[u8]>) {
        let mut users = self.write();
        let mut u = users
            .get(DEFAULT_USER)
            .map(|u| (**u).clone())
            .unwrap_or_else(|| User::superuser(DEFAULT_USER, &self.catalog));
        let _ = u.apply(&self.catalog, b"resetpass", true);
        match pass {
            Some(p) => {
                let mut op = b">".to_vec();
                op.extend_from_slice(p);
                let _ = u.apply(&self.catalog, &op, true);
            }
            None => {
                let _ = u.apply(&self.catalog, b"nopass", true);
            }
        }
        users.insert(DEFAULT_USER.to_vec(), Arc::new(u));
        self.changed(&users);
    }

    /// Replaces every user at once (ACL LOAD, the `user` directives at startup). The default
    /// user is recreated as Redis's if `users` has none.
    pub fn replace_all(&self, new: Vec<User>) {
        let mut users = self.write();
        users.clear();
        for u in new {
            users.insert(u.name.clone(), Arc::new(u));
        }
        users
            .entry(DEFAULT_USER.to_vec())
            .or_insert_with(|| Arc::new(User::superuser(DEFAULT_USER, &self.catalog)));
        self.changed(&users);
    }

    /// The permission check of a request (see check.rs).
    pub fn check(&self, user: &User, req: &check::Request) -> Result<(), check::Denied> {
        check::check(&self.catalog, user, req)
    }

    pub fn log_event(&self, e: log::Entry) {
        let max_len = self.log_max_len.load(Relaxed);
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(e, max_len);
    }

    pub fn log(&self) -> std::sync::MutexGuard<'_, log::AclLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// acllog-max-len: a shorter limit trims the log at once.
    pub fn set_log_max_len(&self, n: usize) {
        self.log_max_len.store(n, Relaxed);
        self.log().truncate(n);
    }
}
