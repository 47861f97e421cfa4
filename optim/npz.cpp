// NumPy .npy/.npz reading and writing (see optim/detail/npz.hpp). Little-endian hosts only (x86, ARM).
//
// Zip layout written (all integers little-endian; APPNOTE.TXT 4.3):
//   per entry: local file header (30 bytes + name) | data
//   central directory: one 46-byte header + name per entry
//   end of central directory record (22 bytes)
// Entries are "stored" (method 0), dated 1980-01-01 00:00 so the same arrays give the same bytes.
#include "unroll/optim/detail/npz.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>

#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/kernels.hpp"

namespace unroll::detail {

static_assert(std::endian::native == std::endian::little, "unroll's .npz code assumes a little-endian host");

namespace {

[[noreturn]] void io_error(const std::string& message) { throw IoError(message); }

}  // namespace

// ---- CRC-32 ------------------------------------------------------------------------------------------
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;  // reflected polynomial 0x04C11DB7
    table[n] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

}  // namespace

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

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
void put_u32(std::string& out, uint32_t v) {
  put_u16(out, v & 0xFFFF);
  put_u16(out, v >> 16);
}
uint32_t get_u16(std::string_view s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8;
}
uint32_t get_u32(std::string_view s, size_t at) { return get_u16(s, at) | get_u16(s, at + 2) << 16; }
uint64_t get_u64(std::string_view s, size_t at) {
  return static_cast<uint64_t>(get_u32(s, at)) | static_cast<uint64_t>(get_u32(s, at + 4)) << 32;
}

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

// ---- zip -------------------------------------------------------------------------------------------------
namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
constexpr uint32_t kDosTime = 0;

}  // namespace

std::string encode_zip(const std::vector<ZipEntry>& entries) {
  constexpr uint64_t kMax = 0xFFFFFFFEu;
  if (entries.size() > 0xFFFF) io_error(fmt::format("zip: {} entries is too many (at most 65535)", entries.size()));
  std::string out, central;
  for (const ZipEntry& e : entries) {
    if (e.name.empty() || e.name.size() > 0xFFFF) io_error(fmt::format("zip: bad entry name '{}'", e.name));
    if (e.data.size() > kMax || out.size() > kMax)
      io_error(fmt::format("zip: entry '{}' would pass 4 GiB, which needs zip64 (not supported)", e.name));
    const uint32_t crc = crc32(e.data.data(), e.data.size());
    const uint32_t offset = static_cast<uint32_t>(out.size()), size = static_cast<uint32_t>(e.data.size());
    bool utf8 = false;
    for (unsigned char c : e.name) utf8 |= c >= 0x80;
    const uint32_t flags = utf8 ? 1u << 11 : 0;  // bit 11: the name is UTF-8
    // local file header
    put_u32(out, kLocalSig);
    put_u16(out, 20);  // version needed to extract: 2.0
    put_u16(out, flags);
    put_u16(out, 0);  // method: stored
    put_u16(out, kDosTime);
    put_u16(out, kDosDate);
    put_u32(out, crc);
    put_u32(out, size);  // compressed size
    put_u32(out, size);  // uncompressed size
    put_u16(out, static_cast<uint32_t>(e.name.size()));
    put_u16(out, 0);  // extra field length
    out += e.name;
    out += e.data;
    // central directory header
    put_u32(central, kCentralSig);
    put_u16(central, (3 << 8) | 20);  // made by: Unix, 2.0
    put_u16(central, 20);
    put_u16(central, flags);
    put_u16(central, 0);
    put_u16(central, kDosTime);
    put_u16(central, kDosDate);
    put_u32(central, crc);
    put_u32(central, size);
    put_u32(central, size);
    put_u16(central, static_cast<uint32_t>(e.name.size()));
    put_u16(central, 0);               // extra field length
    put_u16(central, 0);               // comment length
    put_u16(central, 0);               // disk number start
    put_u16(central, 0);               // internal attributes
    put_u32(central, 0100644u << 16);  // external attributes: a regular file, rw-r--r--
    put_u32(central, offset);
    central += e.name;
  }
  if (out.size() + central.size() > kMax) io_error("zip: archive would pass 4 GiB, which needs zip64 (not supported)");
  const uint32_t central_offset = static_cast<uint32_t>(out.size());
  out += central;
  put_u32(out, kEndSig);
  put_u16(out, 0);  // this disk
  put_u16(out, 0);  // disk with the central directory
  put_u16(out, static_cast<uint32_t>(entries.size()));
  put_u16(out, static_cast<uint32_t>(entries.size()));
  put_u32(out, static_cast<uint32_t>(central.size()));
  put_u32(out, central_offset);
  put_u16(out, 0);  // comment length
  return out;
}

