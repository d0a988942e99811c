// The miniature's synthetic task: small word problems in GSM8K's format
// (README.md in this folder). A problem is a question and a worked answer
// whose lines are the steps ("12+7=19") and whose last line is "#### N", the
// gold format the driver's grading reads; the answer is always the last
// number written.
//
// Every draw goes through TaskRng (std::mt19937_64, whose output the C++
// standard fixes) and `draw` below (a plain modulo, not the library's
// distributions, whose results differ between standard libraries), so the
// same seed gives the same problems everywhere.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace lr::driver {

using TaskRng = std::mt19937_64;

struct WordProblem {
  std::string question;
  std::string answer;  // worked lines, the last one "#### N"
};

// Every value a problem mentions or computes stays below this.
constexpr int64_t kTaskValueLimit = 100;

// An integer in [lo, hi] (lo <= hi).
int64_t draw(TaskRng& rng, int64_t lo, int64_t hi);

// A person with some objects, then `steps` operations on their count (add,
// take away, double / triple / quadruple), e.g. "Mia has 12 apples. She buys
// 7 more. Then she gives away 5. How many apples does Mia have now?" with the
// answer "12+7=19\n19-5=14\n#### 14". steps >= 1.
WordProblem arithmetic_problem(TaskRng& rng, int steps);

// A chain: an arithmetic problem of 2 to 4 steps (the expert's domain).
WordProblem chain_problem(TaskRng& rng);

// A list exercise of the general mix: copying, reversing or counting 3 to 6
// numbers ("Reverse the list 4, 9, 2." -> "2, 9, 4\n#### 4"; counting
// writes 1, 2, ... up to the count).
WordProblem list_problem(TaskRng& rng);

// The general mix both models learn: a one-step arithmetic problem half the
// time, a list exercise otherwise.
WordProblem general_problem(TaskRng& rng);

}  // namespace lr::driver
