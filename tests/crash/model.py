"""What each store must hold, given which writes blk acknowledged.

Every id is written by one store only (its name is the id's prefix), so
sync only copies it elsewhere and no conflict can pick another version.
For each id the model keeps the last blob blk acknowledged and the blobs of
writes made since by commands that were killed: any of those may have
committed before the kill, but nothing else may be there. Once the store
has been looked at, what it holds is committed (SIGKILL loses nothing that
was committed), so it becomes the new acknowledged state.

A killed write that is not seen has not necessarily failed. A writer killed
after its commit frame reached the WAL but before it updated the WAL index
(blk.db-shm: the window is the WAL's fsync) leaves a commit that readers
do not see while another process keeps the index alive (serve's idle
connection, a concurrent command). When the last of them dies too (a
killed serve), the next open rebuilds the index from the WAL and the write
appears, whole. Any later commit in the store overwrites those frames, and
the write is gone for good; the model keeps it possible until the next
acknowledged write of the same id (looser than SQLite, never stricter).
tests/cli/test_killed_commit.sh shows both halves with a real blk.

Blobs are kept in base64, as blk export prints them: comparing the text
compares the bytes, without decoding every exported blob."""


class Model:
    def __init__(self):
        self.acked = {}    # id -> the blob last acknowledged (or seen)
        self.maybe = {}    # id -> blobs of killed writes since
        self.imports = {}  # import name -> {id: blob}, all or nothing

    def owned(self, store_name):
        prefix = store_name + "-"
        return [i for i in set(self.acked) | set(self.maybe) if i.startswith(prefix)]

    def write(self, id, blob, acknowledged):
        if acknowledged:
            self.acked[id] = blob
            self.maybe.pop(id, None)
        else:
            self.maybe.setdefault(id, []).append(blob)

    def imported(self, name, blocks, acknowledged):
        self.imports[name] = blocks
        for id, blob in blocks.items():
            self.write(id, blob, acknowledged)

    def check(self, store_name, held):
        """Problems with what store `store_name` holds (id -> (version, blob,
        line)) for the ids it writes; then takes what it holds as committed."""
        problems = []
        for id in sorted(self.owned(store_name)):
            allowed = [self.acked[id]] if id in self.acked else []
            allowed += self.maybe.get(id, [])
            got = held.get(id)
            if got is None:
                if id in self.acked:
                    problems.append(f"acknowledged write of {id} is missing")
                continue  # a killed write may still appear (see above)
            if got[1] not in allowed:
                what = "acknowledged" if id in self.acked else "killed"
                problems.append(f"{id} holds a blob that no write made ({size(got[1])} B; "
                                f"last {what} write: {size(allowed[-1])} B)")
                continue
            if got[1] != self.acked.get(id):
                # A killed write is seen: the ones killed before it can no
                # longer appear; those killed after it still may.
                later = self.maybe[id][self.maybe[id].index(got[1]) + 1:]
                self.acked[id] = got[1]
                self.maybe.pop(id)
                if later:
                    self.maybe[id] = later
        prefix = store_name + "-"
        for name, blocks in self.imports.items():
            if not name.startswith(prefix):
                continue
            present = [id for id in blocks if id in held]
            if present and len(present) != len(blocks):
                problems.append(f"import {name} is half there: {len(present)} of "
                                f"{len(blocks)} blocks")
        # Settled: an import seen whole (or seen absent and never acked,
        # which can no longer commit) needs no more all-or-nothing checks.
        for name in [n for n in self.imports if n.startswith(prefix)]:
            del self.imports[name]
        return problems


def size(b64):
    return len(b64) // 4 * 3 - b64[-2:].count("=")
