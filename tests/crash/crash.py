#!/usr/bin/env python3
# tests/crash/crash.py: kills real blk processes with SIGKILL at random
# (seeded) moments and checks that nothing blk acknowledged is lost.
#
# usage: tests/crash/crash.py [--kills N] [--seed S] [--stores K] [--blk PATH]
#                             [--generation R] [--keep]
#   --kills N       stop after N kills that hit a running process (default 200)
#   --seed S        the schedule's seed (default: a random one, printed)
#   --stores K      stores that sync with each other, 2 or 3 (default 3)
#   --blk PATH      the blk binary (default: $BLK, else build/cmd/blk)
#   --generation R  start from fresh stores every R rounds (default 20)
#   --keep          keep the work dir (it is always kept after a failure)
#
# Each round runs `blk put`s, a multi-block `blk import` and `blk sync`s
# against `blk serve`s at once, and SIGKILLs some of them (serves included)
# mid-run. Then every store must open and pass PRAGMA integrity_check,
# hold every acknowledged write byte for byte (and no write nobody made),
# hold each import whole or not at all, and an interrupted sync, run again,
# must leave both stores with the same blocks. tests/crash/README.md has the
# details. Exit code 0 if all held, 1 on a failure (with its replay command),
# 2 for a usage error.

import argparse
import os
import random
import shlex
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Model, size  # noqa: E402
from rounds import Round  # noqa: E402
from stores import Failure, Store, run_blk  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def parse_args():
    p = argparse.ArgumentParser(prog="crash.py", add_help=True)
    p.add_argument("--kills", type=int, default=200)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stores", type=int, default=3, choices=(2, 3))
    p.add_argument("--blk", default=os.environ.get("BLK") or os.path.join(ROOT, "build/cmd/blk"))
    p.add_argument("--generation", type=int, default=20)
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    if a.kills < 1 or a.generation < 1:
        p.error("--kills and --generation take a positive number")
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 1 << 31)
    a.blk = os.path.abspath(a.blk)
    if not os.access(a.blk, os.X_OK):
        p.error(f"no blk binary at {a.blk} (build it, or give --blk or $BLK)")
    return a


