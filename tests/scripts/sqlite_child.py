#!/usr/bin/env python3
"""A stock-SQLite child process for Folio's interop suites (tests/src/sqlite_child.rs).

Usage: sqlite_child.py DB_PATH

Reads one command per line on stdin and writes exactly one reply line per command on stdout,
so the Rust side synchronises on replies and never sleeps. On start it prints
`ready <sqlite version>` (or `fatal <why>` and exits 2 if the sqlite3 module is missing).

Commands:
  open NAME [PATH]          open connection NAME (DB_PATH by default) with
                            isolation_level=None (no implicit transactions) and timeout=0
                            (busy is reported at once as "database is locked")   -> ok
  exec NAME SQL             run one statement on NAME -> `ok` (no result columns),
                            `ok <rows as json>` (a query), or `err <message>`
  close NAME                close connection NAME                                 -> ok
  getlk FILE START LEN      F_GETLK probe for a write lock on LEN bytes at START of FILE
                            (LEN 0 = to the end): `ok none`, or
                            `ok rd|wr <start> <len> <pid>` for a conflicting lock that
                            *another* process holds (POSIX never reports our own locks)
  crash                     reply `ok`, then exit at once with every connection and
                            transaction still open (os._exit): what a killed process
                            leaves, e.g. a hot rollback journal                  -> ok
  quit                      exit                                                   -> ok
A malformed command gets `bad <why>`.

The probe's descriptors are cached and never closed before exit: closing any descriptor of a
file drops every POSIX lock this process holds on it, which would silently release the locks
of this child's own SQLite connections (the pitfall the tests check Folio for).
"""

import json
import os
import sys

try:
    import sqlite3
except ImportError as exc:  # pragma: no cover - the Rust side turns this into a loud panic
    print(f"fatal cannot import the sqlite3 module: {exc}", flush=True)
    sys.exit(2)

import fcntl
import struct

# struct flock on Linux LP64 (x86-64, aarch64): short l_type; short l_whence; [4 bytes pad]
# off_t l_start; off_t l_len; pid_t l_pid; [4 bytes pad] = 32 bytes, native byte order.
FLOCK = "=hh4xqqi4x"
assert struct.calcsize(FLOCK) == 32


class Bad(Exception):
    """A malformed command (a bug in the test, not a SQLite error)."""


def one_line(text):
    return " ".join(str(text).split())


def getlk(fds, path, start, length):
    fd = fds.get(path)
    if fd is None:
        # O_RDWR so a write-lock probe is allowed; never closed (see the module comment).
        fd = os.open(path, os.O_RDWR)
        fds[path] = fd
    probe = struct.pack(FLOCK, fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
    got = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
    l_type, _whence, l_start, l_len, l_pid = struct.unpack(FLOCK, got)
    if l_type == fcntl.F_UNLCK:
        return "ok none"
    kind = {fcntl.F_RDLCK: "rd", fcntl.F_WRLCK: "wr"}.get(l_type)
    if kind is None:
        raise Bad(f"F_GETLK returned lock type {l_type}")
    return f"ok {kind} {l_start} {l_len} {l_pid}"


def handle(line, db_path, conns, fds):
    verb, _, rest = line.partition(" ")
    if verb == "open":
        name, _, path = rest.partition(" ")
        if not name:
            raise Bad("open needs a connection name")
        if name in conns:
            raise Bad(f"connection {name} is already open")
        conns[name] = sqlite3.connect(path or db_path, isolation_level=None, timeout=0)
        return "ok"
    if verb == "exec":
        name, _, sql = rest.partition(" ")
        conn = conns.get(name)
        if conn is None:
            raise Bad(f"no connection named {name!r}")
        try:
            cur = conn.execute(sql)
            rows = cur.fetchall()
            described = cur.description is not None
            cur.close()
        except sqlite3.Error as exc:
            return "err " + one_line(exc)
        if not described:
            return "ok"
        return "ok " + json.dumps([list(r) for r in rows], default=lambda b: b.hex())
    if verb == "close":
        conn = conns.pop(rest, None)
        if conn is None:
            raise Bad(f"no connection named {rest!r}")
        conn.close()
        return "ok"
    if verb == "getlk":
        parts = rest.rsplit(" ", 2)
        if len(parts) != 3:
            raise Bad("usage: getlk FILE START LEN")
        path, start, length = parts
        return getlk(fds, path, int(start), int(length))
    if verb in ("quit", "crash"):
        return "ok"
    raise Bad(f"unknown command {verb!r}")


def main():
    if len(sys.argv) != 2:
        print("bad usage: sqlite_child.py DB_PATH", flush=True)
        sys.exit(2)
    db_path = sys.argv[1]
    conns = {}
    fds = {}
    print(f"ready {sqlite3.sqlite_version}", flush=True)
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        try:
            reply = handle(line, db_path, conns, fds)
        except Bad as exc:
            reply = "bad " + one_line(exc)
        except OSError as exc:
            reply = "bad " + one_line(f"{type(exc).__name__}: {exc}")
        print(reply, flush=True)
        if line == "quit":
            break
        if line == "crash":
            # No close, no rollback, no atexit handlers: the kernel drops the locks and the
            # files stay exactly as SQLite left them mid-transaction.
            os._exit(9)


if __name__ == "__main__":
    main()
