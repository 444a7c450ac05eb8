// The per-event call of the I/O-only mode (rdf_ttbar/execution/io_only.py): receives every column (so that
// RDataFrame reads them) and returns true after adding up their sizes (elements of a collection, 1 for a
// scalar).
#ifndef RDF_TTBAR_IO_ONLY_H
#define RDF_TTBAR_IO_ONLY_H
#include <cstddef>
#include "ROOT/RVec.hxx"
namespace rdf_ttbar {
namespace io_only {
template <typename T> inline std::size_t size_of(const T &) { return 1; }
template <typename T> inline std::size_t size_of(const ROOT::RVec<T> &v) { return v.size(); }
template <typename... Columns> inline bool touch(const Columns &...columns)
{
   return (std::size_t(0) + ... + size_of(columns)) != static_cast<std::size_t>(-1);
}
} // namespace io_only
} // namespace rdf_ttbar
#endif
