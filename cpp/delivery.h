// What the `deliver` stage (rdf_ttbar/execution/delivery.py) watches while it writes files.
#ifndef RDF_TTBAR_DELIVERY_H
#define RDF_TTBAR_DELIVERY_H

#include <cstddef>
#include <mutex>
#include <string>

#include "ROOT/RVec.hxx"
#include "TError.h"

namespace rdf_ttbar {
namespace delivery {

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
