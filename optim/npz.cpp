// NumPy .npy/.npz reading and writing (see optim/detail/npz.hpp). Little-endian hosts only (x86, ARM).
//
// The .npy encoding is written here; the zip archive around it is libzip's: reading from the end of the
// file (the directory first), stored and deflated entries, CRC-32 checks, zip64. What libzip does not
// decide is checked here before anything is allocated: each entry's declared sizes against the file's size
// (a stored entry's data lies in the file, a deflated one expands at most 1032 times).
#include "unroll/optim/detail/npz.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/kernels.hpp"

namespace unroll::detail {

static_assert(std::endian::native == std::endian::little, "unroll's .npz code assumes a little-endian host");

namespace {

[[noreturn]] void io_error(const std::string& message) { throw IoError(message); }

}  // namespace

// ---- .npy ----------------------------------------------------------------------------------------------
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";  // 6 bytes
constexpr size_t kNpyMagicLen = 6;

size_t itemsize(NpyType t) { return static_cast<size_t>(element_size(dtype_of(t))); }
const char* descr(NpyType t) {
  switch (t) {
    case NpyType::B1:
      return "|b1";
    case NpyType::I8:
      return "<i8";
    case NpyType::F4:
      return "<f4";
    case NpyType::F8:
      break;
  }
  return "<f8";
}

// Python's repr of a shape tuple: (), (3,), (3, 4)
std::string shape_repr(const Shape& s) {
  if (s.size() == 1) return "(" + std::to_string(s[0]) + ",)";
  std::string out = "(";
  for (int i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}

void put_u16(std::string& out, uint32_t v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>((v >> 8) & 0xFF);
}
uint32_t get_u16(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8;
}
uint32_t get_u32(std::string_view s, size_t at) { return get_u16(s, at) | get_u16(s, at + 2) << 16; }

// A parser for the header's Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  void parse(std::string& descr_out, bool& fortran_out, Shape& shape_out) {
    bool has_descr = false, has_fortran = false, has_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        descr_out = string_literal();
        has_descr = true;
      } else if (key == "fortran_order") {
        fortran_out = boolean();
        has_fortran = true;
      } else if (key == "shape") {
        shape_out = tuple();
        has_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the dictionary");
    if (!has_descr || !has_fortran || !has_shape)
      fail(std::string("missing key '") + (!has_descr ? "descr" : !has_fortran ? "fortran_order" : "shape") + "'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    std::string_view shown = text_;
    while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.remove_suffix(1);
    io_error(fmt::format("{}: bad .npy header ({} at offset {}): {}", where_, what, pos_, shown));
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  Shape tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("expected a dimension");
      int64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("dimension too large");
        d = d * 10 + (peek() - '0');
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 longs
      dims.push_back(d);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')'");
    }
    ++pos_;
    if (dims.size() > static_cast<size_t>(Shape::kMaxRank))
      fail(fmt::format("{} dimensions (at most {} are supported)", dims.size(), Shape::kMaxRank));
    return Shape(dims.begin(), dims.end());
  }

  std::string_view text_;
  const std::string& where_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode_npy(const NpyArray& array) {
  // numpy.lib.format._write_array_header: sorted keys, repr values, spare spaces so the first axis can
  // grow to 21 digits in place, then spaces and '\n' up to a multiple of 64 bytes (version 1.0).
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr(array.type),
                                   shape_repr(array.shape));
  if (array.shape.size() > 0) header.append(21 - std::to_string(array.shape[0]).size(), ' ');
  const size_t hlen = header.size() + 1;                            // + '\n'
  const size_t padlen = 64 - ((kNpyMagicLen + 2 + 2 + hlen) % 64);  // magic, version, uint16 length
  check(hlen + padlen <= 0xFFFF, "encode_npy: header of {} bytes is too long", hlen + padlen);
  std::string out(kNpyMagic, kNpyMagicLen);
  out += '\x01';
  out += '\x00';
  put_u16(out, static_cast<uint32_t>(hlen + padlen));
  out += header;
  out.append(padlen, ' ');
  out += '\n';
  check(array.bytes.size() == static_cast<size_t>(array.shape.numel()) * itemsize(array.type),
        "encode_npy: {} data bytes for shape {} of {}", array.bytes.size(), array.shape, descr(array.type));
  out += array.bytes;
  return out;
}

