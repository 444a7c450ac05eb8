// C++ helpers of the test-only additions to the AGC v1 definition (tests/test_definition.py), and the
// in-memory events the test books both builds on.
#ifndef RDF_TTBAR_TEST_EXTRA_HELPERS_H
#define RDF_TTBAR_TEST_EXTRA_HELPERS_H

#include <cstdint>

#include "ROOT/RVec.hxx"

namespace rdf_ttbar_test {

// pT of the leading selected jet (the jets are indices into pt)
inline double leading_pt(const ROOT::RVecU &jets, const ROOT::RVecF &pt)
{
   double best = 0.;
   for (auto i : jets)
      best = pt[i] > best ? pt[i] : best;
   return best;
}

// a toy weight systematic: {up, down} = weight x {1.1, 0.9}
inline ROOT::RVecD toy_weights(double weight)
{
   return ROOT::RVecD{weight * 1.1, weight * 0.9};
}

// n reproducible floats in [low, high) for an entry and a column
inline ROOT::RVecF random_floats(std::uint64_t entry, int column, int n, double low, double high)
{
   ROOT::RVecF out(n);
   std::uint64_t x = entry * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(column) * 0xBF58476D1CE4E5B9ULL;
   for (int i = 0; i < n; ++i) {
      x ^= x >> 31;
      x *= 0x94D049BB133111EBULL;
      x ^= x >> 29;
      out[i] = static_cast<float>(low + (high - low) * static_cast<double>(x >> 11) * 0x1.0p-53);
   }
   return out;
}

} // namespace rdf_ttbar_test

#endif
