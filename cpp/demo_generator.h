// Synthetic NanoAOD-like events for the rdf_ttbar demo (rdf_ttbar/inputs/demo.py).
//
// A physics-motivated toy, not a simulation: parton-level ttbar, single top,
// tW and W+jets production with top and W decays, extra radiation, pile-up
// jets, jet response and resolution, b-tag scores per flavour, prompt,
// non-prompt and fake leptons, and jets made of prompt leptons (NanoAOD jets
// are not cleaned of leptons). Its parameters are tuned so that the AGC
// selection gives region fractions and observable means near the real samples
// (spec "Per-sample fraction of events in each region").
//
// Also written: Jet_qgl, a quark-gluon likelihood drawn from the shape of the
// parton that makes most of the jet (gluons low, light quarks high, b jets in
// between, extra radiation a sample-dependent gluon/quark mix), and, as truth
// for the demo set only, Jet_truthParton: the role of that parton in a
// lepton+jets ttbar decay (0 none, 1 hadronic-W quark, 2 b of the hadronic top,
// 3 b of the leptonic top).
//
// Reproducible: every event draws its random numbers from a counter-based
// stream keyed on (seed, sample, event index), and every file is written by
// one thread, so the output does not depend on the thread count.
//
// Files look like NanoAOD to ROOT and uproot: leaf-list branches with the
// NanoAOD types ("Jet_pt[nJet]/F", UInt_t counters, ULong64_t event, ...) and
// floats with NanoAOD's reduced mantissa precision.
#ifndef RDF_TTBAR_DEMO_GENERATOR_H
#define RDF_TTBAR_DEMO_GENERATOR_H

#pragma cling optimize(3)

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "TFile.h"
#include "TROOT.h"
#include "TTree.h"

#include "analysis.h"

namespace rdf_ttbar {
namespace demo {

// ===========================================================================
// Random numbers: a splitmix64 stream per event, keyed on (seed, sample, event)
// ===========================================================================
using rdf_ttbar::splitmix64; // cpp/analysis.h

// FNV-1a: a stable number for a sample name (independent of the sample order)
inline std::uint64_t name_hash(const std::string &name)
{
   std::uint64_t h = 0xcbf29ce484222325ULL;
   for (unsigned char c : name)
      h = (h ^ c) * 0x100000001b3ULL;
   return h;
}

class Rng {
public:
   explicit Rng(std::uint64_t key) : state_(key) {}

   std::uint64_t bits()
   {
      state_ += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = state_;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      return z ^ (z >> 31);
   }
   // uniform in (0, 1)
   double uniform() { return (static_cast<double>(bits() >> 11) + 0.5) * 0x1.0p-53; }
   double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
   bool chance(double p) { return uniform() < p; }
   double phi() { return uniform(-M_PI, M_PI); }
   double gauss()
   {
      if (has_spare_) {
         has_spare_ = false;
         return spare_;
      }
      const double r = std::sqrt(-2.0 * std::log(uniform()));
      const double a = 2.0 * M_PI * uniform();
      spare_ = r * std::sin(a);
      has_spare_ = true;
      return r * std::cos(a);
   }
   double gauss(double mean, double sigma) { return mean + sigma * gauss(); }
   double exponential(double mean) { return -mean * std::log(uniform()); }
   // Pareto tail above xmin: density ~ x^-(alpha+1)
   double pareto(double xmin, double alpha) { return xmin * std::pow(uniform(), -1.0 / alpha); }
   int poisson(double mean)
   {
      const double limit = std::exp(-mean);
      double p = uniform();
      int k = 0;
      while (p > limit) {
         p *= uniform();
         ++k;
      }
      return k;
   }
   // Gamma(shape k >= 1, scale theta), Marsaglia-Tsang
   double gamma(double k, double theta)
   {
      const double d = k - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
      while (true) {
         const double x = gauss();
         double v = 1.0 + c * x;
         if (v <= 0.0)
            continue;
         v = v * v * v;
         const double u = uniform();
         if (u < 1.0 - 0.0331 * x * x * x * x || std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v)))
            return d * v * theta;
      }
   }
   // Breit-Wigner truncated to [m0 - window, m0 + window]
   double breit_wigner(double m0, double width, double window)
   {
      while (true) {
         const double m = m0 + 0.5 * width * std::tan(M_PI * (uniform() - 0.5));
         if (std::abs(m - m0) < window)
            return m;
      }
   }

private:
   std::uint64_t state_;
   double spare_ = 0.0;
   bool has_spare_ = false;
};

// ===========================================================================
// Four-vectors
// ===========================================================================
struct P4 {
   double px = 0, py = 0, pz = 0, e = 0;

   P4 operator+(const P4 &o) const { return {px + o.px, py + o.py, pz + o.pz, e + o.e}; }
   P4 operator*(double s) const { return {px * s, py * s, pz * s, e * s}; }
   double pt() const { return std::sqrt(px * px + py * py); }
   double phi() const { return std::atan2(py, px); }
   double eta() const
   {
      const double pt_ = pt();
      return pt_ > 0 ? std::asinh(pz / pt_) : (pz >= 0 ? 10.0 : -10.0);
   }
   double m() const
   {
      const double m2 = e * e - px * px - py * py - pz * pz;
      return m2 > 0 ? std::sqrt(m2) : 0.0;
   }
};

inline P4 from_pt_eta_phi_m(double pt, double eta, double phi, double m)
{
   const double px = pt * std::cos(phi), py = pt * std::sin(phi), pz = pt * std::sinh(eta);
   return {px, py, pz, std::sqrt(px * px + py * py + pz * pz + m * m)};
}

// a system of mass m with transverse momentum (px, py) and rapidity y
inline P4 from_px_py_y_m(double px, double py, double y, double m)
{
   const double mt = std::sqrt(m * m + px * px + py * py);
   return {px, py, mt * std::sinh(y), mt * std::cosh(y)};
}

inline P4 boost(const P4 &p, double bx, double by, double bz)
{
   const double b2 = bx * bx + by * by + bz * bz;
   if (b2 <= 0.0)
      return p;
   const double g = 1.0 / std::sqrt(1.0 - b2);
   const double bp = bx * p.px + by * p.py + bz * p.pz;
   const double g2 = (g - 1.0) / b2;
   return {p.px + g2 * bp * bx + g * bx * p.e, p.py + g2 * bp * by + g * by * p.e,
           p.pz + g2 * bp * bz + g * bz * p.e, g * (p.e + bp)};
}

