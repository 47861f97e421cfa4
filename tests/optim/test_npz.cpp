// The .npy/.npz code (optim/npz.cpp, internal API optim/detail/npz.hpp): byte-exact agreement with numpy's
// .npy encoding, the byte layout of written files (stored and deflated), every dtype ('|b1', '<i8', '<f4',
// '<f8') written with NumPy's descr and read back, files NumPy and PyTorch wrote (numpy.savez with zip64
// extra fields, .npy 2.0 headers, all four dtypes; numpy.savez_compressed), rejection of every kind of
// damage with IoError, declared sizes checked before anything is allocated, and huge files refused from
// their end.
//
// With UNROLL_NPZ_KEEP=/some/path.npz (and UNROLL_NPZ_KEEP_COMPRESSED=/other/path.npz) in the environment,
// the byte-layout test also leaves its stored (and compressed) file there; `/usr/bin/python3
// tests/gen_optim_fixtures.py --check-written /some/path.npz stored` (or `/other/path.npz deflated`) then
// checks it with numpy.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "unroll/optim/detail/npz.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;
using namespace unroll::detail;

namespace {

// doctest::Contains takes a doctest::String
doctest::Contains has(const std::string& text) { return doctest::Contains(text.c_str()); }

std::string fixture(const std::string& name) { return std::string(UNROLL_FIXTURES_DIR) + "/" + name; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

uint32_t u32(const std::string& s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}
uint16_t u16(const std::string& s, size_t at) {
  uint16_t v;
  std::memcpy(&v, s.data() + at, 2);
  return v;
}

NpyArray f4_array(const Shape& shape, const std::vector<float>& values) {
  NpyArray a;
  a.shape = shape;
  a.type = NpyType::F4;
  a.bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  return a;
}

// An .npz with one entry "x.npy" holding `npy` bytes, as raw zip bytes (stored, or deflated).
std::string zip_with(const std::string& npy, bool compress = false) { return encode_zip({{"x.npy", npy}}, compress); }

// CRC-32 (IEEE 802.3, the zip checksum) bit by bit: the reference the written headers are checked against.
uint32_t reference_crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : data) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

// Every occurrence of `from` in `bytes` replaced by `to` (of the same length).
std::string replace_all(std::string bytes, const std::string& from, const std::string& to) {
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + to.size()))
    bytes.replace(at, from.size(), to);
  return bytes;
}

void put_u32(std::string& s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }

// A tensor's dtype and raw bytes: equal for bit-identical values of the same dtype.
std::string bytes_of(const Tensor& t) {
  return std::string(name(t.dtype())) + ":" +
         std::string(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel() * t.element_size()));
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("encode_npy writes exactly the bytes numpy.save writes") {
  std::vector<float> values(12);
  for (int i = 0; i < 12; ++i) values[i] = static_cast<float>(i);
  CHECK(encode_npy(f4_array({3, 4}, values)) == slurp(fixture("optim_numpy_array.npy")));
}

TEST_CASE("npy round trip: scalars, empty arrays, float64, rank 8") {
  for (const Shape& shape : {Shape{}, Shape{0}, Shape{0, 3}, Shape{7}, Shape{2, 3, 4}, Shape{1, 1, 1, 1, 1, 1, 1, 2}}) {
    CAPTURE(to_string(shape));
    std::vector<double> values(static_cast<size_t>(shape.numel()));
    for (size_t i = 0; i < values.size(); ++i) values[i] = 0.1 * static_cast<double>(i) - 1;
    NpyArray a;
    a.shape = shape;
    a.type = NpyType::F8;
    a.bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * 8);
    const std::string bytes = encode_npy(a);
    CHECK((bytes.size() - a.bytes.size()) % 64 == 0);  // header padded to 64 bytes, as numpy
    const NpyArray b = decode_npy(bytes, "test");
    CHECK(b.shape == shape);
    CHECK(b.type == NpyType::F8);
    CHECK(b.bytes == a.bytes);
    CHECK(npy_to_doubles(b) == values);
  }
}

