// The AGC v2 jet-parton assignment (issue 20), header-only, without TMVA:
//
//   * Forest: a gradient-boosted forest of an xgboost JSON model (the AGC's
//     model_even.json / model_odd.json: xgboost 1.7 JSON, binary:logistic, 20
//     features, 251 trees) and evaluated as xgboost's CPU predictor does, in float32,
//     so that probability() equals XGBClassifier.predict_proba(X.astype(float32))[:, 1]
//     bit for bit (tests/test_ml.py):
//       - a node sends x to its left child when x < split_condition (float32
//         comparison), a missing value (NaN) to its default_left side;
//       - margin = base margin, then + the leaf value of each tree in tree order, in
//         float32; the base margin is xgboost's ProbToMargin of the JSON's
//         learner_model_param.base_score (a probability for binary:logistic):
//         -logf(1 / base_score - 1), which is -0.0f for the AGC's base_score 0.5;
//       - probability = xgboost's float sigmoid 1 / (expf(min(-margin, 88.7)) + 1 + 1e-16f).
//   * model(key): the forest handed over as plain arrays by add_forest (rdf_ttbar/analysis/forest.py reads the
//     JSON in Python and registers it under its content hash, before the event loop); thread-safe, the
//     reference stays valid until the process ends.
//   * The assignment for one 4j2b event, as the AGC's coffea code (utils/ml.py) does it:
//       - the event's selected jets in file order (indices into the Jet arrays), only
//         the first min(n, 6);
//       - permutations(n): [p for p in itertools.permutations(range(n), 4) if p[0] > p[1]]
//         in that (lexicographic) order: 12, 60, 180 for n = 4, 5, 6; roles
//         (w1, w2, b_tophad, b_toplep) = (p[0], p[1], p[2], p[3]);
//       - the 20 features of the README's list (Delta R with Delta phi NOT wrapped);
//       - even event number -> model_odd, odd -> model_even; best = first maximum.
//
// Precision of the features (template parameter Pt = the jet pT's type):
//   * Pt = float (the nominal Jet_pt; the nominal pass and the weight-variation passes): all
//     arithmetic in float32, as coffea does on the float32 NanoAOD branches;
//   * Pt = double (a float64 varied pT: the jet energy scale and resolution passes): every operation in the
//     type numpy gives it in coffea (+ scikit-hep vector), i.e. float64 where the pT enters
//     and float32 elsewhere (cos(phi), sinh(eta), exp(-eta) of the float32 branches, Delta R).
//   The operations are vector's and coffea's, in their order: a jet's (x, y, z, t) =
//   (pt cos phi, pt sin phi, pt sinh eta, sqrt(max(m^2 + pt^2 (0.5 (1 + e^2) / e)^2, 0)))
//   with e = exp(-eta); jet sums add x, y, z, t (coffea's Candidate); mass =
//   copysign(sqrt(|t^2 - (x^2 + y^2 + z^2)|), ...); pT = sqrt(x^2 + y^2); lepton + b_toplep
//   is vector's Momentum4D addition (rho/phi law of cosines, eta = asinh(z / rho), then
//   tau from (rho, eta, t)). The transcendental functions are the C library's; numpy's
//   float32 ones (SIMD) differ from them by one ulp in a fraction of calls, so float32
//   masses can differ from coffea's in their last bits (see tests/test_ml.py).
//   The model always sees the features cast to float32; features() returns them as double
//   (the float32 values exactly, for Pt = float), which is what coffea histograms.
//
// The graph calls (jitted or compiled), e.g.
//   rdf_ttbar::ml::best_features("xgboost-<hash of model_even.json>", "xgboost-<hash of model_odd.json>", event,
//       jet_index, Jet_pt, Jet_eta, Jet_phi, Jet_mass, Jet_btagCSVV2, Jet_qgl,
//       lep_pt, lep_eta, lep_phi, lep_mass)                        -> ROOT::RVecD (20)
#ifndef RDF_TTBAR_ML_H
#define RDF_TTBAR_ML_H

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ROOT/RVec.hxx"