// isotropic two-body decay of `parent` into masses m1, m2
inline void decay2(Rng &rng, const P4 &parent, double m1, double m2, P4 &d1, P4 &d2)
{
   const double M = parent.m();
   const double s1 = M * M - (m1 + m2) * (m1 + m2), s2 = M * M - (m1 - m2) * (m1 - m2);
   const double p = s1 > 0 ? std::sqrt(s1 * s2) / (2.0 * M) : 0.0;
   const double cost = rng.uniform(-1.0, 1.0), sint = std::sqrt(1.0 - cost * cost), ph = rng.phi();
   const double px = p * sint * std::cos(ph), py = p * sint * std::sin(ph), pz = p * cost;
   const P4 r1{px, py, pz, std::sqrt(p * p + m1 * m1)}, r2{-px, -py, -pz, std::sqrt(p * p + m2 * m2)};
   d1 = boost(r1, parent.px / parent.e, parent.py / parent.e, parent.pz / parent.e);
   d2 = boost(r2, parent.px / parent.e, parent.py / parent.e, parent.pz / parent.e);
}

inline double wrap_phi(double phi)
{
   return phi > M_PI ? phi - 2.0 * M_PI : (phi < -M_PI ? phi + 2.0 * M_PI : phi);
}

inline double delta_r2(double eta1, double phi1, double eta2, double phi2)
{
   double dphi = std::abs(phi1 - phi2);
   if (dphi > M_PI)
      dphi = 2.0 * M_PI - dphi;
   return (eta1 - eta2) * (eta1 - eta2) + dphi * dphi;
}

// NanoAOD-style float compression: keep `bits` mantissa bits, rounding
inline float reduce_mantissa(float f, int bits)
{
   if (bits >= 23)
      return f;
   std::uint32_t i;
   std::memcpy(&i, &f, 4);
   const int shift = 23 - bits;
   i = (i + (1u << (shift - 1))) & ~((1u << shift) - 1u);
   std::memcpy(&f, &i, 4);
   return f;
}

// ===========================================================================
// Physics constants and per-sample parameters
// ===========================================================================
constexpr double kMTop = 172.5, kWTop = 1.4, kMW = 80.4, kWW = 2.1;
constexpr double kMB = 4.8, kMC = 1.5, kMTau = 1.777;

enum class Process { TTbar, SingleTopS, SingleTopT, TW, WJets };

struct SampleConfig {
   Process process = Process::TTbar;
   double system_scale = 130.0;  // scale [GeV] of the mass spectrum above threshold (t-channel: top pT)
   double isr_mean = 1.0;        // mean number of radiated partons above kRadPtMin
   double isr_alpha = 1.5;       // their pT spectrum ~ pT^-(alpha+1)
   double isr_b = 0.03, isr_c = 0.05; // heavy-flavour fractions of the radiated partons
   double isr_gluon = 0.75;      // gluon fraction of the light radiated partons (Jet_qgl shape)
   double spectator_b = 0.0;     // chance of an extra b quark from the initial state (t-channel, tW)
   double spectator_b_scale = 16.0; // its pT scale [GeV]
   double fsr_prob = 0.2;        // chance that a decay parton radiates a separate hard gluon
   double fsr_angle = 0.5;       // mean extra angle of that gluon
   double b_response = 0.95;     // mean b-jet response (neutrinos, out-of-cone radiation)
   double b_tag_eff = 0.85;      // b jets with btagCSVV2 > 0.5 (inside the tracker)
   double neg_weight_fraction = 0.0; // events with genWeight -1 instead of +1
};

constexpr double kRadPtMin = 15.0;

// the tuned parameters of every sample
inline SampleConfig config_for(const std::string &sample)
{
   SampleConfig c;
   if (sample.rfind("ttbar__", 0) == 0) {
      c.process = Process::TTbar;
      c.isr_mean = 1.1;
      c.isr_alpha = 1.3;
      c.fsr_prob = 0.25;
      c.neg_weight_fraction = 0.04;
      // the alternative samples move the region fractions and observables as the real ones do
      if (sample == "ttbar__scaledown") {
         c.isr_mean = 0.6;
         c.b_tag_eff = 0.835;
      } else if (sample == "ttbar__scaleup") {
         c.isr_mean = 1.45;
         c.b_tag_eff = 0.855;
      } else if (sample == "ttbar__ME_var") { // harder matrix element (aMC@NLO)
         c.system_scale = 160.0;
         c.isr_mean = 1.4;
         c.isr_alpha = 1.25;
         c.b_tag_eff = 0.84;
         c.neg_weight_fraction = 0.3;
      } else if (sample == "ttbar__PS_var") { // Herwig: more wide-angle radiation, softer b jets
         c.fsr_prob = 0.35;
         c.fsr_angle = 0.7;
         c.b_response = 0.88;
         c.b_tag_eff = 0.83;
      } else if (sample != "ttbar__nominal") {
         throw std::invalid_argument("rdf_ttbar::demo: unknown sample " + sample);
      }
   } else if (sample == "single_top_s_chan__nominal") {
      c.process = Process::SingleTopS;
      c.system_scale = 100.0;
      c.isr_mean = 0.8;
      c.isr_gluon = 0.6;
      c.b_tag_eff = 0.8;
      c.neg_weight_fraction = 0.2;
   } else if (sample == "single_top_t_chan__nominal") {
      c.process = Process::SingleTopT;
      c.system_scale = 65.0;
      c.isr_mean = 0.1;
      c.isr_gluon = 0.6;
      c.spectator_b = 1.0;
      c.spectator_b_scale = 19.0;
   } else if (sample == "single_top_tW__nominal") {
      c.process = Process::TW;
      c.isr_mean = 1.2;
      c.isr_gluon = 0.7;
      c.spectator_b = 0.75;
      c.spectator_b_scale = 22.0;
   } else if (sample == "wjets__nominal") {
      c.process = Process::WJets;
      c.isr_mean = 1.1;
      c.isr_b = 0.06;
      c.isr_c = 0.1;
      c.isr_gluon = 0.4; // qg -> Wq dominates: the extra jets are mostly quarks
      c.neg_weight_fraction = 0.25;
   } else {
      throw std::invalid_argument("rdf_ttbar::demo: unknown sample " + sample);
   }
   return c;
}

// ===========================================================================
// Truth record
// ===========================================================================
enum class Kind : std::uint8_t { Light, Charm, Bottom, TauHad, Electron, Muon, Neutrino };

// what a light parton is, for the quark-gluon likelihood: a quark, a gluon, or a radiated parton
// whose gluon/quark nature is drawn with the jet's Jet_qgl (SampleConfig::isr_gluon)
enum class Origin : std::uint8_t { Quark, Gluon, Radiated };

