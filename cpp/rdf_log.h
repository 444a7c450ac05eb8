// Collects RDataFrame's own timing messages (jitting, event loops) instead of
// printing them, so that rdf_ttbar can report the jitting time in metrics.json.
// RDF emits them only while its log channel's verbosity is kInfo or higher:
// RDFTiming (execution.py) raises it for the run; on Dask workers it is raised
// for the life of the worker (dask_cluster.py).
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

// The process's collector (nullptr until install_timing_log).
inline RDFTimingLog *&timing_log()
{
   static RDFTimingLog *log = nullptr;
   return log;
}

// Install the collector in front of ROOT's log handlers, once per process; the log manager owns it.
inline RDFTimingLog *install_timing_log()
{
   if (!timing_log()) {
      auto handler = std::make_unique<RDFTimingLog>();
      timing_log() = handler.get();
      ROOT::RLogManager::Get().PushFront(std::move(handler));
   }
   return timing_log();
}

// Seconds of jitting RDataFrame reported in this process since the collector was installed (0 before).
inline double jit_seconds()
{
   return timing_log() ? timing_log()->fJitSeconds : 0.;
}

} // namespace rdf_ttbar

#endif
