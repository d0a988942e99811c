#include "distributed/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef LR_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LR_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace lr::driver::dist {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::string kAbortKey = "lr/abort";
std::string heartbeat_key(int r) { return "lr/heartbeat/" + std::to_string(r); }
std::string left_key(int r) { return "lr/left/" + std::to_string(r); }

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
std::string text_of(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// Collectives wait for slow peers this long at most; a lost peer is caught
// much sooner by the watchdog (peer_timeout_s).
constexpr milliseconds kCollectiveTimeout{30 * 60 * 1000};

struct Group {
  LaunchEnv env;
  GroupOptions options;
  std::string backend;
  c10::intrusive_ptr<c10d::Store> store;  // this thread's client (rank 0: also the server)
  c10::intrusive_ptr<c10d::ProcessGroup> collectives;
  std::map<std::string, int64_t> calls;  // per name: how many barriers / gathers so far
  std::thread watchdog;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::atomic<bool> failing{false};  // this rank reported its own failure
};

Group* g_group = nullptr;

// set_stop_hook's hook; its mutex stays locked once stop_rank has run it.
std::mutex g_stop_mutex;
std::function<void()> g_stop_hook;

[[noreturn]] void stop_rank(const std::string& why) {
  std::fprintf(stderr, "\nlightreasoner: rank %d of %d: stopping: %s; rerun the same command to resume\n",
               g_group->env.rank, g_group->env.world_size, why.c_str());
  std::fflush(stderr);
  g_stop_mutex.lock();
  if (g_stop_hook) g_stop_hook();
  std::_Exit(kExitPeerLost);
}

milliseconds heartbeat_interval(double timeout_s) {
  return milliseconds(std::clamp<int64_t>(int64_t(timeout_s * 1000 / 5), 50, 1000));
}

c10::intrusive_ptr<c10d::TCPStore> connect_store(const LaunchEnv& env, double timeout_s, bool server) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.master_port);
  o.isServer = server;
  o.waitWorkers = false;  // arrivals are counted by rendezvous(), with a deadline
  o.timeout = milliseconds(int64_t(timeout_s * 1000));
  return c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
}

// The store's client (rank 0 without torchrun's agent store: also its server).
c10::intrusive_ptr<c10d::Store> open_store(const LaunchEnv& env, double timeout_s, bool host) {
  auto tcp = connect_store(env, timeout_s, host && !env.agent_store);
  if (!env.agent_store) return tcp;
  return c10::make_intrusive<c10d::PrefixStore>(env.store_prefix, tcp);
}

std::string store_lost_message(const LaunchEnv& env) {
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  if (env.agent_store) return "torchrun's agent lost (the rendezvous store it served at " + where + " no longer answers)";
  return "rank 0 lost (the rendezvous store it hosted at " + where + " no longer answers)";
}

// The watchdog thread: heartbeats, the ring watch, and the abort key.
void watch(Group* grp, c10::intrusive_ptr<c10d::Store> client) {
  const int me = grp->env.rank, world = grp->env.world_size;
  const milliseconds interval = heartbeat_interval(grp->options.peer_timeout_s);
  const auto timeout = std::chrono::duration<double>(grp->options.peer_timeout_s);
  std::map<int, std::pair<int64_t, Clock::time_point>> seen;  // rank -> (counter, when it last moved)
  try {
    for (;;) {
      client->add(heartbeat_key(me), 1);
      if (!grp->failing && client->check({kAbortKey})) stop_rank(text_of(client->get(kAbortKey)));
      for (int step = 1; step < world; ++step) {  // the next rank in ring order that has not left
        const int peer = (me + step) % world;
        if (client->check({left_key(peer)})) continue;
        const int64_t beats = client->add(heartbeat_key(peer), 0);
        const auto now = Clock::now();
        auto it = seen.find(peer);
        if (it == seen.end() || it->second.first != beats) {
          seen[peer] = {beats, now};
        } else if (now - it->second.second > timeout) {
          const std::string why = "rank " + std::to_string(peer) + " lost (no heartbeat for " +
                                  std::to_string(int(grp->options.peer_timeout_s)) + " s)";
          client->set(kAbortKey, bytes_of(why));
          stop_rank(why);
        }
        break;
      }
      std::unique_lock<std::mutex> lock(grp->mutex);
      if (grp->wake.wait_for(lock, interval, [grp] { return grp->stopping; })) return;
    }
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> lock(grp->mutex);
      if (grp->stopping) return;
    }
    stop_rank(store_lost_message(grp->env));
  }
}

