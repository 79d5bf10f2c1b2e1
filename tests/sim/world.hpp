// One run of the simulator for one seed: 2–6 machines with real SQLite
// stores and skewed clocks, a virtual network, and an event loop on virtual
// time. The run has three phases:
//   1. faults: a random workload (puts, updates, deletes, the same ids
//      written on several machines at once) while machines dial each other
//      and the faults play: connections cut at random bytes, delays and
//      stalls, partitions that heal, crashes and restarts;
//   2. drain: the faults stop, partitions heal, crashed machines restart,
//      watch syncs are stopped, and the connections still open run out;
//   3. rounds: every pair syncs once, one pair at a time in a seeded order.
// Then the checks (checks.hpp). See README.md for the bound on rounds.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connection.hpp"
#include "machine.hpp"
#include "rng.hpp"
#include "trace.hpp"

namespace blk::sim {

struct Config {
  std::uint64_t seed = 0;
  int machines = 0;       // 0: 2 to 6, drawn from the seed
  int far_skew = -1;      // one clock over kMaxFutureSkew ahead: -1 drawn (1 in 10), 0 no, 1 yes
  bool echo = false;      // print the trace as it happens
  bool states = false;    // log every version held after the drain and each sync of the rounds
  int bound = 1;          // rounds of syncs within which the machines must agree
  int extra_rounds = -1;  // after a missed bound, rounds run to diagnose it (-1: 2 × machines)
  std::string dir;        // an empty directory for the stores
  // The first choices of the run, as bytes (the fuzz target sim_schedule);
  // the seed's generator takes over when they run out. Must outlive the run.
  std::string_view schedule;
};

struct Outcome {
  bool pass = false;
  std::string reason;  // why it failed
  std::uint64_t trace_hash = 0;
  std::uint64_t trace_lines = 0;
  std::deque<std::string> tail;  // the trace's last lines
  int machines = 0;
  bool far_skew = false;
  std::uint64_t events = 0;
};

Outcome run_seed(const Config& config);

class Workload;

// What the parts of a run (connections, workload) share.
class World {
 public:
  explicit World(const Config& config);
  ~World();
  Outcome run();

  // Virtual time, in milliseconds since the Unix epoch (stores see it plus
  // their skew).
  Millis clock() const { return now_; }
  void at(Millis when, std::function<void()> fn);
  void log(std::string_view who, std::string_view what);
  // Something went wrong that must not: the run fails (the first reason is
  // reported, all are logged).
  void fail(std::string why);

  Rng& rng() { return rng_; }
  Machine& machine(int i) { return machines_[static_cast<std::size_t>(i)]; }
  int machine_count() const { return static_cast<int>(machines_.size()); }
  bool reachable(int a, int b) const;
  // When the partitions between a and b will all have healed.
  Millis heals_at(int a, int b) const;

 private:
  struct Partition {
    std::vector<int> group;  // per machine: 0 or 1
    Millis from, until;
  };
  struct Event {
    Millis at;
    std::uint64_t seq;
    std::function<void()> fn;
  };

  Result<void> setup();
  void plan_faults(Millis end);
  Connection* dial(int from, int to, bool full, bool watch, bool faults);
  void crash(int m, bool power);
  void restart(int m);
  void partition(Partition p);
  bool step();
  bool run_until(const std::function<bool()>& done, Millis limit);
  bool all_closed() const;
  bool drain();
  void run_rounds();
  bool sync_round(int round, bool& silent);
  std::string state_digest(int m);
  void log_state(int m);

  Config cfg_;
  Rng rng_;
  Trace trace_;
  Millis start_;
  Millis now_;
  bool faults_ = true;
  bool far_skew_ = false;
  std::vector<Event> heap_;
  std::uint64_t seq_ = 0;
  std::uint64_t events_ = 0;
  std::vector<Machine> machines_;
  std::map<int, std::unique_ptr<Connection>> conns_;
  int next_conn_ = 0;
  std::vector<Partition> partitions_;
  std::unique_ptr<Workload> workload_;
  std::vector<std::string> failures_;
};

}  // namespace blk::sim
