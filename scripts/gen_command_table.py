#!/usr/bin/env python3
"""Generate src/commands/table.rs: the one declaration of every command slotcache serves.

The metadata (arity, flags, key specs, ACL categories, tips, docs) is read from a running
redis-server 7.0 with COMMAND INFO / COMMAND DOCS over RESP3, so `COMMAND` output matches Redis
exactly. Commands newer than 7.0 that slotcache serves are declared in EXTRAS below.
The handler of `name` (or `parent|sub`) is `handlers::<name with | and - as _>`.

Usage: scripts/gen_command_table.py [port]   (then: cargo fmt)
"""
import socket, sys

# Top-level command -> list of subcommands served (None: no subcommands).
COMMANDS = {
    # connection / server
    "ping": None, "echo": None, "quit": None, "reset": None, "auth": None, "hello": None,
    "select": None, "swapdb": None, "dbsize": None, "flushdb": None, "flushall": None,
    "time": None, "info": None, "monitor": None, "shutdown": None, "debug": None,
    "role": None,
    "acl": ["cat", "deluser", "dryrun", "genpass", "getuser", "help", "list", "load", "log", "save",
            "setuser", "users", "whoami"],
    # replication
    "replicaof": None, "slaveof": None, "psync": None, "sync": None, "replconf": None,
    "wait": None, "failover": None,
    # scripting and functions
    "eval": None, "evalsha": None, "eval_ro": None, "evalsha_ro": None, "fcall": None,
    "fcall_ro": None,
    "script": ["debug", "exists", "flush", "help", "kill", "load"],
    "function": ["delete", "dump", "flush", "help", "kill", "list", "load", "restore", "stats"],
    # persistence
    "save": None, "bgsave": None, "bgrewriteaof": None, "lastsave": None, "dump": None, "restore": None,
    "restore-asking": None, "migrate": None,
    # cluster
    "readonly": None, "readwrite": None, "asking": None,
    "cluster": ["addslots", "addslotsrange", "delslots", "delslotsrange", "flushslots", "bumpepoch",
                "set-config-epoch", "count-failure-reports", "countkeysinslot", "getkeysinslot",
                "forget", "info", "keyslot", "links", "meet", "myid", "nodes", "shards", "slots",
                "reset", "saveconfig", "help", "replicas", "slaves", "replicate", "setslot",
                "failover"],
    "client": ["id", "setname", "getname", "list", "info", "kill", "pause", "unpause",
               "no-evict", "reply", "help", "tracking", "caching", "getredir", "trackinginfo",
               "unblock"],
    "slowlog": ["get", "len", "reset", "help"],
    "latency": ["latest", "history", "reset", "graph", "doctor", "histogram", "help"],
    "memory": ["usage", "stats", "doctor", "malloc-stats", "purge", "help"],
    "command": ["count", "info", "docs", "list", "getkeys", "getkeysandflags", "help"],
    "config": ["get", "set", "resetstat", "rewrite", "help"],
    # strings
    "append": None, "decr": None, "decrby": None, "get": None, "getdel": None, "getex": None,
    "getrange": None, "getset": None, "incr": None, "incrby": None, "incrbyfloat": None,
    "lcs": None, "mget": None, "mset": None, "msetnx": None, "psetex": None, "set": None,
    "setex": None, "setnx": None, "setrange": None, "strlen": None, "substr": None,
    # bitmaps
    "setbit": None, "getbit": None, "bitcount": None, "bitpos": None, "bitop": None,
    "bitfield": None, "bitfield_ro": None,
    # keys
    "del": None, "unlink": None, "exists": None, "type": None, "rename": None,
    "renamenx": None, "touch": None, "keys": None, "scan": None, "randomkey": None,
    "expire": None, "pexpire": None, "expireat": None, "pexpireat": None, "ttl": None,
    "pttl": None, "expiretime": None, "pexpiretime": None, "persist": None, "copy": None,
    "move": None,
    "object": ["encoding", "freq", "idletime", "refcount", "help"],
    # pub/sub
    "subscribe": None, "unsubscribe": None, "psubscribe": None, "punsubscribe": None,
    "publish": None, "ssubscribe": None, "sunsubscribe": None, "spublish": None,
    "pubsub": ["channels", "numsub", "numpat", "shardchannels", "shardnumsub", "help"],
    # geo
    "geoadd": None, "geodist": None, "geohash": None, "geopos": None, "georadius": None,
    "georadius_ro": None, "georadiusbymember": None, "georadiusbymember_ro": None,
    "geosearch": None, "geosearchstore": None,
    # sort
    "sort": None, "sort_ro": None,
    # streams
    "xadd": None, "xrange": None, "xrevrange": None, "xlen": None, "xdel": None, "xtrim": None,
    "xsetid": None, "xread": None, "xreadgroup": None, "xack": None, "xpending": None,
    "xclaim": None, "xautoclaim": None,
    "xgroup": ["create", "setid", "destroy", "createconsumer", "delconsumer", "help"],
    "xinfo": ["stream", "groups", "consumers", "help"],
    # hyperloglog
    "pfadd": None, "pfcount": None, "pfmerge": None, "pfdebug": None, "pfselftest": None,
    # transactions
    "multi": None, "exec": None, "discard": None, "watch": None, "unwatch": None,
    # hashes
    "hset": None, "hsetnx": None, "hget": None, "hmget": None, "hmset": None, "hdel": None,
    "hexists": None, "hlen": None, "hkeys": None, "hvals": None, "hgetall": None, "hincrby": None,
    "hincrbyfloat": None, "hstrlen": None, "hrandfield": None, "hscan": None,
    # lists
    "lpush": None, "rpush": None, "lpushx": None, "rpushx": None, "lpop": None, "rpop": None,
    "llen": None, "lrange": None, "lindex": None, "lset": None, "linsert": None, "lrem": None,
    "ltrim": None, "lpos": None, "lmove": None, "rpoplpush": None, "lmpop": None,
    "blpop": None, "brpop": None, "blmove": None, "brpoplpush": None, "blmpop": None,
    "bzpopmin": None, "bzpopmax": None, "bzmpop": None,
    # sets
    "sadd": None, "srem": None, "sismember": None, "smismember": None, "smembers": None,
    "scard": None, "spop": None, "srandmember": None, "smove": None, "sinter": None,
    "sintercard": None, "sinterstore": None, "sunion": None, "sunionstore": None, "sdiff": None,
    "sdiffstore": None, "sscan": None,
    # sorted sets
    "zadd": None, "zincrby": None, "zrem": None, "zcard": None, "zcount": None, "zlexcount": None,
    "zscore": None, "zmscore": None, "zrank": None, "zrevrank": None, "zrange": None, "zrevrange": None,
    "zrangestore": None, "zrangebyscore": None, "zrevrangebyscore": None, "zrangebylex": None,
    "zrevrangebylex": None, "zremrangebyrank": None, "zremrangebyscore": None,
    "zremrangebylex": None, "zpopmin": None, "zpopmax": None, "zmpop": None, "zrandmember": None,
    "zunion": None, "zinter": None, "zdiff": None, "zunionstore": None, "zinterstore": None,
    "zdiffstore": None, "zintercard": None, "zscan": None,
}

