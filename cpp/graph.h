// The analysis graph of one sample, compiled ahead of time (cpp/graph.cxx,
// built once by rdf_ttbar/native.py with the system's C++ compiler and loaded
// as a shared library). The same graph as the jitted one of rdf_ttbar/graph.py,
// which books it from C++ strings: that one serves Dask (whose graphs are
// Python proxies) and inputs whose column types the library was not built for.
//
// Only declarations here: ROOT's interpreter must call the library's code, not
// compile its own copy of it.
#ifndef RDF_TTBAR_GRAPH_H
#define RDF_TTBAR_GRAPH_H

#include <string>
#include <vector>

#include "ROOT/RDF/HistoModels.hxx"
#include "ROOT/RDF/RInterface.hxx"
#include "ROOT/RDF/RResultMap.hxx"
#include "ROOT/RResultPtr.hxx"
#include "TH2D.h"

namespace rdf_ttbar {

// One systematic booked with Vary: the column it varies ("Jet_pt" or "weight"), its C++ expression as
// the systematics table writes it (rdf_ttbar/systematics.py), its name and its directions.
struct VariedColumn {
   std::string column;
   std::string expression;
   std::string name;
   std::vector<std::string> directions;
};

struct SampleGraph {
   double weight = 1.;           // the sample's event weight
   double lepton_pt_min = 0.;    // exactly one electron or muon above this pT
   float jet_pt_min = 0.f;       // selected jets: above this pT
   float btag_threshold = 0.f;   // b-tagged: btagCSVV2 above this
   unsigned min_jets = 0;        // at least this many selected jets
   std::vector<VariedColumn> variations;
   std::string event_type;       // C++ type of the "event" column: "unsigned long long" or "unsigned long"
};

struct BookedGraph {
   ROOT::RDF::RResultPtr<ULong64_t> count;                    // events read
   ROOT::RDF::RResultPtr<TH2D> histogram;                     // observable x number of b-tagged jets
   ROOT::RDF::Experimental::RResultMap<TH2D> variations;      // its VariationsFor
};

// Book the sample's graph on df (run and luminosityBlock UInt_t, the kinematics RVec<float>).
// Throws std::invalid_argument for an expression or event type the library has no compiled form of.
BookedGraph book_graph(ROOT::RDF::RNode df, const SampleGraph &graph, const ROOT::RDF::TH2DModel &model);

// Whether the library has a compiled form of this Vary expression.
bool knows_expression(const std::string &expression);

} // namespace rdf_ttbar

#endif