// No fused multiply-add: each operation is rounded on its own, as numpy and xgboost do.
#if defined(__clang__)
#define RDF_TTBAR_ML_NO_FMA _Pragma("clang fp contract(off)")
#else
#define RDF_TTBAR_ML_NO_FMA
#if defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
#endif

namespace rdf_ttbar {
namespace ml {

constexpr int kNumFeatures = 20;
constexpr int kMaxJets = 6;

// ---------------------------------------------------------------------------
// The forest
// ---------------------------------------------------------------------------
// One node of a tree in 8 bytes. The two children of a split are adjacent (read_forest numbers each tree's
// nodes breadth first), so one index finds both: left, and right = left + 1.
struct Node {
   float value = 0.f;       // split condition, or the leaf value
   std::uint16_t left = 0;  // index of the left child within its tree
   std::uint8_t feature = 0;
   std::uint8_t flags = 0;  // kLeaf, kDefaultLeft
};
constexpr std::uint8_t kLeaf = 1;
constexpr std::uint8_t kDefaultLeft = 2;  // a missing (NaN) value goes left

// The child of a split for the feature vector x: xgboost's "x < condition" goes left, a NaN the default way.
inline std::uint32_t child(const Node &n, const float *x)
{
   const float v = x[n.feature];
   const bool right = std::isnan(v) ? !(n.flags & kDefaultLeft) : !(v < n.value);
   return n.left + static_cast<std::uint32_t>(right);
}

// xgboost's sigmoid (src/common/math.h): float throughout, exponent clamped at 88.7.
inline float sigmoid(float x)
{
   constexpr float kEps = 1e-16f;
   const float e = std::exp(std::min(-x, 88.7f));
   const float denom = e + 1.0f + kEps;
   return 1.0f / denom;
}

class Forest {
public:
   std::vector<Node> nodes;           // all trees, each tree's nodes contiguous
   std::vector<std::int32_t> roots;   // first node of each tree, in tree order
   float base_margin = 0.f;
   int num_feature = 0;

   // The leaf value of one tree for the float32 feature vector x.
   float leaf(std::size_t tree, const float *x) const
   {
      const Node *base = nodes.data() + roots[tree];
      std::uint32_t i = 0;
      while (!(base[i].flags & kLeaf))
         i = child(base[i], x);
      return base[i].value;
   }

   float margin(const float *x) const
   {
      RDF_TTBAR_ML_NO_FMA
      float sum = base_margin;
      for (std::size_t t = 0; t < roots.size(); ++t)
         sum += leaf(t, x);
      return sum;
   }

   float probability(const float *x) const { return sigmoid(margin(x)); }