// Jet_truthParton: the parton's role in a lepton+jets ttbar decay
enum Role : std::uint8_t { kNoRole = 0, kWQuark = 1, kBTopHad = 2, kBTopLep = 3 };

struct Particle {
   P4 p;
   Kind kind;
   bool decay_parton; // from a top or W decay (may radiate a hard gluon)
   Origin origin = Origin::Quark;
   std::uint8_t role = kNoRole;
};

// ===========================================================================
// Output record: NanoAOD branches of one event
// ===========================================================================
constexpr int kMaxJets = 64, kMaxLeptons = 16;

struct Event {
   std::uint32_t run = 1, luminosityBlock = 1;
   std::uint64_t event = 0;
   std::uint32_t nJet = 0;
   float Jet_pt[kMaxJets], Jet_eta[kMaxJets], Jet_phi[kMaxJets], Jet_mass[kMaxJets], Jet_btagCSVV2[kMaxJets];
   std::int32_t Jet_jetId[kMaxJets];
   float Jet_qgl[kMaxJets];
   std::int32_t Jet_truthParton[kMaxJets]; // demo truth, not a NanoAOD branch
   std::uint32_t nElectron = 0;
   float Electron_pt[kMaxLeptons], Electron_eta[kMaxLeptons], Electron_phi[kMaxLeptons],
      Electron_mass[kMaxLeptons], Electron_sip3d[kMaxLeptons], Electron_pfRelIso03_all[kMaxLeptons];
   std::int32_t Electron_cutBased[kMaxLeptons];
   std::uint32_t nMuon = 0;
   float Muon_pt[kMaxLeptons], Muon_eta[kMaxLeptons], Muon_phi[kMaxLeptons], Muon_mass[kMaxLeptons],
      Muon_sip3d[kMaxLeptons], Muon_pfRelIso04_all[kMaxLeptons];
   bool Muon_tightId[kMaxLeptons];
   float MET_pt = 0, genWeight = 0;
};

// ===========================================================================
// The event generator of one sample
// ===========================================================================
class EventGenerator {
public:
   // `sample`: the recipe ("{recipe}__{variation}"); `stream`: the name that keys the random numbers
   EventGenerator(const std::string &sample, std::uint64_t seed, const std::string &stream)
      : cfg_(config_for(sample)), sample_key_(splitmix64(splitmix64(seed) ^ name_hash(stream)))
   {
   }
   EventGenerator(const std::string &sample, std::uint64_t seed) : EventGenerator(sample, seed, sample) {}

   // the random-number key of event `index` (0-based within the sample)
   std::uint64_t event_key(std::uint64_t index) const { return splitmix64(sample_key_ ^ index); }

   void generate(std::uint64_t index, Event &ev)
   {
      Rng rng(event_key(index));
      particles_.clear();
      hard_process(rng);
      radiate_from_decays(rng);
      ev.run = 1;
      ev.luminosityBlock = static_cast<std::uint32_t>(1 + index / 1000);
      ev.event = index + 1;
      ev.genWeight = rng.chance(cfg_.neg_weight_fraction) ? -1.0f : 1.0f;
      leptons_.clear();
      met_x_ = met_y_ = 0.0;
      build_jets(rng);
      add_prompt_leptons(rng);
      add_nonprompt_leptons(rng);
      add_soft_electrons(rng);
      fill_jets(ev);
      fill_leptons(rng, ev);
      met_x_ += rng.gauss(0.0, 9.0);
      met_y_ += rng.gauss(0.0, 9.0);
      ev.MET_pt = static_cast<float>(std::hypot(met_x_, met_y_));
      // drawn last, so that the draws above (and the AGC v1 branches) stay those of generator version 2
      fill_qgl(rng, ev);
   }

private:
   struct Jet {
      P4 p;
      double true_pt;
      Kind flavour;  // Bottom > Charm > other
      bool lepton;   // made of a prompt lepton only
      bool pileup;
      double pt = 0, eta = 0, phi = 0, mass = 0; // cached from p
      float btag = 0;
      int jet_id = 0;
      // the constituent with the largest true pT: its kind, origin and ttbar role
      double lead_true_pt = 0;
      Kind lead_kind = Kind::Light;
      Origin lead_origin = Origin::Quark;
      std::uint8_t role = kNoRole;

      void update()
      {
         pt = p.pt();
         eta = p.eta();
         phi = p.phi();
      }
   };
   struct Lepton {
      double pt, eta, phi;
      bool muon, prompt;
   };

   // ---- hard processes ---------------------------------------------------
   void hard_process(Rng &rng)
   {
      switch (cfg_.process) {
      case Process::TTbar: ttbar(rng); break;
      case Process::SingleTopS: single_top_s(rng); break;
      case Process::SingleTopT: single_top_t(rng); break;
      case Process::TW: top_w(rng); break;
      case Process::WJets: w_jets(rng); break;
      }
   }

   // n radiated partons (initial-state radiation, extra jets), heavy flavour in pairs from
   // gluon splitting; returns their summed (px, py) for the recoil of the hard system
   void radiation(Rng &rng, int n, double &sum_px, double &sum_py)
   {
      sum_px = sum_py = 0.0;
      for (int i = 0; i < n; ++i) {
         const double pt = std::min(rng.pareto(kRadPtMin, cfg_.isr_alpha), 1500.0);
         const double eta = rng.gauss(0.0, 3.0), phi = rng.phi();
         sum_px += pt * std::cos(phi);
         sum_py += pt * std::sin(phi);
         const double u = rng.uniform();
         if (u >= cfg_.isr_b + cfg_.isr_c) {
            particles_.push_back({from_pt_eta_phi_m(pt, eta, phi, 0.0), Kind::Light, false, Origin::Radiated});
            continue;
         }
         const Kind kind = u < cfg_.isr_b ? Kind::Bottom : Kind::Charm;
         const double mass = kind == Kind::Bottom ? kMB : kMC;
         const double z = rng.uniform(0.2, 0.8), dr = 0.4 + rng.exponential(0.5), a = rng.phi();
         particles_.push_back({from_pt_eta_phi_m(z * pt, eta, phi, mass), kind, false});
         particles_.push_back(
            {from_pt_eta_phi_m((1.0 - z) * pt, eta + dr * std::cos(a), phi + dr * std::sin(a), mass), kind, false});
      }
   }

   // a two-body system of mass above m1 + m2, recoiling against the radiation
   P4 system(Rng &rng, double m1, double m2, double scale, double recoil_px, double recoil_py)
   {
      const double m = m1 + m2 + rng.gamma(1.3, scale);
      return from_px_py_y_m(-recoil_px + rng.gauss(0.0, 5.0), -recoil_py + rng.gauss(0.0, 5.0),
                            rng.gauss(0.0, 0.9), m);
   }

