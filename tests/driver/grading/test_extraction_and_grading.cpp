// Answer extraction and grading cases (issue 6: at least 40, covering boxed
// with nested braces, "the answer is", last number, commas, negatives,
// decimals, fractions, percentages, units and multiple choice).
#include <gtest/gtest.h>

#include <string>

#include "answer_extraction.h"
#include "grading.h"
#include "multiple_choice.h"
#include "normalize.h"
#include "numeric_value.h"

namespace lr::driver {
namespace {

// One model output, its ground truth, the answer we must extract and whether it is right.
struct Case {
  const char* name;
  const char* output;
  const char* gold;
  const char* pred;
  bool correct;
  AnswerKind kind = AnswerKind::kAuto;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class GradeCase : public ::testing::TestWithParam<Case> {};

TEST_P(GradeCase, ExtractsAndGrades) {
  const Case& c = GetParam();
  const GradedAnswer g = grade_output(c.output, c.gold, c.kind);
  EXPECT_EQ(g.pred, c.pred) << "output: " << c.output;
  EXPECT_EQ(g.correct, c.correct) << "pred " << g.pred << " vs gold " << g.gold;
}

const Case kCases[] = {
    // \boxed{}, brace-matched.
    {"boxed_integer", "So the total is \\boxed{18}.", "18", "18", true},
    {"boxed_nested_frac", "Hence $x = \\boxed{\\frac{1}{2}}$.", "0.5", "\\frac{1}{2}", true},
    {"boxed_double_braces", "\\boxed{{3}}", "3", "3", true},
    {"boxed_deeply_nested", "\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{2}", true},
    {"boxed_last_wins", "First \\boxed{5}, then corrected: \\boxed{7}.", "7", "7", true},
    {"boxed_last_wins_wrong", "First \\boxed{7}, then corrected: \\boxed{5}.", "7", "5", false},
    {"boxed_without_braces", "The result is $\\boxed 12$.", "12", "12", true},
    {"fbox", "Answer: \\fbox{42}", "42", "42", true},
    {"boxed_beats_answer_is", "The answer is 3. Actually \\boxed{4}", "4", "4", true},
    {"boxed_unclosed", "so \\boxed{12", "12", "12", true},
    {"boxed_text_word", "\\boxed{\\text{Yes}}", "yes", "Yes", true},
    {"boxed_tuple", "\\boxed{(1, 2)}", "(1,2)", "(1,2)", true},
    {"boxed_tuple_wrong_order", "\\boxed{(2, 1)}", "(1,2)", "(2,1)", false},
    {"boxed_expression", "\\boxed{2n+2}", "2 n+2", "2n+2", true},
    {"boxed_power", "\\boxed{2^{10}}", "1024", "2^{10}", true},
    // "the answer is".
    {"answer_is_sentence", "Adding them up, the answer is 42.", "42", "42", true},
    {"answer_is_capital_colon", "The answer is: $42$.\nDone.", "42", "42", true},
    {"answer_is_then_prose", "The answer is 42 because 6 times 7 is 42 and 99 more.", "42", "42", true},
    {"answer_is_last_one_wins", "I thought the answer is 3. But the answer is 5.", "5", "5", true},
    {"final_answer_is", "The final answer is $\\frac{3}{4}$. I hope it is correct.", "0.75", "\\frac{3}{4}", true},
    {"answer_is_units", "The answer is 18 dollars.", "18", "18", true},
    // Last number fallback.
    {"last_number", "She sells 16 - 3 - 4 = 9 eggs, making 9 * 2 = 18", "18", "18", true},
    {"last_number_sentence_end", "In total she earns 18.", "18", "18", true},
    {"last_number_wrong", "She has 9 eggs and earns 20.", "18", "20", false},
    // Commas, negatives, decimals.
    {"thousands_commas_last_number", "The population is 1,234,567 people", "1234567", "1234567", true},
    {"thousands_commas_boxed", "\\boxed{1,234,567}", "#### 1,234,567", "1234567", true},
    {"negative_boxed", "\\boxed{-5}", "-5", "-5", true},
    {"negative_last_number", "The temperature dropped to -12", "-12", "-12", true},
    {"negative_vs_positive", "\\boxed{-5}", "5", "-5", false},
    {"decimal", "\\boxed{3.75}", "3.75", "3.75", true},
    {"decimal_leading_point", "\\boxed{.5}", "0.5", "0.5", true},
    {"decimal_tolerance", "\\boxed{0.333333}", "\\frac{1}{3}", "0.333333", true},
    {"decimal_too_far", "\\boxed{0.33}", "\\frac{1}{3}", "0.33", false},
    {"trailing_dot_zero", "\\boxed{18.0}", "18", "18", true},
    {"trailing_dot_double_zero", "The answer is 18.00.", "18", "18", true},
    {"trailing_zero_decimal", "\\boxed{2.50}", "2.5", "2.5", true},
    // Fractions.
    {"frac_vs_decimal", "\\boxed{\\frac{1}{2}}", "1/2", "\\frac{1}{2}", true},
    {"dfrac", "\\boxed{\\dfrac{3}{4}}", "0.75", "\\frac{3}{4}", true},
    {"tfrac_bare", "\\boxed{\\tfrac34}", "\\frac{3}{4}", "\\frac{3}{4}", true},
    {"slash_fraction", "The answer is 3/4.", "0.75", "\\frac{3}{4}", true},
    {"negative_fraction", "\\boxed{-\\frac{2}{3}}", "-2/3", "-\\frac{2}{3}", true},
    {"fraction_wrong", "\\boxed{\\frac{2}{3}}", "0.75", "\\frac{2}{3}", false},
    // Percentages.
    {"percent_vs_number", "\\boxed{25\\%}", "25", "25", true},
    {"percent_vs_fraction", "The answer is 25%.", "0.25", "25", true},
    {"fraction_vs_percent", "\\boxed{0.25}", "25", "0.25", true},
    {"percent_wrong", "\\boxed{30\\%}", "25", "30", false},
    // Units and currency.
    {"dollar_sign", "She makes $18 every day.", "18", "18", true},
    {"escaped_dollar", "\\boxed{\\$18}", "18", "18", true},
    {"text_unit", "\\boxed{5 \\text{ cm}}", "5", "5", true},
    {"text_unit_squared", "\\boxed{12\\text{ cm}^2}", "12", "12", true},
    {"unit_words", "\\boxed{18 dollars}", "18", "18", true},
    {"mathrm_unit", "\\boxed{1.6 \\mathrm{~cm}}", "1.6", "1.6", true},
    {"degrees", "\\boxed{41.8^{\\circ}}", "41.8", "41.8", true},
    {"algebra_not_a_unit", "\\boxed{5x}", "5", "5x", false},
    {"spaced_variable_not_a_unit", "\\boxed{3 n}", "3", "3n", false},
    {"spaced_metre_unit", "\\boxed{2 m}", "2", "2", true},
    {"unit_words_per", "The answer is 3.5 hours per day.", "3.5", "3.5", true},
    {"short_lhs", "\\boxed{x = 5}", "5", "5", true},
    {"scientific", "\\boxed{4.5e33}", "4.5\\times10^{33}", "4.5e33", true},
    // Multiple choice (MMLU-STEM).
    {"choice_boxed", "The mutation shifts the frame, so \\boxed{C}", "C", "C", true, AnswerKind::kChoice},
    {"choice_answer_is_parens", "Reasoning... The answer is (B).", "B", "B", true},
    {"choice_letter_dot", "Let me think.\nB. because it increases mortality", "B", "B", true},
    {"choice_answer_colon", "Answer: d", "D", "D", true},
    {"choice_boxed_text", "\\boxed{\\text{A}}", "A", "A", true},
    {"choice_wrong", "The answer is (A).", "C", "A", false},
    {"choice_gold_index", "\\boxed{C}", "2", "C", true, AnswerKind::kChoice},
    {"choice_article_after_answer_is", "The answer is a bit tricky; I pick (C).", "C", "C", true},
    {"choice_lowercase_parens", "so the answer is (c)", "C", "C", true},
    {"choice_article_is_not_answer", "A frameshift mutation happens here.", "A", "", false},
    // No answer at all.
    {"no_answer", "I do not know.", "18", "", false},
    {"empty_output", "", "18", "", false},
    {"empty_boxed", "\\boxed{}", "18", "", false},
    // GSM8K gold with the full solution text.
    {"gsm8k_gold_text", "... so she makes \\boxed{18} dollars.",
     "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18.\n#### 18", "18", true},
    {"gsm8k_kind_needs_number", "\\boxed{18}", "18", "18", true, AnswerKind::kGsm8k},
    {"number_kind_rejects_text_pred", "\\boxed{eighteen}", "18", "eighteen", false, AnswerKind::kNumber},
};

INSTANTIATE_TEST_SUITE_P(Cases, GradeCase, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

TEST(AnswersMatch, EmptyNeverMatches) {
  EXPECT_FALSE(answers_match("", ""));
  EXPECT_FALSE(answers_match("", "0"));
  EXPECT_FALSE(answers_match("0", ""));
}

TEST(AnswersMatch, StringFormsIgnoreCaseSpacesBracesAndSizing) {
  EXPECT_TRUE(answers_match("\\left( 1, 2 \\right)", "(1,2)"));
  EXPECT_TRUE(answers_match("\\frac{1}{2n+2}", "$\\frac{1}{2 n+2}$"));
  EXPECT_TRUE(answers_match("YES", "yes"));
  EXPECT_TRUE(answers_match("{a}", "a"));
  EXPECT_FALSE(answers_match("n+1", "n-1"));
}

TEST(AnswersMatch, NumbersWithinRelativeTolerance) {
  EXPECT_TRUE(answers_match("100000", "100001"));  // 1e-5 relative
  EXPECT_FALSE(answers_match("100", "100.1"));     // 1e-3 relative
  EXPECT_TRUE(answers_match("0", "0"));
  EXPECT_TRUE(answers_match("1/2", "0.5"));
  EXPECT_TRUE(answers_match("-0.5", "-\\frac{1}{2}"));
  EXPECT_TRUE(answers_match("1,234", "1234"));
}

TEST(NumericValue, ClosedForms) {
  EXPECT_DOUBLE_EQ(*numeric_value("\\frac{1}{2}"), 0.5);
  EXPECT_DOUBLE_EQ(*numeric_value("2^{10}"), 1024.0);
  EXPECT_DOUBLE_EQ(*numeric_value("3/4"), 0.75);
  EXPECT_DOUBLE_EQ(*numeric_value("2\\sqrt{4}"), 4.0);
  EXPECT_DOUBLE_EQ(*numeric_value("25\\%"), 0.25);
  EXPECT_DOUBLE_EQ(*numeric_value("-(3+4)*2"), -14.0);
  EXPECT_FALSE(numeric_value("x"));
  EXPECT_FALSE(numeric_value("2n"));
  EXPECT_FALSE(numeric_value("(1,2)"));
  EXPECT_FALSE(numeric_value("1/0"));
  EXPECT_FALSE(numeric_value("\\frac{1}{2"));
  EXPECT_FALSE(numeric_value(""));
}

TEST(Normalize, Examples) {
  EXPECT_EQ(normalize_answer(" $18.00$. "), "18");
  EXPECT_EQ(normalize_answer("\\text{(B)}"), "(B)");
  EXPECT_EQ(normalize_answer("\\left[ 1, 2 \\right)"), "[1,2)");
  EXPECT_EQ(normalize_answer("\\frac12"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_answer("\\sqrt2"), "\\sqrt{2}");
  EXPECT_EQ(normalize_answer("10.50 \\text{ dollars}"), "10.5");
  EXPECT_EQ(normalize_answer("100.05"), "100.05");
}

TEST(Extraction, Pieces) {
  EXPECT_EQ(last_boxed("a \\boxed{x} b \\boxed{\\{1,2\\}} c").value(), "\\{1,2\\}");
  EXPECT_FALSE(last_boxed("no box here"));
  EXPECT_EQ(answer_is_tail("So THE ANSWER IS 3.5 kg. Next").value(), "3.5 kg");
  EXPECT_EQ(last_number("between 1,000 and -2.5."), "-2.5");
  EXPECT_EQ(last_number("none"), "");
  EXPECT_EQ(extract_answer("no digits"), "");
}

TEST(MultipleChoice, Letters) {
  EXPECT_EQ(choice_letter(0), "A");
  EXPECT_EQ(choice_letter(3), "D");
  EXPECT_THROW(choice_letter(4), std::out_of_range);
  EXPECT_THROW(choice_letter(-1), std::out_of_range);
  EXPECT_EQ(extract_choice("\\boxed{(D)}"), "D");
  EXPECT_EQ(extract_choice("The correct answer is option c"), "C");
  EXPECT_EQ(extract_choice("I cannot decide."), "");
}

TEST(GradeOutput, RejectsUnusableGold) {
  EXPECT_THROW(grade_output("\\boxed{1}", "  "), std::invalid_argument);
  EXPECT_THROW(grade_output("\\boxed{1}", "abc", AnswerKind::kNumber), std::invalid_argument);
  EXPECT_THROW(grade_output("\\boxed{1}", "Z", AnswerKind::kChoice), std::invalid_argument);
  EXPECT_THROW(grade_output("\\boxed{1}", "no hashes", AnswerKind::kGsm8k), std::invalid_argument);
}

// Model outputs run to 2048 tokens and more; an unclosed \boxed{ or a long
// "answer is" line must not exhaust the (recursive) regex engine.
TEST(Extraction, LongOutputs) {
  std::string prose;
  for (int i = 0; i < 20000; ++i) prose += "step " + std::to_string(i) + " adds 1,000 apples and ";
  EXPECT_EQ(extract_answer(prose + "ends."), "1000");
  const GradedAnswer unclosed = grade_output("\\boxed{" + prose + " 5 \\text{ cm}", "5");
  EXPECT_FALSE(unclosed.correct);
  EXPECT_EQ(grade_output("The answer is " + prose, "5").pred.substr(0, 5), "step0");
  EXPECT_EQ(extract_choice(prose + "\nAnswer: (B)"), "B");
  EXPECT_FALSE(answers_match(prose, prose + "x"));
  const std::string letters(300000, 'a');
  EXPECT_EQ(extract_answer("\\boxed{5 " + letters), "5" + letters);
  EXPECT_EQ(extract_answer("\\boxed{5 \\text{ cm}" + letters.substr(0, 900) + "}"), "5cm" + letters.substr(0, 900));
  EXPECT_FALSE(grade_output("\\boxed{\\frac{" + prose, "1").correct);
  EXPECT_EQ(extract_choice(std::string(300000, ' ')), "");
  EXPECT_EQ(extract_choice("\\boxed{" + prose), "");
  EXPECT_EQ(extract_choice("The answer is" + std::string(300000, ' ') + "(B)"), "B");
  EXPECT_FALSE(numeric_value(std::string(100000, '(') + "1" + std::string(100000, ')')));
  EXPECT_FALSE(numeric_value(std::string(100000, '-') + "1"));
  EXPECT_EQ(last_number(std::string(300000, '7')), std::string(300000, '7'));
}

TEST(ParseAnswerKind, Names) {
  EXPECT_EQ(parse_answer_kind("gsm8k"), AnswerKind::kGsm8k);
  EXPECT_EQ(parse_answer_kind("choice"), AnswerKind::kChoice);
  EXPECT_FALSE(parse_answer_kind("GSM8K"));
}

}  // namespace
}  // namespace lr::driver
