// fuzz_npz: a mutation fuzzer for the .npz / .npy loader (optim/npz.cpp, through the internal API of
// optim/detail/npz.hpp), over stored (numpy.savez) and deflated (numpy.savez_compressed) archives.
//
// The corpus: archives written by unroll (stored and compressed, random arrays of the four dtypes, shapes
// of rank 0 to 8, empty ones, non-ASCII names) and the .npz fixtures NumPy wrote (tests/fixtures/optim_*.npz,
// both kinds). Each case takes one and
//   bytes      mutates its bytes: bit flips, interesting values (0, 0xFF.., sizes +-1, 2^31, 2^32 - 1...)
//              written over zip header fields (local, central, end and zip64 records, found by signature)
//              or anywhere, truncation, appended, erased, duplicated or random ranges;
//   npy        rewrites one .npy entry (header text, shape, dtype, version, header length, data length) and
//              archives it again, stored or compressed, so the CRC is right and the .npy parser is reached;
//   directory  declares other sizes, methods or flags in an entry's local and central headers alike;
//   random     random bytes, sometimes ending in a zip end record;
//   roundtrip  writes random arrays (stored or compressed) and reads them back: they must be identical.
// One case in 16 also goes through a file (write, then load_tensors(path)) and must end the same way.
//
// Every case must
//   1. return, or throw unroll::IoError: any other exception fails (std::bad_alloc and unroll::Error
//      included), and a crash fails the process (the sanitizer build turns memory errors into crashes);
//   2. give arrays whose data has exactly numel * itemsize bytes, which npy_to_tensor turns into tensors of
//      that shape and dtype;
//   3. give back exactly the arrays that were written when the input was not mutated.
//
//   fuzz_npz [--seed S] [--time SECONDS] [--iterations N] [--case I] [--fixtures DIR] [--verbose]
//
// The seed is printed first; a failure prints the command that replays exactly that case. CTest runs it
// with a time budget (tests/CMakeLists.txt); docs/reliability.md reports longer runs.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <unroll/unroll.hpp>
#include <vector>

#include "unroll/optim/detail/npz.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

using namespace unroll;
using namespace unroll::detail;