class Run:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.stores = []
        self.model = None
        self.generation = 0
        # Usual run times (seconds) of each kind, learnt as the run goes:
        # kills are drawn as fractions of them, so they land mid-run.
        self.usual = {"put": 0.01, "import": 0.05, "sync": 0.05}
        self.kills = {}
        self.rounds = 0
        self.converged = 0

    def fresh_stores(self):
        for s in self.stores:
            s.remove()
        self.generation += 1
        base = os.path.join(self.work, f"gen{self.generation}")
        os.makedirs(base)
        names = "abc"[: self.args.stores]
        self.stores = [Store(self.args.blk, n, os.path.join(base, n)) for n in names]
        for s in self.stores:
            s.init()
        for s in self.stores:
            for o in self.stores:
                if o is not s:
                    s.add_peer(o)
            s.start_serve()
        self.model = Model()

    def check(self, stores, held=None):
        """Each store is intact and holds what the model allows."""
        held = {} if held is None else held
        for s in stores:
            if s.name not in held:
                held[s.name] = s.blocks()
            problems = self.model.check(s.name, held[s.name])
            if problems:
                raise Failure(f"store {s.name}: " + "; ".join(problems[:5]))
        return held

    def sync(self, store, peer):
        rc, _, err = run_blk(store.blk, store.path, "sync", peer.address())
        if rc != 0:
            raise Failure(f"sync of {store.name} with {peer.name}, run again after a kill, "
                          f"exited {rc}: {err.strip()}")

    def same(self, a, b, held_a, held_b, after):
        if held_a == held_b:
            return
        ids = sorted(set(held_a) | set(held_b))
        diff = [i for i in ids if held_a.get(i) != held_b.get(i)]
        raise Failure(f"{a.name} and {b.name} differ after {after}: {len(diff)} blocks, "
                      f"first {diff[0]} ({describe(held_a.get(diff[0]))} vs "
                      f"{describe(held_b.get(diff[0]))})")

    def converge_all(self):
        """Every pair syncs once with nothing else running: all must agree."""
        for i, s in enumerate(self.stores):
            for o in self.stores[i + 1:]:
                self.sync(s, o)
        held = self.check(self.stores)
        first = self.stores[0]
        for s in self.stores[1:]:
            self.same(first, s, held[first.name], held[s.name], "every pair synced")
        self.converged += 1

    def one_round(self):
        self.rounds += 1
        r = Round(self.rng, self.stores, self.model, self.rounds, self.work)
        r.draw()
        for kind, n in r.run(self.usual).items():
            self.kills[kind] = self.kills.get(kind, 0) + n
        for s in self.stores:  # a serve that nothing killed must still run
            if s.serve_died():
                if s.serve.returncode == -9:
                    s.start_serve()
                else:
                    raise Failure(f"serve of {s.name} exited {s.serve.returncode} by itself "
                                  f"(see {s.serve_log})")
        r.record()
        touched = r.touched()
        for s in touched:
            s.check_integrity()
        # Sync runs leave what each store writes itself alone (the others
        # hold older copies at most), so the model checks hold after them.
        held = {}
        for op in r.interrupted_syncs():
            self.sync(op.store, op.peer)
            for s in (op.store, op.peer):
                held[s.name] = s.blocks()
            self.same(op.store, op.peer, held[op.store.name], held[op.peer.name],
                      "an interrupted sync ran again")
        self.check(touched, held)
        for f in os.listdir(self.work):  # the round's inputs
            if f.startswith(("put-", "import-")):
                os.remove(os.path.join(self.work, f))

    def total_kills(self):
        return sum(self.kills.values())


def describe(entry):
    if entry is None:
        return "absent"
    version, blob, _ = entry
    return f"version {version[:12]}, {size(blob)} B"


def main():
    args = parse_args()
    # Stopped by ctest's timeout: still stop the serves (in `finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keep = args.keep
    work = tempfile.mkdtemp(prefix="blk-crash-", dir=os.environ.get("TMPDIR"))
    run = Run(args, work)
    replay = (f"BLK={shlex.quote(args.blk)} {shlex.quote(os.path.join(HERE, 'crash.py'))} "
              f"--seed {args.seed} --kills {args.kills}"
              + (f" --stores {args.stores}" if args.stores != 3 else "")
              + (f" --generation {args.generation}" if args.generation != 20 else ""))
    print(f"crash: seed {args.seed}, {args.kills} kills, {args.stores} stores, {work}",
          flush=True)
    t0 = time.monotonic()
    ok = False
    try:
        run.fresh_stores()
        while run.total_kills() < args.kills:
            if run.rounds and run.rounds % args.generation == 0:
                run.converge_all()
                run.fresh_stores()
            run.one_round()
        run.converge_all()
        ok = True
    except Failure as e:
        print(f"FAIL in round {run.rounds} (generation {run.generation}): {e}", flush=True)
        keep = True
    except KeyboardInterrupt:
        print("crash: interrupted", flush=True)
    finally:
        for s in run.stores:
            s.stop_serve()
    secs = time.monotonic() - t0
    n = run.total_kills()
    by_kind = ", ".join(f"{k} {v}" for k, v in sorted(run.kills.items()))
    print(f"crash: {n} kills ({by_kind}) in {run.rounds} rounds, {secs:.1f} s: "
          f"{n / secs if secs else 0:.2f} kills/s; {run.converged} full convergence checks")
    if not ok:
        print(f"crash: seed {args.seed}; replay: {replay}")
        print(f"crash: work dir kept: {work}")
        return 1
    if keep:
        print(f"crash: work dir kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("crash: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
