"""blurmix.torch: every gradient of gaussian_blur and mixed_blur against PyTorch autograd through the
seed's conv2d formulation (../shared/anchors/seed_torch.py, in double precision, extended to the
clamp and mirror boundaries by gathering the edge rows), gradcheck, the seed's experiments through
AdaptiveGaussianBlur2d and Adamax, and refused input."""
import importlib.util
import math
import warnings
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import blurmix  # noqa: E402
import blurmix.torch as bt  # noqa: E402
from conftest import REPO  # noqa: E402


def source_index(p, n, boundary):
    """Where an outside coordinate p reads from: Halide's repeat_edge (clamp) or mirror_image
    (the edge pixel repeated, period 2n)."""
    if boundary == "clamp":
        return p.clamp(0, n - 1)
    m = p % (2 * n)
    return torch.where(m < n, m, 2 * n - 1 - m)


def ref_blur(seed_torch, x, sigma, std_devs=2.0, boundary="zero"):
    """The seed's blur (a vertical conv2d pass, then a horizontal one) of x (B, C, H, W); for clamp
    and mirror each pass reads an input extended by the boundary rule, instead of zero padding."""
    if boundary == "zero":
        return seed_torch.blur(x, sigma, std_devs)
    f = seed_torch.gauss1d(sigma, std_devs)
    k = f.numel()
    r = k // 2
    b, c, h, w = x.shape
    y = x.reshape(b * c, 1, h, w)
    y = y[:, :, source_index(torch.arange(-r, h + r), h, boundary), :]
    y = F.conv2d(y, f.view(1, 1, k, 1))
    y = y[:, :, :, source_index(torch.arange(-r, w + r), w, boundary)]
    y = F.conv2d(y, f.view(1, 1, 1, k))
    return y.reshape(b, c, h, w)


def ref_mixed_blur(seed_torch, x, logits, s_min, s_max, boundary="zero"):
    m = torch.sigmoid(logits)
    m = m.reshape(-1, 1, 1, 1) if m.dim() == 1 else m
    return m * ref_blur(seed_torch, x, s_min, boundary=boundary) + (1 - m) * ref_blur(seed_torch, x, s_max, boundary=boundary)


def seed_of(*case):
    """A random seed of its own for each case, the same in every run."""
    return zlib.crc32(repr(case).encode())


def grads(out, upstream, inputs):
    """d sum(out * upstream) / d inputs: the backward pass with an arbitrary gradient of the output."""
    return torch.autograd.grad((out * upstream).sum(), inputs)


def assert_close(ours, ref, what, rel=1e-4, floor=0.0):
    """Within rel of the reference's largest value, or of `floor` where the reference is smaller
    than that: a true zero, as for a 1x1 image with clamp or mirror, which every blur leaves as it
    is (both blurs equal, d/dlogit and d/dsigma 0; ours then hold float32 rounding, ~1e-9)."""
    ours, ref = ours.detach().double(), ref.detach().double()
    scale = max(float(ref.abs().max()), floor)
    err = float((ours - ref).abs().max()) / scale
    assert err <= rel, (what, err, ours.flatten()[:4].tolist(), ref.flatten()[:4].tolist())