   void ttbar(Rng &rng)
   {
      double rx, ry;
      radiation(rng, rng.poisson(cfg_.isr_mean), rx, ry);
      const double m1 = rng.breit_wigner(kMTop, kWTop, 10.0), m2 = rng.breit_wigner(kMTop, kWTop, 10.0);
      P4 t1, t2;
      decay2(rng, system(rng, m1, m2, cfg_.system_scale, rx, ry), m1, m2, t1, t2);
      const std::size_t first1 = particles_.size();
      top_decay(rng, t1);
      const std::size_t first2 = particles_.size();
      top_decay(rng, t2);
      set_ttbar_roles(first1, first2);
   }

   // Jet_truthParton roles, in lepton+jets events only (exactly one W -> l nu, tau included);
   // `first1`, `first2`: index of each top's b, followed by its W's decay products (top_decay)
   void set_ttbar_roles(std::size_t first1, std::size_t first2)
   {
      const auto hadronic = [this](std::size_t b) { return particles_[b + 1].decay_parton; }; // W -> q q'
      if (hadronic(first1) == hadronic(first2))
         return; // dilepton or all-hadronic
      const std::size_t had = hadronic(first1) ? first1 : first2, lep = had == first1 ? first2 : first1;
      particles_[had].role = kBTopHad;
      particles_[had + 1].role = particles_[had + 2].role = kWQuark;
      particles_[lep].role = kBTopLep;
   }

   void single_top_s(Rng &rng)
   {
      double rx, ry;
      radiation(rng, rng.poisson(cfg_.isr_mean), rx, ry);
      const double mt = rng.breit_wigner(kMTop, kWTop, 10.0);
      P4 t, b;
      decay2(rng, system(rng, mt, kMB, cfg_.system_scale, rx, ry), mt, kMB, t, b);
      top_decay(rng, t);
      particles_.push_back({b, Kind::Bottom, true});
   }

   // t-channel (4 flavours): top + forward light quark + soft spectator b
   void single_top_t(Rng &rng)
   {
      double rx, ry;
      radiation(rng, rng.poisson(cfg_.isr_mean), rx, ry);
      const double mt = rng.breit_wigner(kMTop, kWTop, 10.0);
      const double top_phi = rng.phi(), top_pt = rng.gamma(2.0, cfg_.system_scale);
      top_decay(rng, from_px_py_y_m(top_pt * std::cos(top_phi) - rx, top_pt * std::sin(top_phi) - ry,
                                    rng.gauss(0.0, 1.1), mt));
      const double side = rng.chance(0.5) ? 1.0 : -1.0;
      const double q_pt = 15.0 + rng.gamma(2.0, 22.0);
      particles_.push_back({from_pt_eta_phi_m(q_pt, side * rng.gauss(2.3, 0.8), top_phi + M_PI + rng.gauss(0.0, 0.8), 0.0),
                            Kind::Light, true});
      spectator_b(rng);
   }

   void top_w(Rng &rng)
   {
      double rx, ry;
      radiation(rng, rng.poisson(cfg_.isr_mean), rx, ry);
      const double mt = rng.breit_wigner(kMTop, kWTop, 10.0), mw = rng.breit_wigner(kMW, kWW, 10.0);
      P4 t, w;
      decay2(rng, system(rng, mt, mw, cfg_.system_scale, rx, ry), mt, mw, t, w);
      top_decay(rng, t);
      w_decay(rng, w, true);
      spectator_b(rng);
   }

   // the b quark left over by an initial-state g -> b bbar splitting
   void spectator_b(Rng &rng)
   {
      if (rng.chance(cfg_.spectator_b))
         particles_.push_back({from_pt_eta_phi_m(rng.gamma(1.5, cfg_.spectator_b_scale), rng.gauss(0.0, 1.5), rng.phi(), kMB),
                               Kind::Bottom, true});
   }

   // W + jets: Berends-like (geometric) jet multiplicity of mean isr_mean, leptonic W decays
   void w_jets(Rng &rng)
   {
      int n = 0;
      while (rng.chance(cfg_.isr_mean / (1.0 + cfg_.isr_mean)))
         ++n;
      double rx, ry;
      radiation(rng, n, rx, ry);
      const double mw = rng.breit_wigner(kMW, kWW, 20.0);
      const P4 w = from_px_py_y_m(-rx + rng.gauss(0.0, 6.0), -ry + rng.gauss(0.0, 6.0), rng.gauss(0.0, 1.8), mw);
      w_decay(rng, w, false);
   }

   void top_decay(Rng &rng, const P4 &top)
   {
      const double mw = rng.breit_wigner(kMW, kWW, 10.0);
      P4 b, w;
      decay2(rng, top, kMB, mw, b, w);
      particles_.push_back({b, Kind::Bottom, true});
      w_decay(rng, w, true);
   }

   void w_decay(Rng &rng, const P4 &w, bool hadronic_allowed)
   {
      P4 d1, d2;
      const double u = rng.uniform() * (hadronic_allowed ? 1.0 : 0.324);
      if (u < 0.324) { // leptons: e, mu, tau with equal rates
         const int flavour = std::min(2, static_cast<int>(u / 0.108));
         const double ml = flavour == 0 ? 0.000511 : (flavour == 1 ? 0.10566 : kMTau);
         decay2(rng, w, ml, 0.0, d1, d2);
         particles_.push_back({d2, Kind::Neutrino, false});
         if (flavour == 2)
            tau_decay(rng, d1);
         else
            particles_.push_back({d1, flavour == 0 ? Kind::Electron : Kind::Muon, false});
      } else { // quarks: half of the hadronic decays give a charm quark
         const bool charm = rng.chance(0.5);
         decay2(rng, w, charm ? kMC : 0.0, 0.0, d1, d2);
         particles_.push_back({d1, charm ? Kind::Charm : Kind::Light, true});
         particles_.push_back({d2, Kind::Light, true});
      }
   }

   void tau_decay(Rng &rng, const P4 &tau)
   {
      const double u = rng.uniform();
      if (u < 0.352) { // leptonic: the lepton takes a fraction z of the momentum, density 2(1 - z)
         const double z = 1.0 - std::sqrt(rng.uniform());
         particles_.push_back({tau * z, u < 0.178 ? Kind::Electron : Kind::Muon, false});
         particles_.push_back({tau * (1.0 - z), Kind::Neutrino, false});
      } else {
         const double z = rng.uniform(0.35, 1.0);
         particles_.push_back({tau * z, Kind::TauHad, false});
         particles_.push_back({tau * (1.0 - z), Kind::Neutrino, false});
      }
   }