NpyArray decode_npy(std::string_view bytes, const std::string& where) {
  if (bytes.size() < kNpyMagicLen + 4 || bytes.substr(0, kNpyMagicLen) != std::string_view(kNpyMagic, kNpyMagicLen))
    io_error(fmt::format("{}: not a .npy array (no \\x93NUMPY magic string)", where));
  const int major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    io_error(
        fmt::format("{}: unsupported .npy format version {}.{} (1.0, 2.0 and 3.0 are supported)", where, major, minor));
  size_t prefix = 10, hlen = get_u16(bytes, 8);
  if (major >= 2) {
    if (bytes.size() < 12) io_error(fmt::format("{}: truncated .npy header", where));
    prefix = 12;
    hlen = get_u32(bytes, 8);
  }
  if (hlen > bytes.size() - prefix)
    io_error(fmt::format("{}: truncated .npy header ({} header bytes announced, {} present)", where, hlen,
                         bytes.size() - prefix));
  std::string descr_text;
  bool fortran = false;
  NpyArray out;
  HeaderParser(bytes.substr(prefix, hlen), where).parse(descr_text, fortran, out.shape);
  if (descr_text == "<f4")
    out.type = NpyType::F4;
  else if (descr_text == "<f8")
    out.type = NpyType::F8;
  else if (descr_text == "<i8")
    out.type = NpyType::I8;
  else if (descr_text == "|b1")
    out.type = NpyType::B1;
  else
    io_error(
        fmt::format("{}: unsupported dtype '{}' (expected bool '|b1', int64 '<i8', float32 '<f4' or float64 '<f8'; "
                    "convert with a.astype(numpy.float32))",
                    where, descr_text));
  if (fortran)
    io_error(fmt::format("{}: Fortran-order arrays are not supported (save numpy.ascontiguousarray(a))", where));
  // numel * itemsize without overflow
  uint64_t count = 1;
  for (int64_t d : out.shape) {
    if (d != 0 && count > (std::numeric_limits<uint64_t>::max() / 8) / static_cast<uint64_t>(d))
      io_error(fmt::format("{}: shape {} is too large", where, out.shape));
    count *= static_cast<uint64_t>(d);
  }
  const uint64_t need = count * itemsize(out.type), have = bytes.size() - prefix - hlen;
  if (have != need)
    io_error(fmt::format("{}: .npy data has {} bytes, but shape {} of '{}' needs {}", where, have, out.shape,
                         descr_text, need));
  out.bytes.assign(bytes.substr(prefix + hlen));
  if (out.type == NpyType::B1)  // NumPy writes bools as bytes 0 and 1; anything else is not a bool
    for (size_t i = 0; i < out.bytes.size(); ++i)
      if (static_cast<unsigned char>(out.bytes[i]) > 1)
        io_error(fmt::format("{}: bool array holds byte {} at element {} (a bool is 0 or 1)", where,
                             static_cast<int>(static_cast<unsigned char>(out.bytes[i])), i));
  return out;
}

DType dtype_of(NpyType type) {
  switch (type) {
    case NpyType::B1:
      return kBool;
    case NpyType::I8:
      return kInt64;
    case NpyType::F4:
      return kFloat32;
    case NpyType::F8:
      break;
  }
  return kFloat64;
}

NpyArray npy_from_tensor(const Tensor& t) {
  NpyArray a;
  a.shape = t.shape();
  constexpr NpyType types[] = {NpyType::B1, NpyType::I8, NpyType::F4, NpyType::F8};  // in DType's order
  a.type = types[static_cast<int>(t.dtype())];
  a.bytes.assign(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel() * t.element_size()));
  return a;
}

NpyArray npy_from_doubles(const std::vector<double>& values) {
  NpyArray a;
  if (values.size() != 1) a.shape = Shape{static_cast<int64_t>(values.size())};
  a.type = NpyType::F8;
  a.bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
  return a;
}

Tensor npy_to_tensor(const NpyArray& array) {
  Tensor t = empty(array.shape, dtype_of(array.type));
  if (array.type == NpyType::B1) {  // decode_npy refuses other bytes; an array made in memory is checked here
    for (size_t i = 0; i < array.bytes.size(); ++i)
      if (static_cast<unsigned char>(array.bytes[i]) > 1)
        throw IoError(fmt::format("bool array holds byte {} at element {} (a bool is 0 or 1)",
                                  static_cast<int>(static_cast<unsigned char>(array.bytes[i])), i));
  }
  std::memcpy(t.data_ptr(), array.bytes.data(), array.bytes.size());
  return t;
}

std::vector<double> npy_to_doubles(const NpyArray& array) {
  const Tensor t = npy_to_tensor(array);
  const Tensor values = cast(t, kFloat64);
  return values.to_vector<double>();
}

