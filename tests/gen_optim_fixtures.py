#!/usr/bin/python3
"""Generate the fixtures of unroll's optim/ tests from PyTorch and NumPy.

Run from anywhere with the system interpreter (Debian's python3-torch 1.13 and python3-numpy):

    /usr/bin/python3 tests/gen_optim_fixtures.py
    /usr/bin/python3 tests/gen_optim_fixtures.py --check-written FILE.npz [stored|deflated]   (optional, see below)

Writes, under tests/fixtures/ (deterministic values: fixed seeds; the zip files numpy.savez writes carry
the current time in their headers, so regenerating changes those bytes only):

optim_reference.txt
    Optimizer trajectories, schedule learning rates and gradient clipping, in the line format of
    tests/support/fixtures.hpp ('case <name>' ... 'end' blocks of 'tensor <role> <rank> <dims...> : <values>').
    Every computation is done in torch.float64 from float32-representable inputs; values are printed with
    %.17g, so that test_optim_vs_torch.cpp can compare unroll's float64 runs tightly (and its float32 runs,
    which start from the same values, to float32 rounding). Option values are encoded in the case name
    and hard-coded in the matching C++ table (tests/optim/test_optim_vs_torch.cpp); keep the two in sync.
      optimizer cases  init0, init1: initial parameters ([3, 4] and [5]);
                       g<s>_<i>: gradient of parameter i at step s (absent: the gradient is None, so the
                       optimizer skips that parameter at that step); p<s>_<i>: parameter i after step s.
      schedule cases   lrs: [1 + STEPS] get_last_lr() after construction and after each step();
                       metrics: the values passed to ReduceLROnPlateau.step().
      clip cases       in<i>: gradients before; out<i>: after; norm: the returned total norm.

optim_torch_state.npz
    numpy.savez(**{k: v.numpy() for k, v in torch.nn.LSTM(4, 3, num_layers=2).state_dict().items()}): the way
    a PyTorch user exports weights; tests/optim/test_checkpoint.cpp loads it into layers::LSTM.
optim_torch_lstm_io.npz
    x [T=5, N=2, I=4] and y = that LSTM's output [5, 2, 3], h_n, c_n [2, 2, 3], to check the loaded weights.
optim_numpy_variants.npz
    Arrays as NumPy writes them in less common forms: 'f8' (float64), 'v2' (a .npy version 2.0 header),
    'scalar' (shape ()), 'empty' (shape (0, 3)), 'rank3' (shape (2, 3, 4)).
optim_numpy_dtypes.npz
    numpy.savez of arrays in the four dtypes unroll reads: 'b1' bool [2, 3], 'i8' int64 (with 2^40, -2^62 and
    2^63 - 1), 'f4' float32, 'f8' float64, and the scalars 'b1_scalar' (False) and 'i8_scalar' (-7).
optim_torch_dtypes.npz
    numpy.savez of torch tensors' .numpy() in those dtypes: 'mask' bool, 'ids' int64 [2, 3], 'weight' float32
    [3, 2], 'weight64' float64, 'step' an int64 scalar (12).
optim_compressed.npz
    numpy.savez_compressed(w=ones((4, 4), float32)): deflated entries, the simplest compressed file.
optim_numpy_compressed.npz
    numpy.savez_compressed of 'b1', 'i8', 'f4', 'f8' (the values of optim_numpy_dtypes.npz), 'scalar' (2.5,
    float64), 'empty' (shape (0, 3), float32) and 'big' (float32 [64, 512] holding 0..7 repeated: 128 KiB,
    several deflate blocks).
optim_torch_state_compressed.npz
    numpy.savez_compressed of the same LSTM state_dict() as optim_torch_state.npz (the same seed): the two
    must load as bit-identical weights.
optim_numpy_array.npy
    numpy.save of arange(12, dtype=float32).reshape(3, 4): unroll's .npy encoder must produce these bytes.

--check-written FILE.npz [stored|deflated] loads a file written by unroll (tests/optim/test_npz.cpp writes
one when the environment variable UNROLL_NPZ_KEEP names a path, and a compressed one for
UNROLL_NPZ_KEEP_COMPRESSED) with numpy.load and checks its entries: 'a' = arange(12).reshape(3, 4) float32,
'b.c' = [0.5, -1.5] float32, 'i' = [-1, 2^40] int64, 'm' = [True, False, True] bool, 's' = 2.5 float32
scalar; and that zipfile finds every CRC right and every entry stored (the default) or deflated.
"""
import io
import math
import os
import sys
import zipfile

