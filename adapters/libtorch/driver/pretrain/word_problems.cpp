#include "pretrain/word_problems.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace lr::driver {

namespace {

struct Person {
  const char* name;
  const char* subject;     // "She"
  const char* possessive;  // "her"
};

constexpr Person kPeople[] = {{"Mia", "She", "her"},  {"Leo", "He", "his"},  {"Ava", "She", "her"},
                              {"Sam", "He", "his"},   {"Emma", "She", "her"}, {"Noah", "He", "his"},
                              {"Zoe", "She", "her"},  {"Ben", "He", "his"},  {"Lily", "She", "her"},
                              {"Max", "He", "his"}};
constexpr const char* kObjects[] = {"apples", "marbles", "stickers", "coins", "books",
                                    "pencils", "cookies", "cards",    "shells", "stamps"};
constexpr const char* kGainVerbs[] = {"buys", "finds", "gets", "wins"};            // "... 7 more"
constexpr const char* kLossVerbs[] = {"gives away", "loses", "sells", "uses"};     // "... 5"
constexpr const char* kTimesVerbs[] = {"", "", "doubles", "triples", "quadruples"};  // by factor

template <typename T, size_t N>
const T& pick(TaskRng& rng, const T (&options)[N]) {
  return options[static_cast<size_t>(draw(rng, 0, int64_t(N) - 1))];
}

std::string lower(std::string s) {
  s[0] = char(s[0] - 'A' + 'a');
  return s;
}

// One operation on `value`: its sentence (without "Then"), its worked line,
// and the new value. Multiplying only when the product stays small.
struct Step {
  std::string sentence, line;
  int64_t value;
};

Step next_step(TaskRng& rng, const Person& who, const std::string& object, int64_t value) {
  const int64_t max_factor = std::min<int64_t>(4, (kTaskValueLimit - 1) / std::max<int64_t>(value, 1));
  const int64_t roll = draw(rng, 0, 9);  // 0-1: multiply (when allowed), else add or take away evenly
  const std::string subject = who.subject;
  if (roll < 2 && max_factor >= 2 && value >= 2) {
    const int64_t k = draw(rng, 2, max_factor);
    return {subject + " " + kTimesVerbs[k] + " " + who.possessive + " " + object + ".",
            std::to_string(value) + "*" + std::to_string(k) + "=" + std::to_string(value * k), value * k};
  }
  const bool add = value == 0 || (value < kTaskValueLimit - 1 && draw(rng, 0, 1) == 0);
  if (add) {
    const int64_t n = draw(rng, 1, std::min<int64_t>(40, kTaskValueLimit - 1 - value));
    return {subject + " " + pick(rng, kGainVerbs) + " " + std::to_string(n) + " more.",
            std::to_string(value) + "+" + std::to_string(n) + "=" + std::to_string(value + n), value + n};
  }
  const int64_t n = draw(rng, 1, value);
  return {subject + " " + pick(rng, kLossVerbs) + " " + std::to_string(n) + ".",
          std::to_string(value) + "-" + std::to_string(n) + "=" + std::to_string(value - n), value - n};
}

std::string joined(const std::vector<int64_t>& values) {
  std::string s;
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s;
}

}  // namespace

int64_t draw(TaskRng& rng, int64_t lo, int64_t hi) {
  if (hi < lo) throw std::invalid_argument("draw: empty range");
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

WordProblem arithmetic_problem(TaskRng& rng, int steps) {
  if (steps < 1) throw std::invalid_argument("arithmetic_problem: steps must be >= 1");
  const Person& who = pick(rng, kPeople);
  const std::string object = pick(rng, kObjects);
  int64_t value = draw(rng, 2, 60);
  WordProblem p;
  p.question = std::string(who.name) + " has " + std::to_string(value) + " " + object + ".";
  for (int s = 0; s < steps; ++s) {
    const Step step = next_step(rng, who, object, value);
    p.question += " " + (s == 0 ? step.sentence : "Then " + lower(step.sentence));
    p.answer += step.line + "\n";
    value = step.value;
  }
  p.question += " How many " + object + " does " + who.name + " have now?";
  p.answer += "#### " + std::to_string(value);
  return p;
}

WordProblem chain_problem(TaskRng& rng) { return arithmetic_problem(rng, int(draw(rng, 2, 4))); }

WordProblem list_problem(TaskRng& rng) {
  std::vector<int64_t> values(static_cast<size_t>(draw(rng, 3, 6)));
  for (int64_t& v : values) v = draw(rng, 0, kTaskValueLimit - 1);
  const std::string list = joined(values);
  switch (draw(rng, 0, 2)) {
    case 0:
      return {"Copy the list " + list + ".", list + "\n#### " + std::to_string(values.back())};
    case 1: {
      std::vector<int64_t> reversed(values.rbegin(), values.rend());
      return {"Reverse the list " + list + ".", joined(reversed) + "\n#### " + std::to_string(reversed.back())};
    }
    default: {
      std::vector<int64_t> counted;
      for (size_t i = 1; i <= values.size(); ++i) counted.push_back(int64_t(i));
      return {"How many numbers are in the list " + list + "?",
              joined(counted) + "\n#### " + std::to_string(values.size())};
    }
  }
}

WordProblem general_problem(TaskRng& rng) {
  return draw(rng, 0, 1) == 0 ? arithmetic_problem(rng, 1) : list_problem(rng);
}

}  // namespace lr::driver
