#!/usr/bin/env python3
"""The stock-SQLite peer of Folio's live WAL suites (tests/src/wal_workload.rs).

Python's sqlite3 module is the stock SQLite C library with its unix VFS, so this process shares
the WAL database, its -wal and its -shm with Folio's processes exactly as any sqlite3 would.

Usage: wal_peer.py --db PATH --root N --rows N --counters N --sum S --role reader|writer|mixed
                   --slot N --ms MS --seed SEED --ckpt-every K --ckpt-modes passive,full,...
                   --pause-us US --pairs N --autockpt FRAMES

The table is t(id INTEGER PRIMARY KEY, v INTEGER), rows 1..rows; rows 1..counters are counters:
v = BASE + id + (commits of the writer whose slot is id). sum(v) never changes. Each operation
is a snapshot check (one read transaction: the sum, the rows, the value range, the counters, no
counter lower than in this process's previous snapshot) or a transfer (BEGIN IMMEDIATE, the same
checks plus "my counter shows exactly my commits", then `pairs` times d from a row a to a row b,
and 1 from a random row to my counter, COMMIT). After each operation a random pause below pause-us microseconds (think time);
every ckpt-every operations PRAGMA wal_checkpoint(MODE), modes in turn. synchronous=NORMAL,
wal_autocheckpoint=autockpt.

Ends with one line on stdout, `done key=value ...` (see Report in wal_workload.rs), exit 0; or
`FAIL seed=...: what` on stderr and exit 1 at the first violation or unexpected error.
"""

import argparse
import random
import sys
import time

try:
    import sqlite3
