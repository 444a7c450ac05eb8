// Input-file helpers of rdf_ttbar (rdf_ttbar/inputs/probe.py, rdf_ttbar/inputs/remote.py): open a file and check its
// tree or RNTuple, ROOT's error messages per thread, and I/O errors that end an event loop.
// Declared by rdf_ttbar.inputs.probe (and, on Dask workers, from this file's text by remote.setup_dask_workers).
#ifndef RDF_TTBAR_REMOTE_HELPERS
#define RDF_TTBAR_REMOTE_HELPERS
#include <TError.h>
#include <TFile.h>
#include <TROOT.h>
#include <TVirtualMutex.h>
#include <TKey.h>
#include <TTree.h>
#include <ROOT/RNTuple.hxx>
#include <ROOT/RNTupleReader.hxx>
#include <signal.h>
#include <unistd.h>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace rdf_ttbar {
namespace remote {

// ROOT's error messages of a thread, captured between StartCapture() and StopCapture() in that thread
// (a map keyed by thread id: cling's support of thread_local is unreliable)
inline std::mutex gCaptureMutex;
inline std::map<std::thread::id, std::string> gCaptured;
inline ErrorHandlerFunc_t gPrevious = nullptr;

// While gFatalReadErrors > 0 (an event loop runs), an I/O error ends the event loop with a
// ReadError exception instead of letting ROOT go on with missing data (and crash or skip entries).
struct ReadError : std::runtime_error {
   using std::runtime_error::runtime_error;
};
inline std::atomic<int> gFatalReadErrors{0};

// A crash while an event loop unwinds from a read error. ROOT 6.40 can free a remote file's key buffer twice
// when the tasks of a multi-threaded loop end with an exception (glibc: "double free or corruption", abort;
// about one run in 60 whose server dies mid-loop), and ROOT's own abort handler then deadlocks in its clean-up
// on the corrupted heap: the process hangs. While a loop runs, an abort after a read error instead prints the
// read error's line, removes the run's (still empty) staging folder and exits with status 2, using only
// async-signal-safe calls. Any other abort goes to the handler that was there before.
inline char gAbortLine[2048];
inline std::atomic<std::size_t> gAbortLineSize{0};
inline char gAbortFolder[4096];
inline std::mutex gAbortMutex;
inline struct sigaction gPreviousAbort;

inline void OnAbort(int)
{
   const std::size_t n = gAbortLineSize.load();
   if (n > 0) {
      if (gAbortFolder[0])
         ::rmdir(gAbortFolder);
      ssize_t ignored = ::write(2, gAbortLine, n);
      (void)ignored;
      ::_exit(2);
   }
   ::sigaction(SIGABRT, &gPreviousAbort, nullptr);
   ::raise(SIGABRT);
}

// the first read error of this loop, as the line the abort handler prints
inline void RememberReadError(const std::string &error)
{
   std::lock_guard<std::mutex> lock(gAbortMutex);
   if (gAbortLineSize.load() > 0)
      return;
   const int n = std::snprintf(gAbortLine, sizeof gAbortLine,
                               "rdf_ttbar: error: the event loop failed: %s; ROOT then crashed while stopping the "
                               "loop (nothing was written)\nCheck that the input files are readable and complete "
                               "(and the server reachable).\n",
                               error.c_str());
   gAbortLineSize = n <= 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof gAbortLine - 1);
}

// a new task (Dask workers keep their loop guard for their life): an earlier task's error is not this one's
inline void ForgetReadError()
{
   gAbortLineSize = 0;
}

inline bool IsIOError(Int_t level, const char *location)
{
   if (level < kError || level >= kFatal || !location)
      return false;
   static const char *const kClasses[] = {"TNetXNGFile", "TWebFile",  "TDavixFile", "TFile",   "TBasket", "TBranch",
                                          "TTree",       "TChain",    "TKey",       "TBuffer", "TLeaf",   "TStreamerInfo"};
   // never throw out of clean-up code (destructors: std::terminate)
   static const char *const kCleanup[] = {"Close", "~", "Write", "Flush", "Delete", "Clear", "Reset", "Cleanup"};
   for (const char *c : kCleanup)
      if (std::strstr(location, c))
         return false;
   for (const char *c : kClasses)
      if (std::strncmp(location, c, std::strlen(c)) == 0)
         return true;
   return false;
}

