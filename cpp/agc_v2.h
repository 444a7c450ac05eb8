// The C++ helpers of the AGC ttbar analysis v2 (rdf_ttbar/analysis/agc_v2.py): the tighter object
// selection and the ML jet-parton assignment (cpp/ml.h), as the AGC's v2 coffea processor does them
// (../shared/peers/coffea-v2/README.md, "The v2 physics exactly as the code does it").
//
// Precision follows coffea's array types. Its cuts compare float32 values with Python numbers, which
// NumPy 2 casts to float32 (2.1 -> 2.1f). Its jet pT is float32 in the nominal pass and float64 in the
// jet-pT variations (pT x 1.03 and the smearing are computed in double): here the jet pT is one double
// column, ``jet_pt``, whose nominal values are the stored floats; the ML features are computed in float
// when every selected jet's pT is a float value (the nominal pass), in double otherwise, as coffea's are.
#ifndef RDF_TTBAR_AGC_V2_H
#define RDF_TTBAR_AGC_V2_H

#include <cmath>
#include <cstdint>
#include <string>

#include "ROOT/RVec.hxx"
#include "analysis.h"
#include "ml.h"

namespace rdf_ttbar {
namespace v2 {

using ROOT::RVecD;
using ROOT::RVecF;

// ---------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------
// The cut values are the definition's (rdf_ttbar/analysis/agc_v2.py, V2Cuts), passed as float literals where
// coffea compares float32 values (the AGC: pt > 30, |eta| < 2.1, sip3d < 4, pfRelIso04_all < 0.15).

// electrons: pt > pt_min, |eta| < eta_max, cutBased == cut_based_id (4: tight), sip3d < sip3d_max
template <typename I>
ROOT::RVec<bool> tight_electrons(const RVecF &pt, const RVecF &eta, const ROOT::RVec<I> &cut_based, const RVecF &sip3d,
                                 float pt_min, float eta_max, int cut_based_id, float sip3d_max)
{
   ROOT::RVec<bool> ok(pt.size());
   for (std::size_t i = 0; i < pt.size(); ++i)
      ok[i] = pt[i] > pt_min && std::abs(eta[i]) < eta_max && cut_based[i] == cut_based_id && sip3d[i] < sip3d_max;
   return ok;
}

// muons: pt > pt_min, |eta| < eta_max, tightId, sip3d < sip3d_max, pfRelIso04_all < iso_max
template <typename B>
ROOT::RVec<bool> tight_muons(const RVecF &pt, const RVecF &eta, const ROOT::RVec<B> &tight_id, const RVecF &sip3d,
                             const RVecF &iso, float pt_min, float eta_max, float sip3d_max, float iso_max)
{
   ROOT::RVec<bool> ok(pt.size());
   for (std::size_t i = 0; i < pt.size(); ++i)
      ok[i] = pt[i] > pt_min && std::abs(eta[i]) < eta_max && tight_id[i] && sip3d[i] < sip3d_max && iso[i] < iso_max;
   return ok;
}

inline int count(const ROOT::RVec<bool> &mask)
{
   int n = 0;
   for (bool b : mask)
      n += b;
   return n;
}

// (pt, eta, phi, mass) of the first selected lepton, electrons before muons (the events kept have one)
inline RVecF lepton(const ROOT::RVec<bool> &electrons, const RVecF &e_pt, const RVecF &e_eta, const RVecF &e_phi,
                    const RVecF &e_mass, const ROOT::RVec<bool> &muons, const RVecF &m_pt, const RVecF &m_eta,
                    const RVecF &m_phi, const RVecF &m_mass)
{
   for (std::size_t i = 0; i < electrons.size(); ++i)
      if (electrons[i])
         return RVecF{e_pt[i], e_eta[i], e_phi[i], e_mass[i]};
   for (std::size_t i = 0; i < muons.size(); ++i)
      if (muons[i])
         return RVecF{m_pt[i], m_eta[i], m_phi[i], m_mass[i]};
   return RVecF{};
}

// jets: pt > pt_min (in double: coffea's varied pT is float64), |eta| < eta_max, the jetId bits `id_bits` set
// (AGC: 30, 2.4, 4: the tight lepton veto); indices in stored order
template <typename I>
ROOT::RVecU select_jets(const RVecD &pt, const RVecF &eta, const ROOT::RVec<I> &jet_id, double pt_min, float eta_max,
                        int id_bits)
{
   ROOT::RVecU idx;
   idx.reserve(pt.size());
   for (std::size_t i = 0; i < pt.size(); ++i)
      if (pt[i] > pt_min && std::abs(eta[i]) < eta_max && (jet_id[i] & id_bits) == id_bits)
         idx.push_back(i);
   return idx;
}

// ---------------------------------------------------------------------------
// Jet pT: the stored floats in double, and its variations (computed in double, as coffea's)
// ---------------------------------------------------------------------------
inline RVecD as_double(const RVecF &pt)
{
   return RVecD(pt.begin(), pt.end());
}

inline RVecD scaled(const RVecD &pt, double factor)
{
   return pt * factor;
}

// true when every selected jet's pT is a float value (the nominal pass)
inline bool float_valued(const ROOT::RVecU &jets, const RVecD &pt)
{
   for (auto i : jets)
      if (static_cast<double>(static_cast<float>(pt[i])) != pt[i])
         return false;
   return true;
}

// ---------------------------------------------------------------------------
// ML: the 20 features of the best jet-parton assignment (4j2b events)
// ---------------------------------------------------------------------------
template <typename Event>
RVecD best_features(const std::string &model_even, const std::string &model_odd, Event event,
                    const ROOT::RVecU &jets, const RVecD &pt, const RVecF &eta, const RVecF &phi, const RVecF &mass,
                    const RVecF &btag, const RVecF &qgl, const RVecF &lep)
{
   const auto number = static_cast<unsigned long long>(event);
   if (float_valued(jets, pt)) {
      const RVecF pt_float(pt.begin(), pt.end());
      return ml::best_features(model_even, model_odd, number, jets, pt_float, eta, phi, mass, btag, qgl, lep[0], lep[1],
                               lep[2], lep[3]);
   }
   return ml::best_features(model_even, model_odd, number, jets, pt, eta, phi, mass, btag, qgl, lep[0], lep[1], lep[2],
                            lep[3]);
}

} // namespace v2
} // namespace rdf_ttbar

#endif // RDF_TTBAR_AGC_V2_H
