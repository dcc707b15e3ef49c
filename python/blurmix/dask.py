"""blurmix on Dask arrays: the blur, the mix and the exact local blur of images too big for one
machine's memory, tiled so that the result equals the whole-array call bit for bit.

    import dask.array as da, blurmix.dask as bd
    x = da.from_zarr("scene.zarr")                      # (H, W) or (H, W, C), chunked any way
    y = bd.gaussian_blur(x, 4.0, boundary="mirror")     # lazy; y.compute() or y.to_zarr(...)
    weights, sigma, fitted = bd.fit(x, target, sigma_min=3.0, sigma_max=9.0, mode="local")

Why it is exact: every output pixel needs only the input within the kernel's half-width
r = max(1, ceil(std_devs sigma_max)) of it. The whole image is first extended by r with its
boundary rule (zero, clamp = edge, mirror = symmetric: the edge repeated), which are then the
values the one-machine pipelines read beyond the image; every block is given its neighbours' r
pixels (dask.array.overlap, boundary "none": the padding is the outer halo), blurred with boundary
"zero" (nothing beyond the block is ever read for a kept pixel) and cropped by r on every side. The
separable blur's taps do not depend on the pixel's position, so each kept pixel sums the same
values in the same order as on the whole image.

Each block's position is never needed (dask.array.map_overlap's block_info locations are not
trusted: dask issue 11349): the padding is merged into the outer chunks, so every overlapped block
is cropped by r on every side. Chunks smaller than r are merged with their neighbours first (dask's
overlap needs each chunk at least as large as the depth); channels are put into one chunk.
"""
import math

import numpy as np

import blurmix

__all__ = ["gaussian_blur", "mix", "local_blur", "fit", "FitResult", "halo", "match_halide_threads"]

# np.pad / da.pad modes giving the pipelines' boundary rules beyond the image's edges.
_PAD_MODE = {"zero": "constant", "clamp": "edge", "mirror": "symmetric"}


def halo(sigma_max: float, std_devs: float = 2.0) -> int:
    """The pixels a tile needs from its neighbours: the kernel half-width of the largest sigma."""
    return int(blurmix.half_width(float(sigma_max), float(std_devs)))


def _halide_threads_plugin():
    from dask.distributed import WorkerPlugin

    class MatchHalideThreads(WorkerPlugin):
        """Sets each worker's Halide thread pool to the worker's own thread count."""
        name = "blurmix-match-halide-threads"

        def setup(self, worker):
            import blurmix as _blurmix
            _blurmix.set_num_threads(worker.state.nthreads)

    return MatchHalideThreads()


def match_halide_threads(client):
    """Makes every worker of client's cluster (those there now and those that join later) run
    Halide's pipelines on as many threads as the worker has: a worker of T threads runs at most T
    tasks at once, and Halide's pool, left alone, starts one thread per core in every worker
    process, so that two pools of N threads would fight over N cores."""
    client.register_plugin(_halide_threads_plugin(), name="blurmix-match-halide-threads")


def _source_class():
    from blurmix.dask_io import ImageSource
    return ImageSource


def _dask_array(a, name: str):
    import dask.array as da
    if isinstance(a, _source_class()):
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name} ({a!r}) must hold float32 or float64, not {a.dtype}")
        return a
    if not isinstance(a, da.Array):
        a = da.asarray(a)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    if a.dtype != np.float32:
        raise TypeError(f"{name} must be a float32 or float64 array, not {a.dtype}")
    return a


def _image(x, name: str = "x"):
    """x as a dask array, or an ImageSource (blurmix.dask_io.open_image) as it is."""
    x = _dask_array(x, name)
    if x.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C), not {x.shape}")
    if 0 in x.shape:
        raise ValueError(f"{name} is empty: shape {x.shape}")
    if not isinstance(x, _source_class()) and x.ndim == 3 and len(x.chunks[2]) > 1:
        x = x.rechunk({2: -1})  # a pixel's channels are blurred by one call
    return x


