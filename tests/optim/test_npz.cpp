// The .npy/.npz code (optim/npz.cpp, internal API optim/detail/npz.hpp): CRC-32, byte-exact agreement with
// numpy's .npy encoding, the byte layout of written files, files NumPy wrote (including zip64 extra fields,
// .npy 2.0 headers and float64), and rejection of every kind of damage with IoError.
//
// With UNROLL_NPZ_KEEP=/some/path.npz in the environment, the byte-layout test also leaves its file there;
// `/usr/bin/python3 tests/gen_optim_fixtures.py --check-written /some/path.npz` then checks it with numpy.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
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

// An .npz with one entry "x.npy" holding `npy` bytes, as raw zip bytes.
std::string zip_with(const std::string& npy) { return encode_zip({{"x.npy", npy}}); }

}  // namespace

TEST_CASE("crc32: the standard check value, and continuation over pieces") {
  const std::string s = "123456789";
  CHECK(crc32(s.data(), s.size()) == 0xCBF43926u);
  CHECK(crc32(s.data() + 4, 5, crc32(s.data(), 4)) == 0xCBF43926u);
  CHECK(crc32(nullptr, 0) == 0);
}

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
  std::map<std::string, Tensor> tensors = {
      {"a", reshape(arange(12), {3, 4})}, {"b.c", tensor({0.5, -1.5})}, {"s", scalar(2.5)}};
  save_tensors(tensors, path);
  if (const char* keep = std::getenv("UNROLL_NPZ_KEEP")) save_tensors(tensors, keep);
  const std::string file = slurp(path);

  // first entry: local file header, stored, name "a.npy"
  REQUIRE(file.size() > 200);
  CHECK(file.substr(0, 4) == std::string("PK\x03\x04", 4));
  CHECK(u16(file, 8) == 0);  // method: stored
  const uint32_t size = u32(file, 18);
  CHECK(u32(file, 22) == size);  // compressed == uncompressed
  CHECK(u16(file, 26) == 5);
  CHECK(file.substr(30, 5) == "a.npy");
  const size_t npy = 30 + 5 + u16(file, 28);
  const std::string entry = file.substr(npy, size);
  CHECK(u32(file, 14) == crc32(entry.data(), entry.size()));

  // the .npy inside: magic, version 1.0, header dict, padding to 64 bytes, then float32 data
  CHECK(entry.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_len = u16(entry, 8);
  CHECK((10 + header_len) % 64 == 0);
  const std::string header = entry.substr(10, header_len);
  const std::string dtype = sizeof(real) == 4 ? "<f4" : "<f8";
  CHECK(header.rfind("{'descr': '" + dtype + "', 'fortran_order': False, 'shape': (3, 4), }", 0) == 0);
  CHECK(header.back() == '\n');
  REQUIRE(entry.size() == 10 + header_len + 12 * sizeof(real));
  for (int i = 0; i < 12; ++i) {
    real v;
    std::memcpy(&v, entry.data() + 10 + header_len + i * sizeof(real), sizeof(real));
    CHECK(v == static_cast<real>(i));
  }

  // end of central directory: 3 entries, the central directory right before it
  const size_t end = file.size() - 22;
  CHECK(u32(file, end) == 0x06054b50u);
  CHECK(u16(file, end + 10) == 3);
  const uint32_t central_size = u32(file, end + 12), central_offset = u32(file, end + 16);
  CHECK(central_offset + central_size == end);
  CHECK(u32(file, central_offset) == 0x02014b50u);

  // and it reads back
  const auto back = load_tensors(path);
  REQUIRE(back.size() == 3);
  CHECK(back.at("a").shape() == Shape{3, 4});
  CHECK(back.at("b.c").to_vector() == std::vector<real>{0.5, -1.5});
  CHECK(back.at("s").shape() == Shape{});
  CHECK(back.at("s").item() == 2.5);
}