c10::intrusive_ptr<c10d::ProcessGroup> make_collectives(Group& grp) {
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("lr/pg", grp.store);
  const int rank = grp.env.rank, world = grp.env.world_size;
  if (grp.backend == "nccl") {
#ifdef LR_C10D_NCCL
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = kCollectiveTimeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, world, o);
#else
    throw std::runtime_error("run.backend = \"nccl\": this build's LibTorch has no NCCL (Debian's LibTorch is CPU "
                             "only); build against a CUDA LibTorch, or use \"gloo\"");
#endif
  }
#ifdef LR_C10D_GLOO
  auto o = c10d::ProcessGroupGloo::Options::create(kCollectiveTimeout);
  const bool loopback = grp.env.master_addr == "localhost" || grp.env.master_addr.rfind("127.", 0) == 0;
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
    o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (loopback)
    o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, world, o);
#else
  throw std::runtime_error("run.backend = \"gloo\": this build has no Gloo (install libgloo-dev and rebuild)");
#endif
}

std::string chosen_backend(const GroupOptions& o) {
  if (o.backend != "auto" && o.backend != "nccl" && o.backend != "gloo")
    throw std::runtime_error("run.backend = \"" + o.backend + "\": expected \"auto\", \"nccl\" or \"gloo\"");
  if (o.backend == "gloo" && o.cuda)
    throw std::runtime_error("run.backend = \"gloo\" with a CUDA run.device: the driver's Gloo path reduces CPU "
                             "tensors; use \"nccl\" (or \"auto\") on GPUs");
  if (o.backend == "auto") return o.cuda ? "nccl" : "gloo";
  return o.backend;
}

// A store-based wait for `count` arrivals on `key`, as long as it takes (a
// lost peer ends it through the watchdog). The store failing means rank 0,
// its host, is gone.
void wait_for_count(c10d::Store& store, const std::string& key, int64_t count) {
  try {
    store.add(key, 1);
    while (store.add(key, 0) < count) std::this_thread::sleep_for(milliseconds(20));
  } catch (const std::exception&) {
    if (!g_group) throw;
    stop_rank(store_lost_message(g_group->env));
  }
}

// Every rank arrives within the deadline, or the join fails naming how many came.
void rendezvous(c10d::Store& store, const LaunchEnv& env, double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  store.add("lr/joined", 1);
  for (int64_t n; (n = store.add("lr/joined", 0)) < env.world_size;) {
    if (Clock::now() > deadline)
      throw std::runtime_error(std::to_string(n) + " of " + std::to_string(env.world_size) + " ranks arrived");
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::string next_key(const std::string& kind, const std::string& what) {
  const int64_t n = g_group->calls[kind + "/" + what]++;
  return "lr/" + kind + "/" + what + "/" + std::to_string(n);
}

}  // namespace

void join(const LaunchEnv& env, const GroupOptions& options) {
  if (g_group) throw std::runtime_error("dist::join: already joined");
  if (!(options.peer_timeout_s > 0)) throw std::runtime_error("run.peer_timeout must be > 0 seconds");
  if (!(options.rendezvous_timeout_s > 0)) throw std::runtime_error("run.rendezvous_timeout must be > 0 seconds");
  auto grp = std::make_unique<Group>();
  grp->env = env;
  grp->options = options;
  grp->backend = chosen_backend(options);
  try {
    // The store's timeout bounds the connection to a server that has not started yet.
    grp->store = open_store(env, options.rendezvous_timeout_s, env.rank == 0);
    rendezvous(*grp->store, env, options.rendezvous_timeout_s);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                             ": rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port) +
                             " failed within run.rendezvous_timeout (" + std::to_string(int(options.rendezvous_timeout_s)) +
                             " s): " + std::string(e.what()).substr(0, 200));
  }
  grp->collectives = make_collectives(*grp);
  auto watch_client = open_store(env, options.peer_timeout_s, false);
  g_group = grp.release();
  g_group->watchdog = std::thread(watch, g_group, watch_client);
}