TEST_CASE("a written .npz has numpy's layout, byte by byte") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("layout.npz");
  std::map<std::string, Tensor> tensors = {{"a", reshape(arange(0.0, 12.0, 1.0), {3, 4})},
                                           {"b.c", tensor({0.5, -1.5})},
                                           {"i", tensor({int64_t{-1}, int64_t{1} << 40})},
                                           {"m", tensor({true, false, true})},
                                           {"s", scalar(2.5)}};
  save_tensors(tensors, path);
  if (const char* keep = std::getenv("UNROLL_NPZ_KEEP")) save_tensors(tensors, keep);
  if (const char* keep = std::getenv("UNROLL_NPZ_KEEP_COMPRESSED")) save_tensors(tensors, keep, {.compress = true});
  const std::string file = slurp(path);

  // first entry: local file header, stored, dated 1980-01-01 00:00, name "a.npy"
  CHECK(reference_crc32("123456789") == 0xCBF43926u);  // the reference is the standard CRC-32
  REQUIRE(file.size() > 200);
  CHECK(file.substr(0, 4) == std::string("PK\x03\x04", 4));
  CHECK(u16(file, 8) == 0);  // method: stored
  CHECK(u16(file, 10) == 0);
  CHECK(u16(file, 12) == ((1 << 5) | 1));
  const uint32_t size = u32(file, 18);
  CHECK(u32(file, 22) == size);  // compressed == uncompressed
  CHECK(u16(file, 26) == 5);
  CHECK(file.substr(30, 5) == "a.npy");
  const size_t npy = 30 + 5 + u16(file, 28);
  const std::string entry = file.substr(npy, size);
  CHECK(u32(file, 14) == reference_crc32(entry));

  // the .npy inside: magic, version 1.0, header dict, padding to 64 bytes, then float32 data
  CHECK(entry.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_len = u16(entry, 8);
  CHECK((10 + header_len) % 64 == 0);
  const std::string header = entry.substr(10, header_len);
  CHECK(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 0) == 0);
  CHECK(header.back() == '\n');
  REQUIRE(entry.size() == 10 + header_len + 12 * sizeof(float));
  for (int i = 0; i < 12; ++i) {
    float v;
    std::memcpy(&v, entry.data() + 10 + header_len + i * sizeof(float), sizeof(float));
    CHECK(v == static_cast<float>(i));
  }
  // the other entries' headers carry their dtypes
  CHECK(count(file, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }") == 1);
  CHECK(count(file, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }") == 1);
  CHECK(count(file, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }") == 1);

  // end of central directory: 5 entries, the central directory right before it
  const size_t end = file.size() - 22;
  CHECK(u32(file, end) == 0x06054b50u);
  CHECK(u16(file, end + 10) == 5);
  const uint32_t central_size = u32(file, end + 12), central_offset = u32(file, end + 16);
  CHECK(central_offset + central_size == end);
  CHECK(u32(file, central_offset) == 0x02014b50u);

  // and it reads back
  const auto back = load_tensors(path);
  REQUIRE(back.size() == 5);
  CHECK(back.at("a").shape() == Shape{3, 4});
  CHECK(back.at("b.c").to_vector() == std::vector<float>{0.5, -1.5});
  CHECK(back.at("i").to_vector<int64_t>() == std::vector<int64_t>{-1, int64_t{1} << 40});
  CHECK(back.at("m").to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK(back.at("s").shape() == Shape{});
  CHECK(back.at("s").item() == 2.5);

  // the same arrays give the same bytes (fixed dates)
  save_tensors(tensors, dir.file("again.npz"));
  CHECK(slurp(dir.file("again.npz")) == file);
}

TEST_CASE("save(..., {.compress = true}) writes deflated entries, as numpy.savez_compressed, which read back exactly") {
  unroll_test::TempDir dir;
  const std::map<std::string, Tensor> tensors = {
      {"w", reshape(arange(0.0, 4096.0, 1.0), {64, 64})},  // compressible: small integers in float32
      {"z", zeros({100, 100}, kFloat64)},
      {"i", tensor({int64_t{-1}, int64_t{1} << 40, std::numeric_limits<int64_t>::max()})},
      {"m", tensor({true, false, true})},
      {"s", scalar(2.5)},
      {"e", zeros({0, 3})}};
  save_tensors(tensors, dir.file("stored.npz"));
  save_tensors(tensors, dir.file("deflated.npz"), {.compress = true});
  const std::string stored = slurp(dir.file("stored.npz")), deflated = slurp(dir.file("deflated.npz"));
  // every local header says method 8 (deflate), with a compressed size below the uncompressed one for the
  // large arrays
  int entries = 0;
  for (size_t at = deflated.find("PK\x03\x04"); at != std::string::npos; at = deflated.find("PK\x03\x04", at + 4)) {
    ++entries;
    CHECK(u16(deflated, at + 8) == 8);
    CHECK(u32(deflated, at + 18) <= u32(deflated, at + 22) + 16);
  }
  CHECK(entries == 6);
  CHECK(deflated.size() < stored.size() / 4);  // 80 KiB of zeros and small integers
  for (const std::string& path : {dir.file("stored.npz"), dir.file("deflated.npz")}) {
    CAPTURE(path);
    const auto back = load_tensors(path);
    REQUIRE(back.size() == tensors.size());
    for (const auto& [key, t] : tensors) {
      CAPTURE(key);
      CHECK(back.at(key).shape() == t.shape());
      CHECK(bytes_of(back.at(key)) == bytes_of(t));
    }
  }
  // in memory too, through the internal API the fuzz target uses
  const NpzEntries arrays = decode_npz(deflated, "deflated");
  CHECK(arrays.size() == 6);
  CHECK(arrays[0].first == "e");  // in the order written (std::map's)
}

TEST_CASE("every dtype round-trips through .npz under NumPy's descr: '|b1', '<i8', '<f4', '<f8'") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("dtypes.npz");
  const double tiny = 4.9406564584124654e-324;  // the smallest float64 (not a float32)
  const std::map<std::string, Tensor> tensors = {
      {"b1", tensor({{true, false, false}, {false, true, true}})},
      {"i8", tensor({std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0}, int64_t{1} << 53,
                     std::numeric_limits<int64_t>::max()})},
      {"f4", tensor({1.5f, -0.0f, std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max()})},
      {"f8", tensor({0.1, -2.5, tiny, 1e300}, kFloat64)},
      {"b1_scalar", scalar(true)},
      {"i8_scalar", scalar(7)},
      {"f8_empty", zeros({0, 2}, kFloat64)},
      {"i8_rank3", reshape(arange(24), {2, 3, 4})}};
  save_tensors(tensors, path);
  const std::string file = slurp(path);
  CHECK(count(file, "'descr': '|b1'") == 2);
  CHECK(count(file, "'descr': '<i8'") == 3);
  CHECK(count(file, "'descr': '<f4'") == 1);
  CHECK(count(file, "'descr': '<f8'") == 2);
  CHECK(count(file, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 3), }") == 1);
  CHECK(count(file, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }") == 1);
  // a bool is one byte 0 or 1, an int64 eight little-endian bytes
  CHECK(count(file, std::string("\x01\x00\x00\x00\x01\x01", 6)) == 1);
  CHECK(count(file, std::string("\x07\x00\x00\x00\x00\x00\x00\x00", 8)) >= 1);

  const auto back = load_tensors(path);
  REQUIRE(back.size() == tensors.size());
  for (const auto& [key, t] : tensors) {
    CAPTURE(key);
    CHECK(back.at(key).dtype() == t.dtype());
    CHECK(back.at(key).shape() == t.shape());
    CHECK(bytes_of(back.at(key)) == bytes_of(t));
  }
  CHECK(back.at("f8").to_vector<double>()[2] == tiny);
  CHECK(back.at("i8").at<int64_t>({0}) == std::numeric_limits<int64_t>::min());
  CHECK(back.at("b1").at<bool>({1, 2}));
}

TEST_CASE("a '|b1' array holding a byte other than 0 and 1 is refused") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("bool.npz");
  auto bool_npy = [](const std::string& data) {
    NpyArray a;
    a.shape = Shape{static_cast<int64_t>(data.size())};
    a.type = NpyType::B1;
    a.bytes = data;
    return encode_npy(a);
  };
  spit(path, zip_with(bool_npy(std::string("\x01\x00\x01", 3))));
  CHECK(load_tensors(path).at("x").to_vector<bool>() == std::vector<bool>{true, false, true});  // the control
  spit(path, zip_with(bool_npy(std::string("\x01\x02\x00", 3))));
  CHECK_THROWS_WITH_AS(load_tensors(path),
                       has(path + ": entry 'x': bool array holds byte 2 at element 1 (a bool is 0 or 1)"), IoError);
  spit(path, zip_with(bool_npy(std::string("\x00\x00\xff", 3))));
  CHECK_THROWS_WITH_AS(load_tensors(path), has("bool array holds byte 255 at element 2"), IoError);
  // in memory too
  NpyArray a;
  a.shape = Shape{1};
  a.type = NpyType::B1;
  a.bytes = "\x03";
  CHECK_THROWS_WITH_AS(npy_to_tensor(a), has("bool array holds byte 3 at element 0"), IoError);
}

TEST_CASE("files NumPy wrote: numpy.savez with zip64 extra fields, .npy 2.0, float64, scalars, empty") {
  const NpzEntries torch_state = read_npz(fixture("optim_torch_state.npz"));
  CHECK(torch_state.size() == 8);  // a 2-layer LSTM: weight_ih, weight_hh, bias_ih, bias_hh per layer
  CHECK(torch_state[0].first == "weight_ih_l0");
  CHECK(torch_state[0].second.shape == Shape{12, 4});

  const auto v = load_tensors(fixture("optim_numpy_variants.npz"));
  REQUIRE(v.size() == 5);
  CHECK(v.at("f8").shape() == Shape{2, 3});
  CHECK(v.at("f8").dtype() == kFloat64);  // read as it was written, not converted
  CHECK(v.at("f8").to_vector<double>() == std::vector<double>{1.5, -2.25, 3.0, 0.1, 1e-3, -7.0});
  CHECK(v.at("v2").dtype() == kFloat32);
  CHECK(v.at("v2").to_vector() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(v.at("scalar").shape() == Shape{});
  CHECK(v.at("scalar").item() == 2.5);
  CHECK(v.at("empty").shape() == Shape{0, 3});
  CHECK(v.at("rank3").shape() == Shape{2, 3, 4});
  CHECK(v.at("rank3").at({1, 2, 3}) == static_cast<real>(23) / 8);
}

TEST_CASE("files NumPy and PyTorch wrote in each of the four dtypes load with that dtype") {
  // numpy.savez of numpy arrays (tests/gen_optim_fixtures.py)
  const auto n = load_tensors(fixture("optim_numpy_dtypes.npz"));
  REQUIRE(n.size() == 6);
  CHECK(n.at("b1").dtype() == kBool);
  CHECK(n.at("b1").shape() == Shape{2, 3});
  CHECK(n.at("b1").to_vector<bool>() == std::vector<bool>{true, false, true, false, false, true});
  CHECK(n.at("i8").dtype() == kInt64);
  CHECK(n.at("i8").to_vector<int64_t>() ==
        std::vector<int64_t>{-3, 0, int64_t{1} << 40, -(int64_t{1} << 62), std::numeric_limits<int64_t>::max()});
  CHECK(n.at("f4").dtype() == kFloat32);
  CHECK(n.at("f4").to_vector<float>() == std::vector<float>{0.5f, -1.25f, 3.0e38f});
  CHECK(n.at("f8").dtype() == kFloat64);
  CHECK(n.at("f8").to_vector<double>() == std::vector<double>{0.1, -2.5, 1e-300});
  CHECK(n.at("b1_scalar").shape() == Shape{});
  CHECK_FALSE(n.at("b1_scalar").item<bool>());
  CHECK(n.at("i8_scalar").shape() == Shape{});
  CHECK(n.at("i8_scalar").item<int64_t>() == -7);

  // numpy.savez of torch tensors' .numpy(): how a PyTorch user exports them
  const auto t = load_tensors(fixture("optim_torch_dtypes.npz"));
  REQUIRE(t.size() == 5);
  CHECK(t.at("mask").dtype() == kBool);
  CHECK(t.at("mask").to_vector<bool>() == std::vector<bool>{true, false, false, true});
  CHECK(t.at("ids").dtype() == kInt64);
  CHECK(t.at("ids").shape() == Shape{2, 3});
  CHECK(t.at("ids").to_vector<int64_t>() == std::vector<int64_t>{2, 0, 1, 1, 1, 0});
  CHECK(t.at("weight").dtype() == kFloat32);
  CHECK(t.at("weight").to_vector<float>() == std::vector<float>{0, 0.25, 0.5, 0.75, 1, 1.25});
  CHECK(t.at("weight64").dtype() == kFloat64);
  CHECK(t.at("weight64").to_vector<double>() == std::vector<double>{1.0 / 3, -2.0});
  CHECK(t.at("step").shape() == Shape{});
  CHECK(t.at("step").item<int64_t>() == 12);
  // as loaded, the ids index and the mask selects (index ops take int64, masks bool)
  const Tensor rows = embedding(t.at("weight"), t.at("ids"));  // [2, 3, 2]
  CHECK(rows.at<float>({0, 0, 1}) == 1.25f);                   // row 2 of weight [3, 2]
  CHECK(masked_fill(zeros({4}), t.at("mask"), 1.0).to_vector() == std::vector<float>{1, 0, 0, 1});
}

TEST_CASE("files numpy.savez_compressed wrote load, in each of the four dtypes") {
  const auto w = load_tensors(fixture("optim_compressed.npz"));
  REQUIRE(w.size() == 1);
  CHECK(w.at("w").dtype() == kFloat32);
  CHECK(w.at("w").to_vector() == std::vector<float>(16, 1.0f));

  const auto n = load_tensors(fixture("optim_numpy_compressed.npz"));
  REQUIRE(n.size() == 7);
  CHECK(n.at("b1").dtype() == kBool);
  CHECK(n.at("b1").to_vector<bool>() == std::vector<bool>{true, false, true, false, false, true});
  CHECK(n.at("i8").dtype() == kInt64);
  CHECK(n.at("i8").to_vector<int64_t>() ==
        std::vector<int64_t>{-3, 0, int64_t{1} << 40, -(int64_t{1} << 62), std::numeric_limits<int64_t>::max()});
  CHECK(n.at("f4").to_vector<float>() == std::vector<float>{0.5f, -1.25f, 3.0e38f});
  CHECK(n.at("f8").dtype() == kFloat64);
  CHECK(n.at("f8").to_vector<double>() == std::vector<double>{0.1, -2.5, 1e-300});
  CHECK(n.at("scalar").shape() == Shape{});
  CHECK(n.at("scalar").item<double>() == 2.5);
  CHECK(n.at("empty").shape() == Shape{0, 3});
  // 64 x 512 float32 (128 KiB, several deflate blocks): 0..7 repeated
  const Tensor big = n.at("big");
  REQUIRE(big.shape() == Shape{64, 512});
  const std::vector<float> values = big.to_vector();
  bool pattern = true;
  for (size_t i = 0; i < values.size(); ++i) pattern = pattern && values[i] == static_cast<float>(i % 8);
  CHECK(pattern);
}

TEST_CASE("sizes the zip directory declares are checked against the file before anything is allocated") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("sizes.npz");
  const std::string npy = encode_npy(f4_array({4}, {1, 2, 3, 4}));
  // the offsets of an entry's sizes: local header +18 (compressed) +22 (uncompressed), central +20 / +24
  auto with_sizes = [](std::string bytes, uint32_t compressed, uint32_t uncompressed) {
    const size_t local = bytes.find("PK\x03\x04"), central = bytes.find("PK\x01\x02");
    put_u32(bytes, local + 18, compressed);
    put_u32(bytes, local + 22, uncompressed);
    put_u32(bytes, central + 20, compressed);
    put_u32(bytes, central + 24, uncompressed);
    return bytes;
  };
  const std::string stored = zip_with(npy), deflated = zip_with(npy, true);
  const uint32_t size = static_cast<uint32_t>(npy.size()), packed = u32(deflated, 18);
  spit(path, with_sizes(stored, size, size));  // the control: the sizes as they are
  CHECK(load_tensors(path).at("x").to_vector() == std::vector<float>{1, 2, 3, 4});
  spit(path, with_sizes(deflated, packed, size));
  CHECK(load_tensors(path).at("x").to_vector() == std::vector<float>{1, 2, 3, 4});

  // a stored entry of 4 GiB - 2 in a file of a few hundred bytes
  spit(path, with_sizes(stored, 0xFFFFFFFEu, 0xFFFFFFFEu));
  CHECK_THROWS_AS(load_tensors(path), IoError);
  // stored sizes that differ
  spit(path, with_sizes(stored, size, size + 1));
  CHECK_THROWS_AS(load_tensors(path), IoError);
  // a deflated entry announcing 4 GiB from a few dozen bytes: more than deflate can expand
  spit(path, with_sizes(deflated, packed, 0xFFFFFFF0u));
  CHECK_THROWS_WITH_AS(load_tensors(path),
                       has(path + ": corrupted zip (deflated entry 'x.npy' declares 4294967280 bytes from " +
                           std::to_string(packed) + " compressed bytes, more than deflate can expand)"),
                       IoError);
  // a deflated entry that expands to more, or to less, than it declares
  spit(path, with_sizes(deflated, packed, size - 1));
  CHECK_THROWS_AS(load_tensors(path), IoError);
  spit(path, with_sizes(deflated, packed, size + 1));
  CHECK_THROWS_AS(load_tensors(path), IoError);
  // a compressed size past the end of the file
  spit(path, with_sizes(deflated, 0x7FFFFFFFu, size));
  CHECK_THROWS_AS(load_tensors(path), IoError);

  // a zip64 end record announcing 2^40 entries
  std::string zip64(56, '\0');
  put_u32(zip64, 0, 0x06064b50u);
  zip64[4] = 44;                                                            // size of the rest of the record
  for (const size_t at : {size_t{24}, size_t{32}}) zip64[at + 5] = '\x01';  // 2^40 entries
  std::string locator(20, '\0');
  put_u32(locator, 0, 0x07064b50u);
  locator[16] = 1;  // one disk
  std::string end = std::string("PK\x05\x06", 4) + std::string(18, '\0');
  for (size_t at = 8; at < 20; ++at) end[at] = '\xff';  // every count, size and offset "in the zip64 record"
  spit(path, zip64 + locator + end);
  CHECK_THROWS_AS(load_tensors(path), IoError);
}

TEST_CASE("an entry compressed with another method than deflate, or encrypted, is refused naming it") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("method.npz");
  std::string bytes = zip_with(encode_npy(f4_array({2}, {1, 2})), true);
  for (const std::string& header : {std::string("PK\x03\x04"), std::string("PK\x01\x02")}) {
    const size_t at = bytes.find(header) + (header[2] == 3 ? 8 : 10);
    bytes[at] = 12;  // bzip2
  }
  spit(path, bytes);
  CHECK_THROWS_WITH_AS(load_tensors(path),
                       has(path + ": entry 'x.npy' is compressed with zip method 12; only stored (numpy.savez) and "
                                  "deflated (numpy.savez_compressed) entries are supported"),
                       IoError);
  bytes = zip_with(encode_npy(f4_array({2}, {1, 2})));
  for (const std::string& header : {std::string("PK\x03\x04"), std::string("PK\x01\x02")}) {
    const size_t at = bytes.find(header) + (header[2] == 3 ? 6 : 8);
    bytes[at] = 1;  // flag bit 0: encrypted
  }
  spit(path, bytes);
  CHECK_THROWS_AS(load_tensors(path), IoError);
}