// ---- zip archives (libzip) -------------------------------------------------------------------------------
namespace {

constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
constexpr uint16_t kDosTime = 0;
// An archive without entries: the 22-byte end-of-central-directory record alone (what numpy.savez writes
// for no arrays; libzip writes nothing at all for an empty archive).
constexpr char kEmptyZip[] = "PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
constexpr size_t kEndRecordSize = 22;
// Deflate encodes a run of 258 bytes in as little as 2 bits: no valid stream expands more than 1032 times.
constexpr uint64_t kMaxDeflateRatio = 1032;

// Owners of libzip objects.
struct ZipError {
  zip_error_t error;
  ZipError() { zip_error_init(&error); }
  ~ZipError() { zip_error_fini(&error); }
  ZipError(const ZipError&) = delete;
  ZipError& operator=(const ZipError&) = delete;
  int code() { return zip_error_code_zip(&error); }
  std::string text() { return zip_error_strerror(&error); }
};
struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;
struct EntryCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using EntryFile = std::unique_ptr<zip_file_t, EntryCloser>;
struct SourceFreer {
  void operator()(zip_source_t* source) const { zip_source_free(source); }
};
using Source = std::unique_ptr<zip_source_t, SourceFreer>;

// The message for a libzip error `code` (ZIP_ER_*) met while opening an archive or reading an entry.
std::string describe(int code, const std::string& libzip_text) {
  switch (code) {
    case ZIP_ER_NOZIP:
      return "not a zip/.npz file, or truncated (no end-of-central-directory record)";
    case ZIP_ER_INCONS:
      return "corrupted or truncated zip (" + libzip_text + ")";
    case ZIP_ER_EXISTS:
      return "corrupted zip: duplicate zip entry names";
    case ZIP_ER_CRC:
      return "CRC-32 mismatch: the file is corrupted";
    case ZIP_ER_ZLIB:
    case ZIP_ER_COMPRESSED_DATA:
      return "corrupted compressed data (" + libzip_text + ")";
    case ZIP_ER_EOF:
    case ZIP_ER_READ:
    case ZIP_ER_SEEK:
      return "truncated or unreadable (" + libzip_text + ")";
    case ZIP_ER_MULTIDISK:
      return "multi-disk zip archives are not supported";
    default:
      return libzip_text;
  }
}

// The archive read from `source` (taken over: freed on every path), whose size is `size` bytes. The
// directory is read from the end; every entry's declared sizes are checked against `size` before any entry
// is read, then each entry is read into exactly its declared size and its CRC-32 checked.
std::vector<ZipEntry> read_archive(Source source, uint64_t size, const std::string& where) {
  if (size < kEndRecordSize)
    io_error(
        fmt::format("{}: not a zip/.npz file, or truncated ({} bytes, less than a zip's end record)", where, size));
  ZipError error;
  Archive archive(zip_open_from_source(source.get(), ZIP_RDONLY | ZIP_CHECKCONS, &error.error));
  if (!archive) io_error(fmt::format("{}: {}", where, describe(error.code(), error.text())));
  source.release();  // the archive owns it now

  // 1. the directory: names, methods and sizes, checked before anything is allocated for the data
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  if (count < 0) io_error(fmt::format("{}: cannot read the zip directory", where));
  std::vector<zip_stat_t> stats(static_cast<size_t>(count));
  std::set<std::string> names;
  uint64_t stored_bytes = 0;  // the entries' compressed sizes, which lie side by side in the file
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    zip_stat_t& st = stats[i];
    zip_stat_init(&st);
    if (zip_stat_index(archive.get(), i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE) ||
        !(st.valid & ZIP_STAT_COMP_SIZE) || !(st.valid & ZIP_STAT_COMP_METHOD))
      io_error(fmt::format("{}: corrupted zip (directory entry {} of {} is unreadable: {})", where, i + 1, count,
                           zip_strerror(archive.get())));
    const std::string name = st.name;
    if (!names.insert(name).second) io_error(fmt::format("{}: duplicate zip entry '{}'", where, name));
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
      io_error(fmt::format("{}: entry '{}' is encrypted (not supported)", where, name));
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
      io_error(
          fmt::format("{}: entry '{}' is compressed with zip method {}; only stored (numpy.savez) and deflated "
                      "(numpy.savez_compressed) entries are supported",
                      where, name, st.comp_method));
    if (st.comp_size > size - stored_bytes)
      io_error(
          fmt::format("{}: corrupted or truncated zip (entry '{}' declares {} compressed bytes; the entries "
                      "before it leave {} of the file's {} bytes)",
                      where, name, st.comp_size, size - stored_bytes, size));
    stored_bytes += st.comp_size;
    if (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size)
      io_error(fmt::format("{}: corrupted zip (stored entry '{}' declares sizes {} and {})", where, name, st.comp_size,
                           st.size));
    if (st.comp_method == ZIP_CM_DEFLATE && st.size / kMaxDeflateRatio > st.comp_size)
      io_error(
          fmt::format("{}: corrupted zip (deflated entry '{}' declares {} bytes from {} compressed bytes, more "
                      "than deflate can expand)",
                      where, name, st.size, st.comp_size));
  }

