// The driver's place in a torch.distributed job: one process per rank, joined
// through c10d (rendezvous on MASTER_ADDR:MASTER_PORT with c10d's TCPStore,
// hosted by rank 0; collectives through ProcessGroupGloo on CPU tensors or
// ProcessGroupNCCL on CUDA ones where the LibTorch found at build time has
// NCCL). Nothing else carries data between ranks.
//
// Not joined (no launch environment, see launch_env.h), every call below acts
// as the group of one: rank 0 of 1, barriers and reductions return at once.
//
// Lost peers. Every rank runs a watchdog thread that bumps its heartbeat
// counter in the store and watches the next rank in ring order (skipping
// ranks that left cleanly). A rank whose counter stands still for
// peer_timeout_s is lost: its watcher publishes that in the store, and every
// rank, seeing it within a heartbeat, prints one line naming the lost rank and
// exits with kExitPeerLost. A rank that fails with an error publishes its
// message first (report_failure), so the others stop at once and say why.
// Outputs are written so that a process may die at any instant (fsync'ed
// appends, atomic renames): rerunning the same command resumes.
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "distributed/launch_env.h"

namespace lr::driver::dist {

// The exit status of a rank stopped because another rank was lost or failed.
inline constexpr int kExitPeerLost = 75;

struct GroupOptions {
  // "auto" (NCCL on CUDA, Gloo on CPU), "nccl" or "gloo": run.backend.
  std::string backend = "auto";
  bool cuda = false;  // the ranks compute on cuda:LOCAL_RANK (decides "auto")
  // Lost-peer timeout, seconds: run.peer_timeout.
  double peer_timeout_s = 120;
  // How long the ranks wait for each other to start, seconds: run.rendezvous_timeout.
  double rendezvous_timeout_s = 600;
};

// Joins the group `env` describes; once per process (a second call throws).
// Throws std::runtime_error for a backend this build lacks ("nccl" without
// NCCL, "gloo" on CUDA tensors) or a rendezvous that times out.
void join(const LaunchEnv& env, const GroupOptions& options);

bool joined();
int rank();
int world_size();
int local_rank();
std::string backend();  // "gloo", "nccl", or "none" (not joined)
// "rank R of W: " when joined, "" otherwise: the prefix of messages that may
// come from several ranks.
std::string rank_prefix();

// Waits until every rank calls barrier with the same `what` (in the same
// order). Built on the store, not a collective, so one rank may wait for a
// slower one as long as it takes; a lost peer ends the wait through the
// watchdog.
void barrier(const std::string& what);

// Sums the tensors over ranks in place: flattened into one contiguous bucket
// per dtype, one all-reduce each, copied back. All on one device.
void all_reduce_sum(std::vector<torch::Tensor>& tensors);

// Wall seconds this process has spent in all_reduce_sum so far (waiting for
// slower ranks included): what training's summary reports as the
// all-reduce's share of an update.
double all_reduce_seconds();

// Every rank's `mine`, indexed by rank (through the store; for small data).
std::vector<std::string> all_gather_text(const std::string& what, const std::string& mine);

// Tells the others this rank is failing with `message` (they stop at once);
// does nothing when not joined. Call before exiting with an error.
void report_failure(const std::string& message);

// Runs just before a rank exits because another rank was lost or failed,
// after its line is printed (the exit skips destructors): a log that copies
// stderr through a thread (runtime/run_log.h) drains there, so the line
// reaches the terminal and the log. One hook at a time; {} removes it, and
// waits while it runs. It runs on the watchdog thread.
void set_stop_hook(std::function<void()> hook);

// Leaves cleanly: waits for every rank to arrive, then stops the watchdog so
// the others do not take this rank's silence for a loss.
void leave();

}  // namespace lr::driver::dist
