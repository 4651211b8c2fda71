//! Every error reply slotcache sends, written once. Handlers return `ErrorReply` values built by
//! these constructors; nothing else in the crate spells out error text.
use std::borrow::Cow;

/// An error reply, without the leading `-` and trailing CRLF. The first word is the error code
/// (`ERR`, `WRONGTYPE`, ...) that INFO errorstats counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply(Cow<'static, str>);

/// Redis truncates echoed user input in error messages to 128 bytes and maps CR/LF to spaces;
/// its `%s` formatting also stops at a NUL byte.
fn sanitize(b: &[u8], max: usize) -> String {
    let b = crate::util::cstr::until_nul(b);
    let s = String::from_utf8_lossy(&b[..b.len().min(max)]);
    s.replace(['\r', '\n'], " ")
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

macro_rules! fixed {
    ($($name:ident => $text:expr;)*) => {
        impl ErrorReply {
            $(pub fn $name() -> Self { ErrorReply(Cow::Borrowed($text)) })*
        }
    };
}

fixed! {
    read_only_replica => "READONLY You can't write against a read only replica.";
    no_replicas => "NOREPLICAS Not enough good replicas to write.";
    master_down => "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    no_master_link => "NOMASTERLINK Can't SYNC while not connected with my master";
    no_master_link_failing_over => "NOMASTERLINK Can't SYNC while failing over";
    replicaof_cluster => "ERR REPLICAOF not allowed in cluster mode.";
    wait_on_replica => "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.";
    replica_sync_refused => "ERR Replica can't interact with the keyspace";
    monitor_deny_blocking => "ERR MONITOR isn't allowed for DENY BLOCKING client";
    invalid_master_port => "ERR Invalid master port";
    busy_key => "BUSYKEY Target key name already exists.";
    bad_data_format => "ERR Bad data format";
    dump_payload => "ERR DUMP payload version or checksum are wrong";
    invalid_ttl => "ERR Invalid TTL value, must be >= 0";
    invalid_idletime => "ERR Invalid IDLETIME value, must be >= 0";
    invalid_freq => "ERR Invalid FREQ value, must be >= 0 and <= 255";
    bgsave_in_progress => "ERR Background save already in progress";
    bgsave_other_child => "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";
    aof_rewrite_in_progress => "ERR Background append only file rewriting already in progress";
    aof_loadaof_while_loading => "ERR DEBUG LOADAOF is not allowed while the AOF is loading";
    aof_rewrite_failed => "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.";
    loading => "LOADING Redis is loading the dataset in memory";
    misconf => "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
    debug_reload_options => "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.";
    save_failed => "ERR";
    reload_failed => "ERR Error trying to load the RDB dump, check server logs.";
    populate_count => "ERR count must be greater than 0";
    populate_size => "ERR size must be greater than 0";
    migrate_keys_needs_empty_key => "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string";
    not_in_transaction => "ERR Command not allowed inside a transaction";
    syntax => "ERR syntax error";
    cross_slot => "CROSSSLOT Keys in request don't hash to the same slot";
    try_again => "TRYAGAIN Multiple keys request during rehashing of slot";
    cluster_down_state => "CLUSTERDOWN The cluster is down";
    cluster_down_read_only => "CLUSTERDOWN The cluster is down and only accepts read commands";
    cluster_down_unbound => "CLUSTERDOWN Hash slot not served";
    cluster_disabled => "ERR This instance has cluster support disabled";
    not_integer => "ERR value is not an integer or out of range";
    not_float => "ERR value is not a valid float";
    overflow => "ERR increment or decrement would overflow";
    decr_overflow => "ERR decrement would overflow";
    nan_or_inf => "ERR increment would produce NaN or Infinity";
    wrong_type => "WRONGTYPE Operation against a key holding the wrong kind of value";
    no_such_key => "ERR no such key";
    offset_out_of_range => "ERR offset is out of range";
    string_too_long => "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    bit_offset => "ERR bit offset is not an integer or out of range";
    bit_value => "ERR bit is not an integer or out of range";
    oom => "OOM command not allowed when used memory > 'maxmemory'.";
    no_auth => "NOAUTH Authentication required.";
    wrong_pass => "WRONGPASS invalid username-password pair or user is disabled.";
    auth_not_configured => "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
    no_proto => "NOPROTO unsupported protocol version";
    max_clients => "ERR max number of clients reached";
    db_index => "ERR DB index is out of range";
    invalid_db_index => "ERR invalid DB index";
    same_object => "ERR source and destination objects are the same";
    timeout_negative => "ERR timeout is negative";
    timeout_invalid => "ERR timeout is not an integer or out of range";
    no_such_client => "ERR No such client";
    debug_disabled => "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"no\", you need to change it to \"yes\".";
    lfu_not_selected => "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    lfu_selected => "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    nx_xx_gt_lt => "ERR NX and XX, GT or LT options at the same time are not compatible";
    gt_and_lt => "ERR GT and LT options at the same time are not compatible";
    invalid_cursor => "ERR invalid cursor";
    min_max_len => "ERR The MINMATCHLEN option can't be used with the IDX option";
    bitop_not_one_key => "ERR BITOP NOT must be called with a single source key.";
    bitfield_type => "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    bitfield_overflow => "ERR Invalid OVERFLOW type specified";
    bitfield_ro_write => "ERR BITFIELD_RO only supports the GET subcommand";
    bitpos_bit => "ERR The bit argument must be 1 or 0.";
    lcs_idx_len => "ERR If you want both the length and indexes, please just use IDX.";
    lcs_not_strings => "ERR The specified keys must contain string values";
    lcs_too_big => "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
    hello_noauth => "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
    proto_version_not_int => "ERR Protocol version is not an integer or out of range";
    select_cluster => "ERR SELECT is not allowed in cluster mode";
    move_cluster => "ERR MOVE is not allowed in cluster mode";
    swapdb_cluster => "ERR SWAPDB is not allowed in cluster mode";
    copy_db_cluster => "ERR Copying to another database is not allowed in cluster mode";
    swapdb_first => "ERR invalid first DB index";
    swapdb_second => "ERR invalid second DB index";
    debug_local => "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
    invalid_command => "ERR Invalid command specified";
    redirect_missing => "ERR The client ID you want redirect to does not exist";
    prefix_needs_bcast => "ERR PREFIX option requires BCAST mode to be enabled";
    optin_and_optout => "ERR You can't specify both OPTIN mode and OPTOUT mode";
    optin_with_bcast => "ERR OPTIN and OPTOUT are not compatible with BCAST";
    caching_needs_opt => "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled";
    caching_yes_needs_optin => "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
    caching_no_needs_optout => "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";
    tracking_switch_opt => "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
    tracking_switch_bcast => "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
    timeout_not_float => "ERR timeout is not a float or out of range";
    unblocked => "UNBLOCKED client unblocked via CLIENT UNBLOCK";
    unblock_reason => "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
    multi_nested => "ERR MULTI calls can not be nested";
    watch_in_multi => "ERR WATCH inside MULTI is not allowed";
    exec_abort => "EXECABORT Transaction discarded because of previous errors.";
    exec_without_multi => "ERR EXEC without MULTI";
    discard_without_multi => "ERR DISCARD without MULTI";
    client_name_spaces => "ERR Client names cannot contain spaces, newlines or special characters.";
    shutdown_failed => "ERR Errors trying to SHUTDOWN. Check logs.";
    unpause_none => "ERR No clients paused";
    slowlog_count => "ERR count should be greater than or equal to -1";
    protected_mode => "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";
    no_config_file => "ERR The server is running without a config file";
}

impl ErrorReply {
    /// Text of the error as sent after `-`.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The error code word (`ERR`, `WRONGTYPE`, ...), as counted by INFO errorstats.
    pub fn code(&self) -> &str {
        self.0.split(' ').next().unwrap_or("ERR")
    }

    /// A refused EXEC (Redis's execCommandAbort): the transaction goes, with the reason.
    pub fn exec_abort_because(e: &ErrorReply) -> Self {
        ErrorReply(Cow::Owned(format!(
            "EXECABORT Transaction discarded because of: {}",
            e.text()
        )))
    }

    /// A cluster redirection or refusal (MOVED, ASK, CROSSSLOT, TRYAGAIN, CLUSTERDOWN).
    pub fn is_cluster_redirect(&self) -> bool {
        matches!(
            self.code(),
            "MOVED" | "ASK" | "CROSSSLOT" | "TRYAGAIN" | "CLUSTERDOWN"
        )
    }

    pub fn protocol(msg: &'static str) -> Self {
        ErrorReply(Cow::Owned(format!("ERR Protocol error: {msg}")))
    }

    pub fn protocol_expected_dollar(got: u8) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Protocol error: expected '$', got '{}'",
            got as char
        )))
    }

    pub fn unknown_command(name: &[u8], args: &[bytes::Bytes]) -> Self {
        let mut a = String::new();
        for arg in args {
            if a.len() >= 128 {
                break;
            }
            a.push('\'');
            a.push_str(&sanitize(arg, 128 - a.len().min(128)));
            a.push_str("' ");
        }
        ErrorReply(Cow::Owned(format!(
            "ERR unknown command '{}', with args beginning with: {}",
            sanitize(name, 128),
            a
        )))
    }

    /// `-MOVED <slot> <endpoint>:<port>`: the slot is served elsewhere.
    pub fn moved(slot: u16, host: &str, port: u16) -> Self {
        ErrorReply(Cow::Owned(format!("MOVED {slot} {host}:{port}")))
    }

    /// `-ASK <slot> <endpoint>:<port>`: the key is being migrated there.
    pub fn ask(slot: u16, host: &str, port: u16) -> Self {
        ErrorReply(Cow::Owned(format!("ASK {slot} {host}:{port}")))
    }

    pub fn unknown_subcommand(sub: &[u8], parent: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            sanitize(sub, 128),
            parent.to_uppercase()
        )))
    }

    /// A command whose handler panicked (server/dispatch.rs `contain_panic`).
    pub fn command_panicked(fullname: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR internal error in '{fullname}': the command was aborted, the keys it was writing were dropped and this connection is closed"
        )))
    }

    pub fn noperm_command(fullname: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "NOPERM this user has no permissions to run the '{fullname}' command"
        )))
    }

    pub fn wrong_arity(fullname: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR wrong number of arguments for '{fullname}' command"
        )))
    }

    pub fn invalid_expire(cmd: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR invalid expire time in '{cmd}' command"
        )))
    }

    /// Redis prints the option with `%s`, so it ends at the first NUL.
    pub fn unsupported_option(opt: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Unsupported option {}",
            lossy(crate::util::cstr::until_nul(opt))
        )))
    }

    pub fn value_out_of_range_must_be_positive() -> Self {
        ErrorReply(Cow::Borrowed("ERR value is out of range, must be positive"))
    }

    pub fn range_between(min: i64, max: i64) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR value is out of range, value must between {min} and {max}"
        )))
    }

    pub fn unknown_config(op: &str, name: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Unknown option or number of arguments for CONFIG {op} - '{}'",
            lossy(name)
        )))
    }

    pub fn aof_misconf(reason: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "MISCONF Errors writing to the AOF file: {reason}"
        )))
    }

    pub fn config_set_failed(name: &str, reason: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
        )))
    }

    pub fn config_set_duplicate(name: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
        )))
    }

    pub fn config_rewrite_failed(reason: &str) -> Self {
        ErrorReply(Cow::Owned(format!("ERR Rewriting config file: {reason}")))
    }

    pub fn invalid_arguments_for_getkeys() -> Self {
        ErrorReply(Cow::Borrowed(
            "ERR Invalid number of arguments specified for command",
        ))
    }

    /// COMMAND GETKEYS: the key positions could not be found (a bad key count ...).
    pub fn invalid_keys_for_getkeys() -> Self {
        ErrorReply(Cow::Borrowed("ERR Invalid arguments specified for command"))
    }

    pub fn no_keys_in_command() -> Self {
        ErrorReply(Cow::Borrowed("ERR The command has no key arguments"))
    }

    pub fn client_type(t: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Unknown client type '{}'",
            lossy(t)
        )))
    }

    pub fn debug_unknown(sub: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR unknown subcommand '{}'. Try DEBUG HELP.",
            sanitize(sub, 128)
        )))
    }

    pub fn invalid_argument(what: &str) -> Self {
        ErrorReply(Cow::Owned(format!("ERR Invalid argument '{what}'")))
    }

    pub fn not_allowed_in_context(cmd: &str, context: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Command not allowed inside a {context}: '{cmd}'"
        )))
    }

    /// `ERR <message>` for messages that echo a directive name or value (config, HELLO, CLIENT).
    pub fn unrecognized_replconf(opt: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Unrecognized REPLCONF option: {}",
            sanitize(opt, 128)
        )))
    }

    pub fn err(message: impl Into<String>) -> Self {
        ErrorReply(Cow::Owned(format!("ERR {}", message.into())))
    }

    pub fn subscribed_context(cmd: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )))
    }

    pub fn prefix_overlap(a: &[u8], b: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
            lossy(a),
            lossy(b)
        )))
    }

    pub fn prefix_overlap_existing(a: &[u8], b: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
            lossy(a),
            lossy(b)
        )))
    }

    pub fn unbalanced_quotes() -> Self {
        Self::protocol("unbalanced quotes in request")
    }
}

