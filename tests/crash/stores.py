"""The stores of a crash run: each a real blk store in its own directory with
a `blk serve` answering on a loopback port, and the read-side checks that
take no part in the kills (export, integrity_check, ls)."""

import json
import os
import re
import shutil
import signal
import subprocess
import time


class Failure(Exception):
    """A broken invariant: the run stops and prints how to replay it."""


def run_blk(blk, store, *args):
    """Runs blk to completion; returns (exit code, stdout bytes, stderr text)."""
    try:
        p = subprocess.run([blk, "--store", store, *args], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise Failure(f"'blk --store {store} {' '.join(args)}' hung for 120 s")
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def must(blk, store, *args):
    """Runs a blk command that nothing kills: it must succeed."""
    rc, out, err = run_blk(blk, store, *args)
    if rc != 0:
        raise Failure(f"'blk --store {store} {' '.join(args)}' exited {rc}: {err.strip()}")
    return out


class Store:
    def __init__(self, blk, name, path):
        self.blk = blk
        self.name = name
        self.path = path
        self.serve = None  # the running `blk serve` (a Popen)
        self.port = None
        self.serve_log = os.path.join(os.path.dirname(path), f"serve-{name}.log")

    def init(self):
        must(self.blk, self.path, "-q", "init", "--name", self.name)
        self.key = must(self.blk, self.path, "id", "--key").decode().strip()

    def add_peer(self, other):
        # No address: syncs dial the other's serve by address.
        must(self.blk, self.path, "peer", "add", other.name, other.key)

    def start_serve(self):
        log = open(self.serve_log, "ab")
        start = log.tell()
        self.serve = subprocess.Popen(
            [self.blk, "--store", self.path, "serve", "--listen", "tcp://127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(self.serve_log, "rb") as f:
                f.seek(start)
                m = re.search(rb"listening on tcp://127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.serve.poll() is not None:
                break
            time.sleep(0.005)
        raise Failure(f"serve of {self.name} did not start (see {self.serve_log})")

    def serve_died(self):
        return self.serve is not None and self.serve.poll() is not None

    def stop_serve(self):
        if self.serve and self.serve.poll() is None:
            self.serve.send_signal(signal.SIGKILL)
        if self.serve:
            self.serve.wait()
        self.serve = None

    def address(self):
        return f"tcp://127.0.0.1:{self.port}"

    def remove(self):
        self.stop_serve()
        shutil.rmtree(self.path, ignore_errors=True)

    def check_integrity(self):
        """After a kill the database must pass SQLite's own check."""
        p = subprocess.run(["sqlite3", os.path.join(self.path, "blk.db"),
                            "PRAGMA integrity_check"], capture_output=True, timeout=60)
        got = p.stdout.decode(errors="replace").strip()
        if p.returncode != 0 or got != "ok":
            raise Failure(f"store {self.name}: integrity_check says {got!r} "
                          f"{p.stderr.decode(errors='replace').strip()}")

    def blocks(self):
        """Every block, tombstones too, by id: (version, blob in base64, the
        rest of the exported line but the local seq). That blk export works is
        also the check that the store still opens."""
        rc, out, err = run_blk(self.blk, self.path, "export", "--deleted")
        if rc != 0:
            raise Failure(f"store {self.name} does not open: blk export exited {rc}: "
                          f"{err.strip()}")
        held = {}
        for line in out.splitlines():
            b = json.loads(line)
            blob = b.pop("blob", "")
            b.pop("seq")
            held[b["id"]] = (b["version"], blob, b)
        return held
