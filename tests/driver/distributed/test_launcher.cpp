// The launcher's verdict on how ranks ended (distributed/launcher.h): the
// status it exits with, the words it uses, and which failure it names when
// ranks stopped for a lost peer (exit 75) were seen before the cause.
#include "distributed/launcher.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "distributed/process_group.h"

namespace lr::driver::dist {
namespace {

RankExit exited(int rank, int code) { return {rank, false, code}; }
RankExit killed(int rank, int sig) { return {rank, true, sig}; }

TEST(Launcher, ExitStatusIsTheRanksOr128PlusTheSignal) {
  EXPECT_EQ(exit_status_of(exited(0, 3)), 3);
  EXPECT_EQ(exit_status_of(killed(1, SIGKILL)), 137);
  EXPECT_EQ(exit_status_of(killed(1, SIGTERM)), 143);
}

TEST(Launcher, DescribesExitsAndSignalsByName) {
  EXPECT_EQ(describe(exited(0, 1)), "exit status 1");
  EXPECT_EQ(describe(killed(0, SIGKILL)), "killed by SIGKILL");
  EXPECT_EQ(describe(killed(0, SIGSEGV)), "killed by SIGSEGV");
}

TEST(Launcher, NamesTheFirstFailureThatIsNotAPeerLoss) {
  // Rank 0 saw rank 1 vanish and exited 75 before the launcher reaped rank 1.
  const RankExit c = root_cause({exited(0, kExitPeerLost), killed(1, SIGKILL)});
  EXPECT_EQ(c.rank, 1);
  EXPECT_TRUE(c.signaled);
  // Several causes: the first seen.
  EXPECT_EQ(root_cause({exited(2, kExitPeerLost), exited(0, 1), exited(1, 2)}).rank, 0);
  // Killed by a signal is never the peer-lost status.
  EXPECT_EQ(root_cause({exited(0, kExitPeerLost), killed(1, SIGTERM)}).rank, 1);
}

TEST(Launcher, NamesTheFirstPeerLossWhenNothingElseFailed) {
  EXPECT_EQ(root_cause({exited(2, kExitPeerLost), exited(0, kExitPeerLost)}).rank, 2);
  EXPECT_EQ(root_cause({exited(1, kExitPeerLost)}).code, kExitPeerLost);
}

}  // namespace
}  // namespace lr::driver::dist
