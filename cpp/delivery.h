// The preselection of the `deliver` stage (rdf_ttbar/delivery.py): does an
// event pass the jet part of the selection under at least one jet-pT variation?
//
// The analysis (rdf_ttbar/graph.py) selects, for each jet-pT variation v
// (nominal, pt_scale_up, pt_res_up), the jets with pT_v > 25 GeV and requires
// >= 4 of them with >= 1 b-tag among them. `pts` holds pT_v of every jet for
// every v, computed by delivery.py with the same C++ functions the analysis
// uses (cpp/analysis.h), so the test below is the analysis' own, per
// variation, and the OR over the variations is exact: no threshold bound.
#ifndef RDF_TTBAR_DELIVERY_H
#define RDF_TTBAR_DELIVERY_H

#include <cstddef>
#include <mutex>
#include <string>

#include "ROOT/RVec.hxx"
#include "TError.h"

namespace rdf_ttbar {
namespace delivery {

// true if, for some variation v, >= min_jets jets have pts[v][i] > pt_min and
// >= 1 of those has btag[i] > btag_min
inline bool jets_pass_any_variation(const ROOT::RVec<ROOT::RVecF> &pts, const ROOT::RVecF &btag, float pt_min,
                                    std::size_t min_jets, float btag_min)
{
   for (const auto &pt : pts) {
      std::size_t n_jets = 0, n_btag = 0;
      for (std::size_t i = 0; i < pt.size(); ++i) {
         if (pt[i] > pt_min) {
            ++n_jets;
            n_btag += btag[i] > btag_min;
         }
      }
      if (n_jets >= min_jets && n_btag >= 1)
         return true;
   }
   return false;
}

// ROOT's error messages (level kError and above) while a delivery's event loops run: a full disk
// or a quota shows up only as "Error in <TFile::WriteBuffer>: ..." while the loop goes on, so the
// files written then must not be used. Messages are passed on to the previous handler.
class WriteErrors {
public:
   void Start()
   {
      std::lock_guard<std::mutex> lock(fMutex);
      fMessages.clear();
      fPrevious = GetErrorHandler();
      SetErrorHandler(&WriteErrors::Handler);
   }

   std::string Stop()
   {
      std::lock_guard<std::mutex> lock(fMutex);
      SetErrorHandler(fPrevious ? fPrevious : &DefaultErrorHandler);
      return fMessages;
   }

private:
   static void Handler(Int_t level, Bool_t abort, const char *location, const char *msg);
   std::mutex fMutex;
   std::string fMessages;
   ErrorHandlerFunc_t fPrevious = nullptr;
   friend WriteErrors &write_errors();
};

inline WriteErrors &write_errors()
{
   static WriteErrors watch;
   return watch;
}

inline void WriteErrors::Handler(Int_t level, Bool_t abort, const char *location, const char *msg)
{
   auto &self = write_errors();
   if (level >= kError) {
      std::lock_guard<std::mutex> lock(self.fMutex);
      std::string m = std::string(location ? location : "ROOT") + ": " + (msg ? msg : "");
      while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
         m.pop_back();
      if (self.fMessages.size() < 1000 && self.fMessages.find(m) == std::string::npos)
         self.fMessages += (self.fMessages.empty() ? "" : "; ") + m;
   }
   if (self.fPrevious)
      self.fPrevious(level, abort, location, msg);
   else
      DefaultErrorHandler(level, abort, location, msg);
}

} // namespace delivery
} // namespace rdf_ttbar

#endif
