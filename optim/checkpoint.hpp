// unroll/optim/checkpoint.hpp: saving and loading models, optimizers and schedules as NumPy .npz files.
//
//   unroll::save(model, dir + "/model.npz");         // model.state_dict(), PyTorch's key names
//   unroll::save(optimizer, dir + "/optimizer.npz");  // step counters, buffers, hyperparameters
//   unroll::save(schedule, dir + "/schedule.npz");
//   ...
//   unroll::load(model, dir + "/model.npz");          // into freshly constructed objects: training resumes
//   unroll::load(optimizer, dir + "/optimizer.npz");  // exactly where it stopped (bit-identical)
//   unroll::load(schedule, dir + "/schedule.npz");
//   unroll::save(model, path, {.compress = true});   // deflated, as numpy.savez_compressed writes
//
// Format: an .npz as numpy.savez writes it (a zip of uncompressed "<name>.npy" files), or with
// {.compress = true} as numpy.savez_compressed writes it (the same entries deflated); numpy.load reads both.
// Every entry keeps its dtype, as NumPy names them: '<f4' float32, '<f8' float64, '<i8' int64, '|b1' bool,
// C order, .npy version 1.0 headers. Reading accepts those four dtypes, .npy versions 1.0-3.0, and stored
// or deflated entries (numpy.savez and numpy.savez_compressed); a '|b1' array holding a byte other than 0
// and 1 is refused. The zip archive is read and written by libzip.
//
// Model files: one array per parameter, named as in module.state_dict() (PyTorch's state_dict() keys,
// e.g. "weight_ih_l0"), in named_parameters() order, each in its parameter's dtype. Loading refuses an entry
// whose dtype is not its parameter's (IoError naming the entry, the file and both dtypes: convert the model
// with .to() first). docs/training.md shows the few lines of Python that move them to and from torch.
//
// Optimizer files (mirroring PyTorch's optimizer.state_dict(); i is the position in the parameter list):
//   type.<Name>                 bool true         Name = SGD, Adam, AdamW, RMSprop, Adagrad
//   param_groups.0.<option>     float64 or bool   every field of the options struct under PyTorch's key:
//                                                 real numbers float64 (lr, momentum, betas: 2 values, eps,
//                                                 ...), flags bool (amsgrad, nesterov, centered, maximize)
//   param_groups.0.initial_lr   float64           lr before schedules (only once a scheduler is attached)
//   state.<i>.step              int64             updates applied to parameter i (only for parameters updated
//                                                 at least once; Adagrad: all)
//   state.<i>.<buffer>          parameter i's     parameter-shaped: momentum_buffer (SGD, RMSprop); exp_avg,
//                               dtype             exp_avg_sq, max_exp_avg_sq (Adam/AdamW, the last with
//                                                 amsgrad); square_avg, grad_avg (RMSprop centered); sum (Adagrad)
// Scheduler files (PyTorch's scheduler.state_dict() keys):
//   type.<Name> (bool true), last_epoch (int64), _last_lr (float64); StepLR ... LinearLR: _step_count (int64),
//   base_lrs (float64), and the options: int64 step_size, milestones (1-D), T_max, total_iters; float64
//   gamma, eta_min, start_factor, end_factor. ReduceLROnPlateau: int64 mode (0 min, 1 max), patience,
//   threshold_mode (0 rel, 1 abs), cooldown, num_bad_epochs, cooldown_counter; float64 factor, threshold,
//   min_lrs, eps, best.
// Single values are arrays of shape (), lists 1-D. Loading restores the hyperparameters too (as PyTorch's
// load_state_dict does) and checks every entry's dtype. Files written before checkpoints kept dtypes (every
// number float64) still load: a float64 entry where int64 or bool belongs is read when it holds integers
// (0 and 1 for bool). Every number is range-checked before it is used: real options and learning rates
// finite and in the range the constructors accept (PyTorch's: lr, eps, weight_decay, momentum... >= 0, betas
// in [0, 1)), counters (steps, epochs, periods) in [0, 2^53), averages of squared gradients not negative.
//
// Writing is atomic: the file is written under a temporary name in the same directory, flushed to disk
// (fsync) and renamed over `path`, so a crash never leaves a partial checkpoint behind.
//
// Reading treats the file as input: only a regular file is opened (a FIFO or a device is refused at once,
// never waited on), the zip directory is read from the end of the file, and nothing is allocated beyond what
// the directory declares and the file's size allows (a deflated entry expands at most 1032 times). A
// 64 GiB file of garbage is refused after reading its last 64 KiB.
//
// Errors. unroll::IoError: the file cannot be read or written, is not a regular file, or its bytes are
// wrong (not a zip, truncated, CRC mismatch, bad .npy header, unsupported dtype or compression method), a
// parameter's or an optimizer buffer's entry has another dtype than its parameter, or a number is out of
// range (an lr of inf, a negative step...). unroll::Error: the file is well formed but does not fit the
// object (missing, unexpected or wrongly shaped entry, a counter, option or flag of the wrong dtype,
// another optimizer's state). Messages start with "save: <path>: " or "load: <path>: " and name the entry.
// A failed load leaves the object unchanged.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "unroll/framework/tensor.hpp"

namespace unroll {

namespace layers {
class Module;
}
namespace optim {
class Optimizer;
class Scheduler;
}  // namespace optim

// How save() writes a file.
struct SaveOptions {
  bool compress = false;  // deflate every entry, as numpy.savez_compressed: smaller files, slower saves
};

void save(const layers::Module& module, const std::string& path, const SaveOptions& options = {});
void load(layers::Module& module, const std::string& path);

void save(const optim::Optimizer& optimizer, const std::string& path, const SaveOptions& options = {});
void load(optim::Optimizer& optimizer, const std::string& path);

void save(const optim::Scheduler& scheduler, const std::string& path, const SaveOptions& options = {});
void load(optim::Scheduler& scheduler, const std::string& path);

// A checkpoint made of several files, replaced as a whole:
//
//   unroll::save_directory("ckpt", [&](const std::string& dir) {
//     unroll::save(model, dir + "/model.npz");
//     unroll::save(optimizer, dir + "/optimizer.npz");
//   });
//
// `write` fills a fresh directory next to `dir` ("<dir>.partial"), which then takes the place of `dir` in
// one atomic step (Linux renameat2 RENAME_EXCHANGE; a plain rename when `dir` does not exist yet), and the
// previous contents are deleted. A process killed at any point leaves `dir` holding one complete
// checkpoint, the old or the new one, never a mix of files from both. If `write` throws, `dir` is
// untouched and the exception propagates. On a file system that cannot exchange two names the old
// directory is moved aside first (a crash in that instant leaves it as "<dir>.old"). Throws IoError when a
// directory cannot be created, renamed or removed.
void save_directory(const std::string& dir, const std::function<void(const std::string& staging)>& write);

// Any named tensors, e.g. embeddings to inspect in NumPy. Names must be non-empty and unique.
void save_tensors(const std::map<std::string, Tensor>& tensors, const std::string& path,
                  const SaveOptions& options = {});
std::map<std::string, Tensor> load_tensors(const std::string& path);

}  // namespace unroll
