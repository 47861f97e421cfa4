// Internal (not installed): NumPy .npy / .npz files, written and read without third-party code.
//
// An .npz file is a zip archive of .npy files, one per array, named "<key>.npy" (numpy.savez, numpy.load).
// We write zip entries "stored" (no compression) with CRC-32, like numpy.savez, and read stored entries
// (numpy.savez_compressed's deflated entries are rejected with a clear error). An .npy file is a magic
// string, a version, a Python-literal header {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// and the raw little-endian data in C order. We write version 1.0 headers byte-identical to numpy's and
// read versions 1.0, 2.0 and 3.0.
//
// Errors: every problem with a file's bytes (cannot open, not a zip, truncated, bad CRC, bad .npy header,
// unsupported dtype) throws unroll::IoError whose message names the file and, when known, the entry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "unroll/framework/shape.hpp"
#include "unroll/framework/tensor.hpp"

namespace unroll::detail {

// ---- CRC-32 (IEEE 802.3, the zip checksum) -----------------------------------------------------------
// crc32(data) of the whole buffer; pass the previous result as `crc` to continue over several buffers.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

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

// ---- zip (stored entries only) -------------------------------------------------------------------------
struct ZipEntry {
  std::string name;
  std::string data;
};

// An entry read from a zip held in memory: `data` points into that buffer.
struct ZipEntryView {
  std::string name;
  std::string_view data;
};

std::string encode_zip(const std::vector<ZipEntry>& entries);
// Parses the central directory, checks every entry's local header and CRC-32. `path` names the file in
// errors.
std::vector<ZipEntryView> decode_zip(std::string_view file, const std::string& path);

// ---- files ----------------------------------------------------------------------------------------------
// Writes `bytes` to a temporary file in the same directory, fsyncs it, renames it over `path` and fsyncs
// the directory: a crash at any point leaves either the old file or the complete new one.
void write_file_atomic(const std::string& path, std::string_view bytes);
std::string read_file(const std::string& path);

// ---- .npz ----------------------------------------------------------------------------------------------
using NpzEntries = std::vector<std::pair<std::string, NpyArray>>;  // key (without ".npy") -> array, in order

void write_npz(const std::string& path, const NpzEntries& entries);  // atomic
NpzEntries read_npz(const std::string& path);

}  // namespace unroll::detail