  // 2. the data, one entry at a time, into buffers of the declared sizes
  std::vector<ZipEntry> entries;
  entries.reserve(stats.size());
  for (zip_uint64_t i = 0; i < stats.size(); ++i) {
    const zip_stat_t& st = stats[i];
    ZipEntry entry{st.name, std::string()};
    const auto fail = [&](int code, const std::string& text) {
      io_error(fmt::format("{}: entry '{}': {}", where, entry.name, describe(code, text)));
    };
    EntryFile file(zip_fopen_index(archive.get(), i, 0));
    if (!file) {
      zip_error_t* e = zip_get_error(archive.get());
      fail(zip_error_code_zip(e), zip_error_strerror(e));
    }
    entry.data.resize(static_cast<size_t>(st.size));
    uint64_t done = 0;
    while (done < st.size) {
      const zip_int64_t n = zip_fread(file.get(), entry.data.data() + done, st.size - done);
      if (n < 0) {
        zip_error_t* e = zip_file_get_error(file.get());
        fail(zip_error_code_zip(e), zip_error_strerror(e));
      }
      if (n == 0)
        io_error(fmt::format("{}: entry '{}': truncated ({} of its {} bytes)", where, entry.name, done, st.size));
      done += static_cast<uint64_t>(n);
    }
    // reading on to the end is what makes libzip compare the CRC-32
    char extra = 0;
    const zip_int64_t more = zip_fread(file.get(), &extra, 1);
    if (more < 0) {
      zip_error_t* e = zip_file_get_error(file.get());
      fail(zip_error_code_zip(e), zip_error_strerror(e));
    }
    if (more > 0)
      io_error(fmt::format("{}: corrupted zip (entry '{}' holds more than the {} bytes its directory entry declares)",
                           where, entry.name, st.size));
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

std::string encode_zip(const std::vector<ZipEntry>& entries, bool compress) {
  if (entries.empty()) return std::string(kEmptyZip, kEndRecordSize);
  ZipError error;
  auto fail = [](const std::string& what) { io_error("zip: " + what); };
  // The archive is built in a buffer source, which zip_close fills and which survives it: the archive holds
  // one reference to it, `out` another (zip_source_keep).
  Source out(zip_source_buffer_create(nullptr, 0, 0, &error.error));
  if (!out) fail("cannot create a buffer: " + error.text());
  Archive archive(zip_open_from_source(out.get(), ZIP_TRUNCATE, &error.error));
  if (!archive) fail("cannot create an archive: " + error.text());
  zip_source_keep(out.get());
  for (const ZipEntry& e : entries) {
    if (e.name.empty()) fail("empty entry name");
    zip_source_t* data = zip_source_buffer(archive.get(), e.data.data(), e.data.size(), 0);
    if (!data) fail(fmt::format("entry '{}': {}", e.name, zip_strerror(archive.get())));
    const zip_int64_t index = zip_file_add(archive.get(), e.name.c_str(), data, ZIP_FL_ENC_GUESS);
    if (index < 0) {
      zip_source_free(data);
      fail(fmt::format("entry '{}': {}", e.name, zip_strerror(archive.get())));
    }
    const auto i = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(archive.get(), i, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(archive.get(), i, kDosTime, kDosDate, 0) != 0 ||
        zip_file_set_external_attributes(archive.get(), i, 0, ZIP_OPSYS_UNIX, 0100644u << 16) != 0)  // rw-r--r--
      fail(fmt::format("entry '{}': {}", e.name, zip_strerror(archive.get())));
  }
  if (zip_close(archive.get()) != 0) fail(std::string("cannot write the archive: ") + zip_strerror(archive.get()));
  archive.release();  // zip_close freed it

  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_stat(out.get(), &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || zip_source_open(out.get()) != 0)
    fail("cannot read the archive back from its buffer");
  std::string bytes(static_cast<size_t>(st.size), '\0');
  const zip_int64_t n = zip_source_read(out.get(), bytes.data(), st.size);
  zip_source_close(out.get());
  if (n < 0 || static_cast<zip_uint64_t>(n) != st.size) fail("cannot read the archive back from its buffer");
  return bytes;
}

std::vector<ZipEntry> decode_zip(std::string_view bytes, const std::string& where) {
  ZipError error;
  Source source(zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error.error));
  if (!source) io_error(fmt::format("{}: {}", where, error.text()));
  return read_archive(std::move(source), bytes.size(), where);
}

// ---- files -------------------------------------------------------------------------------------------
void write_file_atomic(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  static std::atomic<uint64_t> counter{0};
  const fs::path target(path);
  if (target.filename().empty()) io_error(fmt::format("{}: not a file name", path));
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const fs::path temp =
      dir / fmt::format(".{}.tmp-{}-{}", target.filename().string(), static_cast<long>(::getpid()), counter++);
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::unlink(temp.c_str());
    io_error(fmt::format("{}: {}: {}", path, what, std::strerror(err)));
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    io_error(fmt::format("{}: cannot create the temporary file '{}': {}", path, temp.string(), std::strerror(err)));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      errno = err;
      fail("cannot write the temporary file '" + temp.string() + "'");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    fail("cannot flush the temporary file '" + temp.string() + "' to disk");
  }
  if (::close(fd) != 0) fail("cannot close the temporary file '" + temp.string() + "'");
  if (::rename(temp.c_str(), target.c_str()) != 0) fail("cannot rename '" + temp.string() + "' over it");
  // make the rename itself durable
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // some file systems refuse fsync on directories; the file is in place either way
    ::close(dir_fd);
  }
}