TEST_CASE("bad .npy headers are IoErrors naming the file and entry") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("bad.npz");
  const std::string good = encode_npy(f4_array({2}, {1, 2}));
  auto expect = [&](const std::string& npy, const std::string& message) {
    spit(path, zip_with(npy));
    CHECK_THROWS_WITH_AS(load_tensors(path), has(path + ": entry 'x': " + message), IoError);
  };
  auto with_header = [&](const std::string& dict) {
    std::string header = dict + "\n";
    std::string npy = std::string("\x93NUMPY\x01\x00", 8);
    npy += static_cast<char>(header.size() & 0xFF);
    npy += static_cast<char>(header.size() >> 8);
    return npy + header + std::string(8, '\0');  // two float32 zeros
  };
  expect("not an npy at all", "not a .npy array");
  std::string bad_version = good;
  bad_version[6] = 9;
  expect(bad_version, "unsupported .npy format version 9.0");
  expect(good.substr(0, 40), "truncated .npy header");
  expect(good.substr(0, good.size() - 1), ".npy data has 7 bytes, but shape [2] of '<f4' needs 8");
  spit(path, zip_with(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }")));
  CHECK(load_tensors(path).at("x").shape() == Shape{2});  // the control: a hand-made header that is fine
  expect(with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }"),
         "unsupported dtype '<i4' (expected bool '|b1', int64 '<i8', float32 '<f4' or float64 '<f8'");
  expect(with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"), "unsupported dtype '>f4'");
  expect(with_header("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }"), "unsupported dtype '>i8'");
  expect(with_header("{'descr': '|u1', 'fortran_order': False, 'shape': (8,), }"), "unsupported dtype '|u1'");
  expect(with_header("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }"), "unsupported dtype '<f2'");
  expect(with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"),
         ".npy data has 8 bytes, but shape [2] of '<i8' needs 16");
  expect(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }"), "Fortran-order arrays");
  expect(with_header("{'descr': '<f4', 'shape': (2,), }"), "bad .npy header (missing key 'fortran_order'");
  expect(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"),
         "bad .npy header (unexpected key 'x'");
  expect(with_header("{'descr': '<f4', 'fortran_order': Flase, 'shape': (2,), }"),
         "bad .npy header (expected True or False");
  expect(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,"), "bad .npy header");
  expect(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 2), }"),
         "bad .npy header (9 dimensions");
}

