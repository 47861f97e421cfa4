// Internal (not installed): NumPy .npy / .npz files. The zip archive around the arrays is libzip's
// (Debian's libzip-dev), the .npy encoding ours.
//
// An .npz file is a zip archive of .npy files, one per array, named "<key>.npy" (numpy.savez, numpy.load).
// We write zip entries "stored" (no compression), like numpy.savez, or deflated, like
// numpy.savez_compressed, and read both. An .npy file is a magic string, a version, a Python-literal header
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } and the raw little-endian data in C order. We
// write version 1.0 headers byte-identical to numpy's and read versions 1.0, 2.0 and 3.0.
//
// Reading treats the file as untrusted input. It opens regular files only (a FIFO or a device is refused
// without being opened for reading, so nothing blocks), reads the zip directory from the end of the file,
// checks every entry's declared sizes against the file's size (a stored entry's data lies in the file; a
// deflated one expands at most 1032 times, deflate's limit) before reading any, and allocates only what
// those checks allowed; every entry's CRC-32 is checked. A 64 GiB file of garbage is refused after reading
// its last 64 KiB.
//
// Errors: every problem with a file's bytes (cannot open, not a regular file, not a zip, truncated, bad CRC,
// bad .npy header, unsupported dtype or compression) throws unroll::IoError whose message names the file
// and, when known, the entry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "unroll/framework/shape.hpp"
#include "unroll/framework/tensor.hpp"

namespace unroll::detail {

// ---- .npy ---------------------------------------------------------------------------------------------
// '|b1' (bool), '<i8' (int64), '<f4' (float32), '<f8' (float64): unroll's four dtypes, as NumPy names them.
enum class NpyType { B1, I8, F4, F8 };

struct NpyArray {
  Shape shape;  // () for a scalar
  NpyType type = NpyType::F4;
  std::string bytes;  // numel * itemsize little-endian values, C order
};

std::string encode_npy(const NpyArray& array);
// `where` (e.g. "file.npz: entry 'w'") prefixes every error message.
NpyArray decode_npy(std::string_view bytes, const std::string& where);

DType dtype_of(NpyType type);                                  // B1 -> bool, I8 -> int64, F4 -> float32, F8 -> float64
NpyArray npy_from_tensor(const Tensor& t);                     // the tensor's dtype: '|b1', '<i8', '<f4', '<f8'
NpyArray npy_from_doubles(const std::vector<double>& values);  // '<f8': shape () for one value, (n,) otherwise
Tensor npy_to_tensor(const NpyArray& array);                   // a tensor of the array's dtype
std::vector<double> npy_to_doubles(const NpyArray& array);     // any dtype, as doubles

// ---- zip archives (libzip) ---------------------------------------------------------------------------
struct ZipEntry {
  std::string name;
  std::string data;
};

// The bytes of a zip archive of `entries`, in order: stored (method 0), or deflated (method 8, zlib's
// default level) when `compress`. Entries are dated 1980-01-01 00:00, so the same arrays give the same
// bytes. Throws IoError for an empty or duplicate name.
std::string encode_zip(const std::vector<ZipEntry>& entries, bool compress = false);
// Every entry of the archive held in `bytes`, read and checked as a file is (sizes, CRC-32); `where` names
// it in errors. The fuzz target and the tests use it; files go through read_npz.
std::vector<ZipEntry> decode_zip(std::string_view bytes, const std::string& where);

// ---- files ----------------------------------------------------------------------------------------------
// Writes `bytes` to a temporary file in the same directory, fsyncs it, renames it over `path` and fsyncs
// the directory: a crash at any point leaves either the old file or the complete new one.
void write_file_atomic(const std::string& path, std::string_view bytes);

// ---- .npz ----------------------------------------------------------------------------------------------
using NpzEntries = std::vector<std::pair<std::string, NpyArray>>;  // key (without ".npy") -> array, in order

// Atomic (write_file_atomic). Stored entries as numpy.savez writes them, or deflated as
// numpy.savez_compressed when `compress`.
void write_npz(const std::string& path, const NpzEntries& entries, bool compress = false);
NpzEntries read_npz(const std::string& path);
// The arrays of an .npz held in memory (as read_npz reads a file); `where` names it in errors.
NpzEntries decode_npz(std::string_view bytes, const std::string& where);

}  // namespace unroll::detail