std::vector<ZipEntryView> decode_zip(std::string_view file, const std::string& path) {
  const size_t size = file.size();
  // end of central directory record: the last 22 bytes, unless followed by a comment of up to 64 KiB
  size_t end = std::string_view::npos;
  if (size >= 22) {
    const size_t lowest = size >= 22 + 0xFFFF ? size - 22 - 0xFFFF : 0;
    for (size_t at = size - 22 + 1; at-- > lowest;) {
      if (get_u32(file, at) == kEndSig && at + 22 + get_u16(file, at + 20) == size) {
        end = at;
        break;
      }
    }
  }
  if (end == std::string_view::npos)
    io_error(fmt::format("{}: not a zip/.npz file, or truncated (no end-of-central-directory record)", path));
  uint64_t count = get_u16(file, end + 10), central_size = get_u32(file, end + 12),
           central_offset = get_u32(file, end + 16);
  if (get_u16(file, end + 4) != 0 || get_u16(file, end + 6) != 0)
    io_error(fmt::format("{}: multi-disk zip archives are not supported", path));
  if (count == 0xFFFF || central_size == 0xFFFFFFFF || central_offset == 0xFFFFFFFF) {  // zip64
    if (end < 20 || get_u32(file, end - 20) != kZip64LocatorSig)
      io_error(fmt::format("{}: corrupted zip (zip64 locator missing)", path));
    const uint64_t at = get_u64(file, end - 20 + 8);
    if (at > end - 20 || end - 20 - at < 56 || get_u32(file, static_cast<size_t>(at)) != kZip64EndSig)
      io_error(fmt::format("{}: corrupted zip (bad zip64 end-of-central-directory record)", path));
    count = get_u64(file, static_cast<size_t>(at) + 32);
    central_size = get_u64(file, static_cast<size_t>(at) + 40);
    central_offset = get_u64(file, static_cast<size_t>(at) + 48);
  }
  if (central_offset > end || central_size > end - central_offset)
    io_error(fmt::format("{}: corrupted or truncated zip (central directory at {} + {} bytes, file has {})", path,
                         central_offset, central_size, size));

  std::vector<ZipEntryView> entries;
  std::set<std::string> names;
  size_t at = static_cast<size_t>(central_offset);
  const size_t central_end = static_cast<size_t>(central_offset + central_size);
  for (uint64_t i = 0; i < count; ++i) {
    if (central_end - at < 46 || get_u32(file, at) != kCentralSig)
      io_error(fmt::format("{}: corrupted zip (central directory entry {} of {} is damaged)", path, i + 1, count));
    const uint32_t flags = get_u16(file, at + 8), method = get_u16(file, at + 10), crc = get_u32(file, at + 16);
    uint64_t csize = get_u32(file, at + 20), usize = get_u32(file, at + 24), offset = get_u32(file, at + 42);
    const size_t name_len = get_u16(file, at + 28), extra_len = get_u16(file, at + 30),
                 comment_len = get_u16(file, at + 32);
    if (central_end - at - 46 < name_len + extra_len + comment_len)
      io_error(fmt::format("{}: corrupted zip (central directory entry {} of {} is damaged)", path, i + 1, count));
    std::string name(file.substr(at + 46, name_len));
    // zip64 extended information: the 64-bit values of the fields set to 0xFFFFFFFF, in this order
    std::string_view extra = file.substr(at + 46 + name_len, extra_len);
    for (size_t x = 0; x + 4 <= extra.size();) {
      const uint32_t id = get_u16(extra, x), len = get_u16(extra, x + 2);
      if (x + 4 + len > extra.size()) break;
      if (id == 0x0001) {
        size_t y = x + 4;
        for (uint64_t* field : {&usize, &csize, &offset})
          if (*field == 0xFFFFFFFF) {
            if (y + 8 > x + 4 + len) io_error(fmt::format("{}: entry '{}': bad zip64 extra field", path, name));
            *field = get_u64(extra, y);
            y += 8;
          }
      }
      x += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;

    if (flags & 1) io_error(fmt::format("{}: entry '{}' is encrypted (not supported)", path, name));
    if (method != 0)
      io_error(
          fmt::format("{}: entry '{}' is compressed (zip method {}); only stored entries are supported: write the "
                      "file with numpy.savez, not numpy.savez_compressed",
                      path, name, method));
    if (csize != usize)
      io_error(fmt::format("{}: corrupted zip (stored entry '{}' has sizes {} and {})", path, name, csize, usize));
    if (!names.insert(name).second) io_error(fmt::format("{}: duplicate zip entry '{}'", path, name));
    // local header: its own name and extra field precede the data
    if (offset > central_offset || central_offset - offset < 30 ||
        get_u32(file, static_cast<size_t>(offset)) != kLocalSig)
      io_error(fmt::format("{}: corrupted zip (local header of entry '{}' not found)", path, name));
    const size_t local = static_cast<size_t>(offset);
    const size_t local_name_len = get_u16(file, local + 26), local_extra_len = get_u16(file, local + 28);
    const uint64_t data_at = offset + 30 + local_name_len + local_extra_len;
    if (data_at > central_offset || usize > central_offset - data_at)
      io_error(fmt::format("{}: corrupted or truncated zip (data of entry '{}' runs past the central directory)", path,
                           name));
    if (file.substr(local + 30, local_name_len) != name)
      io_error(fmt::format("{}: corrupted zip (entry '{}' has a different name in its local header)", path, name));
    std::string_view data = file.substr(static_cast<size_t>(data_at), static_cast<size_t>(usize));
    const uint32_t actual = crc32(data.data(), data.size());
    if (actual != crc)
      io_error(fmt::format("{}: entry '{}': CRC-32 mismatch (stored {:08x}, computed {:08x}): the file is corrupted",
                           path, name, crc, actual));
    entries.push_back({std::move(name), data});
  }
  return entries;
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

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    io_error(fmt::format("{}: cannot open: {}", path, std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    io_error(fmt::format("{}: not a regular file", path));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : 0;
      ::close(fd);
      io_error(fmt::format("{}: read failed after {} of {} bytes{}{}", path, done, out.size(), err ? ": " : "",
                           err ? std::strerror(err) : ""));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

// ---- .npz ----------------------------------------------------------------------------------------------
void write_npz(const std::string& path, const NpzEntries& entries) {
  std::vector<ZipEntry> zip;
  std::set<std::string> keys;
  for (const auto& [key, array] : entries) {
    check(!key.empty(), "save: {}: empty array name", path);
    check(keys.insert(key).second, "save: {}: duplicate array name '{}'", path, key);
    zip.push_back({key + ".npy", encode_npy(array)});
  }
  write_file_atomic(path, encode_zip(zip));
}

NpzEntries read_npz(const std::string& path) {
  const std::string file = read_file(path);
  NpzEntries out;
  for (const ZipEntryView& e : decode_zip(file, path)) {
    constexpr std::string_view suffix = ".npy";
    if (e.name.size() <= suffix.size() || e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      io_error(
          fmt::format("{}: entry '{}' is not a .npy array (an .npz holds only '<name>.npy' entries)", path, e.name));
    std::string key = e.name.substr(0, e.name.size() - suffix.size());
    NpyArray array = decode_npy(e.data, fmt::format("{}: entry '{}'", path, key));
    out.emplace_back(std::move(key), std::move(array));
  }
  return out;
}

}  // namespace unroll::detail
