// The read-ahead stager of rdf_ttbar (rdf_ttbar/inputs/staging.py): remote (root://) input files are checked, then
// copied to local disk by several threads with large reads, in the order the event loops will need them, while
// those loops read the copies that are complete. Over a wide-area link an event loop that reads a remote file itself
// waits one round trip for every cluster it reads; here many transfers are in flight at once and the loop reads
// local disk.
//
// The event loops open "rdfstage://LOCALPATH" (a TFile plug-in, StagedFile): the open waits until that copy is
// complete (a file the loop asks for goes to the front of the queue), then opens the copy. Copies are written under a
// temporary name and renamed when complete. Without a cache folder they are temporary: a copy the loops have opened
// and closed again may be deleted to keep the copies within a budget of bytes (and is copied again if it is opened
// again); with a cache folder (--cache-dir) they stay.
//
// The copies go through the XRootD client itself (XrdCl), never through ROOT's TFile: an event loop thread that waits
// in StagedFile's constructor holds ROOT's global lock for reading, and a copy thread that needed it for writing
// (closing or opening a TFile does) would wait for that loop thread, which waits for the copy.
#ifndef RDF_TTBAR_STAGE_HELPERS
#define RDF_TTBAR_STAGE_HELPERS
#include "remote.h"

#include <TFile.h>
#include <TPluginManager.h>
#include <TROOT.h>
// ROOT 6.40's interpreter parses glibc 2.36's <sys/uio.h> (included by the XRootD client) without the attribute macro
// it uses, when the C library's headers were seen first in another configuration: define it away if missing
#ifndef __attr_access
#define __attr_access(x)
#endif
#include <XrdCl/XrdClFile.hh>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace rdf_ttbar {
namespace stage {

inline constexpr const char *kScheme = "rdfstage://";

struct Entry {
   enum State { kWaiting, kProbed, kCopying, kReady, kFailed, kDeleted };
   std::string url, local;
   bool checkBranches = false;
   State state = kWaiting;
   remote::ProbeResult probe;
   std::string error;             // why the copy failed
   int opens = 0;                 // StagedFile handles open now
   bool opened = false;           // opened by the loops at least once
   int waiting = 0;               // StagedFiles that wait for it
   int next = -1;                 // the sample's next file (copied ahead when the loops open this one)
   long long lastClose = 0;       // for deleting the least recently used copy first
};

class Stager {
public:
   // urls[i] is copied to locals[i]; ``order``: the order of the copies (indices); the probe looks for ``tree``
   // and, where checkBranches[i], the ``branches``; ``copyThreads`` copies at a time in ``chunk``-byte reads;
   // ``budget``: bytes of copies kept at once (<= 0: no limit; never delete: ``keep``).
   Stager(const std::vector<std::string> &urls, const std::vector<std::string> &locals,
          const std::vector<int> &checkBranches, const std::vector<int> &order, const std::vector<int> &next,
          const std::string &tree,
          const std::vector<std::string> &branches, int probeThreads, int copyThreads, long long chunk,
          long long budget, bool keep)
      : fTree(tree), fBranches(branches), fOrder(order.begin(), order.end()), fCopyThreads(copyThreads),
        fChunk(chunk), fBudget(budget), fKeep(keep)
   {
      fEntries.resize(urls.size());
      for (std::size_t i = 0; i < urls.size(); ++i) {
         fEntries[i].url = urls[i];
         fEntries[i].local = locals[i];
         fEntries[i].checkBranches = checkBranches[i];
         fEntries[i].next = next[i];
         fIndex[locals[i]] = i;
      }
      fProbeThreads = std::max(1, std::min<int>(probeThreads, urls.size()));
   }

   ~Stager() { Stop(); }

   // Start the threads: probes first, then copies.
   void Start()
   {
      const int n = std::max(fProbeThreads, fCopyThreads);
      for (int i = 0; i < n; ++i)
         fThreads.emplace_back([this, i]() { Work(i); });
   }

