"""blurmix on Dask against one process, in one run (the machine is shared: ratios, not timings):

  fit      an N x N float32 local fit (default 16384, 100 iterations) from Zarr to OME-Zarr (weights,
           sigma, fitted), on a LocalCluster of W worker processes of one thread each (default 2),
           against one process running blurmix.fit with W threads on the whole arrays in memory
           (its time excludes reading them: the cluster's includes reading and writing).
  memory   a local fit of an M x M image (default 32768: 4 GiB a plane, over the one-process
           reader's 2 GiB default limit) from Zarr to OME-Zarr; prints each worker's peak memory.
  batch    K small images (default 1000 PNG, 256 x 256 RGB) blurred one output each, by
           blurmix.dask_batch on the cluster against one process looping over them.

    .venv/bin/python apps/bench/bench_dask.py [--cases fit,memory,batch] [--workdir DIR] [--size N]
"""
import argparse
import os
import resource
import shutil
import sys
import time

import numpy as np


def log(*a):
    print(*a, flush=True)


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def smooth_noise(shape, seed):
    """A photo-like test image: noise blurred at a few scales (what a fit has to tell apart)."""
    import blurmix
    rng = np.random.default_rng(seed)
    x = rng.random(shape, dtype=np.float32)
    return (0.5 * blurmix.gaussian_blur(x, 2.0) + 0.5 * blurmix.gaussian_blur(x, 8.0)).astype(np.float32)


def make_pair(workdir, n, chunk, client):
    """source.zarr, target.zarr (n x n), written tile by tile by the cluster (never whole in one
    process): the source smooth noise per tile, the target the source blurred at sigma 5."""
    import dask.array as da
    import blurmix.dask as bd
    import blurmix.dask_io as bio
    src, tgt = os.path.join(workdir, f"source{n}.zarr"), os.path.join(workdir, f"target{n}.zarr")
    blocks = n // chunk

    def tile(block_id=None):
        return smooth_noise((chunk, chunk), seed=block_id[0] * blocks + block_id[1])

    if not os.path.exists(os.path.join(tgt, "zarr.json")) or bio.read_zarr(tgt).shape != (n, n):
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(tgt, ignore_errors=True)
        x = da.map_blocks(tile, chunks=((chunk,) * blocks, (chunk,) * blocks), dtype=np.float32)
        writes, _ = bio.write_zarr(x, src, compute=False)
        client.gather(client.compute(writes))
        writes, _ = bio.write_zarr(bd.gaussian_blur(bio.read_zarr(src), 5.0), tgt, compute=False)
        client.gather(client.compute(writes))
    return src, tgt


def cluster(workers, memory_limit="auto"):
    from dask.distributed import Client, LocalCluster
    import blurmix.dask as bd
    c = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                            dashboard_address=None, silence_logs=40))
    bd.match_halide_threads(c)
    return c