// hashes and sets
fixed! {
    hash_not_integer => "ERR hash value is not an integer";
    hash_not_float => "ERR hash value is not a float";
    value_nan_or_inf => "ERR value is NaN or Infinity";
    value_out_of_range => "ERR value is out of range";
    numkeys_not_positive => "ERR numkeys should be greater than 0";
    numkeys_over_args => "ERR Number of keys can't be greater than number of args";
    limit_negative => "ERR LIMIT can't be negative";
}

// lists
fixed! {
    index_out_of_range => "ERR index out of range";
    lpos_rank_zero => "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
    lpos_count_negative => "ERR COUNT can't be negative";
    lpos_maxlen_negative => "ERR MAXLEN can't be negative";
    count_not_positive => "ERR count should be greater than 0";
}

// hyperloglog
fixed! {
    hll_wrong_type => "WRONGTYPE Key is not a valid HyperLogLog string value.";
    hll_corrupted => "INVALIDOBJ Corrupted HLL object detected";
}

// sorted sets
fixed! {
    zadd_xx_and_nx => "ERR XX and NX options at the same time are not compatible";
    zadd_gt_lt_nx => "ERR GT, LT, and/or NX options at the same time are not compatible";
    zadd_incr_pair => "ERR INCR option supports a single increment-element pair";
    zset_score_nan => "ERR resulting score is not a number (NaN)";
    zset_range_not_float => "ERR min or max is not a float";
    zset_lex_range => "ERR min or max not valid string range item";
    zset_weight_not_float => "ERR weight value is not a float";
    zrange_limit_needs_by => "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
    zrange_withscores_bylex => "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
}

