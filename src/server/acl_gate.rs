//! The ACL check of a request, where the dispatcher (top level, MULTI queueing, EXEC's
//! re-check) and a script's `redis.call` need it: the keys and channels the command table
//! says the request touches, checked against the client's user, refusals logged in ACL LOG.
use crate::acl::check::Denied;
use crate::acl::log::Reason;
use crate::acl::User;
use crate::commands::Resolved;
use crate::state::{Client, Shared};
use bytes::Bytes;
use std::sync::Arc;

/// The client's user, None when it needs no check (a replication or AOF client, a user
/// allowed everything). A deleted user is a user allowed nothing.
pub fn restricted_user(sh: &Shared, client: &mut Client) -> Option<Arc<User>> {
    if client.primary_link {
        return None;
    }
    match sh.acl.session_user_ref(&mut client.user) {
        Some(u) => (!u.unrestricted).then(|| u.clone()),
        // The user was deleted (its clients are being disconnected): nothing is allowed.
        None => Some(Arc::new(User::new(
            &client.user.name,
            &sh.acl.catalog,
            false,
        ))),
    }
}

/// Checks `args` (resolved as `r`) for `user`.
pub fn check(sh: &Shared, user: &User, r: &Resolved, args: &[Bytes]) -> Result<(), Denied> {
    crate::commands::acl_check_request(sh, user, r, args)
}

/// Records a refusal in ACL LOG. `context`: toplevel, multi or lua.
pub fn log_denial(
    sh: &Shared,
    client: &Client,
    r: &Resolved,
    args: &[Bytes],
    d: Denied,
    context: &'static str,
) {
    let (reason, object) = match d {
        Denied::Command => (Reason::Command, r.spec.name.as_bytes().to_vec()),
        Denied::Key(i) => (Reason::Key, args[i].to_vec()),
        Denied::Channel(i) => (Reason::Channel, args[i].to_vec()),
    };
    // A script's refusal shows the client that ran the script.
    let who = client
        .acting_for
        .and_then(|id| sh.clients.get(id))
        .unwrap_or_else(|| client.handle.clone());
    crate::commands::acl_log_event(sh, &who, reason, object, client.user.name.to_vec(), context);
}

/// The error a client gets for a refusal at the top level, when queueing, or (`in_exec`)
/// when EXEC re-checks a queued command.
pub fn error(r: &Resolved, d: Denied, in_exec: bool) -> crate::protocol::ErrorReply {
    use crate::protocol::ErrorReply;
    match (d, in_exec) {
        (Denied::Command, false) => ErrorReply::noperm_command(r.spec.name),
        (Denied::Key(_), false) => ErrorReply::noperm_key(),
        (Denied::Channel(_), false) => ErrorReply::noperm_channel(),
        (Denied::Command, true) => ErrorReply::exec_noperm_command(),
        (Denied::Key(_), true) => ErrorReply::exec_noperm_key(),
        (Denied::Channel(_), true) => ErrorReply::exec_noperm_channel(),
    }
}

/// A script's command refused (scriptCall's texts).
pub fn script_error(d: Denied) -> crate::protocol::ErrorReply {
    use crate::protocol::ErrorReply;
    match d {
        Denied::Command => ErrorReply::script_noperm_command(),
        Denied::Key(_) => ErrorReply::script_noperm_key(),
        Denied::Channel(_) => ErrorReply::script_noperm_channel(),
    }
}
