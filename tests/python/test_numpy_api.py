"""blurmix's NumPy API against the seed's PyTorch formulation (../shared/anchors/seed_torch.py), the
seed's printed numbers (../shared/seed-experiments/expected.json) and the blurmix command."""
import json
import subprocess

import numpy as np
import pytest

import blurmix
from conftest import rel_err

torch = pytest.importorskip("torch")


def seed_blur(seed_torch, x, sigma, std_devs=2.0):
    """The seed's blur of an (H, W) or (H, W, C) array, in double precision. sigma is rounded to
    float32 first, as the seed's torch.tensor(sigma) is: its half-width ceil(std_devs sigma) is
    computed from that value (2.5 x float32(0.4) is just over 1)."""
    t = torch.from_numpy(np.asarray(x, np.float64))
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    out = seed_torch.blur(t, torch.tensor(float(np.float32(sigma)), dtype=torch.float64), std_devs)[0]
    return (out[0] if np.ndim(x) == 2 else out.permute(1, 2, 0)).numpy()


def local_blur_reference(x, sigma_map, std_devs=2.0):
    """The exact spatially varying blur from its definition (the seed's kernel at each pixel's own
    sigma, one half-width R = max(1, ceil(std_devs max sigma)) for the image, zero padding), in
    double precision with torch: each pixel's normalized 2-D kernel over its (2R+1)^2 window."""
    x = torch.from_numpy(np.asarray(x, np.float64))
    s = torch.from_numpy(np.asarray(sigma_map, np.float64))
    h, w = s.shape
    r = max(1, int(np.ceil(std_devs * float(s.max()))))
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    taps = torch.exp(-t[None, None] ** 2 / (2 * s[..., None] ** 2))
    taps = taps / taps.sum(-1, keepdim=True)                                   # (H, W, 2R+1)
    kernel = (taps[..., :, None] * taps[..., None, :]).reshape(h * w, -1)     # (H W, (2R+1)^2): dy, dx
    planes = x[None] if x.dim() == 2 else x.permute(2, 0, 1)
    patches = torch.nn.functional.unfold(planes[:, None], 2 * r + 1, padding=r)  # (C, (2R+1)^2, H W)
    out = (patches * kernel.T[None]).sum(1).reshape(-1, h, w)
    return (out[0] if x.dim() == 2 else out.permute(1, 2, 0)).numpy()


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(1337)


@pytest.mark.parametrize("shape", [(64, 64), (17, 23), (1, 1), (9, 12, 3), (5, 4, 2)])
@pytest.mark.parametrize("sigma", [0.4, 1.0, 3.0, 9.0])
def test_blur_matches_seed(seed_torch, rng, shape, sigma):
    x = rng.standard_normal(shape).astype(np.float32)
    out = blurmix.gaussian_blur(x, sigma)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.abs(out - seed_blur(seed_torch, x, sigma)).max() < 1e-6


def test_blur_std_devs_and_signal(seed_torch, signal):
    for sigma, std_devs in [(3.0, 2.0), (0.4, 2.5), (2.0, 3.0)]:
        out = blurmix.gaussian_blur(signal, sigma, std_devs=std_devs)
        assert np.abs(out - seed_blur(seed_torch, signal, sigma, std_devs)).max() < 1e-6


def test_float64_and_strided_input_are_read_as_given(rng):
    x = rng.standard_normal((20, 30, 3))
    expected = blurmix.gaussian_blur(x.astype(np.float32), 2.0)
    np.testing.assert_array_equal(blurmix.gaussian_blur(x, 2.0), expected)        # float64, converted
    np.testing.assert_array_equal(blurmix.gaussian_blur(np.asfortranarray(x), 2.0), expected)
    wide = rng.standard_normal((20, 60)).astype(np.float32)
    np.testing.assert_array_equal(blurmix.gaussian_blur(wide[:, ::2], 2.0),
                                  blurmix.gaussian_blur(np.ascontiguousarray(wide[:, ::2]), 2.0))
    # The channels of an (H, W, C) image are blurred alike, each as a grey image.
    for c in range(3):
        np.testing.assert_array_equal(expected[..., c], blurmix.gaussian_blur(x[..., c].astype(np.float32), 2.0))