   // hard gluons radiated by decay partons at an angle large enough to make a separate jet
   void radiate_from_decays(Rng &rng)
   {
      const std::size_t n = particles_.size();
      for (std::size_t i = 0; i < n; ++i) {
         if (!particles_[i].decay_parton || !rng.chance(cfg_.fsr_prob))
            continue;
         const P4 parent = particles_[i].p;
         const double z = rng.uniform(0.1, 0.45);
         const double dr = 0.3 + rng.exponential(cfg_.fsr_angle), a = rng.phi();
         const P4 gluon = from_pt_eta_phi_m(z * parent.pt(), parent.eta() + dr * std::cos(a),
                                            parent.phi() + dr * std::sin(a), 0.0);
         particles_[i].p = parent * (1.0 - z);
         particles_.push_back({gluon, Kind::Light, false, Origin::Gluon});
      }
   }

   // ---- detector: jets ---------------------------------------------------
   static double jet_resolution(double pt)
   {
      return std::sqrt(9.0 / (pt * pt) + 2.0 / pt + 0.005);
   }

   // smear every visible particle, cluster within dR < 0.4 (highest pT first)
   void build_jets(Rng &rng)
   {
      seeds_.clear();
      for (const Particle &p : particles_) {
         if (p.kind == Kind::Neutrino) {
            met_x_ += p.p.px;
            met_y_ += p.p.py;
            continue;
         }
         const bool lepton = p.kind == Kind::Electron || p.kind == Kind::Muon;
         const double true_pt = p.p.pt();
         if (true_pt < 3.0 || std::abs(p.p.eta()) > 5.0)
            continue;
         double response;
         if (lepton)
            response = rng.gauss(1.1, 0.05); // jet energy corrections applied to a lepton
         else
            response = rng.gauss(p.kind == Kind::Bottom ? cfg_.b_response : 0.98, jet_resolution(true_pt));
         response = std::max(response, 0.05);
         Jet seed{p.p * response, true_pt, p.kind, lepton, false};
         seed.update();
         seed.lead_true_pt = true_pt;
         seed.lead_kind = p.kind;
         seed.lead_origin = p.origin;
         seed.role = p.role;
         seeds_.push_back(seed);
      }
      const auto by_pt = [](const Jet &a, const Jet &b) { return a.pt > b.pt; };
      std::sort(seeds_.begin(), seeds_.end(), by_pt);
      jets_.clear();
      for (const Jet &s : seeds_)
         cluster(s);
      add_pileup_jets(rng);
      for (Jet &j : jets_) {
         met_x_ += (j.true_pt / j.pt - 1.0) * j.p.px;
         met_y_ += (j.true_pt / j.pt - 1.0) * j.p.py;
         j.mass = jet_mass(rng, j);
         j.btag = btag_score(rng, j);
         j.jet_id = jet_id(rng, j);
      }
      std::sort(jets_.begin(), jets_.end(), by_pt);
   }

   void cluster(const Jet &seed)
   {
      for (Jet &j : jets_) {
         if (delta_r2(seed.eta, seed.phi, j.eta, j.phi) < 0.16) {
            j.p = j.p + seed.p;
            j.update();
            j.true_pt += seed.true_pt;
            j.lepton = false;
            if (seed.flavour == Kind::Bottom || (seed.flavour == Kind::Charm && j.flavour != Kind::Bottom))
               j.flavour = seed.flavour;
            if (seed.true_pt > j.lead_true_pt) {
               j.lead_true_pt = seed.true_pt;
               j.lead_kind = seed.lead_kind;
               j.lead_origin = seed.lead_origin;
               j.role = seed.role;
            }
            return;
         }
      }
      jets_.push_back(seed);
   }

   void add_pileup_jets(Rng &rng)
   {
      const int n = rng.poisson(2.5);
      for (int i = 0; i < n; ++i) {
         const double pt = std::min(rng.pareto(12.0, 3.2), 200.0);
         Jet j{from_pt_eta_phi_m(pt, rng.uniform(-4.7, 4.7), rng.phi(), 0.0), pt, Kind::Light, false, true};
         j.update();
         j.lead_true_pt = pt;
         j.lead_origin = Origin::Gluon; // diffuse, many soft particles: gluon-like
         jets_.push_back(j);
      }
   }

   // CSVv2-like score: -10 outside the tracker or without tracks; efficiency of
   // the > 0.5 cut per flavour, scores peaked near 1 for tagged b jets
   float btag_score(Rng &rng, const Jet &j) const
   {
      if (std::abs(j.eta) > 2.4 || rng.chance(j.pileup ? 0.5 : 0.06))
         return -10.0f;
      double eff;
      if (j.flavour == Kind::Bottom)
         eff = cfg_.b_tag_eff;
      else if (j.flavour == Kind::Charm)
         eff = 0.38;
      else
         eff = j.lepton ? 0.03 : 0.09;
      double s;
      if (rng.chance(eff))
         s = 1.0 - 0.5 * std::pow(rng.uniform(), j.flavour == Kind::Bottom ? 2.5 : 1.0);
      else
         s = 0.5 * std::pow(rng.uniform(), j.flavour == Kind::Bottom ? 0.5 : 1.6);
      return static_cast<float>(s);
   }

   // NanoAOD jetId: 6 (tight + tightLepVeto), 2 (tight only: lepton-dominated), 0. Jets not made of a
   // lepton have jetId 6 as often as in the real ttbar file (jets whose leading lepton has less than half
   // the jet pT: 97% for |eta| < 2.4, 71% at 2.4-2.7, 88% beyond; jetId 2 almost never)
   static int jet_id(Rng &rng, const Jet &j)
   {
      if (j.lepton)
         return rng.chance(0.9) ? 2 : 0;
      const double u = rng.uniform(), eta = std::abs(j.eta);
      const double tight = eta < 2.4 ? 0.97 : (eta < 2.7 ? 0.75 : 0.9);
      return u < tight ? 6 : (u < tight + 0.005 ? 2 : 0);
   }

