"""One round of a crash run: draw what runs (puts, an import, syncs), start
it all at once, SIGKILL some of it at random moments, and hand back what blk
acknowledged. Every draw comes from the seeded generator in a fixed order,
whatever the timing does, so a seed replays the same schedule (the kills
land where the machine's timing puts them)."""

import base64
import json
import os
import signal
import subprocess
import time

from stores import Failure


class Op:
    """One blk process of a round."""

    def __init__(self, kind, store, argv, kill_at):
        self.kind = kind        # put, import or sync
        self.store = store      # the Store it runs on
        self.argv = argv
        self.kill_at = kill_at  # fraction of the kind's usual run time, or None
        self.killed = False     # SIGKILLed while it ran
        self.peer = None        # sync: the Store it dials
        self.peer_killed = False
        self.rc = self.out = self.err = None


class Round:
    def __init__(self, rng, stores, model, number, work):
        self.rng = rng
        self.stores = stores
        self.model = model
        self.number = number
        self.work = work
        self.ops = []
        self.serve_kills = []  # (fraction of a sync's run time, Store, the sync Op)

    # --- what runs --------------------------------------------------------

    def blob(self):
        r = self.rng.random()
        if r < 0.70:
            n = self.rng.randint(0, 4096)
        elif r < 0.95:
            n = self.rng.randint(4096, 256 << 10)
        else:
            n = self.rng.randint(256 << 10, 4 << 20)
        return self.rng.randbytes(n)

    def kill_fraction(self, p):
        # Both draws always happen, so later draws do not depend on this one.
        kill, at = self.rng.random() < p, self.rng.random() * 1.2
        return at if kill else None

    def draw(self):
        rng, n = self.rng, self.number
        used = set()
        for k in range(rng.randint(0, 2)):
            store = rng.choice(self.stores)
            old = sorted(i for i in self.model.acked
                         if i.startswith(store.name + "-") and i not in used)
            if old and rng.random() < 0.4:
                id = rng.choice(old)
            else:
                id = f"{store.name}-p{n}-{k}"
            used.add(id)
            blob = self.blob()
            path = os.path.join(self.work, f"put-{n}-{k}")
            with open(path, "wb") as f:
                f.write(blob)
            op = Op("put", store, ["put", "--type", "note", "--id", id, path],
                    self.kill_fraction(0.7))
            op.id, op.blob = id, base64.b64encode(blob).decode()
            self.ops.append(op)
        if rng.random() < 0.5:
            store = rng.choice(self.stores)
            name = f"{store.name}-i{n}"
            blocks = {}
            lines = []
            for k in range(rng.randint(2, 400)):
                id = f"{name}-{k}"
                blocks[id] = base64.b64encode(rng.randbytes(rng.randint(0, 1500))).decode()
                lines.append(json.dumps({"id": id, "type": "row", "blob": blocks[id]}))
            path = os.path.join(self.work, f"import-{n}.jsonl")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            op = Op("import", store, ["--json", "import", path], self.kill_fraction(0.7))
            op.name, op.blocks = name, blocks
            self.ops.append(op)
        for _ in range(rng.randint(0, 2) if len(self.stores) > 1 else 0):
            store, peer = rng.sample(self.stores, 2)
            op = Op("sync", store, ["sync"], self.kill_fraction(0.5))
            op.peer = peer
            self.ops.append(op)
            serve_at = self.kill_fraction(0.3)
            if serve_at is not None:
                self.serve_kills.append((serve_at, peer, op))
        if not self.ops:  # a round always runs something
            store, peer = rng.sample(self.stores, 2) if len(self.stores) > 1 else (None, None)
            if peer:
                op = Op("sync", store, ["sync"], self.kill_fraction(1.0))
                op.peer = peer
                self.ops.append(op)

    # --- running it -------------------------------------------------------

    def run(self, usual):
        """Starts every op, kills at the drawn moments (a fraction of the
        kind's usual run time, `usual[kind]` seconds); returns the kills that
        hit a running process, by kind."""
        try:
            return self.run_and_kill(usual)
        except BaseException:  # a failure, or ctest stopping us: leave nothing running
            for op in self.ops:
                if getattr(op, "proc", None) and op.proc.poll() is None:
                    op.proc.kill()
                    op.proc.wait()
            raise

    def run_and_kill(self, usual):
        hits = {}
        t0 = time.monotonic()
        for op in self.ops:
            argv = list(op.argv)
            if op.kind == "sync":
                argv.append(op.peer.address())
            op.proc = subprocess.Popen([op.store.blk, "--store", op.store.path, *argv],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
            op.started = time.monotonic()
        events = [(f * usual[op.kind], "op", op) for op in self.ops
                  if (f := op.kill_at) is not None]
        events += [(f * usual["sync"], "serve", (store, op))
                   for f, store, op in self.serve_kills]
        for at, what, x in sorted(events, key=lambda e: e[0]):
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if what == "op":
                if x.proc.poll() is None:
                    x.proc.send_signal(signal.SIGKILL)
                    x.killed = True
                    hits[x.kind] = hits.get(x.kind, 0) + 1
            else:
                store, op = x
                # A serve counts as killed mid-sync only while the sync runs.
                if store.serve and store.serve.poll() is None:
                    running = op.proc.poll() is None
                    store.serve.send_signal(signal.SIGKILL)
                    store.serve.wait()
                    for o in self.ops:
                        if o.kind == "sync" and o.peer is store:
                            o.peer_killed = True
                    if running:
                        hits["serve"] = hits.get("serve", 0) + 1
        # Polled, so each run time is its own (their output is too small to
        # fill a pipe meanwhile).
        running = list(self.ops)
        deadline = time.monotonic() + 120
        while running:
            for op in [o for o in running if o.proc.poll() is not None]:
                op.ended = time.monotonic()
                running.remove(op)
            if running and time.monotonic() > deadline:
                op = running[0]
                raise Failure(f"'blk --store {op.store.name} {' '.join(op.argv)}' hung for 120 s")
            time.sleep(0.002)
        for op in self.ops:
            out, err = op.proc.communicate()
            op.rc, op.out, op.err = op.proc.returncode, out, err.decode(errors="replace")
            if not op.killed and op.rc == 0:
                usual[op.kind] = 0.8 * usual[op.kind] + 0.2 * (op.ended - op.started)
        return hits

    # --- what was acknowledged --------------------------------------------

    def record(self):
        """Puts what blk acknowledged into the model; fails on a command that
        nothing killed but that failed, or failed without its one-line error."""
        for op in self.ops:
            what = f"'blk --store {op.store.name} {' '.join(op.argv)}'"
            if not op.killed and op.rc != 0:
                lines = op.err.strip().splitlines()
                if len(lines) != 1 or not lines[0].startswith("blk: error: "):
                    raise Failure(f"{what} exited {op.rc} without one 'blk: error:' line: "
                                  f"{op.err.strip()!r}")
                # A sync whose serve was killed fails; nothing else may.
                if not (op.kind == "sync" and op.peer_killed and op.rc == 1):
                    raise Failure(f"{what} exited {op.rc}: {lines[0]}")
            if op.kind == "put":
                acked = op.rc == 0 and op.out == (op.id + "\n").encode()
                if op.rc == 0 and not acked:
                    raise Failure(f"{what} exited 0 but printed {op.out[:100]!r}")
                self.model.write(op.id, op.blob, acked)
            elif op.kind == "import":
                want = json.dumps({"imported": len(op.blocks)}, separators=(",", ":"))
                acked = op.rc == 0 and op.out == (want + "\n").encode()
                if op.rc == 0 and not acked:
                    raise Failure(f"{what} exited 0 but printed {op.out[:100]!r}")
                self.model.imported(op.name, op.blocks, acked)

    def interrupted_syncs(self):
        return [op for op in self.ops
                if op.kind == "sync" and (op.killed or op.peer_killed or op.rc != 0)]

    def touched(self):
        seen = []
        for op in self.ops:
            for s in (op.store, op.peer):
                if s is not None and s not in seen:
                    seen.append(s)
        return seen