namespace {

// `path` opened for reading if it is a regular file, with its size. A FIFO, a device, a socket or a
// directory is refused from stat() without being opened; the open itself does not block (O_NONBLOCK: a
// FIFO put in its place meanwhile opens at once), and fstat() confirms what was opened.
std::pair<int, uint64_t> open_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    io_error(fmt::format("{}: cannot open: {}", path, std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) io_error(fmt::format("{}: not a regular file", path));
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    io_error(fmt::format("{}: cannot open: {}", path, std::strerror(err)));
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    io_error(fmt::format("{}: not a regular file", path));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // ordinary blocking reads from here on
  return {fd, static_cast<uint64_t>(st.st_size)};
}

NpzEntries arrays_of(std::vector<ZipEntry> entries, const std::string& where) {
  NpzEntries out;
  out.reserve(entries.size());
  for (ZipEntry& e : entries) {
    constexpr std::string_view suffix = ".npy";
    if (e.name.size() <= suffix.size() || e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      io_error(
          fmt::format("{}: entry '{}' is not a .npy array (an .npz holds only '<name>.npy' entries)", where, e.name));
    std::string key = e.name.substr(0, e.name.size() - suffix.size());
    NpyArray array = decode_npy(e.data, fmt::format("{}: entry '{}'", where, key));
    std::string().swap(e.data);  // the copy in `array` is all that is kept
    out.emplace_back(std::move(key), std::move(array));
  }
  return out;
}

}  // namespace

// ---- .npz ----------------------------------------------------------------------------------------------
void write_npz(const std::string& path, const NpzEntries& entries, bool compress) {
  std::vector<ZipEntry> zip;
  std::set<std::string> keys;
  for (const auto& [key, array] : entries) {
    check(!key.empty(), "save: {}: empty array name", path);
    check(keys.insert(key).second, "save: {}: duplicate array name '{}'", path, key);
    zip.push_back({key + ".npy", encode_npy(array)});
  }
  std::string bytes;
  try {
    bytes = encode_zip(zip, compress);
  } catch (const IoError& e) {
    io_error(fmt::format("{}: {}", path, e.what()));
  }
  write_file_atomic(path, bytes);
}

NpzEntries read_npz(const std::string& path) {
  const auto [fd, size] = open_regular_file(path);
  std::FILE* file = ::fdopen(fd, "rb");
  if (!file) {
    const int err = errno;
    ::close(fd);
    io_error(fmt::format("{}: cannot open: {}", path, std::strerror(err)));
  }
  ZipError error;
  // libzip reads the file through `file` (closed with the source), never past the size fstat gave
  Source source(zip_source_filep_create(file, 0, static_cast<zip_int64_t>(size), &error.error));
  if (!source) {
    std::fclose(file);
    io_error(fmt::format("{}: cannot read: {}", path, error.text()));
  }
  return arrays_of(read_archive(std::move(source), size, path), path);
}

NpzEntries decode_npz(std::string_view bytes, const std::string& where) {
  return arrays_of(decode_zip(bytes, where), where);
}

}  // namespace unroll::detail
