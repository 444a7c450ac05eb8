// Collects RDataFrame's own timing messages (jitting, event loops) instead of
// printing them, so that rdf_ttbar can report the jitting time in metrics.json.
#ifndef RDF_TTBAR_RDF_LOG_H
#define RDF_TTBAR_RDF_LOG_H

#include <cstdlib>
#include <memory>
#include <string>

#include "ROOT/RDF/Utils.hxx"
#include "ROOT/RLogger.hxx"

namespace rdf_ttbar {

class RDFTimingLog : public ROOT::RLogHandler {
public:
   double fJitSeconds = 0.;
   int fJitPhases = 0;

   bool Emit(const ROOT::RLogEntry &entry) override
   {
      if (entry.fChannel != &ROOT::Detail::RDF::RDFLogChannel() || entry.fLevel < ROOT::ELogLevel::kInfo)
         return true; // not ours: let the next handler print it
      const std::string &msg = entry.fMessage;
      const auto phase = msg.find("compilation phase");
      if (phase != std::string::npos) {
         ++fJitPhases;
         const auto in = msg.find(" in ", phase);
         if (in != std::string::npos)
            fJitSeconds += std::atof(msg.c_str() + in + 4); // "in less than 1ms" counts 0
      }
      return false; // swallow RDF's info messages
   }
};

// Install a collector in front of ROOT's log handlers; the log manager owns it.
inline RDFTimingLog *install_timing_log()
{
   auto handler = std::make_unique<RDFTimingLog>();
   auto *ptr = handler.get();
   ROOT::RLogManager::Get().PushFront(std::move(handler));
   return ptr;
}

} // namespace rdf_ttbar

#endif
