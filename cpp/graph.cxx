// The compiled analysis graph (declarations and the graph's description: cpp/graph.h).
// Built into a shared library by rdf_ttbar/native.py; never declared to ROOT's interpreter.
//
//   lepton selection -> jet pT (Vary) -> jet selection -> weight (Vary)
//   -> observable (1 b-tag: HT, >= 2 b-tags: m_bjj) -> Histo2D(observable, nbtag) -> VariationsFor
//
// Step for step what rdf_ttbar/graph.py books from strings; tests/test_compiled_graph.py checks
// that both give bit-identical histograms.
#include "graph.h"

#include <cstdint>
#include <stdexcept>

#include "ROOT/RDFHelpers.hxx"
#include "ROOT/RDataFrame.hxx"

#include "analysis.h"

namespace rdf_ttbar {
namespace {

using ROOT::RDF::RNode;
using ROOT::RVecU;

constexpr int kBtagVariations = 8; // btag_var_0 ... btag_var_7 have a compiled form

std::string btag_expression(int i)
{
   return "rdf_ttbar::btag_weights(weight, jets, Jet_pt, " + std::to_string(i) + ")";
}

const std::string kJetEnergyScale = "rdf_ttbar::jet_energy_scale_up(Jet_pt)";
const std::string kJetResolution = "rdf_ttbar::pt_resolution_varied(Jet_pt, run, luminosityBlock, event)";
const std::string kWjetsScale = "rdf_ttbar::wjets_scale_weights(weight)";

void check_directions(const VariedColumn &v, std::size_t n)
{
   if (v.directions.size() != n)
      throw std::invalid_argument("compiled graph: '" + v.expression + "' gives " + std::to_string(n) +
                                  " variation(s), the table names " + std::to_string(v.directions.size()));
}

template <typename Event>
RNode vary_jet_pt(RNode df, const VariedColumn &v)
{
   check_directions(v, 1);
   if (v.expression == kJetEnergyScale)
      return df.Vary(
         "Jet_pt", [](const RVecF &pt) { return ROOT::RVec<RVecF>{jet_energy_scale_up(pt)}; }, {"Jet_pt"},
         v.directions, v.name);
   if (v.expression == kJetResolution)
      return df.Vary(
         "Jet_pt",
         [](const RVecF &pt, unsigned run, unsigned lumi, Event event) {
            return ROOT::RVec<RVecF>{pt_resolution_varied(pt, run, lumi, event)};
         },
         {"Jet_pt", "run", "luminosityBlock", "event"}, v.directions, v.name);
   throw std::invalid_argument("compiled graph: no compiled form of the jet pT variation '" + v.expression + "'");
}

RNode vary_weight(RNode df, const VariedColumn &v)
{
   check_directions(v, 2);
   if (v.expression == kWjetsScale)
      return df.Vary("weight", [](double w) { return wjets_scale_weights(w); }, {"weight"}, v.directions, v.name);
   for (int i = 0; i < kBtagVariations; ++i)
      if (v.expression == btag_expression(i))
         return df.Vary(
            "weight",
            [i](double w, const RVecU &jets, const RVecF &pt) { return btag_weights(w, jets, pt, i); },
            {"weight", "jets", "Jet_pt"}, v.directions, v.name);
   throw std::invalid_argument("compiled graph: no compiled form of the weight variation '" + v.expression + "'");
}

template <typename Event>
BookedGraph book(RNode df, const SampleGraph &g, const ROOT::RDF::TH2DModel &model)
{
   auto count = df.Count();
   const double weight = g.weight, lepton_pt_min = g.lepton_pt_min;
   RNode node = df.Define("weight", [weight] { return weight; }, {})
                   .Filter(
                      [lepton_pt_min](const RVecF &electron_pt, const RVecF &muon_pt) {
                         return count_above(electron_pt, lepton_pt_min) + count_above(muon_pt, lepton_pt_min) == 1;
                      },
                      {"Electron_pt", "Muon_pt"}, "exactly one lepton");
   for (const auto &v : g.variations)
      if (v.column == "Jet_pt")
         node = vary_jet_pt<Event>(node, v);
   const float jet_pt_min = g.jet_pt_min, btag_threshold = g.btag_threshold;
   const unsigned min_jets = g.min_jets;
   node = node.Define("jets", [jet_pt_min](const RVecF &pt) { return select_jets(pt, jet_pt_min); }, {"Jet_pt"})
             .Define(
                "nbtag",
                [min_jets, btag_threshold](const RVecU &jets, const RVecF &btag) {
                   return jets.size() >= min_jets ? count_btagged(jets, btag, btag_threshold) : 0;
                },
                {"jets", "Jet_btagCSVV2"})
             .Filter([](int nbtag) { return nbtag >= 1; }, {"nbtag"}, ">= 4 jets, >= 1 b-tag");
   for (const auto &v : g.variations) {
      if (v.column == "weight")
         node = vary_weight(node, v);
      else if (v.column != "Jet_pt")
         throw std::invalid_argument("compiled graph: cannot vary the column '" + v.column + "'");
   }
   auto histogram =
      node.Define("observable",
                  [btag_threshold](int nbtag, const RVecU &jets, const RVecF &pt, const RVecF &eta, const RVecF &phi,
                                   const RVecF &mass, const RVecF &btag) {
                     return nbtag == 1 ? ht(jets, pt) : trijet_mass(jets, pt, eta, phi, mass, btag, btag_threshold);
                  },
                  {"nbtag", "jets", "Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagCSVV2"})
         .template Histo2D<double, int, double>(model, "observable", "nbtag", "weight");
   auto variations = ROOT::RDF::Experimental::VariationsFor(histogram);
   return BookedGraph{count, histogram, variations};
}

} // namespace

BookedGraph book_graph(ROOT::RDF::RNode df, const SampleGraph &graph, const ROOT::RDF::TH2DModel &model)
{
   // TTree NanoAOD stores event as ULong64_t (unsigned long long), RNTuple as std::uint64_t (unsigned long)
   if (graph.event_type == "unsigned long long")
      return book<unsigned long long>(df, graph, model);
   if (graph.event_type == "unsigned long")
      return book<unsigned long>(df, graph, model);
   throw std::invalid_argument("compiled graph: no compiled form for an 'event' column of type '" +
                               graph.event_type + "'");
}

bool knows_expression(const std::string &expression)
{
   if (expression == kJetEnergyScale || expression == kJetResolution || expression == kWjetsScale)
      return true;
   for (int i = 0; i < kBtagVariations; ++i)
      if (expression == btag_expression(i))
         return true;
   return false;
}

} // namespace rdf_ttbar
