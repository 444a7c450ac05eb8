// What both builds of the analysis graph use (rdf_ttbar/analysis/graph.py): the jitted one, booked from
// the C++ text of the analysis definition, and the compiled one, generated from the same text and built
// into a shared library (rdf_ttbar/analysis/compiled.py). Declared to ROOT's interpreter and included by
// the generated source.
#ifndef RDF_TTBAR_GRAPH_H
#define RDF_TTBAR_GRAPH_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ROOT/RDF/HistoModels.hxx"
#include "ROOT/RDF/RActionImpl.hxx"
#include "ROOT/RDF/RInterface.hxx"
#include "ROOT/RDF/RResultMap.hxx"
#include "ROOT/RResultPtr.hxx"
#include "ROOT/RVec.hxx"
#include "TAxis.h"
#include "TH1D.h"

namespace rdf_ttbar {

// One varied value as RDataFrame's Vary wants it: an RVec of the variations (here one).
template <typename T>
ROOT::RVec<std::decay_t<T>> one_variation(T &&value)
{
   return ROOT::RVec<std::decay_t<T>>{std::forward<T>(value)};
}

// One histogram of the analysis inside the sample's one histogram of all of them: its bins (flow bins
// included) are the one histogram's bins offset + 1 ... offset + bins + 2. position(x) is the value to fill
// into the one histogram so that x lands in the bin TH1::Fill would choose (TAxis::FindFixBin).
class HistogramAxis {
public:
   HistogramAxis(int offset, int bins, double low, double high) : fAxis(bins, low, high), fOffset(offset) {}
   double position(double x) const { return fOffset + fAxis.FindFixBin(x) + 0.5; }

private:
   TAxis fAxis;
   int fOffset;
};

// Fills the sample's one histogram with the same sums whatever the thread timing. With one slot the events
// are added in entry order, as TH1::Fill would. With more, each task (an entry range: a cluster) adds its
// events, in order, into its own partial sums; at the end the partial sums are added in one fixed order, that
// of their values (RDataFrame's entry numbers in a multi-threaded loop depend on the timing, the tasks'
// contents do not): which thread ran which task, and when, changes nothing.
class OrderedFill : public ROOT::Detail::RDF::RActionImpl<OrderedFill> {
public:
   using Result_t = TH1D;

   OrderedFill(std::shared_ptr<TH1D> result, unsigned slots)
      : fResult(std::move(result)), fAxis(*fResult->GetXaxis()), fCells(fResult->GetNcells()),
        fSlots(slots), fPartials(slots), fDoneMutex(std::make_unique<std::mutex>())
   {
      fResult->SetDirectory(nullptr);
      for (auto &p : fPartials)
         p.assign(2 * fCells + 1, 0.);
   }

   std::shared_ptr<TH1D> GetResultPtr() const { return fResult; }
   void Initialize() {}
   void InitTask(TTreeReader *, unsigned) {}

   void Exec(unsigned slot, const ROOT::RVecD &positions, double weight)
   {
      auto &p = fPartials[slot]; // contents, sums of squared weights, number of fills
      for (double x : positions) {
         const int bin = fAxis.FindFixBin(x);
         p[bin] += weight;
         p[fCells + bin] += weight * weight;
         p[2 * fCells] += 1.;
      }
   }

   void FinalizeTask(unsigned slot)
   {
      auto &p = fPartials[slot];
      if (fSlots == 1 || p[2 * fCells] == 0.)
         return; // one slot: one sum over all tasks, in entry order
      std::lock_guard<std::mutex> lock(*fDoneMutex);
      fDone.push_back(p);
      std::fill(p.begin(), p.end(), 0.);
   }

   void Finalize()
   {
      if (fSlots == 1)
         fDone.push_back(fPartials[0]);
      std::sort(fDone.begin(), fDone.end(), [](const std::vector<double> &a, const std::vector<double> &b) {
         return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                             [](double x, double y) { return bits(x) < bits(y); });
      });
      std::vector<double> total(2 * fCells + 1, 0.);
      for (const auto &p : fDone)
         for (std::size_t i = 0; i < total.size(); ++i)
            total[i] += p[i];
      fResult->Sumw2(true);
      double *contents = fResult->GetArray(), *sumw2 = fResult->GetSumw2()->GetArray();
      for (std::size_t i = 0; i < fCells; ++i) {
         contents[i] = total[i];
         sumw2[i] = total[fCells + i];
      }
      fResult->ResetStats();
      fResult->SetEntries(total[2 * fCells]);
   }

   std::string GetActionName() { return std::string("TH1D\\n") + fResult->GetName(); }

   OrderedFill MakeNew(void *newResult, std::string_view = "nominal")
   {
      auto &result = *static_cast<std::shared_ptr<TH1D> *>(newResult);
      result->Reset();
      result->SetDirectory(nullptr);
      return OrderedFill(result, fSlots);
   }

private:
   static std::uint64_t bits(double x)
   {
      std::uint64_t b;
      std::memcpy(&b, &x, sizeof b);
      return b;
   }
   std::shared_ptr<TH1D> fResult;
   TAxis fAxis;
   std::size_t fCells;
   unsigned fSlots;
   std::vector<std::vector<double>> fPartials; // the running task of each slot
   std::vector<std::vector<double>> fDone;     // finished tasks
   std::unique_ptr<std::mutex> fDoneMutex;
};

// Book the OrderedFill of the histogram positions (a ROOT::RVecD column) with their weight (a double column).
inline ROOT::RDF::RResultPtr<TH1D> book_ordered_fill(ROOT::RDF::RNode df, const ROOT::RDF::TH1DModel &model,
                                                     const std::string &positions, const std::string &weight)
{
   return df.Book<ROOT::RVecD, double>(OrderedFill(model.GetHistogram(), df.GetNSlots()), {positions, weight});
}

// The type of the column a callable defines from arguments of these column types.
template <typename F, typename... Columns>
using column_type = std::decay_t<std::invoke_result_t<F, const Columns &...>>;

// What the compiled graph of one sample books.
struct BookedGraph {
   ROOT::RDF::RResultPtr<ULong64_t> count;               // events read
   ROOT::RDF::RResultPtr<TH1D> histogram;                // all histograms side by side (nominal)
   ROOT::RDF::Experimental::RResultMap<TH1D> variations; // its VariationsFor
};

} // namespace rdf_ttbar

#endif