impl ErrorReply {
    /// ZUNION/ZINTER/ZDIFF, their STORE forms and ZINTERCARD with numkeys < 1 (`cmd` lowercase).
    pub fn zset_needs_one_key(cmd: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR at least 1 input key is needed for '{cmd}' command"
        )))
    }
}

// geo and sort
fixed! {
    geo_unit => "ERR unsupported unit provided. please use M, KM, FT, MI";
    geo_radius_not_float => "ERR need numeric radius";
    geo_width_not_float => "ERR need numeric width";
    geo_height_not_float => "ERR need numeric height";
    geo_radius_negative => "ERR radius cannot be negative";
    geo_box_negative => "ERR height or width cannot be negative";
    geo_member_missing => "ERR could not decode requested zset member";
    geo_count_not_positive => "ERR COUNT must be > 0";
    geo_any_needs_count => "ERR the ANY argument requires COUNT argument";
    sort_not_double => "ERR One or more scores can't be converted into double";
    sort_by_in_cluster => "ERR BY option of SORT denied in Cluster mode.";
    sort_get_in_cluster => "ERR GET option of SORT denied in Cluster mode.";
}

impl ErrorReply {
    /// A coordinate pair outside the indexable area, printed with C's `%f`.
    pub fn geo_lonlat(lon: f64, lat: f64) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )))
    }

    /// WITHDIST/WITHHASH/WITHCOORD with a store: `what` is "GEOSEARCHSTORE" or
    /// "STORE option in GEORADIUS".
    pub fn geo_store_with(what: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )))
    }

    /// GEOSEARCH(STORE) without a centre; `cmd` as the client spelled it.
    pub fn geo_needs_from(cmd: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            lossy(crate::util::cstr::until_nul(cmd))
        )))
    }

    /// GEOSEARCH(STORE) without a shape; `cmd` as the client spelled it.
    pub fn geo_needs_by(cmd: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            lossy(crate::util::cstr::until_nul(cmd))
        )))
    }
}

