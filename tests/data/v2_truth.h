// Test helper (tests/test_v2_assignment.py): does the ML jet-parton assignment of rdf_ttbar::ml pick the jets
// that the demo set's truth (Jet_truthParton: 1 W quark, 2 b of the hadronic top, 3 b of the leptonic top) says?
#ifndef RDF_TTBAR_TEST_V2_TRUTH_H
#define RDF_TTBAR_TEST_V2_TRUTH_H
#include <string>

#include "ROOT/RVec.hxx"

namespace rdf_ttbar_test {

// 0: not every role among the first six selected jets; 1: matchable, wrong; 2: matchable, right
template <typename Event>
int assignment_truth(const std::string &even, const std::string &odd, Event event, const ROOT::RVecU &jets,
                     const ROOT::RVecF &pt, const ROOT::RVecF &eta, const ROOT::RVecF &phi, const ROOT::RVecF &mass,
                     const ROOT::RVecF &btag, const ROOT::RVecF &qgl, const ROOT::RVecF &lep,
                     const ROOT::RVecI &truth)
{
   const std::size_t n = std::min<std::size_t>(jets.size(), 6);
   int roles[4] = {0, 0, 0, 0};
   for (std::size_t i = 0; i < n; ++i)
      roles[truth[jets[i]]] += 1;
   if (roles[1] != 2 || roles[2] != 1 || roles[3] != 1)
      return 0;
   const auto a = rdf_ttbar::ml::assign(even, odd, static_cast<unsigned long long>(event), jets, pt, eta, phi, mass,
                                        btag, qgl, lep[0], lep[1], lep[2], lep[3]);
   const auto &p = rdf_ttbar::ml::permutations(static_cast<int>(n))[a.best];
   const bool right = truth[jets[p[0]]] == 1 && truth[jets[p[1]]] == 1 && truth[jets[p[2]]] == 2 &&
                      truth[jets[p[3]]] == 3;
   return right ? 2 : 1;
}

} // namespace rdf_ttbar_test
#endif