import numpy as np
import torch

DT = torch.float64
SEED = 20240612
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
STEPS = 8        # optimizer steps per case
SCHED_STEPS = 25  # scheduler steps per case
SHAPES = [(3, 4), (5,)]
MISSING = {(2, 1), (5, 0)}  # (step, parameter) pairs whose gradient is None

torch.manual_seed(SEED)


def f32(t):
    return t.to(torch.float32).to(DT)


def fmt_tensor(role, t):
    t = torch.as_tensor(t, dtype=DT).detach().contiguous()
    dims = [str(d) for d in t.shape]
    vals = ["%.17g" % v for v in t.reshape(-1).tolist()]
    return " ".join(["tensor", role, str(len(dims))] + dims + [":"] + vals)


# ---- optimizers ----------------------------------------------------------------------------------------
# name -> (constructor, options); the C++ table in test_optim_vs_torch.cpp has the same options.
OPTIMIZERS = {
    "sgd_plain": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    "sgd_dampening": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": (torch.optim.SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    "sgd_maximize": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, maximize=True)),
    "adam_default": (torch.optim.Adam, dict()),
    "adam_lr": (torch.optim.Adam, dict(lr=0.02)),
    "adam_amsgrad": (torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    "adam_weight_decay": (torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
    "adam_betas_eps": (torch.optim.Adam, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    "adamw_default": (torch.optim.AdamW, dict()),
    "adamw_amsgrad": (torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "rmsprop_plain": (torch.optim.RMSprop, dict()),
    "rmsprop_momentum": (torch.optim.RMSprop, dict(lr=0.01, momentum=0.9)),
    "rmsprop_centered": (torch.optim.RMSprop, dict(lr=0.01, centered=True)),
    "rmsprop_centered_momentum_wd": (torch.optim.RMSprop,
                                     dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    "adagrad_default": (torch.optim.Adagrad, dict()),
    "adagrad_lr_decay": (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.05)),
    "adagrad_wd_init": (torch.optim.Adagrad,
                        dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
}


def optimizer_case(name, ctor, options, dtype=DT):
    gen = torch.Generator().manual_seed(SEED + sum(map(ord, name)))
    init = [f32(torch.randn(s, generator=gen, dtype=DT)) for s in SHAPES]
    grads = [[f32(torch.randn(s, generator=gen, dtype=DT) * (0.5 + step % 3)) for s in SHAPES] for step in range(STEPS)]
    params = [p.clone().to(dtype).requires_grad_() for p in init]
    opt = ctor(params, **options)
    trajectory = []
    for step in range(STEPS):
        for i, p in enumerate(params):
            p.grad = None if (step, i) in MISSING else grads[step][i].clone().to(dtype)
        opt.step()
        trajectory.append([p.detach().clone().to(DT) for p in params])
    lines = ["case " + name]
    lines += [fmt_tensor("init%d" % i, p) for i, p in enumerate(init)]
    for step in range(STEPS):
        for i in range(len(SHAPES)):
            if (step, i) not in MISSING:
                lines.append(fmt_tensor("g%d_%d" % (step, i), grads[step][i]))
    for step in range(STEPS):
        for i in range(len(SHAPES)):
            lines.append(fmt_tensor("p%d_%d" % (step, i), trajectory[step][i]))
    lines.append("end")
    return lines, trajectory


def max_rel_err(a, b):
    return ((a - b).abs() / b.abs().clamp(min=1.0)).max().item()


# ---- schedules -----------------------------------------------------------------------------------------
from torch.optim import lr_scheduler as S  # noqa: E402

PLATEAU_METRICS = [1.0, 0.9, 0.85, 0.85, 0.86, 0.849, 0.84, 0.84, 0.84, 0.84, 0.5, 0.5, 0.5, 0.5, 0.5,
                   0.45, 0.45, 0.46, 0.47, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
PLATEAU_METRICS_MAX = [0.1, 0.2, 0.25, 0.26, 0.27, 0.5, 0.5, 0.55, 0.61, 0.6, 0.6, 0.6, 0.9, 0.9, 0.9,
                       0.9, 1.2, 1.25, 1.3, 1.3, 1.3, 1.3, 1.3, 1.4, 1.4]

SCHEDULES = {
    "steplr": lambda o: [S.StepLR(o, step_size=3, gamma=0.5)],
    "multisteplr": lambda o: [S.MultiStepLR(o, milestones=[9, 2, 5, 5], gamma=0.3)],
    "exponentiallr": lambda o: [S.ExponentialLR(o, gamma=0.9)],
    "cosine": lambda o: [S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)],
    "cosine_eta0": lambda o: [S.CosineAnnealingLR(o, T_max=7)],
    "linearlr_default": lambda o: [S.LinearLR(o)],
    "linearlr_warmup": lambda o: [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=8)],
    "linearlr_decay": lambda o: [S.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=10)],
    "warmup_cosine": lambda o: [S.LinearLR(o, start_factor=0.2, total_iters=5), S.CosineAnnealingLR(o, T_max=20)],
    "plateau_min_rel": lambda o: [S.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=0.01, cooldown=1,
                                                      min_lr=0.01)],
    "plateau_max_abs": lambda o: [S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=1, threshold=0.1,
                                                      threshold_mode="abs")],
}


def schedule_case(name, make):
    p = torch.zeros(2, dtype=DT, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    schedulers = make(opt)
    plateau = isinstance(schedulers[0], S.ReduceLROnPlateau)
    metrics = PLATEAU_METRICS_MAX if name == "plateau_max_abs" else PLATEAU_METRICS
    lrs = [opt.param_groups[0]["lr"]]
    for step in range(SCHED_STEPS):
        opt.step()  # no gradient: nothing changes, but PyTorch sees the right call order
        for s in schedulers:
            if plateau:
                s.step(metrics[step])
            else:
                s.step()
        if not plateau:
            assert schedulers[-1].get_last_lr()[0] == opt.param_groups[0]["lr"]
        lrs.append(opt.param_groups[0]["lr"])
    lines = ["case " + name, fmt_tensor("lrs", torch.tensor(lrs, dtype=DT))]
    if plateau:
        lines.append(fmt_tensor("metrics", torch.tensor(metrics, dtype=DT)))
    lines.append("end")
    return lines


# ---- clipping ------------------------------------------------------------------------------------------
CLIPS = {
    "clip_norm_2": ("norm", 1.0, 2.0),
    "clip_norm_1": ("norm", 2.0, 1.0),
    "clip_norm_3": ("norm", 0.5, 3.0),
    "clip_norm_inf": ("norm", 0.3, math.inf),
    "clip_norm_noclip": ("norm", 100.0, 2.0),
    "clip_value": ("value", 0.5, None),
}


def clip_case(name, kind, limit, norm_type):
    gen = torch.Generator().manual_seed(SEED + sum(map(ord, name)))
    grads = [f32(torch.randn(s, generator=gen, dtype=DT)) for s in [(3, 4), (5,), (2, 2)]]
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    lines = ["case " + name] + [fmt_tensor("in%d" % i, g) for i, g in enumerate(grads)]
    if kind == "norm":
        norm = torch.nn.utils.clip_grad_norm_(params, limit, norm_type)
        lines.append(fmt_tensor("norm", norm))
    else:
        torch.nn.utils.clip_grad_value_(params, limit)
    lines += [fmt_tensor("out%d" % i, p.grad) for i, p in enumerate(params)]
    lines.append("end")
    return lines


# ---- .npz files ----------------------------------------------------------------------------------------
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def write_zip(path, members):
    """A zip of (name, bytes) stored entries with fixed timestamps (for .npy files numpy.savez cannot make)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = 0o100644 << 16
            z.writestr(info, data)


def npy_bytes(array, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array)
    else:
        np.lib.format.write_array(buf, array, version=version)
    return buf.getvalue()


def write_npz_fixtures():
    torch.manual_seed(SEED)
    lstm = torch.nn.LSTM(4, 3, num_layers=2)
    state = {k: v.detach().numpy().astype("<f4") for k, v in lstm.state_dict().items()}
    # exactly what a PyTorch user writes (numpy.savez: stored entries with zip64 extra fields)
    np.savez(os.path.join(FIXTURES, "optim_torch_state.npz"), **state)
    assert sorted(np.load(os.path.join(FIXTURES, "optim_torch_state.npz")).files) == sorted(state)

    x = torch.randn(5, 2, 4)
    with torch.no_grad():
        y, (h, c) = lstm(x)
    np.savez(os.path.join(FIXTURES, "optim_torch_lstm_io.npz"), x=x.numpy(), y=y.numpy(), h_n=h.numpy(),
             c_n=c.numpy())

    variants = [
        ("f8.npy", npy_bytes(np.array([[1.5, -2.25, 3.0], [0.1, 1e-3, -7.0]], dtype="<f8"))),
        ("v2.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3), version=(2, 0))),
        ("scalar.npy", npy_bytes(np.array(2.5, dtype="<f4"))),
        ("empty.npy", npy_bytes(np.zeros((0, 3), dtype="<f4"))),
        ("rank3.npy", npy_bytes(np.arange(24, dtype="<f4").reshape(2, 3, 4) / 8)),
    ]
    write_zip(os.path.join(FIXTURES, "optim_numpy_variants.npz"), variants)

    np.savez(os.path.join(FIXTURES, "optim_numpy_dtypes.npz"),
             b1=np.array([[True, False, True], [False, False, True]]),
             i8=np.array([-3, 0, 2**40, -2**62, 2**63 - 1], dtype="<i8"),
             f4=np.array([0.5, -1.25, 3.0e38], dtype="<f4"),
             f8=np.array([0.1, -2.5, 1e-300], dtype="<f8"),
             b1_scalar=np.array(False),
             i8_scalar=np.array(-7, dtype="<i8"))

    exported = {
        "mask": torch.tensor([True, False, False, True]),
        "ids": torch.tensor([[2, 0, 1], [1, 1, 0]]),
        "weight": (torch.arange(6, dtype=torch.float32) / 4).reshape(3, 2),
        "weight64": torch.tensor([1.0 / 3, -2.0], dtype=torch.float64),
        "step": torch.tensor(12),
    }
    arrays = {k: v.numpy() for k, v in exported.items()}
    assert [str(a.dtype) for a in arrays.values()] == ["bool", "int64", "float32", "float64", "int64"]
    np.savez(os.path.join(FIXTURES, "optim_torch_dtypes.npz"), **arrays)

    write_compressed_fixtures()

    with open(os.path.join(FIXTURES, "optim_numpy_array.npy"), "wb") as f:
        f.write(npy_bytes(np.arange(12, dtype=np.float32).reshape(3, 4)))


def write_compressed_fixtures():
    """The numpy.savez_compressed fixtures (deflated entries)."""
    np.savez_compressed(os.path.join(FIXTURES, "optim_compressed.npz"), w=np.ones((4, 4), dtype="<f4"))
    np.savez_compressed(os.path.join(FIXTURES, "optim_numpy_compressed.npz"),
                        b1=np.array([[True, False, True], [False, False, True]]),
                        i8=np.array([-3, 0, 2**40, -2**62, 2**63 - 1], dtype="<i8"),
                        f4=np.array([0.5, -1.25, 3.0e38], dtype="<f4"),
                        f8=np.array([0.1, -2.5, 1e-300], dtype="<f8"),
                        scalar=np.array(2.5, dtype="<f8"),
                        empty=np.zeros((0, 3), dtype="<f4"),
                        big=(np.arange(64 * 512) % 8).astype("<f4").reshape(64, 512))
    torch.manual_seed(SEED)
    lstm = torch.nn.LSTM(4, 3, num_layers=2)  # the weights of optim_torch_state.npz
    state = {k: v.detach().numpy().astype("<f4") for k, v in lstm.state_dict().items()}
    path = os.path.join(FIXTURES, "optim_torch_state_compressed.npz")
    np.savez_compressed(path, **state)
    with zipfile.ZipFile(path) as z:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in z.infolist())
    with np.load(os.path.join(FIXTURES, "optim_torch_state.npz")) as stored, np.load(path) as deflated:
        assert sorted(stored.files) == sorted(deflated.files)
        assert all((stored[k] == deflated[k]).all() for k in stored.files)


def check_written(path, method="stored"):
    with np.load(path) as f:
        assert sorted(f.files) == ["a", "b.c", "i", "m", "s"], f.files
        assert f["a"].dtype == np.dtype("<f4") and f["a"].shape == (3, 4)
        assert (f["a"] == np.arange(12, dtype=np.float32).reshape(3, 4)).all()
        assert f["b.c"].dtype == np.dtype("<f4") and (f["b.c"] == np.array([0.5, -1.5], dtype=np.float32)).all()
        assert f["i"].dtype == np.dtype("<i8") and (f["i"] == np.array([-1, 2**40], dtype=np.int64)).all()
        assert f["m"].dtype == np.dtype("bool") and (f["m"] == np.array([True, False, True])).all()
        assert f["s"].dtype == np.dtype("<f4") and f["s"].shape == () and f["s"] == np.float32(2.5)
    expected = {"stored": zipfile.ZIP_STORED, "deflated": zipfile.ZIP_DEFLATED}[method]
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for info in z.infolist():
            assert info.compress_type == expected, (info.filename, info.compress_type)
    print("%s: numpy.load reads it; entries, dtypes, shapes, values and CRCs are as expected; every entry %s"
          % (path, method))


def main():
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--check-written":
        check_written(*sys.argv[2:])
        return
    torch.set_num_threads(1)
    os.makedirs(FIXTURES, exist_ok=True)
    header = [
        "# optim_reference.txt: PyTorch %s reference values for unroll's optimizers, LR schedules and gradient"
        % torch.__version__,
        "# clipping (generated by tests/gen_optim_fixtures.py, seed %d; do not edit by hand). Computed in" % SEED,
        "# float64 from float32-representable inputs. See the script's docstring for the roles.",
        "",
    ]
    body = []
    worst32 = 0.0
    for name, (ctor, options) in OPTIMIZERS.items():
        lines, ref = optimizer_case(name, ctor, options)
        _, chk = optimizer_case(name, ctor, options, dtype=torch.float32)
        worst32 = max(worst32, max(max_rel_err(c.to(DT), r) for cs, rs in zip(chk, ref) for c, r in zip(cs, rs)))
        body += lines
    for name, make in SCHEDULES.items():
        body += schedule_case(name, make)
    for name, (kind, limit, norm_type) in CLIPS.items():
        body += clip_case(name, kind, limit, norm_type)
    path = os.path.join(FIXTURES, "optim_reference.txt")
    with open(path, "w") as f:
        f.write("\n".join(header + body) + "\n")
    write_npz_fixtures()
    print("wrote %s (%d optimizer, %d schedule, %d clip cases); torch float32-vs-float64 trajectories differ by "
          "at most %.3g (relative to max(1, |x|))" % (path, len(OPTIMIZERS), len(SCHEDULES), len(CLIPS), worst32))


if __name__ == "__main__":
    main()