inline void CaptureHandler(Int_t level, Bool_t abort, const char *location, const char *msg)
{
   if (gFatalReadErrors > 0 && IsIOError(level, location) && std::uncaught_exceptions() == 0) {
      std::string m(msg ? msg : "");
      while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
         m.pop_back();
      if (gPrevious)  // still show ROOT's own message
         gPrevious(level, abort, location, msg);
      RememberReadError(std::string(location) + ": " + m);
      throw ReadError(std::string(location) + ": " + m);
   }
   {
      std::lock_guard<std::mutex> lock(gCaptureMutex);
      auto it = gCaptured.find(std::this_thread::get_id());
      if (it != gCaptured.end()) {
         if (level >= kError && msg && *msg) {
            std::string m(msg);
            while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
               m.pop_back();
            if (it->second.find(m) == std::string::npos)
               it->second += (it->second.empty() ? "" : "; ") + m;
         }
         if (level < kFatal)
            return;
      }
   }
   if (gPrevious)
      gPrevious(level, abort, location, msg);
   else
      DefaultErrorHandler(level, abort, location, msg);
}

// The handler is installed only while it is needed (Acquire/Release): a handler in jitted code must
// not outlive the interpreter (ROOT closes files at exit, and may print while doing so).
inline std::mutex gInstallMutex;
inline int gUsers = 0;

inline void Acquire()
{
   std::lock_guard<std::mutex> lock(gInstallMutex);
   if (gUsers++ == 0) {
      auto current = GetErrorHandler();
      if (current != &CaptureHandler)
         gPrevious = current;
      SetErrorHandler(&CaptureHandler);
   }
}

inline void Release()
{
   std::lock_guard<std::mutex> lock(gInstallMutex);
   if (gUsers > 0 && --gUsers == 0)
      SetErrorHandler(gPrevious ? gPrevious : &DefaultErrorHandler);
}

inline void StartCapture()
{
   std::lock_guard<std::mutex> lock(gCaptureMutex);
   auto inserted = gCaptured.emplace(std::this_thread::get_id(), std::string());
   if (inserted.second)
      Acquire();
   else
      inserted.first->second.clear();
}

inline std::string StopCapture()
{
   std::lock_guard<std::mutex> lock(gCaptureMutex);
   auto it = gCaptured.find(std::this_thread::get_id());
   if (it == gCaptured.end())
      return "";
   std::string out = std::move(it->second);
   gCaptured.erase(it);
   Release();
   return out;
}

// ``staging``: the run's staging folder, removed (when empty) if ROOT crashes after a read error; "" for none
inline void BeginFatalReadErrors(const std::string &staging = "")
{
   Acquire();
   if (gFatalReadErrors++ == 0) {
      std::lock_guard<std::mutex> lock(gAbortMutex);
      gAbortLineSize = 0;
      std::snprintf(gAbortFolder, sizeof gAbortFolder, "%s", staging.c_str());
      struct sigaction action;
      std::memset(&action, 0, sizeof action);
      action.sa_handler = &OnAbort;
      sigemptyset(&action.sa_mask);
      ::sigaction(SIGABRT, &action, &gPreviousAbort);
   }
}

inline void EndFatalReadErrors()
{
   if (gFatalReadErrors > 0) {
      if (--gFatalReadErrors == 0) {
         ::sigaction(SIGABRT, &gPreviousAbort, nullptr);
         gAbortLineSize = 0;
      }
      Release();
   }
}

// Close a file and take it off ROOT's list of files. A remote file that failed during a read
// is a zombie: TFile::Close then returns at once and leaves it on the list, and ROOT's clean-up
// at exit crashes on it once it has been deleted (ROOT 6.40).
inline void Forget(TFile *f)
{
   if (!f)
      return;
   f->Close();
   R__LOCKGUARD(gROOTMutex);
   gROOT->GetListOfFiles()->Remove(f);
}

struct ProbeResult {
   std::string problem;              // empty: the file is usable (unless branches are missing)
   std::vector<std::string> missing; // the branches (fields) asked for that the tree (RNTuple) lacks
   std::string kind;                 // "TTree" or "RNTuple" when the file holds the dataset
   Long64_t entries = -1;            // its number of entries (events)
   Long64_t size = -1;
};