def _map(m, name: str, x):
    m = _dask_array(m, name)
    if m.shape != x.shape[:2]:
        raise ValueError(f"{name} must have shape (H, W) = {tuple(x.shape[:2])}, not {m.shape}")
    return m


def _spatial_chunks(a):
    return tuple(a.chunks[:2])


def _boundary(boundary) -> str:
    boundary = str(boundary)
    if boundary not in _PAD_MODE:
        raise ValueError(f"boundary must be zero, clamp or mirror, not '{boundary}'")
    return boundary


def _at_least(chunks, r: int):
    """The chunks of one axis with those smaller than r merged into their neighbours."""
    merged = []
    for c in chunks:
        if merged and merged[-1] < r:
            merged[-1] += c
        else:
            merged.append(c)
    if len(merged) > 1 and merged[-1] < r:
        last = merged.pop()
        merged[-1] += last
    return tuple(merged)


def _padded_blocks(a, r: int, mode: str, spatial_chunks, fill=0.0):
    """a (H, W[, C]) extended by r on both spatial axes with `mode`, the padding merged into the
    outer chunks, overlapped by r: every block is its chunk with r pixels on every side."""
    import dask.array as da
    a = a.rechunk(tuple(spatial_chunks) + tuple((s,) for s in a.shape[2:]))  # fewer tasks to pad
    pad = [(r, r), (r, r)] + [(0, 0)] * (a.ndim - 2)
    if mode == "constant":
        p = da.pad(a, pad, mode="constant", constant_values=fill)
    elif mode == "symmetric":
        # da.pad reflects once only: repeated reflections (as NumPy's) where r exceeds the image.
        p = a
        for axis in range(2):
            left = right = r
            while left or right:
                n = p.shape[axis]
                step = [(0, 0)] * a.ndim
                step[axis] = (min(left, n), min(right, n))
                p = da.pad(p, step, mode="symmetric")
                left, right = left - step[axis][0], right - step[axis][1]
    else:
        p = da.pad(a, pad, mode=mode)
    chunks = []
    for axis in range(2):
        c = list(spatial_chunks[axis])
        c[0] += r
        c[-1] += r
        chunks.append(tuple(c))
    p = p.rechunk(tuple(chunks) + tuple((s,) for s in a.shape[2:]))
    depth = {0: r, 1: r}
    depth.update({axis: 0 for axis in range(2, a.ndim)})
    return da.overlap.overlap(p, depth=depth, boundary="none")


def _source_rows(n: int, start: int, stop: int, mode: str):
    """For the positions start..stop-1 of an axis of n pixels extended by `mode` (np.pad's
    constant, edge or symmetric, reflected again as often as needed): the pixel each reads, or
    -1 for the constant fill. np.pad of the indices themselves gives what np.pad of the image does."""
    left, right = max(0, -start), max(0, stop - n)
    if mode == "constant":
        index = np.pad(np.arange(n), (left, right), mode="constant", constant_values=-1)
    else:
        index = np.pad(np.arange(n), (left, right), mode=mode)
    return index[start + left:stop + left]


def _read_padded(src, rows, cols, r: int, mode: str, fill: float):
    """The block rows x cols ((start, stop) each) of the ImageSource src with r pixels on every
    side, beyond the image as `mode` extends it: what the whole padded image holds there."""
    ri = _source_rows(src.shape[0], rows[0] - r, rows[1] + r, mode)
    ci = _source_rows(src.shape[1], cols[0] - r, cols[1] + r, mode)
    rv, cv = ri[ri >= 0], ci[ci >= 0]
    out_shape = (len(ri), len(ci)) + tuple(src.shape[2:])
    if len(rv) == 0 or len(cv) == 0:
        return np.full(out_shape, fill, np.float32)
    r0, c0 = int(rv.min()), int(cv.min())
    data = src.read(slice(r0, int(rv.max()) + 1), slice(c0, int(cv.max()) + 1))
    inside = (ri >= 0)[:, None] & (ci >= 0)[None, :]
    if inside.all() and np.array_equal(ri, np.arange(r0, r0 + len(ri))) and \
            np.array_equal(ci, np.arange(c0, c0 + len(ci))):
        return np.ascontiguousarray(data, dtype=np.float32)  # an inner block: the rectangle itself
    out = np.full(out_shape, fill, np.float32)
    picked = data[np.clip(ri - r0, 0, None)][:, np.clip(ci - c0, 0, None)]
    out[inside] = picked[inside]
    return out


