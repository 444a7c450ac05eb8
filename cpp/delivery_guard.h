// The delivery's crash guard (rdf_ttbar/execution/delivery.py, _CrashGuard): declared only by `deliver`.
//
// ROOT ends the process (std::terminate) when writing a Snapshot fails for good, a full disk: the
// TTree writer reopens its zombie output when it finishes, RNTuple's writer throws from a
// destructor, and an I/O error thrown by remote.fatal_read_errors out of TBufferMerger ends the same
// way. While an event loop of the delivery runs, a terminate after ROOT reported write errors prints
// one error line instead of ROOT's crash report, removes the temporaries and exits with status 2
// (the files delivered before are complete and stamped); any other terminate is left to ROOT.
//
// Needs cpp/delivery.h (rdf_ttbar::delivery::write_errors), declared before it.
#ifndef RDF_TTBAR_DELIVERY_GUARD_H
#define RDF_TTBAR_DELIVERY_GUARD_H
#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <atomic>
#include <exception>
#include <sstream>
#include <string>
namespace rdf_ttbar {
namespace delivery_guard {
inline std::string gFolder, gFiles, gTemporaries;
inline bool gNewline = false;
inline std::terminate_handler gPrevious = nullptr;
inline std::atomic<bool> gDying{false};

inline bool LowSpace(const std::string &folder)
{
   struct statvfs s;
   return statvfs(folder.c_str(), &s) == 0 && double(s.f_bavail) * double(s.f_frsize) < 4.0 * 1024 * 1024;
}

[[noreturn]] inline void OnTerminate()
{
   std::string errors = rdf_ttbar::delivery::write_errors().Stop();
   if (errors.empty() && gPrevious)
      gPrevious();
   if (errors.empty())
      std::abort();
   if (gDying.exchange(true))
      for (;;)
         pause();  // another thread reports and exits
   int err = ::dup(2);  // the other threads' messages from now on go nowhere: the error line is the last
   int devnull = ::open("/dev/null", O_WRONLY);
   if (err >= 0 && devnull >= 0)
      ::dup2(devnull, 2);
   bool full = errors.find("No space left on device") != std::string::npos || LowSpace(gFolder);
   std::string why = full ? "no space left on the device" : errors;
   std::istringstream temporaries(gTemporaries);
   for (std::string t; std::getline(temporaries, t);)
      ::unlink(t.c_str());
   std::string m = std::string(gNewline ? "\n" : "") + "rdf_ttbar: error: " + gFiles +
                   " could not be delivered: writing into " + gFolder + " failed (" + why +
                   "); free some space there or deliver into another folder, then run again "
                   "(a re-run delivers the rest; the files delivered so far are kept)\n";
   ssize_t ignored = ::write(err >= 0 ? err : 2, m.data(), m.size());
   (void)ignored;
   ::_exit(2);
}

inline void Begin(const std::string &folder, const std::string &files, const std::string &temporaries, bool newline)
{
   gFolder = folder;
   gFiles = files;
   gTemporaries = temporaries;
   gNewline = newline;
   gPrevious = std::set_terminate(&OnTerminate);
}

inline void End()
{
   std::set_terminate(gPrevious);
}
} // namespace delivery_guard
} // namespace rdf_ttbar
#endif