// The keys of a file as "name (class), ...", to say what it holds instead of the dataset asked for
inline std::string ListKeys(TFile &f)
{
   std::string keys;
   for (auto *k : TRangeDynCast<TKey>(f.GetListOfKeys()))
      if (k)
         keys += (keys.empty() ? "" : ", ") + std::string(k->GetName()) + " (" + k->GetClassName() + ")";
   return keys.empty() ? "none" : keys;
}

inline void ProbeTree(TTree &t, bool checkBranches, const std::vector<std::string> &branches, ProbeResult &r)
{
   r.kind = "TTree";
   r.entries = t.GetEntries();
   if (checkBranches)
      for (const auto &b : branches)
         if (!t.GetBranch(b.c_str()))
            r.missing.push_back(b);
}

inline void ProbeNTuple(const ROOT::RNTuple &anchor, bool checkBranches, const std::vector<std::string> &branches,
                        ProbeResult &r)
{
   try {
      auto reader = ROOT::RNTupleReader::Open(anchor);
      r.kind = "RNTuple";
      r.entries = reader->GetNEntries();
      if (checkBranches) {
         const auto &desc = reader->GetDescriptor();
         for (const auto &b : branches)
            if (desc.FindFieldId(b) == ROOT::kInvalidDescriptorId)
               r.missing.push_back(b);
      }
   } catch (const std::exception &e) {
      r.problem = std::string("has an RNTuple that cannot be read (") + e.what() + ")";
   }
}

// Open one file; with a dataset name, check that the file holds a TTree or an RNTuple of that name,
// count its entries and (if wanted) look for the branches / fields. ``keep``: where a usable file is handed
// over still open (cpp/stage.h reads it then, without opening it again); by default it is closed.
inline ProbeResult Probe(const std::string &url, const std::string &tree, bool checkBranches,
                         const std::vector<std::string> &branches, std::unique_ptr<TFile> *keep = nullptr)
{
   ProbeResult r;
   StartCapture();
   std::unique_ptr<TFile> f(TFile::Open(url.c_str(), "READ"));
   if (!f || f->IsZombie()) {
      Forget(f.get());
      std::string why = StopCapture();
      r.problem = "cannot be opened as a ROOT file (" +
                  (why.empty() ? std::string("missing, unreachable or corrupt") : why) + ")";
      return r;
   }
   r.size = f->GetSize();
   if (!tree.empty()) {
      if (auto *t = f->Get<TTree>(tree.c_str()))
         ProbeTree(*t, checkBranches, branches, r);
      else if (auto *n = f->Get<ROOT::RNTuple>(tree.c_str())) {
         ProbeNTuple(*n, checkBranches, branches, r);
         delete n;
      } else
         r.problem = "has no TTree or RNTuple '" + tree + "' (it holds: " + ListKeys(*f) +
                     "); set the name with --tree";
   }
   StopCapture();
   if (r.problem.empty() && r.missing.empty() && f->TestBit(TFile::kRecovered))
      r.problem = "is truncated or was not closed properly (ROOT had to recover its keys)";
   if (keep && r.problem.empty()) {
      *keep = std::move(f);
      return r;
   }
   Forget(f.get());
   return r;
}

// Probe all files, nThreads at a time (the first one alone: it loads the plugins and finds
// an unreachable server once; the client then fails the others at once).
inline std::vector<ProbeResult> ProbeAll(const std::vector<std::string> &urls, const std::vector<int> &checkBranches,
                                         const std::string &tree, const std::vector<std::string> &branches,
                                         int nThreads)
{
   std::vector<ProbeResult> out(urls.size());
   if (urls.empty())
      return out;
   out[0] = Probe(urls[0], tree, checkBranches[0], branches);
   std::atomic<size_t> next{1};
   auto work = [&]() {
      for (size_t i = next++; i < urls.size(); i = next++)
         out[i] = Probe(urls[i], tree, checkBranches[i], branches);
   };
   std::vector<std::thread> pool;
   for (int i = 1; i < nThreads && size_t(i) < urls.size() - 1; ++i)
      pool.emplace_back(work);
   work();
   for (auto &t : pool)
      t.join();
   return out;
}

} // namespace remote
} // namespace rdf_ttbar
#endif