   // Wait until every file is probed; their results in the order of the urls.
   std::vector<remote::ProbeResult> WaitProbed()
   {
      std::unique_lock<std::mutex> lock(fMutex);
      fChanged.wait(lock, [&] { return fProbed == fEntries.size() || fStop; });
      std::vector<remote::ProbeResult> out;
      for (auto &e : fEntries)
         out.push_back(e.probe);
      return out;
   }

   // Wait until the copy of ``local`` is complete (copied again first if it was deleted): "" when it is, else why not.
   std::string WaitReady(const std::string &local)
   {
      std::unique_lock<std::mutex> lock(fMutex);
      auto it = fIndex.find(local);
      if (it == fIndex.end())
         return "not a file of this run's stager";
      Entry &e = fEntries[it->second];
      if (e.state == Entry::kDeleted) {
         e.state = Entry::kProbed;
         fOrder.push_front(it->second);
      }
      ++e.waiting;
      // the loop reads a sample's files one after another: copy its next ones ahead
      std::vector<int> ahead;
      for (int n = e.next; n >= 0 && ahead.size() < kAhead; n = fEntries[n].next)
         ahead.push_back(n);
      for (auto n = ahead.rbegin(); n != ahead.rend(); ++n)
         fOrder.push_front(*n);
      fChanged.notify_all();
      fChanged.wait(lock, [&] { return e.state == Entry::kReady || e.state == Entry::kFailed || fStop; });
      --e.waiting;
      if (e.state == Entry::kReady) {
         ++e.opens;
         e.opened = true;
         return "";
      }
      return e.error.empty() ? std::string("the run was stopped") : e.error;
   }

   void Closed(const std::string &local)
   {
      std::lock_guard<std::mutex> lock(fMutex);
      auto it = fIndex.find(local);
      if (it != fIndex.end() && fEntries[it->second].opens > 0) {
         --fEntries[it->second].opens;
         fEntries[it->second].lastClose = ++fClock;
         fChanged.notify_all();
      }
   }

   // Stop copying and wait for the threads, which end after their current read (their temporaries are removed;
   // finished copies stay: the caller removes a temporary folder).
   void Stop()
   {
      {
         std::lock_guard<std::mutex> lock(fMutex);
         fStop = true;
         fChanged.notify_all();
      }
      for (auto &t : fThreads)
         if (t.joinable() && t.get_id() != std::this_thread::get_id())
            t.join();
      fThreads.clear();
      // remote files still open are left open: closing them one after another would wait a round trip each,
      // minutes for hundreds of files far away; they go with the connection
      for (auto &f : fToClose)
         (void)f.release();
      fToClose.clear();
   }

   long long BytesCopied() const { return fBytes.load(); }
   int FilesCopied() const { return fFiles.load(); }

private:
   void Work(int thread)
   {
      if (thread < fProbeThreads)
         ProbeAll();
      if (thread < fCopyThreads)
         CopyAll();
   }

   void ProbeAll()
   {
      for (std::size_t i = fNextProbe++; i < fEntries.size(); i = fNextProbe++) {
         Entry &e = fEntries[i];
         remote::ProbeResult r = remote::Probe(e.url, fTree, e.checkBranches, fBranches);
         std::lock_guard<std::mutex> lock(fMutex);
         e.probe = r;
         if (r.problem.empty() && r.size >= 0)
            e.state = Entry::kProbed;
         else {
            e.state = Entry::kFailed;
            e.error = r.problem.empty() ? "its size is not known" : r.problem;
         }
         ++fProbed;
         fChanged.notify_all();
      }
   }

   // the next copy to make: a file the loops wait for first, else the next in order within the budget;
   // -1: none now
   long long NextCopy()
   {
      for (auto &e : fEntries)
         if (e.waiting > 0 && e.state == Entry::kProbed)
            return &e - fEntries.data();
      if (fProbed < fEntries.size())
         return -1; // the up-front check is not finished: the run may still stop
      while (!fOrder.empty() && fEntries[fOrder.front()].state != Entry::kProbed)
         fOrder.pop_front();
      if (fOrder.empty())
         return -1;
      const int next = fOrder.front();
      if (fKeep || fBudget <= 0 || MakeRoom(fEntries[next].probe.size)) {
         fOrder.pop_front();
         return next;
      }
      return -1;
   }

