"""blurmix-dask: the blur, the exact local blur and the fit of images larger than memory (Zarr,
OME-Zarr, BigTIFF, .npy in; OME-Zarr or Zarr out), and one operation over many images, on a
dask.distributed cluster: a local one (--workers N) or an existing one (--scheduler ADDRESS).

    blurmix-dask --workers 2 blur scene.ome.zarr blurred.ome.zarr --sigma 4
    blurmix-dask --workers 2 fit --source s.zarr --target t.zarr --out fit-out --sigma-min 3 --sigma-max 9
    blurmix-dask --scheduler tcp://head:8786 batch blur --sigma 3 --out blurred 'photos/*.png'

Outputs are written chunk by chunk (batch: image by image), each under a temporary name renamed
into place; running an interrupted command again computes only what is missing. Exit status: 0
done, 1 some image or chunk failed (each reported), 2 refused arguments, 130 interrupted.
"""
import argparse
import json
import os
import sys
import tempfile

import blurmix

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _cluster_options(p):
    g = p.add_argument_group("cluster")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing dask.distributed scheduler (e.g. tcp://head:8786)")
    where.add_argument("--workers", type=int, metavar="N",
                       help="start a local cluster of N worker processes (default: one per core)")
    g.add_argument("--threads-per-worker", type=int, default=1, metavar="T",
                   help="threads of each local worker (default 1); Halide's pool is matched to it")
    g.add_argument("--memory-limit", default="auto",
                   help="memory limit of each local worker, as Dask takes it (default auto: the "
                        "machine's memory divided among the workers)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def _blur_options(p):
    p.add_argument("--std-devs", type=float, default=2.0, help="kernel half-width in sigmas (default 2)")
    p.add_argument("--boundary", default="zero", choices=["zero", "clamp", "mirror"])


def _sigma_options(p):
    p.add_argument("--sigma-min", type=float, default=3.0)
    p.add_argument("--sigma-max", type=float, default=9.0)


def _fit_options(p):
    """blurmix.fit's options and defaults, for `fit` and `batch fit`."""
    _sigma_options(p)
    p.add_argument("--mode", default="local", choices=["local", "global"])
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--lr", type=float, default=0.1)


def _big_image_output(p):
    p.add_argument("--chunk", type=int, default=2048,
                   help="the tiles computed and written, in pixels a side (default 2048)")
    p.add_argument("--plain-zarr", action="store_true",
                   help="write a plain Zarr v3 array (H, W[, C]) instead of an OME-Zarr image")


def _batch_parser(ops, name, help):
    b = ops.add_parser(name, help=help)
    b.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or globs ('photos/*.png')")
    b.add_argument("--out", required=True, help="output folder (outputs keep their input's name)")
    b.add_argument("--format", choices=["png", "npy", "tiff"], help="output format (default: the input's)")
    b.add_argument("--images-per-task", type=int, help="images per Dask task (default: chosen from the count)")
    return b


def parser():
    p = argparse.ArgumentParser(prog="blurmix-dask", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _cluster_options(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("blur", help="Gaussian blur of one large image")
    b.add_argument("input", help="Zarr array or OME-Zarr image folder, (Big)TIFF or .npy")
    b.add_argument("output", help="output folder (.zarr)")
    b.add_argument("--sigma", type=float, required=True)
    _blur_options(b)
    _big_image_output(b)

    lb = sub.add_parser("local-blur", help="exact spatially varying blur of one large image")
    lb.add_argument("input")
    lb.add_argument("output")
    lb.add_argument("--sigma-map", required=True, help="the (H, W) map of sigmas (same kinds of input)")
    lb.add_argument("--sigma-max", type=float, help="the map's largest sigma, if known (saves a pass over it)")
    _blur_options(lb)
    _big_image_output(lb)

    f = sub.add_parser("fit", help="fit the mix's weights of one large image pair")
    f.add_argument("--source", required=True)
    f.add_argument("--target", required=True)
    f.add_argument("--out", required=True, help="output folder: weights, sigma, fitted (.zarr), fit.json")
    _fit_options(f)
    f.add_argument("--report-every", type=int, default=100,
                   help="as blurmix.fit's: where the fused runs are cut (the result depends on it in the last bit)")
    _blur_options(f)
    _big_image_output(f)

    bt = sub.add_parser("batch", help="one operation on many images (PNG, .npy, TIFF), one output each",
                        description="blurmix-dask batch OP [options] --out DIR INPUT...: OP on every image")
    ops = bt.add_subparsers(dest="op", required=True, metavar="OP")
    ob = _batch_parser(ops, "blur", "the Gaussian blur of each image")
    ob.add_argument("--sigma", type=float, required=True)
    _blur_options(ob)
    om = _batch_parser(ops, "mix", "the mix of two blurs with one weight")
    om.add_argument("--weight", type=float, required=True, help="the small blur's weight, in [0, 1]")
    _sigma_options(om)
    _blur_options(om)
    of = _batch_parser(ops, "fit", "each image fitted to its target; the fitted mix and <name>.weights.npy")
    of.add_argument("--targets", required=True, help="folder of targets, one per input, with the input's name")
    _fit_options(of)
    _blur_options(of)
    return p


def _client(args):
    from dask.distributed import Client, LocalCluster
    import blurmix.dask as bd
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be at least 1, not {args.workers}")
        if args.threads_per_worker < 1:
            raise ValueError(f"--threads-per-worker must be at least 1, not {args.threads_per_worker}")
        workers = args.workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=workers, threads_per_worker=args.threads_per_worker, processes=True,
                               memory_limit=args.memory_limit, dashboard_address=None)
        client = Client(cluster)
    bd.match_halide_threads(client)
    return client


class _Progress:
    """A tqdm bar on stderr when asked for and tqdm is there; otherwise nothing."""

    def __init__(self, total, unit, enabled):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)
            except ImportError:
                pass

    def __call__(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _compute_writes(client, writes, extras, progress):
    """The chunk writes and the extras (lazy values wanted back) in one graph on the cluster, the
    bar advanced by each write; the count of chunk writes that failed (each reported) and the
    extras' values (an extra that failed raises)."""
    from dask.distributed import as_completed
    futures = client.compute(list(writes) + list(extras))
    write_futures, extra_futures = futures[:len(writes)], futures[len(writes):]
    failed = 0
    try:
        for future in as_completed(write_futures):
            try:
                future.result()
            except Exception as e:
                failed += 1
                print(f"blurmix-dask: a chunk failed: {type(e).__name__}: {e}", file=sys.stderr)
            progress(1)
        return failed, [f.result() for f in extra_futures]
    except BaseException:
        client.cancel(futures)
        raise


def _write(arr, path, args, name):
    import blurmix.dask_io as bio
    if args.plain_zarr:
        return bio.write_zarr(arr, path, compute=False)
    return bio.write_ome_zarr(arr, path, name=name, compute=False)


def _check_output(path):
    if not path.endswith(".zarr"):
        raise ValueError(f"{path}: the output must be a Zarr folder whose name ends in .zarr")


def _write_json(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def _plan(args):
    """What to write: [(dask array, output path, name)] and, for a global fit, what to print."""
    import blurmix.dask as bd
    import blurmix.dask_io as bio
    if args.command in ("blur", "local-blur"):
        _check_output(args.output)
        x = bio.open_image(args.input, chunks=args.chunk)
        if args.command == "blur":
            y = bd.gaussian_blur(x, args.sigma, std_devs=args.std_devs, boundary=args.boundary)
        else:
            s = bio.open_image(args.sigma_map, chunks=args.chunk)
            y = bd.local_blur(x, s, std_devs=args.std_devs, boundary=args.boundary, sigma_max=args.sigma_max)
        return [(y, args.output, args.command)], None
    # Read by each block's task from storage: a worker holds only the blocks it computes.
    x = bio.open_image(args.source, chunks=args.chunk)
    t = bio.open_image(args.target, chunks=args.chunk)
    r = bd.fit(x, t, sigma_min=args.sigma_min, sigma_max=args.sigma_max, mode=args.mode, iters=args.iters,
               lr=args.lr, std_devs=args.std_devs, boundary=args.boundary, report_every=args.report_every)
    os.makedirs(args.out, exist_ok=True)
    suffix = ".zarr" if args.plain_zarr else ".ome.zarr"
    outputs = [(r.weights, os.path.join(args.out, "weights" + suffix), "weights"),
               (r.sigma, os.path.join(args.out, "sigma" + suffix), "sigma"),
               (r.fitted, os.path.join(args.out, "fitted" + suffix), "fitted")]
    return outputs, r


def _run_big_image(args, client):
    planned, fit_result = _plan(args)
    writes = []
    for arr, path, name in planned:
        w, _ = _write(arr, path, args, name)
        writes += w
    extras = []
    if fit_result is not None and fit_result.mode == "global":
        extras = [fit_result.weight, fit_result.loss]
    progress = _Progress(len(writes), "chunk", not args.no_progress)
    try:
        failed, values = _compute_writes(client, writes, extras, progress)
    finally:
        progress.close()
    summary = {"chunks_written": len(writes) - failed, "chunks_failed": failed}
    if fit_result is not None:
        summary.update(mode=args.mode, iters=args.iters, sigma_min=args.sigma_min, sigma_max=args.sigma_max)
        if values:
            summary.update(weight=float(values[0]), loss_final=float(values[1]))
        if not failed:
            _write_json(os.path.join(args.out, "fit.json"), summary)
    print(json.dumps(summary))
    return EXIT_FAILED if failed else 0


def _batch_op(args):
    import blurmix.dask_batch as bb
    blur = dict(std_devs=args.std_devs, boundary=args.boundary)
    if args.op == "blur":
        return bb.Blur(sigma=args.sigma, **blur)
    if args.op == "mix":
        return bb.Mix(weight=args.weight, sigma_min=args.sigma_min, sigma_max=args.sigma_max, **blur)
    return bb.Fit(targets=args.targets, sigma_min=args.sigma_min, sigma_max=args.sigma_max, mode=args.mode,
                  iters=args.iters, lr=args.lr, **blur)


def _run_batch(args, client):
    import blurmix.dask_batch as bb
    total = len(args.planned)  # listed once, by _check_arguments
    progress = _Progress(total, "image", not args.no_progress)
    try:
        report = bb.batch(args.inputs, args.out, _batch_op(args), client=client, fmt=args.format,
                          images_per_task=args.images_per_task, progress=progress, planned=args.planned)
    finally:
        progress.close()
    for path, message in sorted(report.failed.items()):
        print(f"blurmix-dask: {path}: {message}", file=sys.stderr)
    print(json.dumps({"images": total, "done": report.done, "skipped": report.skipped,
                      "failed": len(report.failed)}))
    return EXIT_FAILED if report.failed else 0


def _check_arguments(args):
    """What can be refused before a cluster is started."""
    if getattr(args, "chunk", 1) < 1:
        raise ValueError(f"--chunk must be at least 1, not {args.chunk}")
    import blurmix.dask_batch as bb
    if args.command == "batch":
        _batch_op(args).check()
        args.planned = bb.plan(args.inputs, args.out, args.format)
    elif args.command == "blur":
        blurmix._core.check_blur_args(args.sigma, args.std_devs, args.boundary)
    elif args.command == "fit":
        blurmix._core.check_sigma(args.sigma_min, "sigma-min")
        blurmix._core.check_sigma(args.sigma_max, "sigma-max")
    for path in [getattr(args, k, None) for k in ("input", "sigma_map", "source", "target")]:
        if path is not None and not os.path.exists(path):
            raise ValueError(f"{path}: no such file or folder")


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        _check_arguments(args)
    except (ValueError, TypeError) as e:
        print(f"blurmix-dask: {e}", file=sys.stderr)
        return EXIT_USAGE
    client = None
    try:
        client = _client(args)
        if args.command == "batch":
            return _run_batch(args, client)
        return _run_big_image(args, client)
    except KeyboardInterrupt:
        print("blurmix-dask: interrupted; what was written is whole: run the same command again to finish",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError) as e:
        print(f"blurmix-dask: {e}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if cluster is not None and not args.scheduler:
                cluster.close()


if __name__ == "__main__":
    sys.exit(main())
