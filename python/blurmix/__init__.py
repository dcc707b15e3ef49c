"""blurmix: an adaptive Gaussian blur (a mix of a small and a large blur with per-pixel or global
weights) and its fitter, as Halide pipelines, for NumPy.

Images are float32 (or float64, converted) arrays of shape (H, W) or (H, W, C); results are float32
arrays of the input's shape. The differentiable PyTorch ops are in ``blurmix.torch``.

    import numpy as np, blurmix
    x = np.load("signal.npy")                                  # (H, W) float32
    target = blurmix.gaussian_blur(x, 4.0)
    r = blurmix.fit(x, target, sigma_min=3.0, sigma_max=9.0)  # 1000 Adamax iterations, local weights
    print(r.loss_final, r.sigma.mean())

Refused input raises TypeError (not a float array) or ValueError (shape, NaN or Inf, values out of
range; the messages are the blurmix command's), and nothing is computed.
"""
from collections import namedtuple as _namedtuple
from dataclasses import dataclass as _dataclass
from typing import Callable as _Callable, Dict as _Dict, Optional as _Optional

import numpy as _np

from . import _core

__version__ = _core.__version__

__all__ = ["gaussian_blur", "mix", "local_blur", "scale_blur", "fit", "FitResult", "FitProgress",
           "half_width", "set_num_threads", "release_kept_images", "load_image", "save_image", "SCALE_FIT_LR",
           "__version__"]

# The learning rate the blurmix command uses for K-scale fits when none is given (fit's default,
# 0.1, is the seed's; see runtime/scales.h, kScaleFitLr, for why the stack's fit wants more).
SCALE_FIT_LR = 0.3

FitProgress = _namedtuple("FitProgress", "iteration loss sigma_min sigma_max")
FitProgress.__doc__ = "Passed to fit's progress callable: the loss before iteration `iteration`'s update."

half_width = _core.half_width


def set_num_threads(n: int) -> int:
    """Threads of the pipelines' pool (0: one per core); returns the previous number."""
    return _core.set_num_threads(int(n))


def release_kept_images() -> None:
    """Gives back to the system the large image blocks kept for reuse (see runtime/blurmix.h)."""
    _core.release_kept_images()


def _number(v, name: str) -> float:
    # Python and NumPy numbers, 0-d arrays and tensors; not bools, strings or sequences.
    if type(v) is float or type(v) is int:  # the common case, first: per-call time counts
        return float(v)
    if isinstance(v, (bool, _np.bool_, str, bytes)) or not hasattr(v, "__float__") or _np.ndim(v) != 0:
        raise TypeError(f"{name} must be a number, not {type(v).__name__}")
    return float(v)


def _integer(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, _np.integer)):
        raise TypeError(f"{name} must be an integer, not {type(v).__name__}")
    return int(v)


def _float_array(x, name: str) -> _np.ndarray:
    if not isinstance(x, _np.ndarray):
        x = _np.asarray(x)
    if x.dtype == _np.float32:
        return x
    if x.dtype == _np.float64:
        return x.astype(_np.float32)
    raise TypeError(f"{name} must be a float32 or float64 array, not {x.dtype}")


