// C++ helpers of the rdf_ttbar analysis, declared once per process to ROOT's
// interpreter (rdf_ttbar/cpp.py). Everything is a template on the column
// types, so the same code compiles for the AGC ntuples (Int_t jetId, UInt_t
// counters) and for other NanoAOD productions (UChar_t jetId, ...).
//
// The numerical recipe is normative (README, "Resolution factors"): the
// independent test oracle (tests/oracle.py) re-implements it.
#ifndef RDF_TTBAR_ANALYSIS_H
#define RDF_TTBAR_ANALYSIS_H

#include <cmath>
#include <cstdint>

#include "ROOT/RVec.hxx"

namespace rdf_ttbar {

using ROOT::RVecF;
using ROOT::RVecD;

// ---------------------------------------------------------------------------
// Jet pT resolution factors: a counter-based generator, so that a jet gets the
// same factor whatever the thread count, partitioning, executor or file order.
//   key    = splitmix64(splitmix64(splitmix64(run) ^ luminosityBlock) ^ event)
//   k1     = splitmix64(key ^ jet_index), k2 = splitmix64(k1)
//   u1, u2 = ((k >> 11) + 0.5) * 2^-53              (uniform in (0, 1))
//   factor = 1 + 0.05 * sqrt(-2 ln u1) * cos(2 pi u2)  (Box-Muller)
// ---------------------------------------------------------------------------
inline std::uint64_t splitmix64(std::uint64_t x)
{
   std::uint64_t z = x + 0x9E3779B97F4A7C15ULL;
   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
   z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
   return z ^ (z >> 31);
}

inline double unit_interval(std::uint64_t k)
{
   return (static_cast<double>(k >> 11) + 0.5) * 0x1.0p-53;
}

inline double resolution_factor(std::uint64_t event_key, std::uint64_t jet_index)
{
   const std::uint64_t k1 = splitmix64(event_key ^ jet_index);
   const std::uint64_t k2 = splitmix64(k1);
   const double z = std::sqrt(-2.0 * std::log(unit_interval(k1))) * std::cos(2.0 * M_PI * unit_interval(k2));
   return 1.0 + 0.05 * z;
}

template <typename Run, typename Lumi, typename Event>
std::uint64_t event_key(Run run, Lumi lumi, Event event)
{
   return splitmix64(splitmix64(splitmix64(static_cast<std::uint64_t>(run)) ^ static_cast<std::uint64_t>(lumi)) ^
                     static_cast<std::uint64_t>(event));
}

// Other NanoAOD productions store some float columns as double: the graph
// converts them to float (NanoAOD's Float_t) before the helpers below read them.
template <typename T>
RVecF as_floats(const ROOT::RVec<T> &values)
{
   RVecF out(values.size());
   for (std::size_t i = 0; i < values.size(); ++i)
      out[i] = static_cast<float>(values[i]);
   return out;
}

// ---------------------------------------------------------------------------
// Jet pT variations (applied to all jets, before the jet selection)
// ---------------------------------------------------------------------------
inline RVecF pt_scaled(const RVecF &pt, float scale)
{
   RVecF out(pt.size());
   for (std::size_t i = 0; i < pt.size(); ++i)
      out[i] = pt[i] * scale;
   return out;
}

// jet energy scale, up: all jets' pT x 1.03
inline RVecF jet_energy_scale_up(const RVecF &pt)
{
   return pt_scaled(pt, 1.03f);
}

// the jet pT times the resolution factors, computed in double, stored in the pT's type (float in v1,
// double for the AGC v2's double jet_pt)
template <typename P, typename Run, typename Lumi, typename Event>
ROOT::RVec<P> pt_resolution_varied(const ROOT::RVec<P> &pt, Run run, Lumi lumi, Event event)
{
   const std::uint64_t key = event_key(run, lumi, event);
   ROOT::RVec<P> out(pt.size());
   for (std::size_t i = 0; i < pt.size(); ++i)
      out[i] = static_cast<P>(static_cast<double>(pt[i]) * resolution_factor(key, i));
   return out;
}

// ---------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------
template <typename T>
int count_above(const ROOT::RVec<T> &values, double threshold)
{
   int n = 0;
   for (auto v : values)
      n += v > threshold;
   return n;
}

// Indices of the jets passing the pT cut, in stored order.
inline ROOT::RVecU select_jets(const RVecF &pt, float pt_min)
{
   ROOT::RVecU idx;
   idx.reserve(pt.size());
   for (std::size_t i = 0; i < pt.size(); ++i)
      if (pt[i] > pt_min)
         idx.push_back(i);
   return idx;
}

inline int count_btagged(const ROOT::RVecU &jets, const RVecF &btag, float threshold)
{
   int n = 0;
   for (auto i : jets)
      n += btag[i] > threshold;
   return n;
}

// HT: scalar sum of the (varied) pT of the selected jets.
template <typename P>
double ht(const ROOT::RVecU &jets, const ROOT::RVec<P> &pt)
{
   double sum = 0.;
   for (auto i : jets)
      sum += pt[i];
   return sum;
}

// ---------------------------------------------------------------------------
// Trijet: among the combinations of three selected jets with at least one
// b-tag, the invariant mass of the one with the largest summed pT.
// Four-vectors are built once per jet; no heap allocation for <= kMaxJets jets.
// ---------------------------------------------------------------------------
template <typename P>
double trijet_mass(const ROOT::RVecU &jets, const ROOT::RVec<P> &pt, const RVecF &eta, const RVecF &phi,
                   const RVecF &mass, const RVecF &btag, float btag_threshold)
{
   constexpr std::size_t kMaxJets = 32;
   const std::size_t n = jets.size() < kMaxJets ? jets.size() : kMaxJets;
   double px[kMaxJets], py[kMaxJets], pz[kMaxJets], e[kMaxJets];
   bool tagged[kMaxJets];
   for (std::size_t a = 0; a < n; ++a) {
      const auto i = jets[a];
      const double p = pt[i], ph = phi[i], et = eta[i]; // double precision throughout
      px[a] = p * std::cos(ph);
      py[a] = p * std::sin(ph);
      pz[a] = p * std::sinh(et);
      const double m = mass[i];
      e[a] = std::sqrt(px[a] * px[a] + py[a] * py[a] + pz[a] * pz[a] + m * m);
      tagged[a] = btag[i] > btag_threshold;
   }
   double best_pt2 = -1., best_mass = -1.;
   for (std::size_t a = 0; a < n; ++a)
      for (std::size_t b = a + 1; b < n; ++b)
         for (std::size_t c = b + 1; c < n; ++c) {
            if (!(tagged[a] || tagged[b] || tagged[c]))
               continue;
            const double sx = px[a] + px[b] + px[c], sy = py[a] + py[b] + py[c];
            const double pt2 = sx * sx + sy * sy;
            if (pt2 > best_pt2) {
               const double sz = pz[a] + pz[b] + pz[c], se = e[a] + e[b] + e[c];
               const double m2 = se * se - pt2 - sz * sz;
               best_pt2 = pt2;
               best_mass = m2 > 0. ? std::sqrt(m2) : 0.;
            }
         }
   return best_mass;
}

// ---------------------------------------------------------------------------
// Weight variations
// ---------------------------------------------------------------------------
// b-tag: {up, down} = weight * (1 +- 0.075 * pT_i / 50), pT_i the pT of the
// i-th selected jet (stored order)
inline RVecD btag_weights(double weight, const ROOT::RVecU &jets, const RVecF &pt, std::size_t i)
{
   const double shift = 0.075 * pt[jets[i]] / 50.;
   return RVecD{weight * (1. + shift), weight * (1. - shift)};
}

inline RVecD scaled_weights(double weight, double up, double down)
{
   return RVecD{weight * up, weight * down};
}

// W+jets scale variation: {up, down} = weight x {1.025, 0.975}
inline RVecD wjets_scale_weights(double weight)
{
   return scaled_weights(weight, 1.025, 0.975);
}

} // namespace rdf_ttbar

#endif
