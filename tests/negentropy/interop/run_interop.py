#!/usr/bin/env python3
"""Runs negentropy reconciliations between two line-protocol harnesses and
checks that the initiator finds exactly the symmetric difference.

    run_interop.py HARNESS               # blk's harness on both sides
    run_interop.py HARNESS --node PEER   # blk against PEER (peer.mjs), both roles

The sets are seeded, so every run is the same. Each case prints one line;
the exit status is 1 if any case fails (a missing node or node_modules is a
failure too, not a skip: the test is there to be run).
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional


@dataclass
class Case:
    name: str
    shared: int
    only_initiator: int
    only_responder: int
    timestamps: Optional[int] = None  # how many distinct ones; None: about one per item
    limit_initiator: int = 0          # frame size limits (0: none)
    limit_responder: int = 0
    # @nostr-dev-kit/sync 1.0.0 as the responder loses ids when the frame
    # limit cuts its id list short: the fingerprint that then ends its reply
    # does not cover the ids it left out, so the initiator sees agreement and
    # stops. Such cases run only with blk as the responder.
    node_may_respond: bool = True


CASES = [
    Case("10k shared, 300/300 differ", 10_000, 300, 300),
    Case("same, frame limits 4096/8192", 10_000, 300, 300, None, 4096, 8192),
    Case("few timestamps: id-prefix bounds", 10_000, 300, 300, 40),
    Case("few timestamps, frame limits 4096", 10_000, 300, 300, 40, 4096, 4096),
    Case("initiator empty", 0, 0, 2_000),
    Case("responder empty", 0, 2_000, 0),
    Case("initiator empty, responder's id list cut by its limit", 0, 0, 2_000, None, 0, 4096,
         node_may_respond=False),
    Case("both empty", 0, 0, 0),
    Case("identical sets", 20_000, 0, 0),
]


def make_sets(seed, case):
    shared, only_i, only_r = case.shared, case.only_initiator, case.only_responder
    rng = random.Random(seed)
    total = shared + only_i + only_r
    base = 1_677_970_534  # below 2^31: the JS library's varints are 32-bit

    def item():
        spread = case.timestamps or max(total, 1)
        return (base + rng.randrange(spread), rng.randbytes(32).hex())

    items = [item() for _ in range(total)]
    return (items[:shared] + items[shared:shared + only_i],
            items[:shared] + items[shared + only_i:],
            {i for _, i in items[shared:shared + only_i]},
            {i for _, i in items[shared + only_i:]})


class Peer:
    def __init__(self, cmd, frame_size_limit):
        env = dict(os.environ)
        env.pop("FRAMESIZELIMIT", None)
        if frame_size_limit:
            env["FRAMESIZELIMIT"] = str(frame_size_limit)
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True, bufsize=1)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.cmd[0]} ended (status {self.proc.wait()})")
        return line.rstrip("\n")


def run_case(initiator_cmd, responder_cmd, case, seed):
    items_i, items_r, want_have, want_need = make_sets(seed, case)
    ini = Peer(initiator_cmd, case.limit_initiator)
    res = Peer(responder_cmd, case.limit_responder)
    try:
        for peer, items in ((ini, items_i), (res, items_r)):
            peer.proc.stdin.write("".join(f"item,{ts},{i}\n" for ts, i in items) + "seal\n")
            peer.proc.stdin.flush()
        have, need, rounds, up, down = [], [], 0, 0, 0
        ini.send("initiate")
        while True:
            line = ini.read()
            kind, _, data = line.partition(",")
            if kind == "have":
                have.append(data)
            elif kind == "need":
                need.append(data)
            elif kind == "done":
                break
            elif kind == "msg":
                rounds += 1
                up += len(data) // 2
                res.send(line)
                reply = res.read()
                if not reply.startswith("msg,"):
                    raise RuntimeError(f"responder said {reply[:80]!r}")
                down += len(reply) // 2 - 2
                ini.send(reply)
            else:
                raise RuntimeError(f"initiator said {line[:80]!r}")
            if rounds > 100:
                raise RuntimeError("more than 100 rounds")
        errors = []
        for name, got, want in (("have", have, want_have), ("need", need, want_need)):
            if len(got) != len(set(got)):
                errors.append(f"{name} lists an id twice")
            if set(got) != want:
                errors.append(f"{name}: {len(set(got) - want)} unexpected, "
                              f"{len(want - set(got))} missing")
        stats = f"{rounds} rounds, {up} B up, {down} B down, have {len(have)}, need {len(need)}"
        return errors, stats
    finally:
        for p in (ini, res):
            if p.proc.poll() is None:
                p.proc.kill()
            p.proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("harness", help="blk's negentropy_harness")
    ap.add_argument("--node", metavar="PEER_MJS", help="play against this node script")
    args = ap.parse_args()

    ours = [args.harness]
    if args.node:
        node = shutil.which("node")
        modules = os.path.join(os.path.dirname(os.path.abspath(args.node)),
                               "node_modules", "@nostr-dev-kit", "sync", "package.json")
        if not node:
            sys.exit("run_interop: node not found (scripts/bootstrap installs it)")
        if not os.path.exists(modules):
            sys.exit(f"run_interop: {modules} missing: run scripts/bootstrap "
                     "(npm ci --prefix tests/negentropy/interop)")
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        if int(version.lstrip("v").split(".")[0] or 0) < 19:
            # The library hashes with the global WebCrypto object (node 19 on).
            sys.exit(f"run_interop: node {version.strip()} is too old for @nostr-dev-kit/sync "
                     "(it needs node >= 19)")
        theirs = [node, args.node]
        pairings = [("blk -> node", ours, theirs), ("node -> blk", theirs, ours)]
    else:
        pairings = [("blk -> blk", ours, ours)]

    failed = 0
    for seed, case in enumerate(CASES, start=1):
        for label, initiator, responder in pairings:
            if responder is not ours and not case.node_may_respond:
                print(f"skip {label}: {case.name}: a known bug of the node library", flush=True)
                continue
            try:
                errors, stats = run_case(initiator, responder, case, seed)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                errors, stats = [str(e)], ""
            status = "FAIL" if errors else "ok"
            print(f"{status:4} {label}: {case.name}: {stats}", flush=True)
            for e in errors:
                print(f"     {e}", flush=True)
            failed += bool(errors)
    if failed:
        sys.exit(f"run_interop: {failed} case(s) failed")


if __name__ == "__main__":
    main()