TEST_CASE("files NumPy wrote: numpy.savez with zip64 extra fields, .npy 2.0, float64, scalars, empty") {
  const NpzEntries torch_state = read_npz(fixture("optim_torch_state.npz"));
  CHECK(torch_state.size() == 8);  // a 2-layer LSTM: weight_ih, weight_hh, bias_ih, bias_hh per layer
  CHECK(torch_state[0].first == "weight_ih_l0");
  CHECK(torch_state[0].second.shape == Shape{12, 4});

  const auto v = load_tensors(fixture("optim_numpy_variants.npz"));
  REQUIRE(v.size() == 5);
  CHECK(v.at("f8").shape() == Shape{2, 3});
  CHECK(v.at("f8").to_vector() ==
        std::vector<real>{1.5, -2.25, 3.0, static_cast<real>(0.1), static_cast<real>(1e-3), -7.0});
  CHECK(v.at("v2").to_vector() == std::vector<real>{0, 1, 2, 3, 4, 5});
  CHECK(v.at("scalar").shape() == Shape{});
  CHECK(v.at("scalar").item() == 2.5);
  CHECK(v.at("empty").shape() == Shape{0, 3});
  CHECK(v.at("rank3").shape() == Shape{2, 3, 4});
  CHECK(v.at("rank3").at({1, 2, 3}) == static_cast<real>(23) / 8);
}

TEST_CASE("numpy.savez_compressed files are rejected with a clear error") {
  const std::string path = fixture("optim_compressed.npz");
  CHECK_THROWS_WITH_AS(load_tensors(path),
                       has(path + ": entry 'w.npy' is compressed (zip method 8); only stored entries are "
                                  "supported: write the file with numpy.savez, not numpy.savez_compressed"),
                       IoError);
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
  expect(with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }"), "unsupported dtype '<i8'");
  expect(with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"), "unsupported dtype '>f4'");
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

  save_tensors({{"w", tensor({1, 2, 3})}, {"v", tensor({4})}}, path);
  const std::string file = slurp(path);
  for (size_t n = 0; n < file.size(); ++n) {
    spit(path, file.substr(0, n));
    CHECK_THROWS_AS(load_tensors(path), IoError);
  }

  spit(path, encode_zip({{"readme.txt", "hi"}}));
  CHECK_THROWS_WITH_AS(load_tensors(path), has("entry 'readme.txt' is not a .npy array"), IoError);
  const std::string npy = encode_npy(f4_array({1}, {1}));
  spit(path, encode_zip({{"a.npy", npy}, {"a.npy", npy}}));
  CHECK_THROWS_WITH_AS(load_tensors(path), has("duplicate zip entry 'a.npy'"), IoError);
}

TEST_CASE("every single-bit flip is either detected or harmless (never silently wrong values)") {
  unroll_test::TempDir dir;
  const std::string path = dir.file("flip.npz");
  save_tensors({{"w", tensor({1, 2, 3})}, {"bias", tensor({-4, 5})}}, path);
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
                 loaded.at(name).to_vector() == t.to_vector();
        // a flip in a field the reader does not use (times, attributes, the local copy of the sizes)
        // may be harmless; a different entry count shows up as a missing entry when loading a model
        CHECK_MESSAGE((same || loaded.size() < original.size()), "byte " << at << " bit " << bit << " changed values");
        ++harmless;
      } catch (const IoError&) {
        ++detected;
      }
    }
  }
  CHECK(detected > 3 * static_cast<int>(file.size()) * 3 / 4);
  MESSAGE(detected << " of " << detected + harmless << " bit flips detected; the rest touch fields the reader ignores");
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

TEST_CASE("read_file: nonexistent files and directories") {
  unroll_test::TempDir dir;
  CHECK_THROWS_WITH_AS(read_file(dir.file("nope.npz")), has("nope.npz: cannot open: No such file"), IoError);
  CHECK_THROWS_WITH_AS(read_file(dir.path().string()), has("not a regular file"), IoError);
}
