"""blurmix from Python against the seed's PyTorch code, in one run, with the same number of threads
on both sides (Halide's pool and torch's), printing the ratios:

  fit      blurmix.fit, 64x64 x 1000 local, against the seed's loop with cached blurs
           (apps/bench/seed_torch.py's fit, cache_blurs=True)                      goal >= 100x
  mixed    blurmix.torch.mixed_blur forward + backward, (8, 3, 512, 512), sigmas 3 and 9, against
           the seed's conv2d formulation with autograd                               goal >= 10x
  overhead blurmix.gaussian_blur on a 64x64 image, per call, above the runtime's blur timed in
           C++ around the same call                                                 goal < 20 us

Times are the best of --repeats runs. Usage: python apps/bench/bench_python.py [--threads 2] [--quick]
"""
import argparse
import datetime
import importlib.util
import os
import pathlib
import time

import numpy as np
import torch

import blurmix
import blurmix.torch as bt

HERE = pathlib.Path(__file__).resolve().parent


def load_seed():
    spec = importlib.util.spec_from_file_location("seed_torch", HERE / "seed_torch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_of(repeats, fn):
    """The shortest of `repeats` timed runs of fn, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def settle():
    """A pause between one side's runs and the other's, so that neither side's worker threads
    (PyTorch's OpenMP threads spin a while after a parallel region) are still busy."""
    time.sleep(0.5)


def bench_fit(seed, repeats, iters):
    torch.manual_seed(1337)
    x = torch.randn(1, 1, 64, 64)
    mask = torch.cat((torch.ones(32), torch.zeros(32)))
    xf = seed.mix(x, torch.tensor(4.), torch.tensor(7.), mask)
    lo, hi = torch.tensor(3.), torch.tensor(9.)
    src, tgt = x[0, 0].numpy(), xf[0, 0].numpy()
    ours_s = best_of(repeats, lambda: blurmix.fit(src, tgt, iters=iters))
    settle()
    # The seed's loop times itself from after the cached blurs: its own figure is what it reports.
    torch_s = min(seed.fit(x, xf, lo, hi, x.shape, iters, True)[2] for _ in range(repeats))
    settle()
    return ours_s, torch_s


def bench_mixed(seed, repeats, shape, learn_sigmas):
    torch.manual_seed(0)
    x = torch.randn(shape)
    logits = torch.randn(shape[0], 1, *shape[2:])

    def ours():
        xs, ls = x.clone().requires_grad_(), logits.clone().requires_grad_()
        a = torch.tensor(3.0, requires_grad=learn_sigmas)
        b = torch.tensor(9.0, requires_grad=learn_sigmas)
        bt.mixed_blur(xs, ls, a, b).square().mean().backward()

    def reference():
        xs, ls = x.clone().requires_grad_(), logits.clone().requires_grad_()
        a = torch.tensor(3.0, requires_grad=learn_sigmas)
        b = torch.tensor(9.0, requires_grad=learn_sigmas)
        seed.mix(xs, a, b, torch.sigmoid(ls)).square().mean().backward()

    ours()  # warm up: memory, thread pools
    ours_s = best_of(repeats, ours)
    settle()
    reference()
    ref_s = best_of(repeats, reference)
    settle()
    return ours_s, ref_s


def bench_overhead(repeats, calls):
    x = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    planar = x[None, None]
    pipeline = blurmix._core.time_blur(planar, 3.0, calls, repeats)
    numpy_call = best_of(repeats, lambda: [blurmix.gaussian_blur(x, 3.0) for _ in range(calls)]) / calls
    t = torch.from_numpy(x)[None, None]
    torch_call = best_of(repeats, lambda: [bt.gaussian_blur(t, 3.0) for _ in range(calls)]) / calls
    return pipeline, numpy_call, torch_call


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not the goals' sizes")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    blurmix.set_num_threads(args.threads)
    seed = load_seed()
    iters, shape, calls = (100, (2, 3, 64, 64), 200) if args.quick else (1000, (8, 3, 512, 512), 2000)
    repeats = 2 if args.quick else args.repeats
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"blurmix {blurmix.__version__}, torch {torch.__version__}, {args.threads} threads, "
          f"best of {repeats}, {now}")
    print(f"{'benchmark':<58} {'blurmix':>10} {'seed torch':>11} {'ratio':>8}  goal")

    ours, ref = bench_fit(seed, repeats, iters)
    print(f"{f'fit 64x64 x{iters} local (seed: cached blurs)':<58} {ours * 1e3:>8.2f}ms {ref * 1e3:>9.2f}ms "
          f"{ref / ours:>7.1f}x  >= 100x")
    for learn in (False, True):
        ours, ref = bench_mixed(seed, repeats, shape, learn)
        what = "x, logits, sigmas" if learn else "x, logits"
        print(f"{f'mixed_blur fwd+bwd {shape} d/d({what})':<58} {ours * 1e3:>8.1f}ms {ref * 1e3:>9.1f}ms "
              f"{ref / ours:>7.1f}x  >= 10x")
    pipeline, numpy_call, torch_call = bench_overhead(repeats, calls)
    print(f"{'gaussian_blur 64x64: the runtime call in C++':<58} {pipeline * 1e6:>8.2f}us")
    print(f"{'  blurmix.gaussian_blur (NumPy), overhead':<58} {numpy_call * 1e6:>8.2f}us "
          f"{'':>11} {(numpy_call - pipeline) * 1e6:>6.2f}us  < 20us")
    print(f"{'  blurmix.torch.gaussian_blur, overhead':<58} {torch_call * 1e6:>8.2f}us "
          f"{'':>11} {(torch_call - pipeline) * 1e6:>6.2f}us  < 20us")


if __name__ == "__main__":
    main()
