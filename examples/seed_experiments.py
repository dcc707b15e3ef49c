"""The seed notebook's experiments A, B and C written with blurmix.torch: a plain PyTorch training
loop over AdaptiveGaussianBlur2d with torch.optim.Adamax, the forward and backward passes run by
the Halide pipelines. Prints the numbers of ../shared/seed-experiments/expected.json (the PyTorch
reference) beside its own.

    python examples/seed_experiments.py [--iters 1000] [--signal data/signal_64x64.npy]
"""
import argparse
import json
import pathlib

import numpy as np
import torch

import blurmix.torch as bt

REPO = pathlib.Path(__file__).resolve().parents[1]
# The seed's checkpoints: the loss is printed at these iterations.
CHECKPOINTS = (0, 1, 2, 3, 4, 16, 100, 200, 300, 400, 500, 600, 700, 800, 900, 999)


def mse(a, b):
    return ((a - b) ** 2).mean()


def experiment_a(x):
    """A: one global weight 0.5 between blurs 1 and 5 against the true blur 3."""
    model = bt.AdaptiveGaussianBlur2d(None, sigma_min=1.0, sigma_max=5.0)  # logit 0: weight 0.5
    with torch.no_grad():
        return {"mse_mix_vs_true": mse(model(x), bt.gaussian_blur(x, 3.0)).item()}


def train(model, x, target, iters, lr=0.1):
    """The seed's loop: Adamax on the mean squared error, the loss before each update recorded."""
    opt = torch.optim.Adamax(model.parameters(), lr=lr)
    losses = {}
    for i in range(iters):
        loss = mse(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i in CHECKPOINTS or i == iters - 1:
            losses[i] = loss.item()
    return losses


def experiment_b(x, iters=1000):
    """B: one global weight between blurs 3 and 9 fitted to the true blur 3."""
    model = bt.AdaptiveGaussianBlur2d(None, sigma_min=3.0, sigma_max=9.0)
    losses = train(model, x, bt.gaussian_blur(x, 3.0), iters)
    w = model.weights().item()
    return {"loss": losses, "final_weight": w, "recovered_sigma": model.sigma_map().item()}


def experiment_c(x, iters=1000):
    """C: a weight per pixel between blurs 3 and 9 fitted to a target blurred with sigma 4 on the
    left half of the columns and 7 on the right."""
    n = x.shape[-1]
    left = torch.zeros(n)
    left[: n // 2] = 1
    target = left * bt.gaussian_blur(x, 4.0) + (1 - left) * bt.gaussian_blur(x, 7.0)
    model = bt.AdaptiveGaussianBlur2d(x.shape[-2:], sigma_min=3.0, sigma_max=9.0)
    losses = train(model, x, target, iters)
    sigma = model.sigma_map()
    return {"loss": losses, "sigma_left_mean": sigma[:, : n // 2].mean().item(),
            "sigma_right_mean": sigma[:, n // 2:].mean().item()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--signal", default=str(REPO / "data" / "signal_64x64.npy"))
    ap.add_argument("--expected", default=str(REPO.parent / "shared" / "seed-experiments" / "expected.json"))
    args = ap.parse_args()
    x = torch.from_numpy(np.load(args.signal).astype(np.float32))[None, None]
    path = pathlib.Path(args.expected)
    expected = json.loads(path.read_text()) if path.exists() else None

    def show(name, ours, ref):
        print(f"  {name:<22} {ours:<14.6g}" + ("" if ref is None else f" PyTorch {ref:.6g}"))

    def ref(*keys):
        v = expected
        for k in keys:
            if v is None or k not in v:
                return None
            v = v[k]
        return v

    print("A: blur 1 and 5 mixed at 0.5 against blur 3")
    show("mse", experiment_a(x)["mse_mix_vs_true"], ref("A", "mse_mix_vs_true"))
    for exp, run, fields in [("B", experiment_b, ["final_weight", "recovered_sigma"]),
                             ("C", experiment_c, ["sigma_left_mean", "sigma_right_mean"])]:
        print(f"{exp}: {' '.join(run.__doc__.split(':', 1)[1].split())}")
        r = run(x, args.iters)
        for i, loss in r["loss"].items():
            show(f"loss at {i}", loss, ref(exp, "loss", str(i)))
        for f in fields:
            show(f, r[f], ref(exp, f))


if __name__ == "__main__":
    main()