   // The probabilities of n rows of float32 features (row-major, num_feature per row): the same sums
   // as probability(), tree after tree in order, but each tree walked for kLanes rows at once (the
   // walks are independent: the processor overlaps them instead of waiting on one at a time).
   void probabilities(const float *rows, std::size_t n, float *out) const
   {
      RDF_TTBAR_ML_NO_FMA
      constexpr std::size_t kLanes = 8;
      for (std::size_t r = 0; r < n; ++r)
         out[r] = base_margin;
      const std::size_t stride = static_cast<std::size_t>(num_feature);
      for (std::size_t t = 0; t < roots.size(); ++t) {
         const Node *base = nodes.data() + roots[t];
         for (std::size_t r0 = 0; r0 < n; r0 += kLanes) {
            const std::size_t m = std::min(kLanes, n - r0);
            std::uint32_t at[kLanes] = {};
            for (bool moved = true; moved;) {
               moved = false;
               for (std::size_t k = 0; k < m; ++k) {
                  const Node &node = base[at[k]];
                  if (node.flags & kLeaf)
                     continue;
                  at[k] = child(node, rows + (r0 + k) * stride);
                  moved = true;
               }
            }
            for (std::size_t k = 0; k < m; ++k)
               out[r0 + k] += base[at[k]].value;
         }
      }
      for (std::size_t r = 0; r < n; ++r)
         out[r] = sigmoid(out[r]);
   }
};

// ---------------------------------------------------------------------------
// The models, by key: given as plain arrays (rdf_ttbar/analysis/forest.py reads xgboost's JSON in Python, so no
// JSON parser is compiled into the graph)
// ---------------------------------------------------------------------------
struct Registry {
   std::mutex mutex;
   std::map<std::string, std::unique_ptr<const Forest>, std::less<>> forests;
};

inline Registry &registry()
{
   static Registry r;
   return r;
}

// Hand over the forest ``key``: n_nodes nodes (each tree's nodes contiguous, numbered breadth first from its root
// so that the children of a split are adjacent: value, left child within its tree, feature, flags), the first
// node of each of the n_trees trees, xgboost's base_score and the number of features. A key given before keeps
// its forest.
inline void add_forest(const std::string &key, const float *value, const std::uint16_t *left,
                       const std::uint8_t *feature, const std::uint8_t *flags, std::size_t n_nodes,
                       const std::int32_t *roots, std::size_t n_trees, float base_score, int num_feature)
{
   if (!(base_score > 0.0f && base_score < 1.0f))
      throw std::invalid_argument("rdf_ttbar::ml::add_forest: " + key + ": base_score outside (0, 1)");
   auto f = std::make_unique<Forest>();
   f->num_feature = num_feature;
   f->base_margin = -std::log(1.0f / base_score - 1.0f); // xgboost's ProbToMargin, in float
   f->nodes.resize(n_nodes);
   for (std::size_t i = 0; i < n_nodes; ++i)
      f->nodes[i] = Node{value[i], left[i], feature[i], flags[i]};
   f->roots.assign(roots, roots + n_trees);
   for (std::size_t t = 0; t < n_trees; ++t) {
      const std::size_t end = t + 1 < n_trees ? static_cast<std::size_t>(roots[t + 1]) : n_nodes;
      if (roots[t] < 0 || static_cast<std::size_t>(roots[t]) >= end)
         throw std::invalid_argument("rdf_ttbar::ml::add_forest: " + key + ": bad tree roots");
      for (std::size_t i = roots[t]; i < end; ++i)
         if (!(f->nodes[i].flags & kLeaf) &&
             (f->nodes[i].left == 0 || static_cast<std::size_t>(roots[t]) + f->nodes[i].left + 1 >= end ||
              f->nodes[i].feature >= num_feature))
            throw std::invalid_argument("rdf_ttbar::ml::add_forest: " + key + ": bad node");
   }
   Registry &r = registry();
   std::lock_guard<std::mutex> lock(r.mutex);
   r.forests.emplace(key, std::move(f));
}

inline bool has_forest(const std::string &key)
{
   Registry &r = registry();
   std::lock_guard<std::mutex> lock(r.mutex);
   return r.forests.count(key) > 0;
}

// The forest handed over as ``key`` (thread-safe; the reference stays valid until the process ends).
inline const Forest &model(std::string_view key)
{
   Registry &r = registry();
   std::lock_guard<std::mutex> lock(r.mutex);
   auto it = r.forests.find(key);
   if (it == r.forests.end())
      throw std::runtime_error("rdf_ttbar::ml: no model '" + std::string(key) +
                               "' (rdf_ttbar.analysis.forest.register hands the definition's models over before "
                               "the event loop)");
   return *it->second;
}

// Probabilities for rows of float32 features (row-major, num_feature per row).
inline ROOT::RVecF predict(std::string_view key, const ROOT::RVecF &rows)
{
   const Forest &f = model(key);
   const std::size_t n = rows.size() / f.num_feature;
   if (n * f.num_feature != rows.size())
      throw std::runtime_error("rdf_ttbar::ml::predict: size is not a multiple of the number of features");
   ROOT::RVecF out(n);
   for (std::size_t i = 0; i < n; ++i)
      out[i] = f.probability(rows.data() + i * f.num_feature);
   return out;
}

// ---------------------------------------------------------------------------
// Permutations: (w1, w2, b_tophad, b_toplep), w1 > w2, lexicographic
// ---------------------------------------------------------------------------
using Permutation = std::array<int, 4>;

inline std::vector<Permutation> make_permutations(int n)
{
   std::vector<Permutation> out;
   for (int a = 0; a < n; ++a)
      for (int b = 0; b < a; ++b) // b < a: w1 (a) has the higher index
         for (int c = 0; c < n; ++c)
            for (int d = 0; d < n; ++d)
               if (c != a && c != b && d != a && d != b && d != c)
                  out.push_back({a, b, c, d});
   return out;
}

// n jets (4..6; more are clipped to 6): 12, 60, 180 permutations.
inline const std::vector<Permutation> &permutations(int n)
{
   static const std::array<std::vector<Permutation>, 3> table = {make_permutations(4), make_permutations(5),
                                                                 make_permutations(6)};
   if (n < 4)
      throw std::invalid_argument("rdf_ttbar::ml::permutations: fewer than 4 jets");
   return table[std::min(n, kMaxJets) - 4];
}

// ---------------------------------------------------------------------------
// Features (the operations of coffea + scikit-hep vector, see the top)
// ---------------------------------------------------------------------------
template <typename Pt>
struct Jet {
   Pt pt;
   float eta, phi, mass, btag, qgl;
};

// Cartesian components of a (pt, eta, phi, mass) vector; T = the pT's type.
template <typename T>
struct P4 {
   T x, y, z, t;
};

// vector's 1 / sin(theta) from eta: 0.5 (1 + e^2) / e, e = exp(-eta)
template <typename E>
inline E inv_sin_theta(E eta)
{
   RDF_TTBAR_ML_NO_FMA
   const E e = std::exp(-eta);
   return static_cast<E>(0.5) * (static_cast<E>(1) + e * e) / e;
}

// vector's t from (rho, eta, tau): sqrt(max(copysign(tau^2, tau) + rho^2 inv_sin_theta^2, 0))
template <typename T, typename E>
inline auto energy(T pt, E eta, float mass)
{
   RDF_TTBAR_ML_NO_FMA
   const float tau2 = std::copysign(mass * mass, mass);
   const E ist = inv_sin_theta(eta);
   const auto mag2 = pt * pt * (ist * ist);
   const auto sum = tau2 + mag2;
   using R = decltype(sum);
   return std::sqrt(std::max(sum, static_cast<R>(0)));
}

template <typename T>
inline P4<T> cartesian(T pt, float eta, float phi, float mass)
{
   RDF_TTBAR_ML_NO_FMA
   return {pt * std::cos(phi), pt * std::sin(phi), pt * std::sinh(eta), static_cast<T>(energy(pt, eta, mass))};
}

// vector's tau from (x, y, z, t): copysign(sqrt(|t^2 - (x^2 + y^2 + z^2)|), ...)
template <typename T>
inline T mass_xyzt(T x, T y, T z, T t)
{
   RDF_TTBAR_ML_NO_FMA
   const T p2 = x * x + y * y + z * z;
   const T squared = t * t - p2;
   return std::copysign(std::sqrt(std::fabs(squared)), squared);
}

template <typename T>
inline T pt_xy(T x, T y)
{
   RDF_TTBAR_ML_NO_FMA
   return std::sqrt(x * x + y * y);
}

// vector's Momentum4D addition of (pt, eta, phi, mass) vectors, then its mass:
// lepton (float32) + jet (pT of type T).
template <typename T>
inline T mass_lepton_jet(float pt1, float eta1, float phi1, float m1, T pt2, float eta2, float phi2, float m2)
{
   RDF_TTBAR_ML_NO_FMA
   // azimuthal: law of cosines (vector's planar add rhophi_rhophi)
   const float diff = phi2 - phi1;
   const T u = pt2 * std::cos(diff);
   const T v = pt2 * std::sin(diff);
   const T a = pt1 + u;
   const T rho = std::sqrt(a * a + v * v);
   // longitudinal: z1 + z2, eta = asinh(z / rho) (vector's nan_to_num rules)
   const float z1 = pt1 * std::sinh(eta1);
   const T z2 = pt2 * std::sinh(eta2);
   const T z = z1 + z2;
   T eta = std::asinh(z / rho);
   if (std::isnan(eta))
      eta = z != 0 ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(0);
   // temporal: t1 + t2, then tau from (rho, eta, t)
   const float t1 = energy(pt1, eta1, m1);
   const T t2 = static_cast<T>(energy(pt2, eta2, m2));
   const T t = t1 + t2;
   const T ist = inv_sin_theta(eta);
   const T squared = t * t - rho * rho * (ist * ist);
   return std::copysign(std::sqrt(std::fabs(squared)), squared);
}

// Delta R with an unwrapped Delta phi, float32 (eta and phi are float32 in every pass)
inline float delta_r(float eta1, float phi1, float eta2, float phi2)
{
   RDF_TTBAR_ML_NO_FMA
   const float deta = eta1 - eta2;
   const float dphi = phi1 - phi2;
   return std::sqrt(deta * deta + dphi * dphi);
}

struct Lepton {
   float pt, eta, phi, mass;
};

// The 20 features of one permutation (w1, w2, b_tophad, b_toplep) of the jets j.
template <typename Pt>
inline std::array<double, kNumFeatures>
features(const Permutation &p, const Jet<Pt> *j, const P4<Pt> *v, const Lepton &lep)
{
   RDF_TTBAR_ML_NO_FMA
   const Jet<Pt> &w1 = j[p[0]], &w2 = j[p[1]], &bh = j[p[2]], &bl = j[p[3]];
   const P4<Pt> &a = v[p[0]], &b = v[p[1]], &c = v[p[2]];
   std::array<double, kNumFeatures> f{};
   f[0] = delta_r(lep.eta, lep.phi, bl.eta, bl.phi);
   f[1] = delta_r(w1.eta, w1.phi, w2.eta, w2.phi);
   f[2] = delta_r(w1.eta, w1.phi, bh.eta, bh.phi);
   f[3] = delta_r(w2.eta, w2.phi, bh.eta, bh.phi);
   f[4] = mass_lepton_jet(lep.pt, lep.eta, lep.phi, lep.mass, bl.pt, bl.eta, bl.phi, bl.mass);
   f[5] = mass_xyzt(a.x + b.x, a.y + b.y, a.z + b.z, a.t + b.t);
   const Pt x = a.x + b.x + c.x, y = a.y + b.y + c.y, z = a.z + b.z + c.z, t = a.t + b.t + c.t;
   f[6] = mass_xyzt(x, y, z, t);
   f[7] = pt_xy(x, y);
   const Jet<Pt> *roles[4] = {&w1, &w2, &bh, &bl};
   for (int i = 0; i < 4; ++i) {
      f[8 + i] = roles[i]->pt;
      f[12 + i] = roles[i]->btag;
      f[16 + i] = roles[i]->qgl;
   }
   return f;
}

// ---------------------------------------------------------------------------
// One event
// ---------------------------------------------------------------------------
struct Assignment {
   int best = -1;              // index into permutations(njet) of the first maximum; -1: < 4 jets
   ROOT::RVecF scores;         // every permutation's probability, in permutations() order
   ROOT::RVecD features;       // the best permutation's 20 features (empty when best == -1)
   ROOT::RVecD all_features;   // with keep_all: every permutation's, row-major (n_perm x 20)
};

template <typename Idx, typename Pt>
inline Assignment assign(std::string_view model_even, std::string_view model_odd, unsigned long long event,
                         const ROOT::RVec<Idx> &jets, const ROOT::RVec<Pt> &jet_pt, const ROOT::RVecF &jet_eta,
                         const ROOT::RVecF &jet_phi, const ROOT::RVecF &jet_mass, const ROOT::RVecF &jet_btag,
                         const ROOT::RVecF &jet_qgl, float lep_pt, float lep_eta, float lep_phi, float lep_mass,
                         bool keep_all = false)
{
   static_assert(std::is_floating_point<Pt>::value, "the jet pT must be float or double");
   Assignment out;
   const int n = static_cast<int>(std::min<std::size_t>(jets.size(), kMaxJets));
   if (n < 4)
      return out;
   // even event numbers: the model trained on odd events, and vice versa
   const Forest &forest = model(event % 2 == 0 ? model_odd : model_even);
   if (forest.num_feature != kNumFeatures)
      throw std::runtime_error("rdf_ttbar::ml: the model does not take 20 features");
   Jet<Pt> j[kMaxJets];
   P4<Pt> v[kMaxJets];
   for (int i = 0; i < n; ++i) {
      const auto k = jets[i];
      j[i] = {jet_pt[k], jet_eta[k], jet_phi[k], jet_mass[k], jet_btag[k], jet_qgl[k]};
      v[i] = cartesian(j[i].pt, j[i].eta, j[i].phi, j[i].mass);
   }
   const Lepton lep{lep_pt, lep_eta, lep_phi, lep_mass};
   const auto &perms = permutations(n);
   out.scores.resize(perms.size());
   if (keep_all)
      out.all_features.resize(perms.size() * kNumFeatures);
   // the float32 features of every permutation (what xgboost is given), then all scores at once
   thread_local std::vector<float> x;
   x.resize(perms.size() * kNumFeatures);
   for (std::size_t i = 0; i < perms.size(); ++i) {
      const auto f = features(perms[i], j, v, lep);
      for (int k = 0; k < kNumFeatures; ++k)
         x[i * kNumFeatures + k] = static_cast<float>(f[k]);
      if (keep_all)
         std::copy(f.begin(), f.end(), out.all_features.begin() + i * kNumFeatures);
   }
   forest.probabilities(x.data(), perms.size(), out.scores.data());
   out.best = 0;
   for (std::size_t i = 1; i < perms.size(); ++i)
      if (out.scores[i] > out.scores[out.best]) // the first maximum
         out.best = static_cast<int>(i);
   const auto best = features(perms[out.best], j, v, lep);
   out.features = ROOT::RVecD(best.begin(), best.end());
   return out;
}

// The 20 features of the best permutation (empty with fewer than 4 jets).
template <typename Idx, typename Pt>
inline ROOT::RVecD best_features(std::string_view model_even, std::string_view model_odd, unsigned long long event,
                                 const ROOT::RVec<Idx> &jets, const ROOT::RVec<Pt> &jet_pt,
                                 const ROOT::RVecF &jet_eta, const ROOT::RVecF &jet_phi, const ROOT::RVecF &jet_mass,
                                 const ROOT::RVecF &jet_btag, const ROOT::RVecF &jet_qgl, float lep_pt, float lep_eta,
                                 float lep_phi, float lep_mass)
{
   return assign(model_even, model_odd, event, jets, jet_pt, jet_eta, jet_phi, jet_mass, jet_btag, jet_qgl, lep_pt,
                 lep_eta, lep_phi, lep_mass)
      .features;
}

// Every permutation's score, in permutations() order.
template <typename Idx, typename Pt>
inline ROOT::RVecF scores(std::string_view model_even, std::string_view model_odd, unsigned long long event,
                          const ROOT::RVec<Idx> &jets, const ROOT::RVec<Pt> &jet_pt, const ROOT::RVecF &jet_eta,
                          const ROOT::RVecF &jet_phi, const ROOT::RVecF &jet_mass, const ROOT::RVecF &jet_btag,
                          const ROOT::RVecF &jet_qgl, float lep_pt, float lep_eta, float lep_phi, float lep_mass)
{
   return assign(model_even, model_odd, event, jets, jet_pt, jet_eta, jet_phi, jet_mass, jet_btag, jet_qgl, lep_pt,
                 lep_eta, lep_phi, lep_mass)
      .scores;
}

} // namespace ml
} // namespace rdf_ttbar

#if !defined(__clang__) && defined(__GNUC__)
#pragma GCC pop_options
#endif
#undef RDF_TTBAR_ML_NO_FMA

#endif // RDF_TTBAR_ML_H