// cluster (CLUSTER subcommands; redirects and CLUSTERDOWN are above)
fixed! {
    cluster_invalid_slot => "ERR Invalid or out of range slot";
    cluster_bad_slot => "ERR Invalid slot";
    cluster_bad_slot_or_count => "ERR Invalid slot or number of keys";
    cluster_forget_myself => "ERR I tried hard but I can't forget myself...";
    cluster_forget_my_primary => "ERR Can't forget my master!";
    cluster_replicate_myself => "ERR Can't replicate myself";
    cluster_replicate_replica => "ERR I can only replicate a master, not a replica.";
    cluster_replicate_not_empty => "ERR To set a master the node must be empty and without assigned slots.";
    cluster_not_a_primary => "ERR The specified node is not a master";
    cluster_flushslots_not_empty => "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.";
    cluster_reset_with_keys => "ERR CLUSTER RESET can't be called with master nodes containing keys";
    cluster_epoch_others_known => "ERR The user can assign a config epoch only when the node does not know any other node.";
    cluster_epoch_nonzero => "ERR Node config epoch is already non-zero";
    cluster_setslot_on_replica => "ERR Please use SETSLOT only with masters.";
    cluster_target_not_primary => "ERR Target node is not a master";
    cluster_setslot_syntax => "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP";
    cluster_failover_on_primary => "ERR You should send CLUSTER FAILOVER to a replica";
    cluster_failover_primary_unknown => "ERR I'm a replica but my master is unknown to me";
    cluster_failover_primary_down => "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE";
}