TEST_CASE("zip-level damage: not a zip, truncated at every length, non-.npy entries, duplicates") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("z.npz");
  spit(path, "hello, I am a text file\n");
  CHECK_THROWS_WITH_AS(load_tensors(path), has("not a zip/.npz file, or truncated"), IoError);
  spit(path, "");
  CHECK_THROWS_AS(load_tensors(path), IoError);

  save_tensors({{"w", tensor({1.0, 2.0, 3.0})}, {"v", tensor({4})}, {"m", tensor({true})}}, path);
  const std::string file = slurp(path);
  for (size_t n = 0; n < file.size(); ++n) {
    spit(path, file.substr(0, n));
    CHECK_THROWS_AS(load_tensors(path), IoError);
  }

  save_tensors({{"w", tensor({1.0, 2.0, 3.0})}, {"v", tensor({4})}}, path, {.compress = true});
  const std::string deflated = slurp(path);
  for (size_t n = 0; n < deflated.size(); ++n) {
    spit(path, deflated.substr(0, n));
    CHECK_THROWS_AS(load_tensors(path), IoError);
  }

  spit(path, encode_zip({{"readme.txt", "hi"}}));
  CHECK_THROWS_WITH_AS(load_tensors(path), has("entry 'readme.txt' is not a .npy array"), IoError);
  const std::string npy = encode_npy(f4_array({1}, {1}));
  CHECK_THROWS_AS(encode_zip({{"a.npy", npy}, {"a.npy", npy}}), IoError);  // refused when writing
  // two entries of the same name, made by renaming "b.npy" in both of its headers
  spit(path, replace_all(encode_zip({{"a.npy", npy}, {"b.npy", npy}}), "b.npy", "a.npy"));
  CHECK_THROWS_WITH_AS(load_tensors(path), has("duplicate zip entry"), IoError);
  // an empty archive (what numpy.savez writes for no arrays) holds nothing
  save_tensors({}, path);
  CHECK(slurp(path).size() == 22);
  CHECK(load_tensors(path).empty());
}