def peak_rss_mib():
    """This process's peak resident memory: VmHWM, the high-water mark of its own address space
    (getrusage's ru_maxrss also counts what the process had before exec: a worker started from a
    large client reports the client's peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def tiled_fit(client, src, tgt, out, iters):
    """The fit from Zarr to three OME-Zarr outputs on the cluster; seconds."""
    import blurmix.dask as bd
    import blurmix.dask_io as bio
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    t0 = time.perf_counter()
    r = bd.fit(bio.open_image(src), bio.open_image(tgt), sigma_min=3.0, sigma_max=9.0, iters=iters)
    writes = []
    for name in ("weights", "sigma", "fitted"):
        w, _ = bio.write_ome_zarr(getattr(r, name), os.path.join(out, name + ".ome.zarr"), name=name, compute=False)
        writes += w
    client.gather(client.compute(writes))
    return time.perf_counter() - t0


def case_fit(args):
    import blurmix
    import blurmix.dask_io as bio
    n, w = args.size, args.workers
    log(f"\n== fit: {n} x {n} float32, local, {args.iters} iterations, sigmas 3 and 9; {w} workers x 1 thread "
        f"vs one process x {w} threads ({load()})")
    with cluster(w) as client:
        src, tgt = make_pair(args.workdir, n, 2048, client)
        x, t = bio.read_zarr(src).compute(), bio.read_zarr(tgt).compute()
        blurmix.set_num_threads(w)
        one, tiled = [], []
        for rep in range(args.repeats):  # interleaved
            t0 = time.perf_counter()
            r = blurmix.fit(x, t, sigma_min=3.0, sigma_max=9.0, iters=args.iters)
            one.append(time.perf_counter() - t0)
            del r
            tiled.append(tiled_fit(client, src, tgt, os.path.join(args.workdir, "fit-out"), args.iters))
            log(f"  run {rep + 1}: one process {one[-1]:.2f} s, cluster {tiled[-1]:.2f} s")
        del x, t
        mp = n * n / 1e6
        a, b = min(one), min(tiled)
        log(f"  one process (fit alone, arrays in memory): {a:.2f} s  {mp / a:.1f} MP/s")
        log(f"  cluster (read Zarr, fit, write 3 OME-Zarr): {b:.2f} s  {mp / b:.1f} MP/s")
        log(f"  cluster throughput / one process: {a / b:.2f}  (goal >= 0.80; best of {args.repeats} each)")


def case_memory(args):
    import blurmix.dask_io as bio
    n, w = args.memory_size, args.workers
    log(f"\n== memory: {n} x {n} float32 ({n * n * 4 / 2**30:.1f} GiB a plane), local fit, {args.memory_iters} "
        f"iterations, {w} workers x 1 thread ({load()})")
    with cluster(w) as client:
        src, tgt = make_pair(args.workdir, n, 2048, client)
    # Fresh workers: their peak is this job's.
    with cluster(w) as client:
        base = client.run(peak_rss_mib)
        seconds = tiled_fit(client, src, tgt, os.path.join(args.workdir, "memory-out"), args.memory_iters)
        peaks = client.run(peak_rss_mib)
    shutil.rmtree(os.path.join(args.workdir, "memory-out"), ignore_errors=True)
    log(f"  {seconds:.1f} s, {n * n / 1e6 / seconds:.1f} MP/s (read Zarr, fit, write 3 OME-Zarr)")
    for k, addr in enumerate(sorted(peaks)):
        log(f"  worker {k}: peak resident memory {peaks[addr]:.0f} MiB (at start {base[addr]:.0f} MiB)  "
            f"goal < 1536 MiB: {'met' if peaks[addr] < 1536 else 'NOT met'}")
    log(f"  the one-process reader refuses images over 2 GiB of float32 by default "
        f"(blurmix.load_image max_megabytes=2048): this one is {n * n * 4 / 2**30:.1f} GiB")


def case_batch(args):
    import blurmix
    import blurmix.dask_batch as bb
    k, w = args.batch_images, args.workers
    log(f"\n== batch: {k} PNG images 256 x 256 RGB, blur sigma 3, one output each; {w} workers x 1 thread "
        f"vs one process looping ({load()})")
    src = os.path.join(args.workdir, "batch-in")
    if not os.path.isdir(src) or len(os.listdir(src)) != k:
        shutil.rmtree(src, ignore_errors=True)
        os.makedirs(src)
        for i in range(k):
            blurmix.save_image(os.path.join(src, f"im{i:05d}.png"), smooth_noise((256, 256, 3), seed=i))
    names = sorted(os.listdir(src))
    blurmix.set_num_threads(w)

    def loop(out):
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        t0 = time.perf_counter()
        for name in names:
            x = blurmix.load_image(os.path.join(src, name))
            blurmix.save_image(os.path.join(out, name), blurmix.gaussian_blur(x, 3.0))
        return time.perf_counter() - t0

    with cluster(w) as client:
        one, tiled = [], []
        for rep in range(args.repeats):
            one.append(loop(os.path.join(args.workdir, "batch-loop")))
            out = os.path.join(args.workdir, "batch-out")
            shutil.rmtree(out, ignore_errors=True)
            t0 = time.perf_counter()
            report = bb.batch([src], out, bb.Blur(sigma=3.0), client=client)
            tiled.append(time.perf_counter() - t0)
            assert report.done == k and not report.failed, report
            log(f"  run {rep + 1}: one process {one[-1]:.2f} s, cluster {tiled[-1]:.2f} s")
    a, b = min(one), min(tiled)
    log(f"  one process: {a:.2f} s  {k / a:.0f} images/s;  cluster: {b:.2f} s  {k / b:.0f} images/s")
    log(f"  cluster throughput / one process: {a / b:.2f}  (goal >= 0.80; best of {args.repeats} each)")


def main():
    import logging
    import warnings
    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="distributed")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", default="fit,memory,batch")
    p.add_argument("--workdir", default="/var/tmp/blurmix-bench-dask")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--size", type=int, default=16384)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--memory-size", type=int, default=32768)
    p.add_argument("--memory-iters", type=int, default=100)
    p.add_argument("--batch-images", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    import platform
    log(f"bench_dask {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {load()}")
    cases = {"fit": case_fit, "memory": case_memory, "batch": case_batch}
    for name in args.cases.split(","):
        if name not in cases:
            sys.exit(f"unknown case '{name}' ({', '.join(cases)})")
        cases[name](args)


if __name__ == "__main__":
    main()