/// User input echoed by Redis's `addReplyErrorFormat("%s")`: up to a NUL, CR/LF as spaces.
fn echo(b: &[u8]) -> String {
    lossy(crate::util::cstr::until_nul(b)).replace(['\r', '\n'], " ")
}

impl ErrorReply {
    /// A subcommand whose argument count its handler rejects (Redis's
    /// `addReplySubcommandSyntaxError`); `parent` as in the table ("cluster").
    pub fn subcommand_syntax(sub: &[u8], parent: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            sanitize(crate::util::cstr::until_nul(sub), 128),
            parent.to_uppercase()
        )))
    }

    pub fn cluster_slot_busy(slot: u16) -> Self {
        ErrorReply(Cow::Owned(format!("ERR Slot {slot} is already busy")))
    }

    pub fn cluster_slot_unassigned(slot: u16) -> Self {
        ErrorReply(Cow::Owned(format!("ERR Slot {slot} is already unassigned")))
    }

    pub fn cluster_slot_repeated(slot: u16) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Slot {slot} specified multiple times"
        )))
    }

    pub fn cluster_slot_range_order(start: u16, end: u16) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR start slot number {start} is greater than end slot number {end}"
        )))
    }

    /// FORGET, REPLICATE, REPLICAS, COUNT-FAILURE-REPORTS, SETSLOT NODE: `name` as typed.
    pub fn cluster_unknown_node(name: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!("ERR Unknown node {}", echo(name))))
    }

    /// SETSLOT MIGRATING/IMPORTING with a node we don't know.
    pub fn cluster_node_not_known(name: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR I don't know about node {}",
            echo(name)
        )))
    }

    pub fn cluster_not_slot_owner(slot: u16) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR I'm not the owner of hash slot {slot}"
        )))
    }

    pub fn cluster_already_slot_owner(slot: u16) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR I'm already the owner of hash slot {slot}"
        )))
    }

    pub fn cluster_slot_has_keys(slot: u16) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
        )))
    }

    pub fn cluster_invalid_epoch(epoch: i64) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Invalid config epoch specified: {epoch}"
        )))
    }

    /// CLUSTER MEET with an address or ports `clusterStartHandshake` refuses (ip, port as typed).
    pub fn cluster_meet_address(ip: &[u8], port: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Invalid node address specified: {}:{}",
            echo(ip),
            echo(port)
        )))
    }

    pub fn cluster_meet_port(port: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Invalid TCP base port specified: {}",
            echo(port)
        )))
    }

    pub fn cluster_meet_bus_port(port: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Invalid TCP bus port specified: {}",
            echo(port)
        )))
    }

    /// MIGRATE could not talk to its target (`what`: "connecting to the client", "writing to
    /// target instance", "reading to target instance", as Redis words them).
    pub fn migrate_io(what: &str) -> Self {
        ErrorReply(Cow::Owned(format!("IOERR error or timeout {what}")))
    }

    /// MIGRATE's target answered an error (its text without the leading '-').
    pub fn migrate_target(err: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Target instance replied with error: {err}"
        )))
    }

    /// CLUSTER SAVECONFIG failed; `reason` is the C library's text for the errno.
    pub fn cluster_save_config(reason: &str) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR error saving the cluster node config: {reason}"
        )))
    }
}

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_matches_redis_shape() {
        let e = ErrorReply::unknown_command(b"FOOBARX", &[]);
        assert_eq!(
            e.text(),
            "ERR unknown command 'FOOBARX', with args beginning with: "
        );
        let e = ErrorReply::unknown_command(b"foo", &[bytes::Bytes::from_static(b"a\r\nb")]);
        assert_eq!(
            e.text(),
            "ERR unknown command 'foo', with args beginning with: 'a  b' "
        );
    }

    #[test]
    fn code_is_first_word() {
        assert_eq!(ErrorReply::wrong_type().code(), "WRONGTYPE");
        assert_eq!(ErrorReply::syntax().code(), "ERR");
    }
}