SHAPES = [(2, 3, 17, 23), (1, 1, 1, 1), (3, 1, 8, 5), (2, 3, 32, 29), (1, 3, 40, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("logits_kind", ["map", "batch", "scalar"])
@pytest.mark.parametrize("boundary", ["zero", "clamp", "mirror"])
def test_mixed_blur_gradients(seed_torch, shape, logits_kind, boundary):
    g = torch.Generator().manual_seed(seed_of(shape, logits_kind, boundary))
    b, c, h, w = shape
    x = torch.randn(shape, generator=g)
    logits = {"map": torch.randn(b, 1, h, w, generator=g), "batch": torch.randn(b, generator=g),
              "scalar": torch.randn((), generator=g)}[logits_kind]
    s_min, s_max = torch.tensor(1.3), torch.tensor(3.7)
    upstream = torch.randn(shape, generator=g)

    ins = [t.clone().requires_grad_() for t in (x, logits, s_min, s_max)]
    out = bt.mixed_blur(*ins, boundary=boundary)
    ours = grads(out, upstream, ins)
    ref_ins = [t.double().requires_grad_() for t in (x, logits, s_min, s_max)]
    ref_out = ref_mixed_blur(seed_torch, *ref_ins, boundary=boundary)
    ref = grads(ref_out, upstream.double(), ref_ins)

    assert_close(out, ref_out, "forward", 1e-5)
    # The size of one pixel's share of a sigma's gradient: |G| |x| on average.
    floor = float((upstream.abs() * x.abs()).mean())
    for name, a, r in zip(["x", "logits", "sigma_min", "sigma_max"], ours, ref):
        assert a.shape == r.shape and a.dtype == torch.float32
        assert_close(a, r, name, floor=floor)


@pytest.mark.parametrize("shape", [(2, 3, 17, 23), (1, 1), (5, 7), (3, 1, 1, 9)])
@pytest.mark.parametrize("sigma", [0.6, 2.2, 6.5])
@pytest.mark.parametrize("boundary", ["zero", "clamp", "mirror"])
def test_gaussian_blur_gradients(seed_torch, shape, sigma, boundary):
    g = torch.Generator().manual_seed(seed_of(shape, sigma, boundary))
    x, upstream = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    s = torch.tensor(sigma)
    ins = [x.clone().requires_grad_(), s.clone().requires_grad_()]
    out = bt.gaussian_blur(*ins, boundary=boundary)
    ours = grads(out, upstream, ins)
    ref_ins = [x.double().requires_grad_(), s.double().requires_grad_()]
    planes = ref_ins[0].reshape(1, -1, *shape[-2:])
    ref_out = ref_blur(seed_torch, planes, ref_ins[1], boundary=boundary).reshape(shape)
    ref = grads(ref_out, upstream.double(), ref_ins)
    assert out.shape == x.shape
    assert_close(out, ref_out, "forward", 1e-5)
    assert_close(ours[0], ref[0], "x")
    assert_close(ours[1], ref[1], "sigma", floor=float((upstream.abs() * x.abs()).mean()))


def test_gradients_of_a_part(seed_torch):
    """Only some inputs need gradients: the others get none, and those asked for are unchanged."""
    x = torch.randn(2, 3, 9, 10)
    logits = torch.randn(2, 1, 9, 10, requires_grad=True)
    out = bt.mixed_blur(x, logits, 2.0, 5.0)  # sigmas as plain numbers
    (d_logits,) = torch.autograd.grad(out.square().sum(), [logits])
    ref_logits = logits.detach().double().requires_grad_()
    ref = ref_mixed_blur(seed_torch, x.double(), ref_logits, torch.tensor(2.0, dtype=torch.float64),
                         torch.tensor(5.0, dtype=torch.float64))
    (d_ref,) = torch.autograd.grad(ref.square().sum(), [ref_logits])
    assert_close(d_logits, d_ref, "logits")


@pytest.mark.parametrize("boundary", ["zero", "clamp", "mirror"])
def test_gradcheck(boundary):
    """Finite differences, with tolerances for float32 pipelines (sigmas away from the steps of
    the half-width ceil(2 sigma))."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 2, 5, 6, generator=g, requires_grad=True)
    logits = torch.randn(2, 1, 5, 6, generator=g, requires_grad=True)
    s_min = torch.tensor(1.3, requires_grad=True)
    s_max = torch.tensor(2.6, requires_grad=True)
    kw = dict(eps=1e-2, atol=2e-3, rtol=2e-2)
    glob = torch.randn(2, generator=g, requires_grad=True)
    with warnings.catch_warnings():  # gradcheck warns that the inputs are not double precision
        warnings.simplefilter("ignore", UserWarning)
        assert torch.autograd.gradcheck(lambda *a: bt.mixed_blur(*a, boundary=boundary),
                                        (x, logits, s_min, s_max), **kw)
        assert torch.autograd.gradcheck(lambda *a: bt.mixed_blur(*a, boundary=boundary),
                                        (x, glob, s_min, s_max), **kw)
        assert torch.autograd.gradcheck(lambda *a: bt.gaussian_blur(*a, boundary=boundary), (x, s_max), **kw)


def load_example():
    path = REPO / "examples" / "seed_experiments.py"
    spec = importlib.util.spec_from_file_location("seed_experiments", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_experiments_with_the_module(signal, expected):
    """examples/seed_experiments.py: AdaptiveGaussianBlur2d trained by torch.optim.Adamax."""
    ex = load_example()
    x = torch.from_numpy(signal)[None, None]
    assert abs(ex.experiment_a(x)["mse_mix_vs_true"] / expected["A"]["mse_mix_vs_true"] - 1) < 0.01
    for name, run, fields in [("B", ex.experiment_b, ["final_weight", "recovered_sigma"]),
                              ("C", ex.experiment_c, ["sigma_left_mean", "sigma_right_mean"])]:
        e = expected[name]
        r = run(x, e["iters"])
        assert sorted(r["loss"]) == sorted(int(i) for i in e["loss"])
        for i, loss in r["loss"].items():
            assert abs(loss / e["loss"][str(i)] - 1) < 0.01, (name, i, loss, e["loss"][str(i)])
        for f in fields:
            assert abs(r[f] / e[f] - 1) < 0.01, (name, f, r[f], e[f])


def test_module_and_fit_agree(signal):
    """The module trained by Adamax and blurmix.fit run the same iterations: the same losses."""
    x = torch.from_numpy(signal)[None, None]
    target = bt.gaussian_blur(x, 4.5)
    model = bt.AdaptiveGaussianBlur2d((64, 64))
    ex = load_example()
    losses = ex.train(model, x, target, 101)
    r = blurmix.fit(signal, target[0, 0].numpy(), iters=101, loss_at=[100])
    assert losses[100] == pytest.approx(r.losses[100], rel=1e-4)
    np.testing.assert_allclose(model.weights().numpy(), r.weights, atol=1e-4)


def test_module_learns_sigmas():
    torch.manual_seed(3)
    x = torch.randn(2, 1, 32, 32)
    target = bt.gaussian_blur(x, 4.0)
    model = bt.AdaptiveGaussianBlur2d(None, 2.0, 8.0, learn_sigmas=True)
    assert {n for n, _ in model.named_parameters()} == {"logits", "sigma_min", "sigma_max"}
    opt = torch.optim.Adamax(model.parameters(), lr=0.05)
    first = None
    for _ in range(300):
        loss = ((model(x) - target) ** 2).mean()
        first = first or loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first
    assert "global" in repr(model)


def test_batched_items_are_independent():
    torch.manual_seed(5)
    x = torch.randn(3, 2, 12, 14)
    logits = torch.randn(3, 1, 12, 14)
    out = bt.mixed_blur(x, logits, 1.5, 4.0)
    for i in range(3):
        one = bt.mixed_blur(x[i:i + 1], logits[i:i + 1], 1.5, 4.0)
        assert torch.equal(out[i:i + 1], one)
    # Non-contiguous inputs are read as they are.
    xt = x.transpose(2, 3).contiguous().transpose(2, 3)
    assert not xt.is_contiguous()
    assert torch.equal(bt.mixed_blur(xt, logits, 1.5, 4.0), out)
    # The NumPy API gives the same blur.
    np.testing.assert_array_equal(bt.gaussian_blur(x, 2.0)[1, 0].numpy(), blurmix.gaussian_blur(x[1, 0].numpy(), 2.0))


BAD = [
    (lambda x, l: bt.mixed_blur(x.double(), l, 1, 3), TypeError, "float32 tensor, not torch.float64"),
    (lambda x, l: bt.mixed_blur(x.numpy(), l, 1, 3), TypeError, "must be a torch.Tensor"),
    (lambda x, l: bt.mixed_blur(x[0], l, 1, 3), ValueError, r"shape \(B, C, H, W\)"),
    (lambda x, l: bt.mixed_blur(x, l[:, :, :4], 1, 3), ValueError, r"logits must have shape \(B, 1, H, W\)"),
    (lambda x, l: bt.mixed_blur(x, l.long(), 1, 3), TypeError, "logits must be a float32 tensor"),
    (lambda x, l: bt.mixed_blur(x, l, 0, 3), ValueError, r"sigma-min must be a number in \(0, 1000\]"),
    (lambda x, l: bt.mixed_blur(x, l, 1, torch.tensor(-2.0)), ValueError, "sigma-max must be a number"),
    (lambda x, l: bt.mixed_blur(x, l, 1, torch.ones(2)), ValueError, "sigma_max must be a number or a 0-d tensor"),
    (lambda x, l: bt.mixed_blur(x, l, 1, 3, boundary="wrap"), ValueError, "unknown boundary 'wrap'"),
    (lambda x, l: bt.mixed_blur(x, l, 1, 3, std_devs=-1), ValueError, "std-devs must be a number"),
    (lambda x, l: bt.mixed_blur(x.to("meta"), l, 1, 3), ValueError, "on meta.*CPU tensors only"),
    (lambda x, l: bt.gaussian_blur(x, float("inf")), ValueError, "sigma must be a number"),
    (lambda x, l: bt.gaussian_blur(x[0, 0, 0], 1.0), ValueError, r"shape \(\.\.\., H, W\)"),
    (lambda x, l: bt.AdaptiveGaussianBlur2d((8, 8))(x), ValueError, r"x must have shape \(B, C, 8, 8\)"),
]


@pytest.mark.parametrize("call,error,message", BAD)
def test_bad_input_raises(call, error, message):
    x, logits = torch.randn(2, 3, 6, 7), torch.zeros(2, 1, 6, 7)
    with pytest.raises(error, match=message):
        call(x, logits)
    assert bt.mixed_blur(x, logits, 1, 3).shape == x.shape


def test_double_backward_is_refused():
    x = torch.randn(1, 1, 6, 6, requires_grad=True)
    (g,) = torch.autograd.grad(bt.gaussian_blur(x, 1.0).square().sum(), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|twice"):
        g.sum().backward()


def test_import_sets_attribute():
    import blurmix as package
    assert package.torch is bt and math.isclose(package.half_width(2.5, 2.0), 5)