# Redis 7.2 additions that Redis 7.0 clients may still send (redis-py, go-redis send SETINFO).
EXTRAS = {
    "client|setinfo": dict(arity=4, flags=["noscript", "loading", "stale"], acl=["@slow", "@connection"],
                           summary="Sets information specific to the client or connection.",
                           since="7.2.0", group="connection", complexity="O(1)"),
    "client|no-touch": dict(arity=3, flags=["noscript", "loading", "stale"], acl=["@slow", "@connection"],
                            summary="Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
                            since="7.2.0", group="connection", complexity="O(1)"),
    "cluster|myshardid": dict(arity=2, flags=["stale"], acl=["@slow"], tips=["nondeterministic_output"],
                              summary="Returns the shard ID of a node.",
                              since="7.2.0", group="cluster", complexity="O(1)"),
}

# Flags Redis 7.0 declares but COMMAND INFO hides (from src/commands/*.json): scripts refuse
# may_replicate commands in read-only mode; touches_arbitrary_keys commands propagate their
# lazy-expiry deletions unwrapped. COMMAND INFO output filters them again.
HIDDEN_FLAGS = {"eval": ["may_replicate"], "evalsha": ["may_replicate"], "fcall": ["may_replicate"],
                "pfcount": ["may_replicate"], "publish": ["may_replicate"],
                "spublish": ["may_replicate", "shard_channels"],
                # Lazy-expiry deletions of these are propagated without MULTI/EXEC.
                "scan": ["touches_arbitrary_keys"], "randomkey": ["touches_arbitrary_keys"]}