@pytest.mark.parametrize("shape", [(64, 64), (15, 22, 3)])
def test_mix_matches_seed(seed_torch, rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    a, b = seed_blur(seed_torch, x, 1.0), seed_blur(seed_torch, x, 5.0)
    w = rng.uniform(0, 1, shape[:2]).astype(np.float32)
    wb = w if len(shape) == 2 else w[..., None]
    assert np.abs(blurmix.mix(x, w, 1.0, 5.0) - (wb * a + (1 - wb) * b)).max() < 1e-6
    assert np.abs(blurmix.mix(x, 0.5, 1.0, 5.0) - (0.5 * a + 0.5 * b)).max() < 1e-6
    # The weights 0 and 1 give the blurs themselves.
    assert np.abs(blurmix.mix(x, 1.0, 1.0, 5.0) - a).max() < 1e-6
    assert np.abs(blurmix.mix(x, 0.0, 1.0, 5.0) - b).max() < 1e-6


def test_experiment_a(signal, expected):
    a = expected["A"]
    mixed = blurmix.mix(signal, a["weight"], a["sigma_min"], a["sigma_max"])
    true = blurmix.gaussian_blur(signal, a["sigma_true"])
    assert abs(float(np.mean((mixed.astype(np.float64) - true) ** 2)) / a["mse_mix_vs_true"] - 1) < 1e-3


def test_local_blur_matches_seed_and_definition(seed_torch, rng):
    x = rng.standard_normal((19, 26)).astype(np.float32)
    # A constant map is the ordinary blur.
    for s in (0.7, 3.0):
        out = blurmix.local_blur(x, np.full(x.shape, s, np.float32))
        assert np.abs(out - seed_blur(seed_torch, x, s)).max() < 1e-6
    # A varying map, against the kernel at each pixel's sigma.
    sigma = rng.uniform(0.5, 4.0, x.shape).astype(np.float32)
    assert np.abs(blurmix.local_blur(x, sigma) - local_blur_reference(x, sigma)).max() < 1e-6
    rgb = rng.standard_normal((11, 13, 3)).astype(np.float32)
    sigma = rng.uniform(1.0, 2.5, (11, 13)).astype(np.float32)
    assert np.abs(blurmix.local_blur(rgb, sigma) - local_blur_reference(rgb, sigma)).max() < 1e-6


def test_scale_blur_approximates_local_blur(rng):
    x = rng.standard_normal((48, 48)).astype(np.float32)
    sigma = np.tile(np.linspace(2.0, 6.0, 48, dtype=np.float32), (48, 1))
    exact = blurmix.local_blur(x, sigma)
    err = {}
    for k in (2, 3, 9):
        approx = blurmix.scale_blur(x, sigma, scales=k)
        assert approx.shape == x.shape
        err[k] = float(np.sqrt(np.mean((approx - exact) ** 2)))
    # More scales, closer (measured: 0.032, 0.011, 0.0039 against a blur of std 0.068).
    assert err[9] < err[3] < err[2] and err[9] < 0.1 * float(np.std(exact))


def seed_iterations(expected, exp):
    return sorted(int(k) for k in expected[exp]["loss"])


@pytest.mark.parametrize("exp,mode", [("B", "global"), ("C", "local")])
def test_fit_reproduces_seed_losses(signal, expected, exp, mode):
    e = expected[exp]
    if exp == "B":
        target = blurmix.gaussian_blur(signal, e["sigma_true"])
    else:  # left 32 columns blurred with sigma 4, right 32 with sigma 7
        left = np.zeros((64, 64), np.float32)
        left[:, :32] = 1
        target = blurmix.mix(signal, left, 4.0, 7.0)
    its = seed_iterations(expected, exp)
    r = blurmix.fit(signal, target, sigma_min=e["sigma_min"], sigma_max=e["sigma_max"], mode=mode,
                    iters=e["iters"], lr=e["lr"], loss_at=its)
    assert r.iterations == e["iters"]
    for it in its:
        assert abs(r.losses[it] / e["loss"][str(it)] - 1) < 0.01, (it, r.losses[it], e["loss"][str(it)])
    assert r.loss_final == r.losses[e["iters"] - 1]
    assert r.weights.shape == (64, 64) and r.sigma.shape == (64, 64) and r.fitted.shape == (64, 64)
    assert r.params is None
    if exp == "B":
        assert abs(r.weight / e["final_weight"] - 1) < 0.01
        assert abs(float(r.sigma.mean()) / e["recovered_sigma"] - 1) < 0.01
    else:
        assert abs(float(r.sigma[:, :32].mean()) / e["sigma_left_mean"] - 1) < 0.01
        assert abs(float(r.sigma[:, 32:].mean()) / e["sigma_right_mean"] - 1) < 0.01
        np.testing.assert_allclose(r.fitted, blurmix.mix(signal, r.weights, 3.0, 9.0), atol=1e-6)


def test_fit_local_weights_match_seed_file(signal):
    """The seed's own fitted weights of experiment C (local_fit_weights.npy)."""
    from conftest import SHARED
    path = SHARED / "seed-experiments" / "local_fit_weights.npy"
    target_path = SHARED / "seed-experiments" / "target_local_4_7.npy"
    if not path.exists() or not target_path.exists():
        pytest.skip(f"{path} is absent")
    seed_weights = np.load(path).reshape(64, 64)
    r = blurmix.fit(signal, np.load(target_path).astype(np.float32).reshape(64, 64))
    assert np.abs(r.weights - seed_weights).max() < 0.01


def run_cli(cli, *args):
    p = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_same_results_as_the_cli(cli, tmp_path, signal, rng):
    src = tmp_path / "src.npy"
    np.save(src, signal)
    run_cli(cli, "blur", src, tmp_path / "blur.npy", "--sigma", 2.5, "--boundary", "mirror")
    np.testing.assert_array_equal(np.load(tmp_path / "blur.npy"), blurmix.gaussian_blur(signal, 2.5, boundary="mirror"))
    w = rng.uniform(0, 1, (64, 64)).astype(np.float32)
    np.save(tmp_path / "w.npy", w)
    run_cli(cli, "mix", src, tmp_path / "mix.npy", "--sigma-min", 2, "--sigma-max", 6, "--weights", tmp_path / "w.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "mix.npy"), blurmix.mix(signal, w, 2.0, 6.0))
    sigma = rng.uniform(1, 3, (64, 64)).astype(np.float32)
    np.save(tmp_path / "s.npy", sigma)
    run_cli(cli, "blur", src, tmp_path / "local.npy", "--sigma-map", tmp_path / "s.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "local.npy"), blurmix.local_blur(signal, sigma))

    target = blurmix.mix(signal, np.where(np.arange(64) < 32, 1.0, 0.0).astype(np.float32)[None].repeat(64, 0), 4, 7)
    np.save(tmp_path / "target.npy", target)
    for extra, kw in [([], {}), (["--mode", "global", "--learn-sigmas"], dict(mode="global", learn_sigmas=True)),
                      (["--scales", 4, "--lr", 0.3, "--smooth", 1e-3, "--smooth-iters", 100],
                       dict(scales=4, lr=0.3, smooth=1e-3, smooth_iters=100))]:
        out = tmp_path / ("fit" + "".join(str(e) for e in extra).replace("-", ""))
        j = json.loads(run_cli(cli, "fit", "--source", src, "--target", tmp_path / "target.npy", "--sigma-min", 3,
                               "--sigma-max", 9, "--iters", 300, "--quiet", "--json", "--out", out, *extra).splitlines()[-1])
        r = blurmix.fit(signal, target, iters=300, **kw)
        assert r.loss_final == pytest.approx(j["loss_final"], rel=1e-6)
        assert r.sigma_min == pytest.approx(j["sigma_min"], rel=1e-6)
        assert r.sigma_max == pytest.approx(j["sigma_max"], rel=1e-6)
        np.testing.assert_array_equal(np.load(out / "sigma.npy"), r.sigma)
        np.testing.assert_array_equal(np.load(out / "fitted.npy"), r.fitted)
        if "--scales" in extra:
            assert r.weights is None and r.logits is None and r.params.shape == (64, 64)
        else:
            np.testing.assert_array_equal(np.load(out / "weights.npy"), r.weights)


def test_k_scale_fit(signal):
    left = np.zeros((64, 64), np.float32)
    left[:, :32] = 1
    target = blurmix.mix(signal, left, 4.0, 7.0)
    r = blurmix.fit(signal, target, scales=7, lr=blurmix.SCALE_FIT_LR, iters=500)
    assert r.weights is None and r.weight is None and r.params.shape == (64, 64)
    assert len(r.scale_sigmas) == 7 and r.scale_sigmas[0] == 3.0 and r.scale_sigmas[-1] == pytest.approx(9.0)
    assert r.losses[499] < 0.2 * r.losses[0]
    # The recovered map is near 4 on the left and 7 on the right, away from the middle columns.
    assert abs(float(np.median(r.sigma[:, 4:24])) - 4) < 0.5
    assert abs(float(np.median(r.sigma[:, 40:60])) - 7) < 0.5
    smooth = blurmix.fit(signal, target, scales=7, smooth=1e-3, smooth_iters=100, lr=0.3, iters=200)
    assert smooth.weights is None and smooth.iterations == 200


def test_fit_rgb_and_learned_sigmas(rng):
    x = rng.standard_normal((24, 20, 3)).astype(np.float32)
    target = blurmix.gaussian_blur(x, 4.0)
    r = blurmix.fit(x, target, mode="global", learn_sigmas=True, iters=400)
    assert r.fitted.shape == x.shape and r.weights.shape == (24, 20)
    assert r.losses[399] < 0.05 * r.losses[0]
    # The learned pair mixes to a blur close to sigma 4.
    assert abs(r.weight * r.sigma_min + (1 - r.weight) * r.sigma_max - 4.0) < 0.5


def test_progress(signal):
    seen = []
    r = blurmix.fit(signal, signal, iters=250, progress=seen.append, report_every=50)
    assert [p.iteration for p in seen] == [0, 50, 100, 150, 200, 249]
    assert all(isinstance(p, blurmix.FitProgress) and p.sigma_min == 3.0 for p in seen)
    assert seen[-1].loss == r.losses[249]
    blurmix.fit(signal, signal, iters=20, progress=True)  # a tqdm bar on stderr


def test_progress_errors_propagate(signal):
    def fail(p):
        if p.iteration >= 20:
            raise RuntimeError("stop here")
    with pytest.raises(RuntimeError, match="stop here"):
        blurmix.fit(signal, signal, iters=1000, progress=fail, report_every=10)


BAD_CALLS = [
    (lambda x: blurmix.gaussian_blur(x.astype(np.int32), 1.0), TypeError, "float32 or float64 array, not int32"),
    (lambda x: blurmix.gaussian_blur(x.astype(np.float16), 1.0), TypeError, "not float16"),
    (lambda x: blurmix.gaussian_blur(x[0], 1.0), ValueError, r"shape \(H, W\) or \(H, W, C\), not \(64,\)"),
    (lambda x: blurmix.gaussian_blur(x[None, ..., None], 1.0), ValueError, "not \\(1, 64, 64, 1\\)"),
    (lambda x: blurmix.gaussian_blur(x[:0], 1.0), ValueError, "empty"),
    (lambda x: blurmix.gaussian_blur(x, 0.0), ValueError, r"sigma must be a number in \(0, 1000\], not 0.000000"),
    (lambda x: blurmix.gaussian_blur(x, -1.0), ValueError, "sigma must be a number"),
    (lambda x: blurmix.gaussian_blur(x, float("nan")), ValueError, "sigma must be a number"),
    (lambda x: blurmix.gaussian_blur(x, "3"), TypeError, "sigma must be a number, not str"),
    (lambda x: blurmix.gaussian_blur(x, 1.0, std_devs=0), ValueError, "std-devs must be a number"),
    (lambda x: blurmix.gaussian_blur(x, 1.0, boundary="wrap"), ValueError, "unknown boundary 'wrap'"),
    (lambda x: blurmix.gaussian_blur(x, 1.0, device="cuda"), ValueError, "cuda"),
    (lambda x: blurmix.gaussian_blur(x, 1.0, schedule="nonesuch"), ValueError, "no blur pipeline was built for cpu/nonesuch"),
    (lambda x: blurmix.gaussian_blur(np.where(x > 1, np.nan, x), 1.0), ValueError, "x: NaN at row"),
    (lambda x: blurmix.gaussian_blur(np.where(x > 1, np.inf, x), 1.0), ValueError, "x: Inf at row"),
    (lambda x: blurmix.mix(x, np.full((64, 64), 1.5, np.float32), 1, 5), ValueError, r"weights must lie in \[0, 1\]"),
    (lambda x: blurmix.mix(x, np.full((32, 64), 0.5, np.float32), 1, 5), ValueError, "weight map is 64x32 but the image is 64x64"),
    (lambda x: blurmix.mix(x, 0.5, 0, 5), ValueError, "sigma-min must be a number"),
    (lambda x: blurmix.local_blur(x, np.zeros((64, 64), np.float32)), ValueError, "sigma must be a number in"),
    (lambda x: blurmix.local_blur(x, np.ones((64, 32), np.float32)), ValueError, "sigma map is 32x64 but the image is 64x64"),
    (lambda x: blurmix.scale_blur(x, np.ones((64, 64), np.float32)), ValueError, "constant"),
    (lambda x: blurmix.fit(x, x[:32]), ValueError, r"source and target: sizes differ \(64x64x1 and 64x32x1\)"),
    (lambda x: blurmix.fit(x, np.where(x > 1, np.nan, x)), ValueError, "target: NaN at row"),
    (lambda x: blurmix.fit(x, x, sigma_min=9, sigma_max=3), ValueError,
     r"sigma-min \(9.000000\) must be smaller than sigma-max \(3.000000\)"),
    (lambda x: blurmix.fit(x, x, sigma_min=0), ValueError, "sigma-min must be a number"),
    (lambda x: blurmix.fit(x, x, iters=0), ValueError, "iters must be at least 1, not 0"),
    (lambda x: blurmix.fit(x, x, iters=2.5), TypeError, "iters must be an integer"),
    (lambda x: blurmix.fit(x, x, lr=0), ValueError, "lr must be a positive number"),
    (lambda x: blurmix.fit(x, x, lr=-0.1), ValueError, "lr must be a positive number"),
    (lambda x: blurmix.fit(x, x, mode="pixel"), ValueError, "unknown mode 'pixel'"),
    (lambda x: blurmix.fit(x, x, scales=1), ValueError, "scales must be from 2 to 64"),
    (lambda x: blurmix.fit(x, x, scales=4, learn_sigmas=True), ValueError, "does not learn the sigmas"),
    (lambda x: blurmix.fit(x, x, progress="yes"), TypeError, "progress must be"),
]


@pytest.mark.parametrize("call,error,message", BAD_CALLS)
def test_bad_input_raises_and_the_interpreter_lives(signal, call, error, message):
    with pytest.raises(error, match=message):
        call(signal)
    # ... and the next call works.
    assert blurmix.gaussian_blur(signal, 1.0).shape == (64, 64)