namespace {

// ---- what to print when the process dies in a case ---------------------------------------------------
char g_crash_note[512] = "";

void print_crash_note() {
  const char* head = "\nfuzz_npz: crashed in case: ";
  [[maybe_unused]] ssize_t r = write(2, head, std::strlen(head));
  r = write(2, g_crash_note, std::strlen(g_crash_note));
  r = write(2, "\n", 1);
}

void on_fatal_signal(int sig) {
  print_crash_note();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_crash_reporting() {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(print_crash_note);
#else
  for (int sig : {SIGSEGV, SIGFPE, SIGBUS, SIGILL, SIGABRT}) std::signal(sig, on_fatal_signal);
#endif
}

// ---- randomness (only raw mt19937_64 bits: the same cases on every platform) -------------------------
uint64_t mix(uint64_t x) {  // splitmix64 finalizer: one well-spread seed per case
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : bits_(seed) {}
  uint64_t bits() { return bits_(); }
  int64_t between(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(bits_() % static_cast<uint64_t>(hi - lo + 1));
  }
  size_t below(size_t n) { return static_cast<size_t>(bits_() % n); }
  bool chance(double p) { return static_cast<double>(bits_() >> 11) * 0x1.0p-53 < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

 private:
  std::mt19937_64 bits_;
};

// ---- arrays and archives -------------------------------------------------------------------------------
struct Archive {
  std::string origin;  // "unroll stored", "numpy compressed: optim_x.npz", ...
  bool compressed = false;
  std::string bytes;
  NpzEntries arrays;  // what it holds
};

NpyArray random_array(Rng& rng) {
  NpyArray a;
  a.type = static_cast<NpyType>(rng.between(0, 3));
  const int rank = static_cast<int>(rng.chance(0.1) ? rng.between(5, 8) : rng.between(0, 4));
  std::vector<int64_t> dims;
  for (int d = 0; d < rank; ++d) dims.push_back(rng.chance(0.1) ? 0 : rng.between(1, rank > 3 ? 2 : 9));
  a.shape = Shape(dims.begin(), dims.end());
  const size_t itemsize = static_cast<size_t>(element_size(dtype_of(a.type)));
  a.bytes.resize(static_cast<size_t>(a.shape.numel()) * itemsize);
  const bool compressible = rng.chance(0.5);  // runs of equal values, which deflate shrinks
  for (size_t i = 0; i < a.bytes.size(); ++i)
    a.bytes[i] = static_cast<char>(a.type == NpyType::B1 ? rng.between(0, 1)
                                   : compressible        ? (i / itemsize) % 3
                                                         : static_cast<int64_t>(rng.bits() & 0xFF));
  return a;
}

NpzEntries random_arrays(Rng& rng) {
  static const std::vector<std::string> names = {"w",   "rnn.weight_ih_l0",  "state.0.step", "param_groups.0.betas",
                                                 "x y", "\xc3\xa9t\xc3\xa9", "type.Adam",    "a.b.c.d"};
  NpzEntries out;
  const int64_t n = rng.between(rng.chance(0.05) ? 0 : 1, 5);
  for (int64_t i = 0; i < n; ++i) out.emplace_back(rng.pick(names) + std::to_string(i), random_array(rng));
  return out;
}

std::vector<ZipEntry> zip_entries(const NpzEntries& arrays) {
  std::vector<ZipEntry> out;
  for (const auto& [key, array] : arrays) out.push_back({key + ".npy", encode_npy(array)});
  return out;
}

bool same(const NpzEntries& a, const NpzEntries& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || a[i].second.shape != b[i].second.shape || a[i].second.type != b[i].second.type ||
        a[i].second.bytes != b[i].second.bytes)
      return false;
  return true;
}

std::vector<Archive> g_corpus;

void build_corpus(const std::string& fixtures) {
  Rng rng(20240612);  // the corpus does not depend on the run's seed: --case replays need the same one
  for (int i = 0; i < 24; ++i) {
    Archive a;
    a.compressed = i % 2 == 1;
    a.origin = a.compressed ? "unroll compressed" : "unroll stored";
    a.arrays = random_arrays(rng);
    a.bytes = encode_zip(zip_entries(a.arrays), a.compressed);
    g_corpus.push_back(std::move(a));
  }
  namespace fs = std::filesystem;
  std::error_code error;
  for (const auto& file : fs::directory_iterator(fixtures, error)) {
    const std::string name = file.path().filename().string();
    if (file.path().extension() != ".npz") continue;
    std::ifstream in(file.path(), std::ios::binary);
    Archive a;
    a.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    a.compressed = a.bytes.size() > 10 && a.bytes[8] == 8;  // the first local header's method
    a.origin = std::string(a.compressed ? "numpy compressed: " : "numpy stored: ") + name;
    a.arrays = decode_npz(a.bytes, name);
    g_corpus.push_back(std::move(a));
  }
}

// ---- mutations -----------------------------------------------------------------------------------------
uint64_t interesting(Rng& rng, uint64_t size) {
  static const std::vector<uint64_t> values = {0,          1,          2,           0x7F,       0x80,       0xFF,
                                               0x100,      0x7FFF,     0xFFFF,      0x10000,    0x7FFFFFFF, 0x80000000,
                                               0xFFFFFFFE, 0xFFFFFFFF, 0x100000000, 1ull << 40, 1ull << 62, ~0ull};
  switch (rng.between(0, 3)) {
    case 0:
      return size + static_cast<uint64_t>(rng.between(-2, 2));
    case 1:
      return rng.bits() & 0xFFFF;
    default:
      return rng.pick(values);
  }
}

void put(std::string& s, size_t at, uint64_t value, int width) {
  for (int k = 0; k < width && at + static_cast<size_t>(k) < s.size(); ++k)
    s[at + static_cast<size_t>(k)] = static_cast<char>((value >> (8 * k)) & 0xFF);
}

// The offsets of a zip's header fields: every occurrence of a record signature plus the field offsets of
// that record (APPNOTE.TXT 4.3), and the .npy version and header length.
std::vector<std::pair<size_t, int>> fields_of(const std::string& s) {
  struct Record {
    std::string signature;
    std::vector<std::pair<size_t, int>> fields;  // offset, width
  };
  static const std::vector<Record> records = {
      {"PK\x03\x04", {{4, 2}, {6, 2}, {8, 2}, {14, 4}, {18, 4}, {22, 4}, {26, 2}, {28, 2}}},
      {"PK\x01\x02", {{6, 2}, {8, 2}, {10, 2}, {16, 4}, {20, 4}, {24, 4}, {28, 2}, {30, 2}, {32, 2}, {34, 2}, {42, 4}}},
      {"PK\x05\x06", {{4, 2}, {6, 2}, {8, 2}, {10, 2}, {12, 4}, {16, 4}, {20, 2}}},
      {"PK\x06\x06", {{4, 8}, {24, 8}, {32, 8}, {40, 8}, {48, 8}}},
      {"PK\x06\x07", {{4, 4}, {8, 8}, {16, 4}}},
      {"\x01\x00", {{2, 2}, {4, 8}, {12, 8}, {20, 8}}},  // a zip64 extra field (tag 1)
      {"\x93NUMPY", {{6, 1}, {7, 1}, {8, 2}, {8, 4}}}};
  std::vector<std::pair<size_t, int>> out;
  for (const Record& r : records)
    for (size_t at = s.find(r.signature); at != std::string::npos; at = s.find(r.signature, at + 1))
      for (const auto& [offset, width] : r.fields) out.emplace_back(at + offset, width);
  return out;
}

void mutate_bytes(Rng& rng, std::string& s) {
  const int64_t count = rng.between(1, rng.chance(0.3) ? 8 : 2);
  for (int64_t k = 0; k < count; ++k) {
    const size_t size = s.size();
    switch (rng.between(0, 9)) {
      case 0:  // a bit flip
        if (size) s[rng.below(size)] ^= static_cast<char>(1 << rng.between(0, 7));
        break;
      case 1:  // a byte set to an interesting value
        if (size) s[rng.below(size)] = static_cast<char>(rng.pick(std::vector<int>{0, 1, 0x7F, 0x80, 0xFF, '\'', ','}));
        break;
      case 2:
      case 3:
      case 4: {  // a header field set to an interesting value
        const auto fields = fields_of(s);
        if (fields.empty()) break;
        const auto [at, width] = rng.pick(fields);
        put(s, at, interesting(rng, size), width);
        break;
      }
      case 5:  // a 1, 2, 4 or 8-byte value anywhere
        if (size) put(s, rng.below(size), interesting(rng, size), 1 << rng.between(0, 3));
        break;
      case 6:  // truncated
        s.resize(rng.below(size + 1));
        break;
      case 7:  // bytes appended or inserted
        s.insert(rng.below(size + 1), rng.chance(0.5) ? std::string(rng.below(64) + 1, '\0')
                                                      : std::string(rng.below(8) + 1, static_cast<char>(rng.bits())));
        break;
      case 8:  // a range erased
        if (size) {
          const size_t at = rng.below(size);
          s.erase(at, rng.below(size - at) + 1);
        }
        break;
      default:  // a range duplicated
        if (size) {
          const size_t at = rng.below(size), len = rng.below(std::min<size_t>(size - at, 256)) + 1;
          s.insert(rng.below(size + 1), s.substr(at, len));
        }
        break;
    }
  }
}

// One .npy entry rewritten: header text, numbers, lengths.
std::string mutate_npy(Rng& rng, std::string npy) {
  static const std::vector<std::string> descrs = {"'<f4'", "'<f8'", "'<i8'", "'|b1'", "'<i4'", "'>f4'",
                                                  "'|u1'", "'<f2'", "'<c8'", "'O'",   "''",    "'<f4"};
  static const std::vector<std::string> shapes = {"()",
                                                  "(0,)",
                                                  "(1,)",
                                                  "(3,)",
                                                  "(2, 3)",
                                                  "(99999999999,)",
                                                  "(-1,)",
                                                  "(1, 1, 1, 1, 1, 1, 1, 1, 2)",
                                                  "(4611686018427387904, 4)",
                                                  "(2,3",
                                                  "(2 3)",
                                                  "(1L, 2)"};
  const size_t header = npy.find('{');
  switch (rng.between(0, 6)) {
    case 0:
      if (const size_t at = npy.find("'descr': "); at != std::string::npos) {
        const size_t end = npy.find(',', at);
        npy.replace(at + 9, end - at - 9, rng.pick(descrs));
      }
      break;
    case 1:
      if (const size_t at = npy.find("'shape': "); at != std::string::npos) {
        const size_t end = npy.find(')', at);
        if (end != std::string::npos) npy.replace(at + 9, end - at - 8, rng.pick(shapes));
      }
      break;
    case 2:
      if (const size_t at = npy.find("False"); at != std::string::npos)
        npy.replace(at, 5, rng.pick(std::vector<std::string>{"True", "Flase", "0", "False, 'x': 1"}));
      break;
    case 3:  // the version
      if (npy.size() > 7) {
        npy[6] = static_cast<char>(rng.between(0, 4));
        npy[7] = static_cast<char>(rng.chance(0.8) ? 0 : 1);
      }
      break;
    case 4:  // the header length
      if (npy.size() > 9) put(npy, 8, interesting(rng, npy.size()), rng.chance(0.7) ? 2 : 4);
      break;
    case 5:  // the data: shorter or longer
      if (rng.chance(0.5) && !npy.empty())
        npy.resize(npy.size() - rng.below(std::min<size_t>(npy.size(), 16)) - 1);
      else
        npy.append(rng.below(16) + 1, '\x02');
      break;
    default:  // a byte of the header text
      if (header != std::string::npos && header < npy.size()) {
        const size_t at = header + rng.below(npy.size() - header);
        npy[at] = rng.pick(std::vector<char>{'{', '}', '(', ')', ',', ':', '\'', '"', ' ', '\n', '9', 'L', '\0'});
      }
      break;
  }
  return npy;
}

// An entry's local and central headers changed alike: sizes, method or flags.
void mutate_directory(Rng& rng, std::string& s) {
  const size_t central = s.find("PK\x01\x02"), local = s.find("PK\x03\x04");
  if (central == std::string::npos || local == std::string::npos) return;
  const int kind = static_cast<int>(rng.between(0, 3));
  const uint64_t value = kind == 2 ? rng.pick(std::vector<uint64_t>{0, 8, 12, 14, 93, 99}) : interesting(rng, s.size());
  switch (kind) {
    case 0:  // uncompressed size
      put(s, local + 22, value, 4);
      put(s, central + 24, value, 4);
      break;
    case 1:  // compressed size
      put(s, local + 18, value, 4);
      put(s, central + 20, value, 4);
      break;
    case 2:  // method
      put(s, local + 8, value, 2);
      put(s, central + 10, value, 2);
      break;
    default:  // flags: encrypted, data descriptor, UTF-8 name
      put(s, local + 6, static_cast<uint64_t>(rng.pick(std::vector<int>{1, 8, 0x800, 0x41})), 2);
      put(s, central + 8, static_cast<uint64_t>(rng.pick(std::vector<int>{1, 8, 0x800, 0x41})), 2);
      break;
  }
}

// ---- cases ---------------------------------------------------------------------------------------------
struct Stats {
  int64_t cases = 0, loaded = 0, refused = 0, through_files = 0, stored_inputs = 0, compressed_inputs = 0;
  std::map<std::string, int64_t> per_kind;
};

struct Outcome {
  bool loaded = false;
  std::string failure;  // empty: the properties hold
  NpzEntries arrays;
};

// Properties 1 and 2 for one input.
template <class Load>
Outcome check_load(const Load& load) {
  Outcome out;
  try {
    out.arrays = load();
    out.loaded = true;
  } catch (const IoError&) {
    return out;
  } catch (const std::bad_alloc&) {
    out.failure = "std::bad_alloc: an allocation was not bounded by the file";
    return out;
  } catch (const Error& e) {
    out.failure = std::string("threw unroll::Error instead of unroll::IoError: ") + e.what();
    return out;
  } catch (const std::exception& e) {
    out.failure = std::string("threw a non-unroll exception: ") + e.what();
    return out;
  }
  for (const auto& [key, array] : out.arrays) {
    const size_t itemsize = static_cast<size_t>(element_size(dtype_of(array.type)));
    if (array.bytes.size() != static_cast<size_t>(array.shape.numel()) * itemsize) {
      out.failure = "array '" + key + "' of shape " + to_string(array.shape) + " has " +
                    std::to_string(array.bytes.size()) + " data bytes";
      return out;
    }
    try {
      const Tensor t = npy_to_tensor(array);
      if (t.shape() != array.shape || t.dtype() != dtype_of(array.type))
        out.failure = "array '" + key + "' became a tensor of another shape or dtype";
    } catch (const std::exception& e) {
      out.failure = "array '" + key + "' did not become a tensor: " + e.what();
    }
  }
  return out;
}

std::string run_case(uint64_t seed, int64_t index, Stats& stats, bool verbose, const std::string& scratch) {
  Rng rng(mix(seed ^ mix(static_cast<uint64_t>(index))));
  const Archive& base = rng.pick(g_corpus);
  std::string bytes = base.bytes;
  const NpzEntries* expected = nullptr;  // the arrays an unmutated input must give back
  NpzEntries written;
  bool compressed = base.compressed;
  std::string kind;
  const int64_t draw = rng.between(0, 99);
  if (draw < 45) {
    kind = "bytes";
    mutate_bytes(rng, bytes);
  } else if (draw < 70) {
    kind = "npy";
    std::vector<ZipEntry> entries = zip_entries(base.arrays);
    if (!entries.empty()) {
      ZipEntry& e = entries[rng.below(entries.size())];
      if (rng.chance(0.9))
        e.data = mutate_npy(rng, e.data);
      else
        e.name = rng.pick(std::vector<std::string>{"x.txt", ".npy", "a/b.npy", "x.NPY", "\xff.npy"});
    }
    compressed = rng.chance(0.5);
    bytes = encode_zip(entries, compressed);
  } else if (draw < 80) {
    kind = "directory";
    mutate_directory(rng, bytes);
  } else if (draw < 85) {
    kind = "random";
    bytes.resize(rng.below(300));
    for (char& c : bytes) c = static_cast<char>(rng.bits());
    if (rng.chance(0.5)) bytes += std::string("PK\x05\x06", 4) + std::string(18, '\0');
    compressed = false;
  } else {
    kind = "roundtrip";
    written = random_arrays(rng);
    compressed = rng.chance(0.5);
    bytes = encode_zip(zip_entries(written), compressed);
    expected = &written;
  }
  if (kind != "roundtrip" && bytes == base.bytes) expected = &base.arrays;  // a mutation may change nothing
  ++stats.cases;
  ++stats.per_kind[kind];
  ++(compressed ? stats.compressed_inputs : stats.stored_inputs);
  std::snprintf(g_crash_note, sizeof g_crash_note, "fuzz_npz --seed %llu --case %lld --verbose (%s, from %s)",
                static_cast<unsigned long long>(seed), static_cast<long long>(index), kind.c_str(),
                base.origin.c_str());
  if (verbose) std::printf("%s: %zu bytes\n", g_crash_note, bytes.size());

  const Outcome outcome = check_load([&] { return decode_npz(bytes, "input"); });
  if (!outcome.failure.empty()) return outcome.failure;
  ++(outcome.loaded ? stats.loaded : stats.refused);
  if (verbose) std::printf("  %s\n", outcome.loaded ? "loaded" : "refused with IoError");
  if (expected && !(outcome.loaded && same(outcome.arrays, *expected)))
    return "an unmutated archive did not read back as written";

  if (rng.chance(1.0 / 16)) {  // the same bytes from a file: the same outcome
    ++stats.through_files;
    {
      std::ofstream out(scratch, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    const Outcome from_file = check_load([&] { return read_npz(scratch); });
    if (!from_file.failure.empty()) return "from a file: " + from_file.failure;
    if (from_file.loaded != outcome.loaded || (from_file.loaded && !same(from_file.arrays, outcome.arrays)))
      return "the file and the same bytes in memory gave different results";
  }
  return "";
}

int usage() {
  std::printf(
      "usage: fuzz_npz [--seed S] [--time SECONDS (10)] [--iterations N] [--case I] [--fixtures DIR] [--verbose]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = std::random_device{}() ^
                  (static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) << 1);
  double budget = 10;
  int64_t iterations = -1, only_case = -1;
  bool verbose = false;
#ifdef UNROLL_FIXTURES_DIR
  std::string fixtures = UNROLL_FIXTURES_DIR;
#else
  std::string fixtures = "tests/fixtures";
#endif
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--seed" && has_value)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--time" && has_value)
      budget = std::atof(argv[++i]);
    else if (arg == "--iterations" && has_value)
      iterations = std::atoll(argv[++i]);
    else if (arg == "--case" && has_value)
      only_case = std::atoll(argv[++i]);
    else if (arg == "--fixtures" && has_value)
      fixtures = argv[++i];
    else if (arg == "--verbose")
      verbose = true;
    else
      return usage();
  }
  build_corpus(fixtures);
  int numpy_files = 0;
  for (const Archive& a : g_corpus) numpy_files += a.origin.rfind("numpy", 0) == 0;
  if (numpy_files == 0) {
    std::fprintf(stderr, "fuzz_npz: no .npz fixtures in %s\n", fixtures.c_str());
    return 2;
  }
  install_crash_reporting();
  const std::string scratch =
      (std::filesystem::temp_directory_path() / ("fuzz_npz-" + std::to_string(static_cast<long>(::getpid())) + ".npz"))
          .string();
  std::printf("fuzz_npz: seed %llu, %zu corpus archives (%d from NumPy), budget %g s\n",
              static_cast<unsigned long long>(seed), g_corpus.size(), numpy_files, budget);
  std::fflush(stdout);

  Stats stats;
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  int status = 0;
  for (int64_t i = only_case >= 0 ? only_case : 0;; ++i) {
    if (only_case >= 0 && i > only_case) break;
    if (only_case < 0 && ((iterations >= 0 && i >= iterations) || (iterations < 0 && elapsed() >= budget))) break;
    const std::string failure = run_case(seed, i, stats, verbose, scratch);
    if (!failure.empty()) {
      std::printf("fuzz_npz: FAILED: %s\nreproduce: fuzz_npz --seed %llu --case %lld --verbose\n", failure.c_str(),
                  static_cast<unsigned long long>(seed), static_cast<long long>(i));
      status = 1;
      break;
    }
  }
  std::error_code ignored;
  std::filesystem::remove(scratch, ignored);
  if (status != 0) return status;
  std::string kinds;
  for (const auto& [kind, n] : stats.per_kind) kinds += " " + kind + " " + std::to_string(n);
  std::printf(
      "fuzz_npz: %lld cases in %.1f s (%lld from stored archives, %lld compressed; %lld also through a file): "
      "%lld loaded, %lld refused with unroll::IoError; by kind:%s\n",
      static_cast<long long>(stats.cases), elapsed(), static_cast<long long>(stats.stored_inputs),
      static_cast<long long>(stats.compressed_inputs), static_cast<long long>(stats.through_files),
      static_cast<long long>(stats.loaded), static_cast<long long>(stats.refused), kinds.c_str());
  return 0;
}