def _source_blocks(src, r: int, mode: str, spatial_chunks, fill=0.0):
    """The blocks of an ImageSource with r pixels on every side (as _padded_blocks), each read by
    its own task from storage: a dask array of no dependencies."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
    name = "read-padded-" + tokenize(src, r, mode, spatial_chunks, fill)
    edges = [np.cumsum((0,) + tuple(c)) for c in spatial_chunks]
    channel = (0,) if src.ndim == 3 else ()
    dsk = {}
    for i in range(len(spatial_chunks[0])):
        for j in range(len(spatial_chunks[1])):
            rows = (int(edges[0][i]), int(edges[0][i + 1]))
            cols = (int(edges[1][j]), int(edges[1][j + 1]))
            dsk[(name, i, j) + channel] = (_read_padded, src, rows, cols, r, mode, float(fill))
    chunks = tuple(tuple(c + 2 * r for c in axis) for axis in spatial_chunks) + tuple((s,) for s in src.shape[2:])
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=())
    return da.Array(graph, name, chunks, dtype=np.float32, meta=np.empty((0,) * src.ndim, np.float32))


def _blocks(a, r: int, mode: str, spatial_chunks, fill=0.0):
    """a's blocks on spatial_chunks, each with r pixels on every side from the image extended by
    `mode`: read by each block's own task from an ImageSource, or overlapped from a dask array."""
    if isinstance(a, _source_class()):
        return _source_blocks(a, r, mode, spatial_chunks, fill)
    if r == 0:
        return a.rechunk(tuple(spatial_chunks) + tuple((s,) for s in a.shape[2:]))
    return _padded_blocks(a, r, mode, spatial_chunks, fill)


def _tiled(fn, x, r: int, boundary: str, maps=(), map_fill=()):
    """fn(x_block, *map_blocks) on every overlapped block of x (and of the (H, W) maps, padded with
    their constant fill), each result cropped by r: a dask array of x's shape and chunks."""
    if r < 1:
        raise ValueError(f"the halo must be at least 1 pixel, not {r}")
    chunks = _spatial_chunks(x)
    spatial = (_at_least(chunks[0], r), _at_least(chunks[1], r))
    blocks = _blocks(x, r, _PAD_MODE[boundary], spatial)
    # Maps get a trailing axis of size 1 beside a 3-D image, so that map_blocks pairs the blocks.
    map_blocks = []
    for m, fill in zip(maps, map_fill):
        mb = _blocks(m, r, "constant", spatial, fill)
        map_blocks.append(mb[..., None] if x.ndim == 3 else mb)
    out_chunks = spatial + tuple((s,) for s in x.shape[2:])

    def block(xb, *mbs):
        mbs = [mb[..., 0] if x.ndim == 3 else mb for mb in mbs]
        return fn(xb, *mbs)[r:-r, r:-r]

    return blocks.map_blocks(block, *map_blocks, chunks=out_chunks, dtype=np.float32,
                             meta=np.empty((0,) * x.ndim, np.float32))