// Scripting and functions (script.c, eval.c, functions.c).
fixed! {
    no_script => "NOSCRIPT No matching script. Please use EVAL.";
    busy_eval => "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    busy_function => "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
    not_busy => "NOTBUSY No scripts in execution right now.";
    unkillable_from_primary => "UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.";
    unkillable_dirty => "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
    numkeys_too_many => "ERR Number of keys can't be greater than number of args";
    numkeys_negative => "ERR Number of keys can't be negative";
    bad_numkeys => "ERR Bad number of keys provided";
    function_not_found => "ERR Function not found";
    library_not_found => "ERR Library not found";
    library_name_missing => "ERR library name argument was not given";
    script_flush_option => "ERR SCRIPT FLUSH only support SYNC|ASYNC option";
    function_flush_option => "ERR FUNCTION FLUSH only supports SYNC|ASYNC option";
    restore_policy => "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.";
    script_no_cluster => "ERR Can not run script on cluster, 'no-cluster' flag is set.";
    script_stale => "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.";
    script_readonly_replica => "READONLY Can not run script with write flag on readonly replica";
    script_misconf => "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.";
    script_write_in_ro => "ERR Can not execute a script with write flag using *_ro command.";
    script_oom => "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'";
    script_debug_option => "ERR Use SCRIPT DEBUG YES/SYNC/NO";
    // Refusals of a command called from a script (scriptCall).
    script_unknown_command => "ERR Unknown Redis command called from script";
    script_wrong_arity => "ERR Wrong number of args calling Redis command from script";
    script_noscript_command => "ERR This Redis command is not allowed from script";
    script_stale_command => "ERR Can not execute the command on a stale replica";
    script_write_from_ro => "ERR Write commands are not allowed from read-only scripts.";
    script_cluster_down_ro => "ERR Script attempted to execute a write command while the cluster is down and readonly";
    script_cluster_down => "ERR Script attempted to execute a command while the cluster is down";
    script_non_local_key => "ERR Script attempted to access a non local key in a cluster node";
    script_cross_slot => "ERR Script attempted to access keys that do not hash to the same slot";
    // ACL refusals (processCommand, scriptCall, EXEC's re-check).
    noperm_key => "NOPERM this user has no permissions to access one of the keys used as arguments";
    noperm_channel => "NOPERM this user has no permissions to access one of the channels used as arguments";
    script_noperm_command => "ERR The user executing the script can't run this command or subcommand";
    script_noperm_key => "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments";
    script_noperm_channel => "ERR The user executing the script can't publish to the channel mentioned in the command";
    exec_noperm_command => "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand";
    exec_noperm_key => "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to touch the specified keys";
    exec_noperm_channel => "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to access one of the channels used as arguments";
    acl_no_file => "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";
    acl_save_failed => "ERR There was an error trying to save the ACLs. Please check the server logs for more information";
    acl_genpass_bits => "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096";
    sort_by_noperm => "ERR BY option of SORT denied due to insufficient ACL permissions.";
    sort_get_noperm => "ERR GET option of SORT denied due to insufficient ACL permissions.";
}

