"""Many images on a Dask cluster: one operation (blur, mix or fit) applied to every image of a
directory or glob, one output file per image, written atomically.

    import blurmix.dask_batch as bb
    report = bb.batch(["photos/*.png"], "out", bb.Blur(sigma=3.0), client=client)
    print(report.done, report.skipped, report.failed)

An image is read, computed and written by one task on one worker (images are grouped several to a
task so that Dask's per-task cost is spread); its output is written under a temporary name and
renamed into place, so an output file is whole or absent, and an image whose output exists is
skipped (a second run does only what the first did not finish). An image that fails (unreadable,
corrupt, refused by the checks) is reported with its message at the end; the others go on.
"""
import dataclasses
import glob
import os
import tempfile

import numpy as np

import blurmix

__all__ = ["Blur", "Mix", "Fit", "find_images", "output_paths", "plan", "batch", "BatchReport", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".npy", ".tif", ".tiff")


@dataclasses.dataclass(frozen=True)
class Blur:
    """The Gaussian blur of each image (blurmix.gaussian_blur)."""
    sigma: float
    std_devs: float = 2.0
    boundary: str = "zero"

    def check(self):
        blurmix._core.check_blur_args(float(self.sigma), float(self.std_devs), str(self.boundary))

    def __call__(self, x, source_path):
        return {"": blurmix.gaussian_blur(x, self.sigma, std_devs=self.std_devs, boundary=self.boundary)}


def _check_sigma_pair(op):
    """The two blurs' arguments of a mix or a fit (op: sigma_min, sigma_max, std_devs, boundary)."""
    blurmix._core.check_blur_args(float(op.sigma_min), float(op.std_devs), str(op.boundary))
    blurmix._core.check_sigma(float(op.sigma_max), "sigma-max")


@dataclasses.dataclass(frozen=True)
class Mix:
    """The mix w blur(x, sigma_min) + (1 - w) blur(x, sigma_max) with one weight (blurmix.mix)."""
    weight: float
    sigma_min: float = 3.0
    sigma_max: float = 9.0
    std_devs: float = 2.0
    boundary: str = "zero"

    def check(self):
        _check_sigma_pair(self)
        if not 0.0 <= float(self.weight) <= 1.0:
            raise ValueError(f"the weight must be in [0, 1], not {self.weight}")

    def __call__(self, x, source_path):
        return {"": blurmix.mix(x, self.weight, self.sigma_min, self.sigma_max, std_devs=self.std_devs,
                                boundary=self.boundary)}


@dataclasses.dataclass(frozen=True)
class Fit:
    """blurmix.fit of each image against the target of the same file name in `targets` (a
    folder): the fitted mix is the image's output, its weights map (H, W) is written beside it as
    <name>.weights.npy (before it: an existing output means both are there)."""
    targets: str
    sigma_min: float = 3.0
    sigma_max: float = 9.0
    mode: str = "local"
    iters: int = 1000
    lr: float = 0.1
    std_devs: float = 2.0
    boundary: str = "zero"

    def check(self):
        _check_sigma_pair(self)
        if not os.path.isdir(self.targets):
            raise ValueError(f"{self.targets}: the targets folder does not exist")
        if self.mode not in ("local", "global"):
            raise ValueError(f"unknown mode '{self.mode}' (local or global)")

    def __call__(self, x, source_path):
        target_path = os.path.join(self.targets, os.path.basename(source_path))
        if not os.path.exists(target_path):
            raise ValueError(f"no target {target_path} for {source_path}")
        t = read_image_file(target_path)
        r = blurmix.fit(x, t, sigma_min=self.sigma_min, sigma_max=self.sigma_max, mode=self.mode,
                        iters=self.iters, lr=self.lr, std_devs=self.std_devs, boundary=self.boundary)
        return {".weights.npy": np.asarray(r.weights, np.float32), "": np.asarray(r.fitted, np.float32)}


def find_images(patterns):
    """The image files named by patterns (files, folders, or globs such as 'photos/*.png'), sorted,
    without repeats; in a folder, the files ending in IMAGE_SUFFIXES. A pattern that names
    nothing is an error (ValueError), as a typo should be."""
    found = []
    for pattern in patterns:
        pattern = str(pattern)
        if os.path.isdir(pattern):
            names = sorted(os.listdir(pattern))
            found += [os.path.join(pattern, n) for n in names
                      if n.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(os.path.join(pattern, n))]
        elif os.path.isfile(pattern):
            found.append(pattern)
        else:
            matches = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
            if not matches:
                raise ValueError(f"{pattern}: no such file, folder or matching files")
            found += matches
    seen, unique = set(), []
    for path in found:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def _suffix(path):
    lower = path.lower()
    for s in IMAGE_SUFFIXES:
        if lower.endswith(s):
            return s
    return os.path.splitext(path)[1]


