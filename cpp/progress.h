// One progress bar for all concurrent event loops: every graph's Count()
// reports through RDataFrame's OnPartialResultSlot callback, the bar adds the
// counts and redraws at most every 200 ms on stderr.
#ifndef RDF_TTBAR_PROGRESS_H
#define RDF_TTBAR_PROGRESS_H

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "ROOT/RResultPtr.hxx"
#include "RtypesCore.h"

namespace rdf_ttbar {

class ProgressBar {
public:
   void Start(ULong64_t total)
   {
      fTotal = total;
      fDone = 0;
      fStart = fLast = std::chrono::steady_clock::now();
   }

   void Add(ULong64_t n)
   {
      fDone += n;
      std::unique_lock<std::mutex> lock(fMutex, std::try_to_lock);
      if (!lock.owns_lock())
         return;
      const auto now = std::chrono::steady_clock::now();
      if (now - fLast < std::chrono::milliseconds(200))
         return;
      fLast = now;
      Draw(now);
   }

   void Finish()
   {
      std::lock_guard<std::mutex> lock(fMutex);
      fDone = fTotal;
      Draw(std::chrono::steady_clock::now());
      std::fputc('\n', stderr);
   }

private:
   void Draw(std::chrono::steady_clock::time_point now)
   {
      const double elapsed = std::chrono::duration<double>(now - fStart).count();
      const ULong64_t done = fDone < fTotal ? ULong64_t(fDone) : fTotal;
      const double fraction = fTotal ? double(done) / fTotal : 1.;
      const double rate = elapsed > 0 ? done / elapsed : 0.;
      const int width = 30, filled = int(fraction * width);
      char bar[width + 1];
      for (int i = 0; i < width; ++i)
         bar[i] = i < filled ? '#' : '.';
      bar[width] = '\0';
      std::fprintf(stderr, "\revent loop [%s] %5.1f%%  %llu / %llu events  %.0f kHz  %.0f s  ", bar, 100. * fraction,
                   (unsigned long long)done, (unsigned long long)fTotal, rate / 1e3, elapsed);
      std::fflush(stderr);
   }

   std::atomic<ULong64_t> fDone{0};
   ULong64_t fTotal = 0;
   std::mutex fMutex;
   std::chrono::steady_clock::time_point fStart, fLast;
};

inline ProgressBar &progress_bar()
{
   static ProgressBar bar;
   return bar;
}

// Report every `every` events of this Count's event loop to the progress bar.
inline void report_progress(ROOT::RDF::RResultPtr<ULong64_t> &count, ULong64_t every)
{
   count.OnPartialResultSlot(every, [every](unsigned int, ULong64_t &) { progress_bar().Add(every); });
}

} // namespace rdf_ttbar

#endif