bool joined() { return g_group != nullptr; }
int rank() { return g_group ? g_group->env.rank : 0; }
int world_size() { return g_group ? g_group->env.world_size : 1; }
int local_rank() { return g_group ? g_group->env.local_rank : 0; }
std::string backend() { return g_group ? g_group->backend : "none"; }

std::string rank_prefix() {
  return g_group ? "rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + ": " : "";
}

void barrier(const std::string& what) {
  if (!g_group) return;
  wait_for_count(*g_group->store, next_key("barrier", what), g_group->env.world_size);
}

double g_all_reduce_seconds = 0;

double all_reduce_seconds() { return g_all_reduce_seconds; }

void all_reduce_sum(std::vector<torch::Tensor>& tensors) {
  if (!g_group || g_group->env.world_size == 1 || tensors.empty()) return;
  const auto t0 = Clock::now();
  struct AddTime {  // however the call ends
    Clock::time_point t0;
    ~AddTime() { g_all_reduce_seconds += std::chrono::duration<double>(Clock::now() - t0).count(); }
  } add_time{t0};
  std::map<c10::ScalarType, std::vector<size_t>> by_dtype;
  for (size_t i = 0; i < tensors.size(); ++i) by_dtype[tensors[i].scalar_type()].push_back(i);
  for (auto& [dtype, members] : by_dtype) {
    std::vector<torch::Tensor> flat;
    for (size_t i : members) flat.push_back(tensors[i].reshape(-1));
    std::vector<torch::Tensor> bucket{torch::cat(flat)};
    try {
      g_group->collectives->allreduce(bucket)->wait();
    } catch (const std::exception& e) {
      // A peer died mid-collective: give the watchdog the time to name it.
      std::this_thread::sleep_for(std::chrono::duration<double>(g_group->options.peer_timeout_s) +
                                  2 * heartbeat_interval(g_group->options.peer_timeout_s));
      throw std::runtime_error(rank_prefix() + "all-reduce failed: " + std::string(e.what()).substr(0, 300));
    }
    int64_t offset = 0;
    torch::NoGradGuard no_grad;
    for (size_t i : members) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(bucket[0].narrow(0, offset, n).view_as(tensors[i]));
      offset += n;
    }
  }
}

std::vector<std::string> all_gather_text(const std::string& what, const std::string& mine) {
  if (!g_group) return {mine};
  const std::string base = next_key("gather", what);
  auto& store = *g_group->store;
  std::vector<std::string> keys;
  for (int r = 0; r < g_group->env.world_size; ++r) keys.push_back(base + "/" + std::to_string(r));
  std::vector<std::string> out;
  try {
    store.set(keys[size_t(g_group->env.rank)], bytes_of(mine));
    while (!store.check(keys)) std::this_thread::sleep_for(milliseconds(20));
    for (const auto& k : keys) out.push_back(text_of(store.get(k)));
  } catch (const std::exception&) {
    stop_rank(store_lost_message(g_group->env));
  }
  return out;
}

void report_failure(const std::string& message) {
  if (!g_group) return;
  g_group->failing = true;
  try {
    if (!g_group->store->check({kAbortKey}))
      g_group->store->set(kAbortKey, bytes_of("rank " + std::to_string(g_group->env.rank) + " failed: " + message));
  } catch (const std::exception&) {
  }
}

void set_stop_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(g_stop_mutex);
  g_stop_hook = std::move(hook);
}

void leave() {
  if (!g_group) return;
  barrier("leave");
  g_group->store->set(left_key(g_group->env.rank), bytes_of("1"));
  {
    std::lock_guard<std::mutex> lock(g_group->mutex);
    g_group->stopping = true;
  }
  g_group->wake.notify_all();
  g_group->watchdog.join();
  // Rank 0 hosts the store: it stays until every rank is done with it.
  wait_for_count(*g_group->store, "lr/gone", g_group->env.world_size);
  // The group stays allocated: c10d's threads may still hold it until exit.
}

}  // namespace lr::driver::dist