def output_paths(inputs, out_dir, fmt=None):
    """The output file of each input: out_dir/<its name>, with the suffix `fmt` (png, npy, tiff)
    when given. Two inputs with one output name, or an output that is its own input, are refused."""
    out_dir = str(out_dir)
    outputs, by_name = [], {}
    for path in inputs:
        name = os.path.basename(path)
        if fmt:
            name = name[: len(name) - len(_suffix(name))] + "." + fmt.lstrip(".")
        out = os.path.join(out_dir, name)
        if os.path.realpath(out) == os.path.realpath(path):
            raise ValueError(f"{path}: the output would overwrite the input; choose another output folder")
        if out in by_name:
            raise ValueError(f"{by_name[out]} and {path} would both be written to {out}")
        by_name[out] = path
        outputs.append(out)
    return outputs


def read_image_file(path):
    """One image file as float32 (H, W) or (H, W, C): PNG and .npy through blurmix.load_image,
    TIFF through tifffile (integer samples scaled to [0, 1] by their type's largest value)."""
    if path.lower().endswith((".tif", ".tiff")):
        import tifffile
        a = tifffile.imread(path)
        if np.issubdtype(a.dtype, np.integer):
            a = a.astype(np.float32) / np.float32(np.iinfo(a.dtype).max)
        a = np.asarray(a, np.float32)
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] > 4):
            raise ValueError(f"{path}: a TIFF of shape {a.shape} is not one (H, W) or (H, W, C<=4) image")
        if not np.isfinite(a).all():
            raise ValueError(f"{path}: holds NaN or Inf")
        return a
    return blurmix.load_image(path)


def write_image_file(path, x):
    """x written to path (.png, .npy, .tif/.tiff) under a temporary name, then renamed."""
    if path.lower().endswith((".tif", ".tiff")):
        import tifffile
        folder = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".tif")
        os.close(fd)
        try:
            tifffile.imwrite(tmp, np.asarray(x, np.float32))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return
    blurmix.save_image(path, x)  # atomic itself (the runtime's atomic file)


def _run_group(jobs, op):
    """The task: each (input, output) of the group read, computed, written; returns, per image,
    None or the message of what went wrong."""
    results = []
    for source, out in jobs:
        try:
            outputs = op(read_image_file(source), source)
            stem = out[: len(out) - len(_suffix(out))]
            for extra, value in outputs.items():  # the main output ("") last: it marks the image done
                if extra:
                    write_image_file(stem + extra, value)
            write_image_file(out, outputs[""])
            results.append(None)
        except Exception as e:  # one image's failure is reported, the others go on
            results.append(f"{type(e).__name__}: {e}")
    return results


@dataclasses.dataclass
class BatchReport:
    """What a batch did: images computed, skipped (their output was there) and failed, with the
    reason for each failure ({input path: message})."""
    done: int = 0
    skipped: int = 0
    failed: dict = dataclasses.field(default_factory=dict)


def plan(patterns, out_dir, fmt=None):
    """The (input, output) pairs of a batch: the images named by patterns (find_images) and
    their outputs in out_dir (output_paths)."""
    inputs = find_images(patterns)
    return list(zip(inputs, output_paths(inputs, out_dir, fmt)))


def batch(patterns, out_dir, op, *, client=None, fmt=None, images_per_task=None, progress=None, planned=None):
    """op (Blur, Mix or Fit) on every image named by patterns, each output written atomically to
    out_dir. client: a dask.distributed Client (None: in this process, one image after another).
    progress: a callable given the number of images finished since its last call (e.g. a tqdm's
    update). planned: plan(patterns, out_dir, fmt) when the caller has it already (the folders and
    globs are then not listed again). Returns a BatchReport."""
    op.check()
    jobs = plan(patterns, out_dir, fmt) if planned is None else planned
    os.makedirs(str(out_dir), exist_ok=True)
    report = BatchReport()
    todo = [(i, o) for i, o in jobs if not os.path.exists(o)]
    report.skipped = len(jobs) - len(todo)
    if progress and report.skipped:
        progress(report.skipped)
    if not todo:
        return report
    if images_per_task is None:
        threads = sum(client.nthreads().values()) if client is not None else 1
        images_per_task = max(1, min(64, len(todo) // (4 * max(1, threads))))
    groups = [todo[k:k + images_per_task] for k in range(0, len(todo), images_per_task)]

    def account(group, results):
        for (source, _), message in zip(group, results):
            if message is None:
                report.done += 1
            else:
                report.failed[source] = message
        if progress:
            progress(len(group))

    if client is None:  # in this process, one image after another
        for group in groups:
            account(group, _run_group(group, op))
        return report
    from dask.distributed import as_completed
    futures = {client.submit(_run_group, group, op, pure=False): group for group in groups}
    try:
        for future in as_completed(futures):
            group = futures[future]
            try:
                results = future.result()
            except Exception as e:  # the task itself died (its worker killed too often, ...)
                results = [f"the task failed: {type(e).__name__}: {e}"] * len(group)
            account(group, results)
    except BaseException:
        client.cancel(list(futures))
        raise
    return report