namespace {

// Flips bits 0, 3 and 7 of every byte of a small file (stored or deflated) in turn: each damaged file must
// be refused with IoError, or load the original values.
void check_bit_flips(bool compress) {
  CAPTURE(compress);
  unroll_test::TempDir dir;
  const std::string path = dir.file("flip.npz");
  // float32, float64, int64 and bool entries
  save_tensors({{"w", tensor({1.0, 2.0, 3.0})},
                {"bias", tensor({-4.0, 5.0}, kFloat64)},
                {"ids", tensor({3, 1})},
                {"mask", tensor({true, false})}},
               path, {.compress = compress});
  const std::string file = slurp(path);
  const auto original = load_tensors(path);
  int detected = 0, harmless = 0;
  for (size_t at = 0; at < file.size(); ++at) {
    for (int bit : {0, 3, 7}) {
      std::string damaged = file;
      damaged[at] = static_cast<char>(damaged[at] ^ (1 << bit));
      spit(path, damaged);
      try {
        const auto loaded = load_tensors(path);
        bool same = loaded.size() == original.size();
        for (const auto& [name, t] : original)
          same = same && loaded.count(name) && loaded.at(name).shape() == t.shape() &&
                 bytes_of(loaded.at(name)) == bytes_of(t);
        // a flip in a field the reader does not use (times, attributes, version numbers) may be harmless; a
        // different entry count shows up as a missing entry when loading a model
        CHECK_MESSAGE((same || loaded.size() < original.size()), "byte " << at << " bit " << bit << " changed values");
        ++harmless;
      } catch (const IoError&) {
        ++detected;
      }
    }
  }
  CHECK(detected > 3 * static_cast<int>(file.size()) * 3 / 4);
  MESSAGE(std::string(compress ? "deflated: " : "stored: ")
          << detected << " of " << detected + harmless
          << " bit flips detected; the rest touch fields the reader ignores");
}

}  // namespace

