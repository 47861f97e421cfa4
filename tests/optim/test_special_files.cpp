// Readers of input files open only regular files, and never block doing so: unroll::load / load_tensors
// (optim/npz.cpp) and the examples' text reader (examples/common/text_file.hpp) refuse a FIFO, a character
// device and a directory at once. Opening a FIFO for reading waits for a writer, and reading /dev/zero
// never ends, so each attempt runs in a child process with an alarm: a reader that blocks is killed and
// fails the test instead of hanging it.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <string>

#include "common/text_file.hpp"
#include "temp_dir.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;

namespace {

constexpr int kAlarmSeconds = 20;

// How a child process ended: "ok", "blocked" (killed by the alarm), or what went wrong.
std::string outcome(int status) {
  if (WIFSIGNALED(status))
    return WTERMSIG(status) == SIGALRM ? "blocked" : "killed by signal " + std::to_string(WTERMSIG(status));
  if (!WIFEXITED(status)) return "ended strangely";
  switch (WEXITSTATUS(status)) {
    case 0:
      return "ok";
    case 1:
      return "no exception";
    case 2:
      return "an exception of the wrong type";
    case 3:
      return "the wrong message";
    default:
      return "exit code " + std::to_string(WEXITSTATUS(status));
  }
}

// Runs `read` in a child process that the alarm kills after kAlarmSeconds. `read` returns 0 when it threw
// the expected exception with the expected message, 1 to 3 otherwise (see outcome()).
std::string run_in_child(const std::function<int()>& read) {
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::alarm(kAlarmSeconds);
#if !defined(__SANITIZE_ADDRESS__)              // ASan reserves terabytes of address space for its shadow memory
    const rlimit memory{4ul << 30, 4ul << 30};  // a reader that swallows /dev/zero fails at 4 GiB, not by OOM
    ::setrlimit(RLIMIT_AS, &memory);
#endif
    ::_exit(read());
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return outcome(status);
}

// 0 if load_tensors(path) throws IoError naming the path and "not a regular file".
int expect_loader_refuses(const std::string& path) {
  try {
    load_tensors(path);
    return 1;
  } catch (const IoError& e) {
    const std::string message = e.what();
    return message.find(path) != std::string::npos && message.find("not a regular file") != std::string::npos ? 0 : 3;
  } catch (...) {
    return 2;
  }
}

// 0 if examples::read_text_file(path) throws DataError "<path>: not a regular file".
int expect_text_reader_refuses(const std::string& path) {
  try {
    examples::read_text_file(path);
    return 1;
  } catch (const examples::DataError& e) {
    return std::string(e.what()) == path + ": not a regular file" ? 0 : 3;
  } catch (...) {
    return 2;
  }
}

}  // namespace

TEST_CASE("load and load_tensors refuse a FIFO, a character device and a directory without blocking") {
  unroll_test::TempDir dir;
  const std::string fifo = dir.file("model.npz");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(run_in_child([&] { return expect_loader_refuses(fifo); }) == "ok");
  CHECK(run_in_child([&] {
          layers::Linear model({.in_features = 2, .out_features = 1});
          try {
            load(model, fifo);
            return 1;
          } catch (const IoError& e) {
            return std::string(e.what()).rfind("load: " + fifo + ": not a regular file", 0) == 0 ? 0 : 3;
          } catch (...) {
            return 2;
          }
        }) == "ok");
  CHECK(run_in_child([&] { return expect_loader_refuses("/dev/zero"); }) == "ok");
  CHECK(run_in_child([&] { return expect_loader_refuses(dir.path().string()); }) == "ok");
}

TEST_CASE("the examples' text reader refuses a FIFO, a character device and a directory without blocking") {
  unroll_test::TempDir dir;
  const std::string fifo = dir.file("ptb.train.txt");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(run_in_child([&] { return expect_text_reader_refuses(fifo); }) == "ok");
  CHECK(run_in_child([&] { return expect_text_reader_refuses("/dev/zero"); }) == "ok");
  CHECK(run_in_child([&] { return expect_text_reader_refuses(dir.path().string()); }) == "ok");
  // the controls: a regular file is read, a missing one is still "cannot open"
  const std::string text = dir.file("text.txt");
  std::FILE* f = std::fopen(text.c_str(), "w");
  REQUIRE(f);
  std::fputs("the cat sat\n", f);
  std::fclose(f);
  CHECK(examples::read_text_file(text) == "the cat sat\n");
  CHECK_THROWS_WITH_AS(examples::read_text_file(dir.file("missing.txt")),
                       (dir.file("missing.txt") + ": cannot open").c_str(), examples::DataError);
}