impl ErrorReply {
    /// An error whose text a script produced (error_reply, a runtime error, `{err=...}`).
    pub fn script(text: String) -> Self {
        ErrorReply(Cow::Owned(text))
    }

    /// A script-engine message (compile errors, FUNCTION LOAD errors) with the ERR code.
    pub fn script_err(msg: &str) -> Self {
        ErrorReply(Cow::Owned(format!("ERR {msg}")))
    }

    /// FUNCTION LIST/RESTORE argument errors that echo the argument.
    pub fn unknown_argument(arg: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!("ERR Unknown argument {}", lossy(arg))))
    }
}

// streams (t_stream.c, blocked.c)
fixed! {
    stream_invalid_id => "ERR Invalid stream ID specified as stream command argument";
    stream_maxlen_minid => "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    stream_maxlen_negative => "ERR The MAXLEN argument must be >= 0.";
    stream_limit_negative => "ERR The LIMIT argument must be >= 0.";
    stream_limit_without_strategy => "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
    stream_xtrim_needs_strategy => "ERR syntax error, XTRIM must be called with a trimming strategy";
    stream_limit_without_approx => "ERR syntax error, LIMIT cannot be used without the special ~ option";
    stream_id_zero => "ERR The ID specified in XADD must be greater than 0-0";
    stream_exhausted => "ERR The stream has exhausted the last possible ID, unable to add more items";
    stream_id_too_small => "ERR The ID specified in XADD is equal or smaller than the target stream top item";
    stream_too_large => "ERR Elements are too large to be stored";
    stream_bad_start => "ERR invalid start ID for the interval";
    stream_bad_end => "ERR invalid end ID for the interval";
    stream_unbalanced => "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
    stream_group_only_readgroup => "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
    stream_noack_only_readgroup => "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
    stream_missing_group => "ERR Missing GROUP option for XREADGROUP";
    stream_dollar_in_readgroup => "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
    stream_gt_only_readgroup => "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
    stream_entries_read => "ERR value for ENTRIESREAD must be positive or -1";
    stream_needs_key => "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
    stream_busy_group => "BUSYGROUP Consumer Group name already exists";
    stream_entries_added => "ERR entries_added must be positive";
    stream_setid_below_max_deleted => "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
    stream_setid_below_top => "ERR The ID specified in XSETID is smaller than the target stream top item";
    stream_setid_below_length => "ERR The entries_added specified in XSETID is smaller than the target stream length";
    stream_xclaim_min_idle => "ERR Invalid min-idle-time argument for XCLAIM";
    stream_xclaim_idle => "ERR Invalid IDLE option argument for XCLAIM";
    stream_xclaim_time => "ERR Invalid TIME option argument for XCLAIM";
    stream_xclaim_retrycount => "ERR Invalid RETRYCOUNT option argument for XCLAIM";
    stream_xautoclaim_min_idle => "ERR Invalid min-idle-time argument for XAUTOCLAIM";
    stream_xautoclaim_count => "ERR COUNT must be > 0";
    stream_key_deleted => "UNBLOCKED the stream key no longer exists";
    stream_group_gone => "NOGROUP the consumer group this client was blocked on no longer exists";
}

impl ErrorReply {
    pub fn stream_block_in_script(cmd: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            lossy(cmd)
        )))
    }

    /// XREADGROUP on a missing key or group.
    pub fn stream_nogroup_readgroup(key: &[u8], group: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
            lossy(key),
            lossy(group)
        )))
    }

    /// XPENDING / XCLAIM / XAUTOCLAIM on a missing key or group.
    pub fn stream_nogroup(key: &[u8], group: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "NOGROUP No such key '{}' or consumer group '{}'",
            lossy(key),
            lossy(group)
        )))
    }

    /// XGROUP / XINFO CONSUMERS naming a missing group.
    pub fn stream_nogroup_for_key(group: &[u8], key: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            lossy(group),
            lossy(key)
        )))
    }

    pub fn stream_xclaim_option(opt: &[u8]) -> Self {
        ErrorReply(Cow::Owned(format!(
            "ERR Unrecognized XCLAIM option '{}'",
            lossy(opt)
        )))
    }
}