def _image(x, name: str):
    """An (H, W) or (H, W, C) image as the planar stack (1, C, H, W) the pipelines take, and a
    function giving a planar (C, H, W) result the image's shape back. An (H, W) image is used in
    place when it is C-contiguous float32; (H, W, C) is copied (the pipelines need x stride 1)."""
    x = _float_array(x, name)
    if x.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C), not {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty: shape {x.shape}")
    if x.ndim == 2:
        planar = _np.ascontiguousarray(x)[None, None]
        return planar, lambda p: p.reshape(x.shape)
    planar = _np.ascontiguousarray(x.transpose(2, 0, 1))[None]
    return planar, lambda p: _np.ascontiguousarray(p.reshape(planar.shape[1:]).transpose(1, 2, 0))


def _checked_image(x, name: str):
    planar, back = _image(x, name)
    _core.check_finite(planar, name)
    return planar, back


def _map(m, name: str, shape) -> _np.ndarray:
    """A per-pixel map (H, W) of an image of shape `shape` (its first two axes)."""
    m = _np.ascontiguousarray(_float_array(m, name))
    if m.ndim != 2:
        raise ValueError(f"{name} must have shape (H, W) = {tuple(shape[:2])}, not {m.shape}")
    return m


def load_image(path, *, linear=False, max_megabytes=2048.0) -> _np.ndarray:
    """An image file as the blurmix command reads it: PNG (any bit depth and colour type, samples
    scaled to [0, 1]; linear=True decodes sRGB to linear light) or .npy (float32 or float64), told
    by content, not name. Returns (H, W) for one channel, else (H, W, C). Files whose float32 image
    would exceed max_megabytes, and NaN or Inf, are refused (ValueError naming the file)."""
    planar = _core.load_image(str(path), bool(linear), _number(max_megabytes, "max_megabytes"))
    if planar.shape[0] == 1:
        return planar[0]
    return _np.ascontiguousarray(planar.transpose(1, 2, 0))


def save_image(path, x, *, linear=False) -> None:
    """Writes x (H, W) or (H, W, C) with 1..4 channels as the blurmix command does: .png (8-bit,
    values clamped to [0, 1]; linear=True encodes linear light as sRGB) or .npy (float32), to a
    temporary file renamed into place, so the file is there whole or not at all."""
    path = str(path)
    if not path.endswith((".png", ".npy")):
        raise ValueError(f"{path}: output must end in .png or .npy")
    planar, _ = _image(x, "x")
    if not 1 <= planar.shape[1] <= 4:
        raise ValueError(f"{path}: an image file holds 1 to 4 channels, not {planar.shape[1]}")
    _core.save_image(path, planar[0], bool(linear))


def gaussian_blur(x, sigma, *, std_devs=2.0, boundary="zero", device="cpu", schedule="manual") -> _np.ndarray:
    """The separable Gaussian blur: taps exp(-t^2 / (2 sigma^2)), t = -r..r, r = max(1,
    ceil(std_devs sigma)), normalized; a vertical pass, then a horizontal one, each extending the
    image by `boundary` ("zero", "clamp" or "mirror"). Channels are blurred alike.
    `device` and `schedule` pick a built variant (blurmix._core.built_variants())."""
    sigma = _number(sigma, "sigma")
    std_devs = _number(std_devs, "std_devs")
    planar, back = _checked_image(x, "x")
    out = _np.empty_like(planar)
    _core.blur(planar, sigma, std_devs, str(boundary), str(device), str(schedule), out)
    return back(out[0])


def _blurs(planar, sigma_min, sigma_max, std_devs, boundary, device="cpu", schedule="manual"):
    a, b = _np.empty_like(planar), _np.empty_like(planar)
    _core.blur(planar, sigma_min, std_devs, boundary, device, schedule, a)
    _core.blur(planar, sigma_max, std_devs, boundary, device, schedule, b)
    return a, b


def mix(x, weights, sigma_min, sigma_max, *, std_devs=2.0, boundary="zero") -> _np.ndarray:
    """w blur(x, sigma_min) + (1 - w) blur(x, sigma_max), with weights w an (H, W) map in [0, 1]
    or one number for every pixel (the blurmix command's `mix`: the weights become logits, the
    mix applies their sigmoid)."""
    sigma_min = _number(sigma_min, "sigma_min")
    sigma_max = _number(sigma_max, "sigma_max")
    std_devs = _number(std_devs, "std_devs")
    _core.check_sigma(sigma_min, "sigma-min")
    _core.check_sigma(sigma_max, "sigma-max")
    planar, back = _checked_image(x, "x")
    if _np.ndim(weights) == 0:
        w = _np.full((1, 1), _number(weights, "weights"), _np.float32)
    else:
        w = _map(weights, "weights", planar.shape[2:])
    logits = _core.logits_of(w)
    a, b = _blurs(planar, sigma_min, sigma_max, std_devs, str(boundary))
    out = _np.empty_like(planar)
    _core.mix(a, b, logits[None], "cpu", "manual", out)
    return back(out[0])


def local_blur(x, sigma_map, *, std_devs=2.0, boundary="zero") -> _np.ndarray:
    """The exact spatially varying blur: pixel p blurred with its own sigma_map[p] (an (H, W) map
    of values in (0, 1000]), one kernel half-width max(1, ceil(std_devs max sigma)) for the image."""
    std_devs = _number(std_devs, "std_devs")
    planar, back = _checked_image(x, "x")
    s = _map(sigma_map, "sigma_map", planar.shape[2:])
    return back(_core.local_blur(planar, s, std_devs, str(boundary)))


def scale_blur(x, sigma_map, scales=7, *, spacing="geometric", std_devs=2.0, boundary="zero") -> _np.ndarray:
    """The K-scale approximation of local_blur: `scales` blurs from the map's smallest to its
    largest sigma (spaced "geometric" or "even"), each pixel mixing the two around its sigma."""
    scales = _integer(scales, "scales")
    std_devs = _number(std_devs, "std_devs")
    planar, back = _checked_image(x, "x")
    s = _map(sigma_map, "sigma_map", planar.shape[2:])
    return back(_core.scale_blur(planar, s, scales, str(spacing), std_devs, str(boundary)))


@_dataclass
class FitResult:
    """What fit returns. Maps are (H, W) float32, `fitted` has the source's shape.

    weights: the weight m of the small blur per pixel (every pixel the same in global mode; see
        `weight`); None for K-scale fits, which have `params` instead.
    sigma: the recovered sigma map m sigma_min + (1 - m) sigma_max (K-scale: the stack's sigma).
    losses: iteration -> loss before that iteration's update, for the recorded iterations (every
        report_every-th, those of loss_at, and the last).
    """
    weights: _Optional[_np.ndarray]
    sigma: _np.ndarray
    fitted: _np.ndarray
    losses: _Dict[int, float]
    loss_final: float
    sigma_min: float
    sigma_max: float
    iterations: int
    seconds: float
    logits: _Optional[_np.ndarray] = None
    params: _Optional[_np.ndarray] = None
    weight: _Optional[float] = None
    mode: str = "local"
    scale_sigmas: _Optional[list] = None


def _progress_callback(progress, iters: int):
    """fit's progress argument as the (iteration, loss, sigma_min, sigma_max) callable the
    extension calls, and a function that closes what it opened."""
    if progress is False or progress is None:
        return None, lambda: None
    if progress is True:
        from tqdm import tqdm
        bar = tqdm(total=iters, unit="it", desc="fit")

        def show(it, loss, s_min, s_max):
            bar.update(it + 1 - bar.n)
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        return show, bar.close
    if callable(progress):
        return (lambda it, loss, s_min, s_max: progress(FitProgress(it, loss, s_min, s_max))), lambda: None
    raise TypeError(f"progress must be True, False or a callable, not {type(progress).__name__}")


def fit(source, target, *, sigma_min=3.0, sigma_max=9.0, mode="local", iters=1000, lr=0.1,
        learn_sigmas=False, scales=None, smooth=0.0, smooth_iters=None, progress=False,
        spacing="geometric", smooth_kind="tv", std_devs=2.0, boundary="zero", device="cpu",
        schedule="manual", report_every=100, loss_at=(), fused=True) -> FitResult:
    """Fits the weights of the mix of blur(source, sigma_min) and blur(source, sigma_max) so that it
    matches target (mean squared error), by Adamax from logits 0, as the blurmix command's `fit`.

    mode: "local" (a weight per pixel) or "global" (one weight). learn_sigmas: the two sigmas are
    Adamax parameters too. scales=K (2..64), or smooth > 0: the K-scale fit (K = 2 with smooth only)
    over a stack from sigma_min to sigma_max spaced by `spacing`, with a smoothness penalty
    (`smooth_kind` "tv" or "quadratic", weight `smooth`) for the first `smooth_iters` iterations
    (all when None); the command then uses lr SCALE_FIT_LR unless given, this function lr as given.
    The defaults follow the seed (no penalty, lr 0.1); `blurmix fit --scales K` smooths by default,
    as a K-scale fit needs to get out of per-pixel minima: smooth=1e-3, smooth_iters=iters // 2,
    lr=SCALE_FIT_LR give the same fit here.
    progress: True for a progress bar (tqdm), or a callable taking a FitProgress, called every
    report_every iterations and at the last. loss_at: more iterations whose loss is recorded.
    Ctrl-C stops the fit between runs of iterations and raises KeyboardInterrupt; the GIL is
    released while the fit runs.
    """
    sigma_min = _number(sigma_min, "sigma_min")
    sigma_max = _number(sigma_max, "sigma_max")
    iters = _integer(iters, "iters")
    lr = _number(lr, "lr")
    std_devs = _number(std_devs, "std_devs")
    report_every = _integer(report_every, "report_every")
    scales = 0 if scales is None else _integer(scales, "scales")
    smooth = _number(smooth, "smooth")
    smooth_iters = -1 if smooth_iters is None else _integer(smooth_iters, "smooth_iters")
    loss_at = [_integer(i, "loss_at") for i in loss_at]
    src, back = _image(source, "source")
    tgt, _ = _image(target, "target")
    call, close = _progress_callback(progress, iters)
    try:
        d = _core.fit(src, tgt, str(mode), sigma_min, sigma_max, iters, lr, bool(learn_sigmas), std_devs,
                      str(boundary), str(device), str(schedule), report_every, loss_at, bool(fused), call,
                      scales, str(spacing), smooth, str(smooth_kind), smooth_iters)
    finally:
        close()
    losses = d["losses"]
    weights = d["weights"]
    return FitResult(
        weights=weights, sigma=d["sigma"], fitted=back(d["fitted"]), losses=losses,
        loss_final=losses[max(losses)], sigma_min=d["sigma_min"], sigma_max=d["sigma_max"],
        iterations=d["iterations"], seconds=d["seconds"], logits=d["logits"], params=d["params"],
        weight=float(weights[0, 0]) if weights is not None and mode == "global" else None,
        mode=str(mode), scale_sigmas=d.get("scale_sigmas"))


def __getattr__(name):
    # blurmix.torch is imported on first use (it needs torch): `import blurmix.torch` or
    # `blurmix.torch` after `import blurmix` both work.
    if name == "torch":
        import importlib
        try:
            return importlib.import_module(".torch", __name__)
        except ImportError as e:
            raise AttributeError(f"blurmix.torch needs PyTorch ({e})") from e
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