   void fill_jets(Event &ev)
   {
      ev.nJet = 0;
      written_.clear();
      for (const Jet &j : jets_) {
         if (j.pt < 15.0 || std::abs(j.eta) > 4.7 || ev.nJet == kMaxJets)
            continue;
         const std::uint32_t k = ev.nJet++;
         written_.push_back(&j - jets_.data());
         ev.Jet_pt[k] = reduce_mantissa(static_cast<float>(j.pt), 10);
         ev.Jet_eta[k] = reduce_mantissa(static_cast<float>(j.eta), 12);
         ev.Jet_phi[k] = reduce_mantissa(static_cast<float>(j.phi), 12);
         ev.Jet_mass[k] = reduce_mantissa(static_cast<float>(j.mass), 10);
         ev.Jet_btagCSVV2[k] = reduce_mantissa(j.btag, 10);
         ev.Jet_jetId[k] = j.jet_id;
         ev.Jet_truthParton[k] = j.role;
      }
   }

   // Kumaraswamy(a, b) on (0, 1), a Beta-like shape from one uniform draw
   static double kumaraswamy(Rng &rng, double a, double b)
   {
      return std::pow(1.0 - std::pow(rng.uniform(), 1.0 / b), 1.0 / a);
   }

   // Jet_qgl of the written jets, in their order. -1 ("undefined") below 20 GeV, as in the real
   // files, and for 1.5% of the others; else a shape per leading parton (mean): gluon (0.25), light
   // quark (0.69), charm (0.62), b (0.49), lepton or hadronic tau: narrow, quark-like (0.91)
   void fill_qgl(Rng &rng, Event &ev)
   {
      for (std::uint32_t k = 0; k < ev.nJet; ++k) {
         const Jet &j = jets_[written_[k]];
         if (ev.Jet_pt[k] < 20.0f || rng.chance(0.015)) { // the written pT
            ev.Jet_qgl[k] = -1.0f;
            continue;
         }
         double a, b;
         switch (j.lead_kind) {
         case Kind::Bottom: a = 1.3, b = 1.4; break;
         case Kind::Charm: a = 1.5, b = 0.9; break;
         case Kind::TauHad:
         case Kind::Electron:
         case Kind::Muon: a = 6.0, b = 0.5; break;
         default: {
            const bool gluon = j.lead_origin == Origin::Gluon ||
                               (j.lead_origin == Origin::Radiated && rng.chance(cfg_.isr_gluon));
            if (gluon)
               a = 0.8, b = 2.2;
            else
               a = 1.6, b = 0.7;
         }
         }
         ev.Jet_qgl[k] = reduce_mantissa(static_cast<float>(kumaraswamy(rng, a, b)), 10);
      }
   }

   // clustered mass plus a width from unresolved radiation, ~0.15 pT
   static double jet_mass(Rng &rng, const Jet &j)
   {
      const double m = j.p.m(), width = j.pt * (j.lepton ? 0.02 : rng.uniform(0.06, 0.2));
      return std::sqrt(m * m + width * width);
   }

   // ---- detector: leptons ------------------------------------------------
   void add_prompt_leptons(Rng &rng)
   {
      for (const Particle &p : particles_) {
         if (p.kind != Kind::Electron && p.kind != Kind::Muon)
            continue;
         const bool muon = p.kind == Kind::Muon;
         const double eta = p.p.eta();
         if (std::abs(eta) > (muon ? 2.4 : 2.5) || !rng.chance(muon ? 0.96 : 0.92))
            continue;
         const double pt = p.p.pt() * rng.gauss(1.0, muon ? 0.015 : 0.025);
         leptons_.push_back({pt, eta, p.p.phi(), muon, true});
      }
   }

   // leptons inside jets: semileptonic b and c decays, and fakes from light jets
   void add_nonprompt_leptons(Rng &rng)
   {
      for (const Jet &j : jets_) {
         if (j.lepton || std::abs(j.eta) > 2.5)
            continue;
         double z;
         if (j.flavour == Kind::Bottom && rng.chance(0.22))
            z = 0.65 * std::pow(rng.uniform(), 1.3);
         else if (j.flavour == Kind::Charm && rng.chance(0.12))
            z = 0.5 * std::pow(rng.uniform(), 1.3);
         else if (rng.chance(0.035))
            z = rng.uniform(0.05, 0.9);
         else
            continue;
         const bool muon = rng.chance(j.flavour == Kind::Light ? 0.15 : 0.5);
         const double pt = z * j.true_pt;
         if (pt > (muon ? 3.0 : 5.0))
            leptons_.push_back({pt, j.eta + rng.gauss(0.0, 0.05), wrap_phi(j.phi + rng.gauss(0.0, 0.05)), muon, false});
      }
   }

   // soft electron candidates (conversions, pile-up), below the analysis threshold
   void add_soft_electrons(Rng &rng)
   {
      const int n = rng.poisson(0.8);
      for (int i = 0; i < n; ++i) {
         const double u = rng.uniform();
         leptons_.push_back({5.0 + 15.0 * u * u, rng.uniform(-2.5, 2.5), rng.phi(), false, false});
      }
   }

   void fill_leptons(Rng &rng, Event &ev)
   {
      std::sort(leptons_.begin(), leptons_.end(), [](const Lepton &a, const Lepton &b) { return a.pt > b.pt; });
      ev.nElectron = ev.nMuon = 0;
      for (const Lepton &l : leptons_) {
         const float sip3d = static_cast<float>(l.prompt ? rng.exponential(1.0) : 1.0 + rng.exponential(6.0));
         const float iso = static_cast<float>(
            l.prompt ? (rng.chance(0.3) ? 0.0 : rng.exponential(0.04)) : 0.1 + rng.exponential(0.8));
         if (l.muon && ev.nMuon < kMaxLeptons) {
            const std::uint32_t k = ev.nMuon++;
            ev.Muon_pt[k] = static_cast<float>(l.pt);
            ev.Muon_eta[k] = reduce_mantissa(static_cast<float>(l.eta), 12);
            ev.Muon_phi[k] = reduce_mantissa(static_cast<float>(l.phi), 12);
            ev.Muon_mass[k] = reduce_mantissa(0.10566f, 8);
            ev.Muon_sip3d[k] = reduce_mantissa(sip3d, 10);
            ev.Muon_pfRelIso04_all[k] = reduce_mantissa(iso, 10);
            ev.Muon_tightId[k] = rng.chance(l.prompt ? 0.95 : 0.5);
         } else if (!l.muon && ev.nElectron < kMaxLeptons) {
            const std::uint32_t k = ev.nElectron++;
            ev.Electron_pt[k] = static_cast<float>(l.pt);
            ev.Electron_eta[k] = reduce_mantissa(static_cast<float>(l.eta), 12);
            ev.Electron_phi[k] = reduce_mantissa(static_cast<float>(l.phi), 12);
            ev.Electron_mass[k] = reduce_mantissa(static_cast<float>(rng.gauss(0.0, 0.02)), 8);
            ev.Electron_sip3d[k] = reduce_mantissa(sip3d, 10);
            ev.Electron_pfRelIso03_all[k] = reduce_mantissa(iso, 10);
            // prompt electrons: tight (4) for 75%, as in the real ttbar file (24 of 32 with pT > 20)
            const double u = rng.uniform();
            ev.Electron_cutBased[k] = l.prompt ? (u < 0.75 ? 4 : (u < 0.87 ? 3 : (u < 0.93 ? 2 : (u < 0.96 ? 1 : 0))))
                                               : (u < 0.7 ? 0 : (u < 0.85 ? 1 : 2));
         }
      }
   }

