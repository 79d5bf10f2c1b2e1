// One simulated machine: its keys, its SQLite store (a real file) and its
// skewed clock. A crash destroys the Store object without flushing anything
// (SQLite keeps exactly what was committed); a restart opens the file again.
#pragma once

#include <memory>
#include <string>

#include "blk/error.hpp"
#include "blk/identity.hpp"
#include "blk/store.hpp"
#include "rng.hpp"

namespace blk::sim {

struct Machine {
  int index = 0;
  std::string name;  // "m0", "m1", ... in the trace
  KeyPair keys;      // never moves: channels borrow it
  std::string id;    // machine id (hex), derived from the public key
  std::string epoch;
  Millis skew = 0;               // added to virtual time by the store's clock
  std::string path;              // the SQLite file
  std::unique_ptr<Store> store;  // null while crashed
  int crashes = 0;

  bool up() const { return store != nullptr; }
};

// Creates machine `index`: keys from seeded bytes, a random epoch, the store
// file under `dir`, then opens it. `now` is the world's virtual clock, read
// (plus `skew`) by the store whenever it needs the time.
Result<void> create_machine(Machine& m, int index, const std::string& dir, Rng& rng, Millis skew,
                            const Millis* now);

// Opens the machine's store and gives it its skewed virtual clock.
Result<void> start_machine(Machine& m, const Millis* now);

// Power loss: the Store goes away without any flush. Sessions using it must
// have been destroyed first.
void crash_machine(Machine& m);

}  // namespace blk::sim