except ImportError as exc:  # pragma: no cover - the Rust side reports the exit status and this
    print(f"FAIL cannot import the sqlite3 module: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)

BASE = 1 << 50
MIN_VALUE = 1 << 49
MAX_VALUE = 1 << 51
MAX_TRANSFER = 1000
BUSY_TIMEOUT_S = 5.0


class Violation(Exception):
    """An invariant of the workload does not hold."""


def is_busy(exc):
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


class Peer:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.conn = sqlite3.connect(args.db, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self.conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(f"PRAGMA wal_autocheckpoint={int(args.autockpt)}")
        mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            raise Violation(f"journal_mode is {mode}, not wal")
        self.last = None  # the newest counters this process knows committed
        self.my_commits = 0
        self.counts = {k: 0 for k in
                       ("commits", "snapshots", "distinct", "checkpoints", "ckpt_busy", "busy")}
        self.seen = [0] * args.counters

    def observe(self, what):
        """Checks the snapshot of the open transaction; returns its counters (commits)."""
        a = self.args
        total, count, lo, hi, vmin, vmax = self.conn.execute(
            "SELECT sum(v), count(*), min(id), max(id), min(v), max(v) FROM t").fetchone()
        if (count, lo, hi) != (a.rows, 1, a.rows):
            raise Violation(f"{what}: {count} rows with ids {lo}..{hi}, expected 1..{a.rows}")
        if not (MIN_VALUE <= vmin and vmax < MAX_VALUE):
            raise Violation(f"{what}: values {vmin}..{vmax} out of their range")
        if total != a.sum:
            raise Violation(f"{what}: torn snapshot: sum(v) = {total}, expected {a.sum} "
                            f"(off by {total - a.sum})")
        rows = self.conn.execute(
            "SELECT id, v FROM t WHERE id <= ? ORDER BY id", (a.counters,)).fetchall()
        commits = [v - BASE - i for (i, v) in rows]
        if len(commits) != a.counters or min(commits, default=0) < 0:
            raise Violation(f"{what}: counters {rows}")
        if self.last is not None:
            for slot, (now, then) in enumerate(zip(commits, self.last), start=1):
                if now < then:
                    raise Violation(f"{what}: time travel: counter {slot} went from {then} to "
                                    f"{now} commits between two snapshots of one process")
        if a.slot and commits[a.slot - 1] != self.my_commits:
            raise Violation(f"{what}: lost update: my counter (slot {a.slot}) shows "
                            f"{commits[a.slot - 1]} commits, I made {self.my_commits}")
        self.seen = [max(s, c) for s, c in zip(self.seen, commits)]
        return commits

    def check_snapshot(self):
        try:
            self.conn.execute("BEGIN")
            commits = self.observe("snapshot")
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            self.rollback()
            self.counts["busy"] += 1
            return
        self.counts["snapshots"] += 1
        if self.last is None or sum(self.last) != sum(commits):
            self.counts["distinct"] += 1
        self.last = commits

    def rollback(self):
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def transfer(self):
        a = self.args
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            self.counts["busy"] += 1
            return
        try:
            commits = self.observe("write transaction")
            ids = range(a.counters + 1, a.rows + 1)
            transfers = {}
            for _ in range(a.pairs):
                src, dst = self.rng.sample(ids, 2)
                d = self.rng.randint(1, MAX_TRANSFER)
                transfers[src] = transfers.get(src, 0) - d
                transfers[dst] = transfers.get(dst, 0) + d
            giver = self.rng.choice(ids)
            values = {i: self.conn.execute("SELECT v FROM t WHERE id=?", (i,)).fetchone()[0]
                      for i in set(transfers) | {giver, a.slot}}

            def deltas(sign):
                out = {i: sign * d for i, d in transfers.items()}
                out[giver] = out.get(giver, 0) - 1
                out[a.slot] = 1
                fits = all(MIN_VALUE <= values[i] + d < MAX_VALUE for i, d in out.items())
                return out if fits else None

            # Turned around if it would take a value out of its range (never, in runs of
            # seconds), so every value keeps its 8-byte encoding.
            change = deltas(1) or deltas(-1)
            if change is None:
                raise Violation("a transfer would take a value out of its range")
            for i, d in sorted(change.items()):
                self.conn.execute("UPDATE t SET v = v + ? WHERE id = ?", (d, i))
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        self.my_commits += 1
        self.counts["commits"] += 1
        commits[a.slot - 1] += 1
        self.last = commits

    def checkpoint(self, mode):
        try:
            busy, log, ckpt = self.conn.execute(f"PRAGMA wal_checkpoint({mode.upper()})").fetchone()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            self.counts["ckpt_busy"] += 1
            return
        self.counts["checkpoints"] += 1
        if busy:
            self.counts["ckpt_busy"] += 1
        # https://sqlite.org/c3ref/wal_checkpoint_v2.html; the same rule as check_checkpoint in
        # folio_side.rs.
        fine = (ckpt <= log
                and (busy or mode == "passive" or ckpt == log)
                and (busy or mode != "truncate" or (log, ckpt) == (0, 0)))
        if not fine:
            raise Violation(f"wal_checkpoint({mode}) returned busy={busy} log={log} "
                            f"checkpointed={ckpt}")

    def run(self):
        a = self.args
        deadline = time.monotonic() + a.ms / 1000.0
        ops = 0
        while time.monotonic() < deadline:
            if a.role == "writer" or (a.role == "mixed" and self.rng.randrange(2) == 0):
                self.transfer()
            else:
                self.check_snapshot()
            ops += 1
            if a.pause_us:
                # Think time, so writers do not starve each other (see WorkerArgs::pause_us).
                time.sleep(self.rng.randrange(a.pause_us) / 1e6)
            if a.ckpt_every and ops % a.ckpt_every == 0:
                self.checkpoint(a.ckpt_modes[(ops // a.ckpt_every - 1) % len(a.ckpt_modes)])
        self.conn.close()
        counts = dict(self.counts)
        for slot, n in enumerate(self.seen, start=1):
            counts[f"seen{slot}"] = n
        print("done " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", required=True)
    p.add_argument("--root", type=int, required=True)  # our side's concern; SQL needs no root
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--counters", type=int, required=True)
    p.add_argument("--sum", type=int, required=True)
    p.add_argument("--role", choices=("reader", "writer", "mixed"), required=True)
    p.add_argument("--slot", type=int, required=True)
    p.add_argument("--ms", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--ckpt-every", type=int, required=True)
    p.add_argument("--ckpt-modes", type=lambda s: [m for m in s.split(",") if m], required=True)
    p.add_argument("--pause-us", type=int, required=True)
    p.add_argument("--pairs", type=int, required=True)
    p.add_argument("--autockpt", type=int, required=True)
    args = p.parse_args()
    if args.pairs < 1:
        p.error("--pairs must be at least 1")
    if args.role != "reader" and not 1 <= args.slot <= args.counters:
        p.error(f"a {args.role} needs a --slot in 1..{args.counters}")
    try:
        Peer(args).run()
    except (Violation, sqlite3.Error) as exc:
        print(f"FAIL seed={args.seed} role={args.role} slot={args.slot} "
              f"(sqlite {sqlite3.sqlite_version}): {type(exc).__name__}: {exc}",
              file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