# The rest of the special cases the dispatcher and the cluster router need, as flags of the one
# table rather than name checks in code (Redis keeps most of these as command procs or flags).
def hide(names, flag):
    for n in names:
        HIDDEN_FLAGS.setdefault(n, []).append(flag)
# What a RESP2 client may send while subscribed.
hide(["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe",
      "ping", "quit", "reset"], "subscribed_ok")
# Acts on an open MULTI instead of being queued in it.
hide(["exec", "discard", "multi", "watch", "quit", "reset"], "multi_control")
# Runs a queued transaction: routed, fenced and counted by the queue's keys and flags.
hide(["exec"], "exec")
# Runs a script: what it may do (write, replicate) is the script's declared flags.
hide(["eval", "evalsha", "fcall"], "runs_script")
hide(["ssubscribe", "sunsubscribe"], "shard_channels")
# The channels ACL rules check (Redis's ACLCheckAllUserCommandPerm names these commands).
hide(["publish", "spublish"], "channel_first_arg")
hide(["subscribe", "ssubscribe"], "channel_args")
hide(["psubscribe"], "channel_patterns")
# Keys beyond the key specs: MIGRATE's KEYS list (migrateGetKeys), SORT's STORE (sortGetKeys).
hide(["migrate"], "keys_migrate")
hide(["sort"], "keys_sort_store")
# Does not end the one-command effect of an earlier ASKING / CLIENT CACHING.
hide(["asking"], "keeps_asking")
hide(["client|caching"], "keeps_caching")