   // delete copies the loops have closed (least recently closed first) until ``size`` more bytes fit the budget
   bool MakeRoom(long long size)
   {
      long long used = 0;
      for (auto &e : fEntries)
         if (e.state == Entry::kReady || e.state == Entry::kCopying)
            used += e.probe.size;
      while (used + size > fBudget && used > 0) {
         Entry *oldest = nullptr;
         for (auto &e : fEntries)
            if (e.state == Entry::kReady && e.opened && e.opens == 0 && e.waiting == 0 &&
                (!oldest || e.lastClose < oldest->lastClose))
               oldest = &e;
         if (!oldest)
            return false;
         std::remove(oldest->local.c_str());
         oldest->state = Entry::kDeleted;
         used -= oldest->probe.size;
      }
      return true;
   }

   void CopyAll()
   {
      std::vector<char> buffer(fChunk);
      while (true) {
         long long next = -1;
         std::unique_ptr<XrdCl::File> done;
         {
            std::unique_lock<std::mutex> lock(fMutex);
            // (with nothing left to copy, close the remote files copied, then wait: a deleted copy the loops
            // open again is copied again)
            fChanged.wait(lock, [&] { return fStop || (next = NextCopy()) >= 0 || !fToClose.empty(); });
            if (fStop)
               return;
            if (next >= 0)
               fEntries[next].state = Entry::kCopying;
            else {
               done = std::move(fToClose.back());
               fToClose.pop_back();
            }
         }
         if (done) { // closing a remote file waits a round trip: done when there is nothing to copy
            (void)done->Close();
            continue;
         }
         Entry &e = fEntries[next];
         auto source = std::make_unique<XrdCl::File>();
         std::string error = Copy(e, *source, buffer);
         std::lock_guard<std::mutex> lock(fMutex);
         if (source->IsOpen())
            fToClose.push_back(std::move(source));
         e.state = error.empty() ? Entry::kReady : Entry::kFailed;
         e.error = error;
         fChanged.notify_all();
      }
   }

   std::string Copy(Entry &e, XrdCl::File &source, std::vector<char> &buffer)
   {
      XrdCl::XRootDStatus status = source.Open(e.url, XrdCl::OpenFlags::Read);
      if (!status.IsOK())
         return e.url + " could not be opened to copy it (" + status.ToString() + ")";
      // the temporary name of rdf_ttbar.inputs.remote's copies: ".NAME.part-PID" (a killed run's is removed later)
      const auto slash = e.local.rfind('/');
      const std::string tmp = e.local.substr(0, slash + 1) + "." + e.local.substr(slash + 1) + ".part-" +
                              std::to_string(::getpid());
      std::FILE *out = std::fopen(tmp.c_str(), "wb");
      if (!out)
         return "cannot write " + tmp + " (" + std::strerror(errno) + ")";
      const long long size = e.probe.size;
      std::string error;
      for (long long done = 0; done < size && error.empty();) {
         if (fStop) {
            error = "the run was stopped";
            break;
         }
         const auto n = static_cast<uint32_t>(std::min<long long>(buffer.size(), size - done));
         uint32_t got = 0;
         status = source.Read(done, n, buffer.data(), got);
         if (!status.IsOK() || got == 0)
            error = e.url + ": reading failed after " + std::to_string(done) + " of " + std::to_string(size) +
                    " bytes (" + (status.IsOK() ? std::string("the file is shorter") : status.ToString()) + ")";
         else if (std::fwrite(buffer.data(), 1, got, out) != got)
            error = "cannot write " + tmp + " (" + std::strerror(errno) + ")";
         done += got;
         fBytes += got;
      }
      if (std::fclose(out) != 0 && error.empty())
         error = "cannot write " + tmp + " (" + std::strerror(errno) + ")";
      if (error.empty() && std::rename(tmp.c_str(), e.local.c_str()) != 0)
         error = "cannot rename " + tmp + " (" + std::strerror(errno) + ")";
      if (!error.empty())
         std::remove(tmp.c_str());
      else
         ++fFiles;
      return error;
   }

