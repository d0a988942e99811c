// Running statistics of KL(p_E || p_A) over a row seen in pieces, and their
// merge: the "online softmax" bookkeeping, kept in double so that the order
// of pieces does not matter to float32 precision. Usable from host code of
// every backend.
//
// A piece holds, relative to its own maxima mE and mA,
//   dE = sum exp(e - mE),  dA = sum exp(a - mA),
//   s  = sum exp(e - mE) * ((e - mE) - (a - mA)).
// Then KL = s / dE - log dE + log dA for the whole row.
#pragma once

#include <cmath>
#include <limits>

namespace lr::core {

struct KlStats {
  double mE = -std::numeric_limits<double>::infinity();
  double mA = -std::numeric_limits<double>::infinity();
  double dE = 0.0;
  double dA = 0.0;
  double s = 0.0;

  // Adds a piece (its own maxima; -Inf for a side with no finite entry).
  void merge(const KlStats& p) {
    const double ME = std::fmax(mE, p.mE);
    const double MA = std::fmax(mA, p.mA);
    double new_dE = 0.0, new_s = 0.0, new_dA = 0.0;
    const KlStats* const pieces[2] = {this, &p};
    for (const KlStats* q : pieces) {
      if (q->dE > 0.0) {
        const double f = std::exp(q->mE - ME);
        new_dE += q->dE * f;
        // A piece with expert mass but no finite amateur entry has p_A = 0
        // where p_E > 0: KL is +Inf. So is a piece whose s already is; both
        // stay +Inf however far below ME the piece lies (f underflowing to 0
        // would make 0 * Inf = NaN of them, and kl() 0).
        constexpr double kInf = std::numeric_limits<double>::infinity();
        const double shift = q->mA == -kInf ? kInf : (q->mE - ME) - (q->mA - MA);
        new_s += q->s == kInf || shift == kInf ? kInf : f * (q->s + q->dE * shift);
      }
      if (q->dA > 0.0) new_dA += q->dA * std::exp(q->mA - MA);
    }
    mE = ME;
    mA = MA;
    dE = new_dE;
    dA = new_dA;
    s = new_s;
  }

  // KL of the row; only meaningful when dE > 0 and dA > 0.
  double kl() const {
    if (s == std::numeric_limits<double>::infinity()) return s;
    const double v = s / dE - std::log(dE) + std::log(dA);
    // KL >= 0; rounding can dip a hair below. A NaN (no valid row makes
    // one: a fault of the sums) is passed on, never hidden as KL 0.
    return v < 0.0 ? 0.0 : v;
  }
};

}  // namespace lr::core