class Resp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l.decode()
    def raw(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(65536)
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d.decode()
    def read(self):
        l = self.line(); t, r = l[0], l[1:]
        if t in "+": return ("simple", r)
        if t == "-": raise RuntimeError(r)
        if t == ":": return ("int", int(r))
        if t == "$": return ("str", self.raw(int(r)))
        if t == "_": return ("null", None)
        if t in "*~": return ("arr" if t == "*" else "set", [self.read() for _ in range(int(r))])
        if t == "%": return ("map", [(self.read(), self.read()) for _ in range(int(r))])
        raise RuntimeError("unexpected " + l)
    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode(); out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()

def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

def strs(v):
    return "&[" + ", ".join(q(x[1]) for x in v[1]) + "]"

def doc(v):
    t, d = v
    if t == "str": return "Doc::Str(%s)" % q(d)
    if t == "simple": return "Doc::Simple(%s)" % q(d)
    if t == "int": return "Doc::Int(%d)" % d
    if t == "arr": return "Doc::Arr(&[" + ", ".join(doc(x) for x in d) + "])"
    if t == "set": return "Doc::Set(&[" + ", ".join(doc(x) for x in d) + "])"
    if t == "map": return "Doc::Map(&[" + ", ".join("(%s, %s)" % (q(k[1]), doc(x)) for k, x in d) + "])"
    raise RuntimeError(t)

def mapget(m, key):
    for k, v in m[1]:
        if k[1] == key: return v
    return None

def keyspec(ks):
    notes = mapget(ks, "notes")
    flags = mapget(ks, "flags")
    bs, fk = mapget(ks, "begin_search"), mapget(ks, "find_keys")
    bt, bspec = mapget(bs, "type")[1], mapget(bs, "spec")
    if bt == "index": begin = "BeginSearch::Index(%d)" % mapget(bspec, "index")[1]
    elif bt == "keyword":
        begin = "BeginSearch::Keyword { keyword: %s, startfrom: %d }" % (q(mapget(bspec, "keyword")[1]), mapget(bspec, "startfrom")[1])
    else: begin = "BeginSearch::Unknown"
    ft, fspec = mapget(fk, "type")[1], mapget(fk, "spec")
    if ft == "range":
        find = "FindKeys::Range { lastkey: %d, keystep: %d, limit: %d }" % tuple(mapget(fspec, k)[1] for k in ("lastkey", "keystep", "limit"))
    elif ft == "keynum":
        find = "FindKeys::Keynum { keynumidx: %d, firstkey: %d, keystep: %d }" % tuple(mapget(fspec, k)[1] for k in ("keynumidx", "firstkey", "keystep"))
    else: find = "FindKeys::Unknown"
    return "KeySpec { notes: %s, flags: %s, begin: %s, find: %s }" % (q(notes[1] if notes else ""), strs(flags), begin, find)

def handler(name):
    n = name.replace("|", "_").replace("-", "_")
    return "Some(handlers::r#%s)" % n if n in ("type", "move") else "Some(handlers::%s)" % n

def spec(info, docs, name, subs):
    f = info[1]
    sub_specs = []
    if subs is not None:
        infos = {x[1][0][1]: x for x in f[9][1]}
        for s in subs:
            full = name + "|" + s
            sdocs = mapget(mapget(docs, "subcommands"), full)
            sub_specs.append(spec(infos[full], sdocs, full, None))
        for full, e in EXTRAS.items():
            if full.startswith(name + "|"):
                sub_specs.append(extra(full, e))
    d = ("map", [(k, v) for k, v in docs[1] if k[1] != "subcommands"])
    return ("CommandSpec { name: %s, arity: %d, flags: %s, first_key: %d, last_key: %d, step: %d, "
            "acl: %s, tips: %s, key_specs: &[%s], subcommands: &[%s], docs: %s, handler: %s }") % (
        q(name), f[1][1], strs(("arr", f[2][1] + [("simple", x) for x in HIDDEN_FLAGS.get(name, [])])), f[3][1], f[4][1], f[5][1], strs(f[6]), strs(f[7]),
        ", ".join(keyspec(k) for k in f[8][1]), ", ".join(sub_specs), doc(d),
        "None" if subs is not None and name != "command" else handler(name))

def extra(full, e):
    d = "Doc::Map(&[(\"summary\", Doc::Str(%s)), (\"since\", Doc::Str(%s)), (\"group\", Doc::Str(%s)), (\"complexity\", Doc::Str(%s))])" % (
        q(e["summary"]), q(e["since"]), q(e["group"]), q(e["complexity"]))
    return ("CommandSpec { name: %s, arity: %d, flags: &[%s], first_key: 0, last_key: 0, step: 0, acl: &[%s], "
            "tips: &[%s], key_specs: &[], subcommands: &[], docs: %s, handler: %s }") % (
        q(full), e["arity"], ", ".join(map(q, e["flags"])), ", ".join(map(q, e["acl"])),
        ", ".join(map(q, e.get("tips", []))), d, handler(full))

def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    r = Resp(port); r.call("HELLO", "3")
    out = ["// @generated by scripts/gen_command_table.py from redis-server 7.0 COMMAND INFO/DOCS.",
           "// Edit the generator's COMMANDS list, not this file.",
           "//! The command table: every command slotcache serves, declared once.",
           "use super::spec::{BeginSearch, CommandSpec, Doc, FindKeys, KeySpec};",
           "use super::handlers;", "",
           "pub static COMMANDS: &[CommandSpec] = &["]
    for name, subs in sorted(COMMANDS.items()):
        info = r.call("COMMAND", "INFO", name)[1][0]
        docs = r.call("COMMAND", "DOCS", name)[1][0][1]
        out.append("    " + spec(info, docs, name, subs) + ",")
    out.append("];")
    open("src/commands/table.rs", "w").write("\n".join(out) + "\n")

main()