TEST_CASE("every single-bit flip is either detected or harmless (never silently wrong values)") {
  check_bit_flips(false);
  check_bit_flips(true);
}

TEST_CASE("write_file_atomic: replaces the file, leaves no temporary behind, fails cleanly") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("f.bin");
  write_file_atomic(path, "first");
  write_file_atomic(path, "second version");
  CHECK(slurp(path) == "second version");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    CHECK(entry.path().filename() == "f.bin");
  }
  CHECK(files == 1);
  // the target is a directory: rename fails, the temporary is removed, the directory stays
  std::filesystem::create_directory(dir.file("d"));
  CHECK_THROWS_WITH_AS(write_file_atomic(dir.file("d"), "x"), has("cannot rename"), IoError);
  CHECK(std::filesystem::is_directory(dir.file("d")));
  CHECK_THROWS_WITH_AS(write_file_atomic(dir.file("missing/f.bin"), "x"), has("cannot create"), IoError);
  files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  CHECK(files == 2);  // f.bin and d
}

TEST_CASE("read_npz: nonexistent files, directories, unreadable files") {
  unroll_test::TempDir dir;
  CHECK_THROWS_WITH_AS(read_npz(dir.file("nope.npz")), has("nope.npz: cannot open: No such file"), IoError);
  CHECK_THROWS_WITH_AS(read_npz(dir.path().string()), (dir.path().string() + ": not a regular file").c_str(), IoError);
  save_tensors({{"w", tensor({1.0})}}, dir.file("w.npz"));
  if (::geteuid() != 0) {  // root reads any file
    std::filesystem::permissions(dir.file("w.npz"), std::filesystem::perms::none);
    CHECK_THROWS_WITH_AS(read_npz(dir.file("w.npz")), has("w.npz: cannot open: Permission denied"), IoError);
  }
}

