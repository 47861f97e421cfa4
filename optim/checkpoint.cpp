#include "unroll/optim/checkpoint.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc >= 2.28)
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "unroll/framework/detail/check.hpp"
#include "unroll/layers/module.hpp"
#include "unroll/optim/detail/npz.hpp"
#include "unroll/optim/detail/state.hpp"
#include "unroll/optim/optimizer.hpp"
#include "unroll/optim/schedule.hpp"

namespace unroll {

namespace {

using detail::NpzEntries;

// "load_state_dict: x" / "Adam: load_state_dict: x" -> "x" / "Adam: x": the op is already "load"
std::string without_load_state_dict(std::string message) {
  if (const size_t at = message.find("load_state_dict: "); at != std::string::npos && at < 40) message.erase(at, 17);
  return message;
}

// Runs `body`, prefixing the message of any unroll exception with "<op>: <path>: " (IoErrors from the npz
// code already name the path). A value out of range in a file (StateValueError) is an IoError: the file
// is damaged or was not written by save().
template <class Body>
auto with_context(const char* op, const std::string& path, Body&& body) {
  try {
    return body();
  } catch (const IoError& e) {
    throw IoError(fmt::format("{}: {}", op, e.what()));
  } catch (const detail::StateValueError& e) {
    throw IoError(fmt::format("{}: {}: {}", op, path, without_load_state_dict(e.what())));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}: {}", op, path, without_load_state_dict(e.what())));
  }
}

// Every entry with its own dtype, in key order (StateDict is sorted).
void write_state(const optim::StateDict& state, const std::string& path, const SaveOptions& options) {
  NpzEntries entries;
  for (const auto& [key, tensor] : state) {
    detail::check(tensor.defined(), "entry '{}' is undefined", key);
    entries.emplace_back(key, detail::npy_from_tensor(tensor));
  }
  detail::write_npz(path, entries, options.compress);
}

std::map<std::string, Tensor> read_tensors(const std::string& path) {
  std::map<std::string, Tensor> out;
  for (const auto& [key, array] : detail::read_npz(path)) out[key] = detail::npy_to_tensor(array);
  return out;
}

// A checkpoint keeps dtypes: an entry whose dtype is not the one of the tensor it would be copied into is
// refused, not converted (a float64 file into a float32 model is a mistake to report, not to hide).
void check_same_dtype(const std::string& path, const std::string& entry, DType in_file, DType expected,
                      const std::string& target) {
  if (in_file == expected) [[likely]]
    return;
  const std::string hint = !is_floating_point(in_file) ? ""
                           : in_file == kFloat64       ? " (convert the model with .to(kFloat64) before loading)"
                                                       : " (convert the model with .to(kFloat32) before loading)";
  throw IoError(fmt::format("{}: entry '{}' is {} but {} is {}{}", path, entry, unroll::name(in_file), target,
                            unroll::name(expected), hint));
}

}  // namespace

void save(const layers::Module& module, const std::string& path, const SaveOptions& options) {
  with_context("save", path, [&] {
    NpzEntries entries;
    for (const auto& [name, p] : module.named_parameters()) entries.emplace_back(name, detail::npy_from_tensor(p));
    detail::write_npz(path, entries, options.compress);
  });
}

void load(layers::Module& module, const std::string& path) {
  with_context("load", path, [&] {
    const std::map<std::string, Tensor> state = read_tensors(path);
    for (const auto& [name, p] : module.named_parameters())  // before anything is copied
      if (const auto it = state.find(name); it != state.end())
        check_same_dtype(path, name, it->second.dtype(), p.dtype(), "the parameter");
    module.load_state_dict(state);  // validates every entry before copying any
  });
}

void save(const optim::Optimizer& optimizer, const std::string& path, const SaveOptions& options) {
  with_context("save", path, [&] { write_state(optimizer.state_dict(), path, options); });
}

void load(optim::Optimizer& optimizer, const std::string& path) {
  with_context("load", path, [&] {
    const optim::StateDict state = read_tensors(path);
    // parameter-shaped buffers "state.<i>.<name>" (all but "state.<i>.step") have their parameter's dtype
    const std::vector<Tensor>& params = optimizer.parameters();
    for (const auto& [key, value] : state) {
      size_t i = 0;
      std::string entry;
      if (detail::parse_state_key(key, i, entry) && entry != "step" && i < params.size())
        check_same_dtype(path, key, value.dtype(), params[i].dtype(), fmt::format("parameter {}", i));
    }
    optimizer.load_state_dict(state);  // validates every entry before changing anything
  });
}

void save(const optim::Scheduler& scheduler, const std::string& path, const SaveOptions& options) {
  with_context("save", path, [&] { write_state(scheduler.state_dict(), path, options); });
}

void load(optim::Scheduler& scheduler, const std::string& path) {
  with_context("load", path, [&] { scheduler.load_state_dict(read_tensors(path)); });
}

void save_tensors(const std::map<std::string, Tensor>& tensors, const std::string& path, const SaveOptions& options) {
  with_context("save", path, [&] {
    NpzEntries entries;
    for (const auto& [name, t] : tensors) {
      detail::check(t.defined(), "tensor '{}' is undefined", name);
      entries.emplace_back(name, detail::npy_from_tensor(t));
    }
    detail::write_npz(path, entries, options.compress);
  });
}

std::map<std::string, Tensor> load_tensors(const std::string& path) {
  return with_context("load", path, [&] { return read_tensors(path); });
}

void save_directory(const std::string& dir, const std::function<void(const std::string& staging)>& write) {
  namespace fs = std::filesystem;
  fs::path target(dir);
  while (!target.empty() && target.filename().empty()) target = target.parent_path();  // "ckpt/" -> "ckpt"
  if (target.empty()) throw IoError(fmt::format("save_directory: '{}' is not a directory name", dir));
  const fs::path staging = target.string() + ".partial", old = target.string() + ".old";
  auto io_fail = [&](const std::string& what, std::error_code error) {
    throw IoError(fmt::format("save_directory: {}: {}: {}", dir, what, error.message()));
  };
  std::error_code error;
  fs::remove_all(staging, error);  // left over from a run that died while writing
  if (error) io_fail("cannot remove the leftover '" + staging.string() + "'", error);
  fs::create_directories(staging, error);
  if (error) io_fail("cannot create '" + staging.string() + "'", error);
  try {
    write(staging.string());
  } catch (...) {
    fs::remove_all(staging, error);
    throw;
  }
  const auto sync_directory = [](const fs::path& path) {  // makes renames and new entries durable
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);  // some file systems refuse fsync on directories; nothing more can be done there
      ::close(fd);
    }
  };
  sync_directory(staging);
  if (!fs::exists(target)) {
    fs::rename(staging, target, error);
    if (error) io_fail("cannot rename '" + staging.string() + "' to it", error);
  } else if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
    const std::error_code exchange_error(errno, std::generic_category());
    if (exchange_error != std::errc::invalid_argument && exchange_error != std::errc::function_not_supported)
      io_fail("cannot exchange it with '" + staging.string() + "'", exchange_error);
    // No atomic exchange on this file system: move the old checkpoint aside, the new one in.
    fs::remove_all(old, error);
    fs::rename(target, old, error);
    if (error) io_fail("cannot move it aside to '" + old.string() + "'", error);
    fs::rename(staging, target, error);
    if (error) io_fail("cannot rename '" + staging.string() + "' to it", error);
    fs::remove_all(old, error);
  } else {
    fs::remove_all(staging, error);  // now the previous checkpoint
  }
  sync_directory(target.has_parent_path() ? target.parent_path() : fs::path("."));
}

}  // namespace unroll