   SampleConfig cfg_;
   std::uint64_t sample_key_;
   std::vector<Particle> particles_;
   std::vector<Jet> seeds_, jets_;
   std::vector<std::size_t> written_; // indices in jets_ of the jets written, in order
   std::vector<Lepton> leptons_;
   double met_x_ = 0.0, met_y_ = 0.0;
};

// ===========================================================================
// Extra branches for the AGC I/O-only modes (--full): noise with the entropy
// of the real branch, so that its compressed size matches the real share
// ===========================================================================
struct NoiseSpec {
   std::string name;
   char type = 'F';      // 'F' float, 'I' int32, 'b' uint8
   std::string counter;  // nJet, nElectron, nMuon, or an extra counter (nPhoton, ...)
   double lo = 0.0, hi = 1.0;
   int bits = 10;        // float: mantissa bits kept; int: values drawn in [lo, lo + 2^bits) within [lo, hi]
   double default_fraction = 0.0; // fraction of entries holding `default_value` instead
   double default_value = 0.0;
};

struct ExtraCounter {
   std::string name;
   double mean = 1.0;    // Poisson mean of the multiplicity
   std::uint32_t max = 1;
};

// ===========================================================================
// Writer: one file, one TTree "Events" with NanoAOD-like leaf-list branches
// ===========================================================================
class EventWriter {
public:
   static constexpr Long64_t kEventsPerCluster = 10000;

   EventWriter(const std::string &path, int compression, const std::vector<NoiseSpec> &noise,
               const std::vector<ExtraCounter> &counters)
      : file_(TFile::Open(path.c_str(), "RECREATE", "", compression)), noise_(noise), counters_(counters)
   {
      if (!file_ || file_->IsZombie())
         throw std::runtime_error("rdf_ttbar::demo: cannot create " + path);
      tree_ = new TTree("Events", "Events");
      tree_->SetDirectory(file_.get());
      // clusters of a fixed number of events, as in NanoAOD files, instead of ROOT's default of one per
      // 30 MB (a whole demo file): RDataFrame's threads split the input by cluster, so that many cores
      // share a few files evenly
      tree_->SetAutoFlush(kEventsPerCluster);
      book_core_branches();
      book_noise_branches();
   }

   Event &event() { return ev_; }

   void fill_noise(std::uint64_t key)
   {
      if (noise_.empty())
         return;
      Rng rng(splitmix64(key ^ 0x5DEECE66DULL));
      for (std::size_t c = 0; c < counters_.size(); ++c)
         extra_counts_[c] = std::min<std::uint32_t>(rng.poisson(counters_[c].mean), counters_[c].max);
      for (std::size_t i = 0; i < noise_.size(); ++i) {
         const NoiseSpec &s = noise_[i];
         const std::uint32_t n = *noise_counts_[i];
         if (s.type == 'F') {
            float *out = noise_floats_[i].data();
            for (std::uint32_t k = 0; k < n; ++k)
               out[k] = static_cast<float>(rng.chance(s.default_fraction) ? s.default_value
                                                                          : reduce_mantissa(rng.uniform(s.lo, s.hi), s.bits));
         } else {
            const double span = std::min(s.hi - s.lo + 1.0, std::ldexp(1.0, s.bits));
            for (std::uint32_t k = 0; k < n; ++k) {
               const double draw = rng.chance(s.default_fraction) ? s.default_value : s.lo + std::floor(rng.uniform() * span);
               const auto v = static_cast<std::int64_t>(draw);
               if (s.type == 'I')
                  noise_ints_[i][k] = static_cast<std::int32_t>(v);
               else
                  noise_bytes_[i][k] = static_cast<std::uint8_t>(v);
            }
         }
      }
   }

   void fill()
   {
      if (tree_->Fill() < 0)
         throw std::runtime_error("rdf_ttbar::demo: TTree::Fill failed");
   }

   void close()
   {
      file_->cd();
      if (tree_->Write() <= 0 || file_->TestBit(TFile::kWriteError))
         throw std::runtime_error(std::string("rdf_ttbar::demo: cannot write ") + file_->GetName());
      file_->Close();
   }

private:
   template <typename T>
   void array_branch(const char *name, T *address, const char *counter, char type)
   {
      tree_->Branch(name, address, (std::string(name) + "[" + counter + "]/" + type).c_str());
   }

   void book_core_branches()
   {
      Event &e = ev_;
      tree_->Branch("run", &e.run, "run/i");
      tree_->Branch("luminosityBlock", &e.luminosityBlock, "luminosityBlock/i");
      tree_->Branch("event", &e.event, "event/l");
      tree_->Branch("nJet", &e.nJet, "nJet/i");
      array_branch("Jet_pt", e.Jet_pt, "nJet", 'F');
      array_branch("Jet_eta", e.Jet_eta, "nJet", 'F');
      array_branch("Jet_phi", e.Jet_phi, "nJet", 'F');
      array_branch("Jet_mass", e.Jet_mass, "nJet", 'F');
      array_branch("Jet_btagCSVV2", e.Jet_btagCSVV2, "nJet", 'F');
      array_branch("Jet_jetId", e.Jet_jetId, "nJet", 'I');
      array_branch("Jet_qgl", e.Jet_qgl, "nJet", 'F');
      array_branch("Jet_truthParton", e.Jet_truthParton, "nJet", 'I');
      tree_->Branch("nElectron", &e.nElectron, "nElectron/i");
      array_branch("Electron_pt", e.Electron_pt, "nElectron", 'F');
      array_branch("Electron_eta", e.Electron_eta, "nElectron", 'F');
      array_branch("Electron_phi", e.Electron_phi, "nElectron", 'F');
      array_branch("Electron_mass", e.Electron_mass, "nElectron", 'F');
      array_branch("Electron_sip3d", e.Electron_sip3d, "nElectron", 'F');
      array_branch("Electron_pfRelIso03_all", e.Electron_pfRelIso03_all, "nElectron", 'F');
      array_branch("Electron_cutBased", e.Electron_cutBased, "nElectron", 'I');
      tree_->Branch("nMuon", &e.nMuon, "nMuon/i");
      array_branch("Muon_pt", e.Muon_pt, "nMuon", 'F');
      array_branch("Muon_eta", e.Muon_eta, "nMuon", 'F');
      array_branch("Muon_phi", e.Muon_phi, "nMuon", 'F');
      array_branch("Muon_mass", e.Muon_mass, "nMuon", 'F');
      array_branch("Muon_sip3d", e.Muon_sip3d, "nMuon", 'F');
      array_branch("Muon_pfRelIso04_all", e.Muon_pfRelIso04_all, "nMuon", 'F');
      array_branch("Muon_tightId", e.Muon_tightId, "nMuon", 'O');
      tree_->Branch("MET_pt", &e.MET_pt, "MET_pt/F");
      tree_->Branch("genWeight", &e.genWeight, "genWeight/F");
   }