namespace {

// A sparse file of `size` bytes (no disk space used) whose last bytes are `tail`.
void sparse_file(const std::string& path, uint64_t size, const std::string& tail) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  REQUIRE(::pwrite(fd, tail.data(), tail.size(), static_cast<off_t>(size - tail.size())) ==
          static_cast<ssize_t>(tail.size()));
  ::close(fd);
}

struct ChildRun {
  int code = -1;           // exit code, -1 if killed
  long peak_rss_mib = -1;  // the child's peak resident memory
  double seconds = 0;
};

// Runs load_tensors(path) in a child process (killed after 120 s): exit code 0 when it throws IoError whose
// message contains `expected`, 1 when it returns, 2 for another exception, 3 for another message.
ChildRun load_in_child(const std::string& path, const std::string& expected) {
  std::fflush(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::alarm(120);
    int code = 0;
    try {
      load_tensors(path);
      code = 1;
    } catch (const IoError& e) {
      code = std::string(e.what()).find(expected) != std::string::npos ? 0 : 3;
    } catch (...) {
      code = 2;
    }
    ::_exit(code);
  }
  int status = 0;
  rusage usage{};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  ChildRun run;
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.peak_rss_mib = usage.ru_maxrss / 1024;  // KiB on Linux
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace

TEST_CASE("a huge file that is not an .npz is refused from its end, without reading or allocating it") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("huge.npz");
  for (const uint64_t size : {uint64_t{64} << 30, uint64_t{3} << 30}) {  // 64 GiB, then 3 GiB
    CAPTURE(size);
    sparse_file(path, size, "garbage, not a zip directory");
    const ChildRun run = load_in_child(path, path + ": not a zip/.npz file");
    MESSAGE("a " << (size >> 30) << " GiB file: exit code " << run.code << ", peak RSS " << run.peak_rss_mib << " MiB, "
                 << run.seconds << " s");
    CHECK(run.code == 0);  // 2 was std::bad_alloc (64 GiB); a reader of the whole file used 3 GiB
    CHECK(run.peak_rss_mib < 512);
    std::filesystem::remove(path);
  }
}