def gaussian_blur(arr, sigma, *, std_devs=2.0, boundary="zero"):
    """blurmix.gaussian_blur on a dask array (H, W) or (H, W, C), lazily, tile by tile; equal to
    the whole-array call bit for bit. Chunks smaller than the halo (halo(sigma, std_devs)) are
    merged with their neighbours, so the result's chunks may be larger than arr's."""
    sigma, std_devs, boundary = float(sigma), float(std_devs), _boundary(boundary)
    blurmix._core.check_blur_args(sigma, std_devs, boundary)
    x = _image(arr)
    return _tiled(lambda b: blurmix.gaussian_blur(b, sigma, std_devs=std_devs, boundary="zero"),
                  x, halo(sigma, std_devs), boundary)


def mix(arr, weights, sigma_min, sigma_max, *, std_devs=2.0, boundary="zero"):
    """blurmix.mix on a dask array: w blur(x, sigma_min) + (1 - w) blur(x, sigma_max), weights an
    (H, W) map (dask or NumPy) in [0, 1] or one number; equal to the whole-array call bit for bit."""
    sigma_min, sigma_max = float(sigma_min), float(sigma_max)
    std_devs, boundary = float(std_devs), _boundary(boundary)
    blurmix._core.check_sigma(sigma_min, "sigma-min")
    blurmix._core.check_sigma(sigma_max, "sigma-max")
    x = _image(arr)
    r = max(halo(sigma_min, std_devs), halo(sigma_max, std_devs))

    if not isinstance(weights, _source_class()) and np.ndim(weights) == 0 and not hasattr(weights, "dask"):
        w = float(weights)
        return _tiled(lambda b: blurmix.mix(b, w, sigma_min, sigma_max, std_devs=std_devs, boundary="zero"),
                      x, r, boundary)
    wmap = _map(weights, "weights", x)
    # The padding's weights are cropped away; 0.5 is a valid weight (finite logit).
    return _tiled(lambda b, wb: blurmix.mix(b, wb, sigma_min, sigma_max, std_devs=std_devs, boundary="zero"),
                  x, r, boundary, (wmap,), (0.5,))


def local_blur(arr, sigma_map, *, std_devs=2.0, boundary="zero", sigma_max=None):
    """blurmix.local_blur on a dask array: pixel p blurred with its own sigma_map[p]; equal to the
    whole-array call bit for bit. The whole-array call uses one kernel half-width for the image,
    from the map's largest sigma, so every block must too: that sigma is computed from the map
    (a reduction, computed now) unless given as sigma_max, and put into a halo pixel of every
    block's map (halo pixels' results are cropped away)."""
    std_devs, boundary = float(std_devs), _boundary(boundary)
    x = _image(arr)
    s = _map(sigma_map, "sigma_map", x)
    if sigma_max is None:  # a pass over the map (from storage for an ImageSource)
        whole = _blocks(s, 0, "constant", _spatial_chunks(s)) if isinstance(s, _source_class()) else s
        s_max = float(whole.max().compute())
    else:
        s_max = float(sigma_max)
    if not (math.isfinite(s_max) and s_max > 0):
        raise ValueError(f"sigma_map's largest value must be in (0, 1000], not {s_max}")
    r = halo(s_max, std_devs)

    def block(b, sb):
        sb = sb.copy()
        sb[0, 0] = s_max  # a halo pixel: the block's kernel half-width is then the image's
        return blurmix.local_blur(b, sb, std_devs=std_devs, boundary="zero")

    return _tiled(block, x, r, boundary, (s,), (s_max,))


class FitResult:
    """What fit returns, all lazy: `weights` (H, W) the weight of the small blur (every pixel the
    same in global mode), `sigma` (H, W) = weights sigma_min + (1 - weights) sigma_max, `fitted`
    the mix with those weights (the source's shape); global mode also `weight` and `loss` (0-d
    dask arrays: the one weight, and the mean squared error before the last update, as
    blurmix.fit's loss_final)."""

    def __init__(self, weights, sigma, fitted, weight=None, loss=None, mode="global"):
        self.weights, self.sigma, self.fitted = weights, sigma, fitted
        self.weight, self.loss, self.mode = weight, loss, mode

    def __iter__(self):  # weights, sigma, fitted = bd.fit(...)
        return iter((self.weights, self.sigma, self.fitted))