   std::string fTree;
   std::vector<std::string> fBranches;
   std::vector<Entry> fEntries;
   std::unordered_map<std::string, std::size_t> fIndex;
   std::deque<int> fOrder;
   std::vector<std::thread> fThreads;
   std::vector<std::unique_ptr<XrdCl::File>> fToClose; // remote files copied, to close
   static constexpr std::size_t kAhead = 4; // files of a sample copied ahead of the one the loops open
   int fProbeThreads = 1, fCopyThreads = 1;
   long long fChunk, fBudget;
   bool fKeep;
   std::mutex fMutex;
   std::condition_variable fChanged;
   std::atomic<std::size_t> fNextProbe{0};
   std::size_t fProbed = 0;
   bool fStop = false;
   long long fClock = 0;
   std::atomic<long long> fBytes{0};
   std::atomic<int> fFiles{0};
};

// The stager the StagedFile plug-in asks (one run at a time in a process).
inline std::mutex gActiveMutex;
inline std::shared_ptr<Stager> gActive;

inline void Activate(const std::shared_ptr<Stager> &stager)
{
   std::lock_guard<std::mutex> lock(gActiveMutex);
   gActive = stager;
}

inline std::shared_ptr<Stager> Active()
{
   std::lock_guard<std::mutex> lock(gActiveMutex);
   return gActive;
}

inline std::string LocalPath(const char *url)
{
   const std::string u(url ? url : "");
   const std::string scheme(kScheme);
   return u.compare(0, scheme.size(), scheme) == 0 ? u.substr(scheme.size()) : u;
}

// What the event loops open for "rdfstage://LOCALPATH": the local copy, once it is complete.
inline std::string WaitFor(const char *url)
{
   const std::string local = LocalPath(url);
   auto stager = Active();
   const std::string error = stager ? stager->WaitReady(local) : std::string("no stager is active");
   if (!error.empty())
      // a TFile error: during an event loop (remote::BeginFatalReadErrors) it ends the loop with this message
      ::Error("TFile::Open", "%s", error.c_str());
   return local;
}

class StagedFile : public TFile {
public:
   StagedFile(const char *url, Option_t *option = "", const char *title = "", Int_t compress = 505)
      : TFile(WaitFor(url).c_str(), option, title, compress), fLocal(LocalPath(url))
   {
   }
   ~StagedFile() override
   {
      Close();
      if (auto stager = Active())
         stager->Closed(fLocal);
   }

private:
   std::string fLocal;
};

// Make TFile::Open hand "rdfstage://" URLs to StagedFile.
inline void RegisterPlugin()
{
   gROOT->GetPluginManager()->AddHandler("TFile", "^rdfstage:", "rdf_ttbar::stage::StagedFile", "Core",
                                         "StagedFile(const char*,Option_t*,const char*,Int_t)");
}

// Start a stager (see Stager) and make it the active one.
inline std::shared_ptr<Stager> StartStager(const std::vector<std::string> &urls, const std::vector<std::string> &locals,
                                           const std::vector<int> &checkBranches, const std::vector<int> &order,
                                           const std::vector<int> &next, const std::string &tree,
                                           const std::vector<std::string> &branches, int probeThreads,
                                           int copyThreads, long long chunk, long long budget, bool keep)
{
   auto stager = std::make_shared<Stager>(urls, locals, checkBranches, order, next, tree, branches, probeThreads,
                                          copyThreads, chunk, budget, keep);
   Activate(stager);
   stager->Start();
   return stager;
}

// Stop the active stager (see Stager::Stop) and forget it.
inline void StopStager()
{
   auto stager = Active();
   Activate(nullptr);
   if (stager)
      stager->Stop();
}

} // namespace stage
} // namespace rdf_ttbar
#endif