   // pointer to the multiplicity of a collection: a core counter or an extra one
   std::uint32_t *counter_address(const std::string &name)
   {
      if (name == "nJet")
         return &ev_.nJet;
      if (name == "nElectron")
         return &ev_.nElectron;
      if (name == "nMuon")
         return &ev_.nMuon;
      for (std::size_t c = 0; c < counters_.size(); ++c)
         if (counters_[c].name == name)
            return &extra_counts_[c];
      throw std::invalid_argument("rdf_ttbar::demo: unknown counter " + name);
   }

   std::uint32_t counter_max(const std::string &name) const
   {
      for (const ExtraCounter &c : counters_)
         if (c.name == name)
            return c.max;
      return name == "nJet" ? kMaxJets : kMaxLeptons;
   }

   void book_noise_branches()
   {
      extra_counts_.assign(counters_.size(), 0);
      for (std::size_t c = 0; c < counters_.size(); ++c)
         tree_->Branch(counters_[c].name.c_str(), &extra_counts_[c], (counters_[c].name + "/i").c_str());
      const std::size_t n = noise_.size();
      noise_counts_.resize(n);
      noise_floats_.resize(n);
      noise_ints_.resize(n);
      noise_bytes_.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
         const NoiseSpec &s = noise_[i];
         noise_counts_[i] = counter_address(s.counter);
         const std::uint32_t size = counter_max(s.counter);
         if (s.type == 'F') {
            noise_floats_[i].assign(size, 0.0f);
            array_branch(s.name.c_str(), noise_floats_[i].data(), s.counter.c_str(), 'F');
         } else if (s.type == 'I') {
            noise_ints_[i].assign(size, 0);
            array_branch(s.name.c_str(), noise_ints_[i].data(), s.counter.c_str(), 'I');
         } else if (s.type == 'b') {
            noise_bytes_[i].assign(size, 0);
            array_branch(s.name.c_str(), noise_bytes_[i].data(), s.counter.c_str(), 'b');
         } else {
            throw std::invalid_argument("rdf_ttbar::demo: unsupported type of " + s.name);
         }
      }
   }

   std::unique_ptr<TFile> file_;
   TTree *tree_ = nullptr; // owned by file_
   Event ev_;
   std::vector<NoiseSpec> noise_;
   std::vector<ExtraCounter> counters_;
   std::vector<std::uint32_t> extra_counts_;
   std::vector<std::uint32_t *> noise_counts_;
   std::vector<std::vector<float>> noise_floats_;
   std::vector<std::vector<std::int32_t>> noise_ints_;
   std::vector<std::vector<std::uint8_t>> noise_bytes_;
};

// ===========================================================================
// Jobs: one output file each, run in parallel by `nthreads` threads
// ===========================================================================
struct FileJob {
   std::string path;
   std::string sample;    // the recipe of its events: "{recipe}__{variation}" (config_for)
   std::string stream;    // the sample's own name, which keys its random numbers; "": `sample`
   std::uint64_t first = 0; // index of the first event within the sample
   std::uint64_t count = 0;
};

struct RunOptions {
   std::uint64_t seed = 1;
   int compression = 501; // ROOT's algorithm * 100 + level: ZSTD level 1
   int nthreads = 1;
   std::vector<NoiseSpec> noise;
   std::vector<ExtraCounter> counters;
};

// events written so far by run_jobs (for progress reports)
inline std::atomic<std::uint64_t> &events_done()
{
   static std::atomic<std::uint64_t> n{0};
   return n;
}

// set by request_stop() (a signal, noted by Python): run_jobs stops within 1024 events of every thread, returns
// "stopped", and leaves the files it was writing incomplete (they are in the caller's staging folder)
inline std::atomic<bool> &stop_requested()
{
   static std::atomic<bool> stop{false};
   return stop;
}

inline void request_stop()
{
   stop_requested() = true;
}

inline void write_file(const FileJob &job, const RunOptions &opt)
{
   EventGenerator gen(job.sample, opt.seed, job.stream.empty() ? job.sample : job.stream);
   EventWriter writer(job.path, opt.compression, opt.noise, opt.counters);
   std::uint64_t unreported = 0;
   for (std::uint64_t i = job.first; i < job.first + job.count; ++i) {
      gen.generate(i, writer.event());
      writer.fill_noise(gen.event_key(i));
      writer.fill();
      if (++unreported == 1024) {
         events_done() += unreported;
         unreported = 0;
         if (stop_requested())
            throw std::runtime_error("stopped");
      }
   }
   events_done() += unreported;
   writer.close();
}

// Write all files; returns "" on success, else the first error message.
// Not inline on purpose: cling then compiles it, and the inline code it calls,
// in the transaction that declares this header, with the optimisation level
// set at the top (an inline entry point would be compiled unoptimised at its
// first call from Python). The include guard keeps the definition unique.
std::string run_jobs(const std::vector<FileJob> &jobs, const RunOptions &opt)
{
   ROOT::EnableThreadSafety();
   events_done() = 0;
   stop_requested() = false;
   std::atomic<std::size_t> next{0};
   std::atomic<bool> failed{false};
   std::string error;
   std::mutex error_mutex;
   auto worker = [&]() {
      for (std::size_t j = next++; j < jobs.size() && !failed; j = next++) {
         try {
            write_file(jobs[j], opt);
         } catch (const std::exception &e) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!failed.exchange(true))
               error = e.what();
         }
      }
   };
   const int n = std::max(1, std::min<int>(opt.nthreads, static_cast<int>(jobs.size())));
   std::vector<std::thread> threads;
   for (int t = 1; t < n; ++t)
      threads.emplace_back(worker);
   worker();
   for (std::thread &t : threads)
      t.join();
   return error;
}

} // namespace demo
} // namespace rdf_ttbar

#endif