def _moment_totals(a, b, t):
    """The global fit's three moments of one block, summed in float64: with D = A - B and
    R = B - T, sum D^2, sum D R, sum R^2. Each pixel's terms summed over its channels in float32
    first, as the pipeline fit_moments does."""
    a, b, t = (np.asarray(v, np.float32) for v in (a, b, t))
    if a.ndim == 2:
        a, b, t = a[..., None], b[..., None], t[..., None]
    d, r = a - b, b - t
    terms = [d * d, d * r, r * r]
    out = np.empty((1, 1, 3), np.float64)
    for j, term in enumerate(terms):
        per_pixel = term[..., 0].copy()
        for c in range(1, term.shape[2]):
            per_pixel += term[..., c]
        out[0, 0, j] = per_pixel.sum(dtype=np.float64)
    return out


def _global_adamax(totals, n, iters, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """The whole-image global fit's iterations (generators/fit_steps_generator.cpp on the 1x1
    image of the totals, runtime/fit.cpp): Adamax in float32 from logit 0 on the quadratic
    loss (a m^2 + 2 b m + c) / N, m = sigmoid(logit). Returns the weight and the loss at it
    before the last update, as blurmix.fit's loss_final (float64, from the float64 totals)."""
    f = np.float32
    a, b = f(totals[0]), f(totals[1])
    inv_n = f(1.0 / n)
    beta1, beta2, eps = f(beta1), f(beta2), f(eps)
    logit, exp_avg, exp_inf = f(0), f(0), f(0)
    A, B, C = (float(v) for v in totals)
    loss = None
    with np.errstate(over="ignore"):
        for step in range(1, iters + 1):
            m = f(1) / (f(1) + np.exp(-np.clip(logit, f(-80), f(80))))
            if step == iters:  # blurmix.fit's loss_final: the loss before the last update
                loss = ((A * float(m) + 2 * B) * float(m) + C) / n
            grad = (f(2) * inv_n) * (a * m + b) * (m * (f(1) - m))
            clr = f(float(lr) / (1.0 - float(beta1) ** step))
            exp_avg = exp_avg * beta1 + grad * (f(1) - beta1)
            exp_inf = max(exp_inf * beta2, abs(grad) + eps)
            logit = f(logit - clr * (exp_avg / exp_inf))
        m = f(1) / (f(1) + np.exp(-np.clip(logit, f(-80), f(80))))
    return m, loss


def _run_ends(iters: int, report_every: int):
    """Where blurmix.fit's fused runs end (runtime/fit_recorder.h): at every report_every-th
    iteration, at the last one (iters - 1) and at iters."""
    if report_every < 1:
        raise ValueError(f"report_every must be at least 1, not {report_every}")
    ends = set(range(report_every, iters, report_every)) | {iters}
    if iters > 1:
        ends.add(iters - 1)
    return sorted(ends)


# The fused fit's CPU schedule (generators/schedule.h, schedule_steps_cpu) steps rows in groups
# of 4 and columns in groups of vec x chains (at most 16 x 8 = 128 on the CPUs built for), with
# narrower images scheduled otherwise; a group's tail is computed by other code, whose results may
# differ in the last bit. Blocks therefore start at multiples of these from the image's origin, and
# a block's columns are never fewer than a group unless the image's are: every pixel is then
# computed in the same kind of group as on the whole image.
_FIT_ROWS, _FIT_COLUMNS = 4, 128


def _aligned(chunks, multiple):
    """An axis's chunks with their boundaries moved down to multiples of `multiple`, and a last
    chunk shorter than `multiple` merged into the one before."""
    total = sum(chunks)
    bounds = sorted({(e // multiple) * multiple for e in np.cumsum(chunks)[:-1]} - {0})
    bounds = [e for e in bounds if total - e >= multiple]
    edges = [0] + bounds + [total]
    return tuple(int(e1 - e0) for e0, e1 in zip(edges, edges[1:]))


def _fit_blocks(x, t, r, boundary, blur_sigmas, fn, out_planes, per_block_total=False):
    """fn(a, b, t) on every block, where a and b are the source blurred at blur_sigmas inside the
    block's own task: the source's blocks come padded by r (the larger sigma's halo, as in
    _tiled), are blurred with zero padding and cropped by r. One task per block, so that a block's
    blurs never leave the worker that fits it (less memory, fewer tasks). Blocks are aligned to the
    fit's vector groups (see _FIT_COLUMNS) and at least r. fn returns (h, w, out_planes), or
    with per_block_total (1, 1, out_planes)."""
    import dask.array as da
    chunks = _spatial_chunks(x)
    spatial = (_at_least(_aligned(chunks[0], _FIT_ROWS), r), _at_least(_aligned(chunks[1], _FIT_COLUMNS), r))
    padded = _blocks(x, r, _PAD_MODE[boundary], spatial)
    t = _blocks(t, 0, "constant", spatial)
    s_min, s_max, std_devs = blur_sigmas

    def fit_block(xb, tb):  # the name prefixes the tasks' keys
        a = blurmix.gaussian_blur(xb, s_min, std_devs=std_devs, boundary="zero")[r:-r, r:-r]
        b = blurmix.gaussian_blur(xb, s_max, std_devs=std_devs, boundary="zero")[r:-r, r:-r]
        return fn(a, b, tb)

    if per_block_total:
        chunks, dtype = ((1,) * len(spatial[0]), (1,) * len(spatial[1]), (out_planes,)), np.float64
    else:
        chunks, dtype = spatial + ((out_planes,),), np.float32
    # The padded blocks are larger than t's by 2r: map_blocks pairs blocks by index, never by shape.
    return da.map_blocks(fit_block, padded, t, dtype=dtype, chunks=chunks,
                         new_axis=[2] if x.ndim == 2 else None, meta=np.empty((0, 0, 0), dtype))


def _local_fit(x, t, r, boundary, blur_sigmas, n, iters, lr, sigma_min, sigma_max, report_every):
    ends = _run_ends(iters, report_every)
    inv_n = float(np.float32(1.0 / n))  # as runtime/fit.cpp: 1 / N in double, then float
    channels = x.shape[2] if x.ndim == 3 else 1

    def fit(a, b, tb):
        pa, back = blurmix._image(a, "a")
        pb, _ = blurmix._image(b, "b")
        pt, _ = blurmix._image(tb, "target")
        logits, weights, sigma = blurmix._core.fit_local_block(pa, pb, pt, ends, lr, 0.9, 0.999, 1e-8, inv_n,
                                                             sigma_min, sigma_max)
        stacked = np.empty(weights.shape + (2 + channels,), np.float32)
        stacked[..., 0], stacked[..., 1] = weights, sigma
        out = np.empty_like(pa)
        blurmix._core.mix(pa, pb, logits[None], "cpu", "manual", out)
        stacked[..., 2:] = back(out[0]).reshape(weights.shape + (channels,))
        return stacked

    stacked = _fit_blocks(x, t, r, boundary, blur_sigmas, fit, 2 + channels)
    fitted = stacked[..., 2] if x.ndim == 2 else stacked[..., 2:]
    return FitResult(stacked[..., 0], stacked[..., 1], fitted, mode="local")


def fit(source, target, *, sigma_min=3.0, sigma_max=9.0, mode="local", iters=1000, lr=0.1, scales=None,
        smooth=0.0, learn_sigmas=False, std_devs=2.0, boundary="zero", report_every=100):
    """blurmix.fit on Dask arrays, lazily: the weights of the mix of blur(source, sigma_min) and
    blur(source, sigma_max) that match target (mean squared error), by Adamax from logit 0.

    mode "global": the blurs tiled (exact), the three moments of the error's quadratic in the
    weight summed over blocks in float64, then the one-weight fit on the totals, as the
    whole-image fit runs it (its loss agrees to 1e-6 relative, not bit for bit: the totals are
    summed in another order and the sigmoid's exp is NumPy's). Local mode has no `loss` (None).
    mode "local": the blurs tiled (exact), then every block fitted by the fused fit's pipelines with
    the whole image's 1/N (blurmix._core.fit_local_block), in the runs blurmix.fit cuts at every
    report_every-th iteration and the last (give the same report_every): each pixel's
    trajectory is the whole-image fit's, so the maps equal blurmix.fit's bit for bit. The blocks
    are aligned to the fit's vector groups (4 rows, 128 columns; see _FIT_COLUMNS), so the maps'
    chunks may differ from the source's.
    K-scale fits, a smoothness penalty and learned sigmas are refused (ValueError): the penalty
    and the sigmas couple pixels across the whole image at every iteration."""
    import dask
    import dask.array as da
    if scales is not None or smooth:
        raise ValueError("blurmix.dask.fit: K-scale fits and the smoothness penalty are not tiled: the "
                         "penalty couples neighbouring pixels at every iteration, so tiles would need a halo "
                         "growing with the iterations; use blurmix.fit on the whole image")
    if learn_sigmas:
        raise ValueError("blurmix.dask.fit: learned sigmas are not tiled (every pixel's gradient feeds the "
                         "two sigmas at every iteration); use blurmix.fit on the whole image")
    mode = str(mode)
    if mode not in ("local", "global"):
        raise ValueError(f"unknown mode '{mode}' (local or global)")
    iters = int(iters)
    if iters < 1:
        raise ValueError(f"iters must be at least 1, not {iters}")
    sigma_min, sigma_max, lr = float(sigma_min), float(sigma_max), float(lr)
    blurmix._core.check_sigma(sigma_min, "sigma-min")
    blurmix._core.check_sigma(sigma_max, "sigma-max")
    x = _image(source, "source")
    t = _image(target, "target")
    if t.shape != x.shape:
        raise ValueError(f"target's shape {t.shape} differs from source's {x.shape}")
    std_devs, boundary = float(std_devs), _boundary(boundary)
    r = max(halo(sigma_min, std_devs), halo(sigma_max, std_devs))
    blur_sigmas = (sigma_min, sigma_max, std_devs)
    n = float(np.prod(x.shape, dtype=np.float64))
    if mode == "local":
        return _local_fit(x, t, r, boundary, blur_sigmas, n, iters, lr, sigma_min, sigma_max, int(report_every))
    per_block = _fit_blocks(x, t, r, boundary, blur_sigmas, _moment_totals, 3, per_block_total=True)
    totals = per_block.sum(axis=(0, 1), dtype=np.float64)
    fitted_pair = dask.delayed(_global_adamax, nout=2)(totals, n, iters, lr)
    weight = da.from_delayed(fitted_pair[0], shape=(), dtype=np.float32)
    loss = da.from_delayed(fitted_pair[1], shape=(), dtype=np.float64)
    chunks = _spatial_chunks(x)
    weights = da.broadcast_to(weight, x.shape[:2], chunks=(_at_least(chunks[0], r), _at_least(chunks[1], r)))
    s_min, s_max = np.float32(sigma_min), np.float32(sigma_max)
    sigma = (weights * s_min + (np.float32(1) - weights) * s_max).astype(np.float32)
    fitted = mix(x, weights, sigma_min, sigma_max, std_devs=std_devs, boundary=boundary)
    return FitResult(weights, sigma, fitted, weight=weight, loss=loss, mode="global")
