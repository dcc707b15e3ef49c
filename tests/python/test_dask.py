"""blurmix.dask: tiled results equal the whole-array calls bit for bit, computed on a
dask.distributed LocalCluster of worker processes (the way a cluster runs them: each block in a
process of its own, the package imported there)."""
import os

import numpy as np
import pytest

import blurmix

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")
bd = pytest.importorskip("blurmix.dask")

# The tests in this process share the module with the cluster's client; they ask for the
# synchronous scheduler on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Running on a single-machine scheduler")

BOUNDARIES = ["zero", "clamp", "mirror"]
# (rows, cols) chunkings of a 37 x 53 image: odd sizes, one chunk, chunks smaller than the halo.
CHUNKINGS = [(7, 11), (3, 2), (37, 53), (10, 50)]


@pytest.fixture(scope="module")
def client():
    # One cluster for the module: starting worker processes takes seconds.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def dask_sync():
    import dask
    return dask.config.set(scheduler="sync")


def image(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def spatial_chunks(chunks, shape):
    return chunks + ((-1,) if len(shape) == 3 else ())


def tiled_and_whole(boundary, shape, chunkings):
    """blur (halos 2 and 8), mix (map and number weights) and local_blur of one image under each
    chunking: the lazy tiled results and the whole-array ones, with a label each."""
    x = image(shape)
    w = image(shape[:2], seed=1)
    s = (0.5 + 4.0 * image(shape[:2], seed=2)).astype(np.float32)  # largest ~4.5: halo 9
    expected, tiled = [], []
    for chunks in chunkings:
        xd = da.from_array(x, chunks=spatial_chunks(chunks, shape))
        for sigma in (1.0, 4.0):
            expected.append((("blur", sigma, chunks), blurmix.gaussian_blur(x, sigma, boundary=boundary)))
            tiled.append(bd.gaussian_blur(xd, sigma, boundary=boundary))
        expected.append((("mix map", chunks), blurmix.mix(x, w, 1.5, 4.5, boundary=boundary)))
        tiled.append(bd.mix(xd, da.from_array(w, chunks=chunks), 1.5, 4.5, boundary=boundary))
        expected.append((("mix number", chunks), blurmix.mix(x, 0.25, 1.5, 4.5, boundary=boundary)))
        tiled.append(bd.mix(xd, 0.25, 1.5, 4.5, boundary=boundary))
        expected.append((("local_blur", chunks), blurmix.local_blur(x, s, boundary=boundary)))
        tiled.append(bd.local_blur(xd, da.from_array(s, chunks=chunks), boundary=boundary))
    return expected, tiled


def assert_all_equal(expected, results):
    assert len(results) == len(expected)
    for (what, ref), got in zip(expected, results):
        assert got.shape == ref.shape, what
        np.testing.assert_array_equal(got, ref, err_msg=str(what))


@pytest.mark.parametrize("channels", [None, 1, 3])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_tiled_equals_whole(boundary, channels):
    # Every chunking, in this process (the scheduler does not change what a block computes; the
    # cluster test below runs the same blocks in worker processes).
    shape = (37, 53) if channels is None else (37, 53, channels)
    expected, tiled = tiled_and_whole(boundary, shape, CHUNKINGS)
    assert_all_equal(expected, da.compute(*tiled, scheduler="sync"))


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_tiled_equals_whole_on_cluster(client, boundary):
    # Odd chunks, 3 channels, in worker processes, one graph per case: a round trip to the cluster
    # costs more than these blocks, and tiny chunks (tested above) make thousands of tasks.
    expected, tiled = tiled_and_whole(boundary, (37, 53, 3), [(7, 11)])
    assert_all_equal(expected, client.gather(client.compute(tiled)))


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_image_smaller_than_halo(boundary):
    # 5 x 7 with a halo of 8: the padding reflects more than once (mirror).
    x = image((5, 7))
    got = bd.gaussian_blur(da.from_array(x, chunks=(2, 3)), 4.0, boundary=boundary).compute(scheduler="sync")
    np.testing.assert_array_equal(got, blurmix.gaussian_blur(x, 4.0, boundary=boundary))


def test_small_chunks_are_merged_to_the_halo():
    xd = da.from_array(image((37, 53)), chunks=(3, 2))
    y = bd.gaussian_blur(xd, 4.0)  # halo 8
    assert bd.halo(4.0) == 8
    assert min(y.chunks[0]) >= 8 and min(y.chunks[1]) >= 8
    assert sum(y.chunks[0]) == 37 and sum(y.chunks[1]) == 53


def test_channels_in_several_chunks_are_joined():
    x = image((20, 30, 3))
    y = bd.gaussian_blur(da.from_array(x, chunks=(9, 9, 1)), 2.0, boundary="clamp")
    assert y.chunks[2] == (3,)
    np.testing.assert_array_equal(y.compute(scheduler="sync"), blurmix.gaussian_blur(x, 2.0, boundary="clamp"))


def test_refused_input():
    xd = da.from_array(image((20, 30)), chunks=10)
    with pytest.raises(ValueError, match="boundary"):
        bd.gaussian_blur(xd, 2.0, boundary="wrap")
    with pytest.raises(TypeError, match="float32 or float64"):
        bd.gaussian_blur(da.zeros((20, 30), dtype=np.int32), 2.0)
    with pytest.raises(ValueError, match=r"shape \(H, W\) or \(H, W, C\)"):
        bd.gaussian_blur(da.zeros((2, 20, 30, 1), dtype=np.float32), 2.0)
    with pytest.raises(ValueError, match="weights must have shape"):
        bd.mix(xd, da.zeros((20, 31), dtype=np.float32), 1.0, 3.0)
    with pytest.raises(ValueError, match="sigma_map must have shape"):
        bd.local_blur(xd, np.ones((21, 30), np.float32))
    with pytest.raises(ValueError):
        bd.gaussian_blur(xd, -1.0)


@pytest.mark.parametrize("channels", [None, 3])
def test_global_fit_tiled_agrees_with_whole(client, channels):
    # Tiled moments summed in float64, then the one-weight fit: the loss within 1e-6 relative of
    # the whole-image fit's last recorded loss, the weight and the maps within float32 rounding.
    shape = (40, 50) if channels is None else (40, 50, channels)
    x = image(shape, seed=3)
    target = blurmix.gaussian_blur(x, 5.0, boundary="clamp")
    results = {}
    for boundary in ("zero", "clamp"):
        whole = blurmix.fit(x, target, sigma_min=3.0, sigma_max=9.0, mode="global", iters=200,
                            boundary=boundary)
        tiled = bd.fit(da.from_array(x, chunks=spatial_chunks((13, 17), shape)), da.from_array(target, chunks=9),
                       sigma_min=3.0, sigma_max=9.0, mode="global", iters=200, boundary=boundary)
        results[boundary] = whole, tiled
    computed = client.gather(client.compute(
        [(t.weight, t.loss, t.weights, t.sigma, t.fitted) for _, t in results.values()]))
    for (whole, _), (weight, loss, weights, sigma, fitted) in zip(results.values(), computed):
        assert weights.shape == sigma.shape == shape[:2] and fitted.shape == shape
        assert abs(loss - whole.loss_final) <= 1e-6 * whole.loss_final
        assert abs(weight - whole.weight) <= 1e-5 * abs(whole.weight)
        np.testing.assert_allclose(weights, whole.weights, rtol=1e-5)
        np.testing.assert_allclose(sigma, whole.sigma, rtol=1e-5)
        np.testing.assert_allclose(fitted, whole.fitted, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("channels", [None, 3])
def test_local_fit_tiled_equals_whole(client, channels):
    # 120 iterations: blurmix.fit's runs end at 100, 119 and 120; the blocks' must too. Images
    # wider than the fit's column groups (128), odd chunks, every boundary, in worker processes.
    shape = (30, 300) if channels is None else (21, 270, channels)
    x = image(shape, seed=4)
    target = blurmix.gaussian_blur(x, 3.0, boundary="clamp")
    expected, tiled = [], []
    for boundary in BOUNDARIES:
        whole = blurmix.fit(x, target, sigma_min=1.5, sigma_max=4.5, iters=120, boundary=boundary)
        for chunks in [(7, 100), (9, 130)]:
            r = bd.fit(da.from_array(x, chunks=spatial_chunks(chunks, shape)), da.from_array(target, chunks=50),
                       sigma_min=1.5, sigma_max=4.5, iters=120, boundary=boundary)
            assert r.loss is None and r.mode == "local"
            assert len(r.weights.chunks[1]) == 2  # the columns are tiled too
            expected.append(((boundary, chunks), whole))
            tiled.append((r.weights, r.sigma, r.fitted))
    for ((what, whole), (weights, sigma, fitted)) in zip(expected, client.gather(client.compute(tiled))):
        np.testing.assert_array_equal(weights, whole.weights, err_msg=str(what))
        np.testing.assert_array_equal(sigma, whole.sigma, err_msg=str(what))
        np.testing.assert_array_equal(fitted, whole.fitted, err_msg=str(what))


@pytest.mark.parametrize("chunks", [(7, 11), (3, 2), (9, 53)])
def test_local_fit_small_chunks(chunks):
    # Chunks smaller than the halo and than the fit's row groups: moved to multiples of 4 rows.
    x = image((37, 53), seed=6)
    target = blurmix.gaussian_blur(x, 3.0)
    whole = blurmix.fit(x, target, sigma_min=1.5, sigma_max=4.5, iters=30, report_every=10)
    r = bd.fit(da.from_array(x, chunks=chunks), da.from_array(target, chunks=chunks), sigma_min=1.5,
               sigma_max=4.5, iters=30, report_every=10)
    weights, fitted = da.compute(r.weights, r.fitted, scheduler="sync")
    np.testing.assert_array_equal(weights, whole.weights)
    np.testing.assert_array_equal(fitted, whole.fitted)


def test_local_fit_needs_the_whole_images_n():
    # Why the blocks get the whole image's 1/N: a block fitted as an image of its own (its own
    # 1/N) ends elsewhere, so the tiled fit above is not equal by accident.
    x = image((40, 40), seed=5)
    target = blurmix.gaussian_blur(x, 3.0)
    whole = blurmix.fit(x, target, sigma_min=1.5, sigma_max=4.5, iters=50)
    r = 9  # the halo of sigma 4.5
    alone = blurmix.fit(x[:20 + r, :20 + r], target[:20 + r, :20 + r], sigma_min=1.5, sigma_max=4.5, iters=50)
    assert not np.array_equal(alone.weights[:20 - r, :20 - r], whole.weights[:20 - r, :20 - r])
    tiled = bd.fit(da.from_array(x, chunks=20), da.from_array(target, chunks=20), sigma_min=1.5, sigma_max=4.5,
                   iters=50).weights.compute(scheduler="sync")
    np.testing.assert_array_equal(tiled, whole.weights)


def test_fit_refusals():
    x = da.from_array(image((20, 30)), chunks=10)
    with pytest.raises(ValueError, match="report_every"):
        bd.fit(x, x, mode="local", report_every=0)
    with pytest.raises(ValueError, match="smoothness penalty"):
        bd.fit(x, x, mode="global", smooth=1e-3)
    with pytest.raises(ValueError, match="smoothness penalty"):
        bd.fit(x, x, mode="global", scales=4)
    with pytest.raises(ValueError, match="learned sigmas"):
        bd.fit(x, x, mode="global", learn_sigmas=True)
    with pytest.raises(ValueError, match="unknown mode"):
        bd.fit(x, x, mode="pixel")
    with pytest.raises(ValueError, match="target's shape"):
        bd.fit(x, x[:, :20], mode="global")


# Zarr and TIFF (blurmix.dask_io). In this process, synchronous: what is counted is computed here.

def _counted(y, calls):
    def count(block):
        calls.append(block.shape)
        return block
    return y.map_blocks(count, dtype=y.dtype, meta=np.empty((0, 0), y.dtype))


def test_zarr_write_resumes_only_missing_chunks(tmp_path):
    pytest.importorskip("zarr")
    bio = pytest.importorskip("blurmix.dask_io")
    x = image((50, 70))
    whole = blurmix.gaussian_blur(x, 1.0, boundary="mirror")
    path = tmp_path / "out.zarr"
    calls = []
    y = _counted(bd.gaussian_blur(da.from_array(x, chunks=(16, 20)), 1.0, boundary="mirror"), calls)
    assert y.numblocks == (4, 4)
    with dask_sync():
        assert bio.write_zarr(y, path) == 16
        assert len(calls) == 16
        np.testing.assert_array_equal(bio.read_zarr(path).compute(), whole)
        (path / "c" / "1" / "2").unlink()
        (path / "c" / "3" / "0").unlink()
        calls.clear()
        assert bio.write_zarr(y, path) == 2  # only the missing chunks are computed
        assert len(calls) == 2
        np.testing.assert_array_equal(bio.read_zarr(path).compute(), whole)
        assert bio.write_zarr(y, path) == 0
        with pytest.raises(ValueError, match="holds an array of shape"):
            bio.write_zarr(y[:, :60], path)


def test_zarr_interrupted_write_leaves_no_partial_chunk(tmp_path, monkeypatch):
    pytest.importorskip("zarr")
    bio = pytest.importorskip("blurmix.dask_io")
    x = image((50, 70), seed=8)
    whole = blurmix.gaussian_blur(x, 2.0)
    y = bd.gaussian_blur(da.from_array(x, chunks=(25, 35)), 2.0)
    path = tmp_path / "out.zarr"
    real_replace, renames = os.replace, []

    def failing_replace(src, dst):  # the job fails while writing the third chunk
        if len(renames) == 3:
            raise OSError("interrupted")
        renames.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with dask_sync(), pytest.raises(OSError, match="interrupted"):
        bio.write_zarr(y, path)
    monkeypatch.setattr(os, "replace", real_replace)
    files = [p for p in path.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith(".tmp-")]  # the unfinished one was removed
    assert len([p for p in files if "c" in p.relative_to(path).parts]) == 2  # zarr.json, two chunks
    with dask_sync():
        assert bio.write_zarr(y, path) == 2
        np.testing.assert_array_equal(bio.read_zarr(path).compute(), whole)


def test_bigtiff_in(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    pytest.importorskip("zarr")
    bio = pytest.importorskip("blurmix.dask_io")
    for shape in [(50, 70), (50, 70, 3)]:
        x = image(shape, seed=9)
        path = tmp_path / f"in{len(shape)}.tif"
        tifffile.imwrite(path, x, bigtiff=True, tile=(16, 16),
                         **({"photometric": "rgb"} if len(shape) == 3 else {}))
        t = bio.read_tiff(path)
        assert t.shape == shape and t.chunks[:2] == ((16, 16, 16, 2), (16, 16, 16, 16, 6))
        with dask_sync():
            np.testing.assert_array_equal(t.compute(), x)
            np.testing.assert_array_equal(bd.gaussian_blur(t, 2.0, boundary="clamp").compute(),
                                          blurmix.gaussian_blur(x, 2.0, boundary="clamp"))


def test_zarr_write_resumes_past_all_zero_chunks(tmp_path):
    # zarr skips chunks equal to the fill value by default; a resumed write would then compute
    # them again on every run. Every chunk is a file, zeros too.
    bio = pytest.importorskip("blurmix.dask_io")
    y = da.zeros((8, 8), chunks=(4, 4), dtype=np.float32)
    with dask_sync():
        assert bio.write_zarr(y, tmp_path / "z.zarr") == 4
        assert bio.write_zarr(y, tmp_path / "z.zarr") == 0


@pytest.mark.parametrize("channels", [None, 3])
def test_ome_zarr_round_trip_and_metadata(tmp_path, channels):
    bio = pytest.importorskip("blurmix.dask_io")
    zarr = pytest.importorskip("zarr")
    models = pytest.importorskip("ome_zarr_models.v05.image")
    shape = (50, 70) if channels is None else (50, 70, channels)
    x = image(shape, seed=10)
    y = bd.gaussian_blur(da.from_array(x, chunks=spatial_chunks((16, 32), shape)), 2.0, boundary="mirror")
    path = tmp_path / "out.ome.zarr"
    with dask_sync():
        written = bio.write_ome_zarr(y, path, name="blurred")
        assert written == 4 * 3
        assert bio.write_ome_zarr(y, path, name="blurred") == 0  # resumed: nothing missing
        back = bio.read_image(path)
        assert back.shape == shape
        np.testing.assert_array_equal(back.compute(), blurmix.gaussian_blur(x, 2.0, boundary="mirror"))
    # The metadata is OME-NGFF 0.5 (validated by ome-zarr-models): channel axis first in the store.
    image_meta = models.Image.from_zarr(zarr.open_group(str(path), mode="r"))
    multiscale = image_meta.ome_attributes.multiscales[0]
    names = [a.name for a in multiscale.axes]
    assert names == (["y", "x"] if channels is None else ["c", "y", "x"])
    assert multiscale.datasets[0].path == "0" and multiscale.name == "blurred"
    stored = zarr.open_array(str(path / "0"), mode="r")
    assert stored.shape == (shape if channels is None else (channels,) + shape[:2])


def test_ome_zarr_refusals(tmp_path):
    bio = pytest.importorskip("blurmix.dask_io")
    zarr = pytest.importorskip("zarr")
    zarr.create_group(str(tmp_path / "plain.zarr"))
    with pytest.raises(ValueError, match="not an OME-Zarr"):
        bio.read_image(tmp_path / "plain.zarr")
    y = da.zeros((8, 8), chunks=4, dtype=np.float32)
    with dask_sync():
        bio.write_zarr(y, tmp_path / "array.zarr")
    with pytest.raises(ValueError, match="holds a Zarr array"):
        bio.write_ome_zarr(y, tmp_path / "array.zarr")
    with pytest.raises(ValueError, match="no such file"):
        bio.read_image(tmp_path / "missing.zarr")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a Zarr folder, TIFF or .npy"):
        bio.read_image(tmp_path / "notes.txt")


def test_npy_is_read_by_the_workers_not_shipped(tmp_path):
    # A memory map given to dask travels as its data; read_npy's blocks carry only the path.
    import pickle
    bio = pytest.importorskip("blurmix.dask_io")
    x = image((300, 200, 3), seed=11)
    np.save(tmp_path / "x.npy", x)
    d = bio.read_npy(tmp_path / "x.npy", chunks=128)
    assert d.chunks[:2] == ((128, 128, 44), (128, 72))
    assert len(pickle.dumps(dict(d.__dask_graph__()))) < 20000
    np.testing.assert_array_equal(d.compute(scheduler="sync"), x)


def test_halide_threads_match_the_workers():
    # Each worker's Halide pool is set to the worker's own threads (2 here), not the core count.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        def halide_threads():
            previous = blurmix.set_num_threads(1)
            blurmix.set_num_threads(previous)
            return previous
        c.run(blurmix.set_num_threads, 5)
        bd.match_halide_threads(c)
        assert list(c.run(halide_threads).values()) == [2]


def test_worker_killed_mid_fit_gives_the_same_result():
    # A worker process killed (SIGKILL) while it fits blocks: its nanny starts another, the
    # scheduler runs the lost tasks again, and the maps equal the whole-image fit's.
    import signal
    import time
    shape = (256, 1024)
    x = image(shape, seed=12)
    target = blurmix.gaussian_blur(x, 5.0)
    iters = 4000  # about 0.3 s a worker: the kill lands while blocks are being fitted
    whole = blurmix.fit(x, target, sigma_min=3.0, sigma_max=9.0, iters=iters)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        bd.match_halide_threads(c)
        pids = c.run(os.getpid)
        r = bd.fit(da.from_array(x, chunks=(64, 256)), da.from_array(target, chunks=(64, 256)),
                   sigma_min=3.0, sigma_max=9.0, iters=iters)
        futures = c.compute([r.weights, r.fitted])
        victim, deadline = None, time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:  # a worker in the middle of a block's fit
            for address, keys in c.processing().items():
                if any("fit_block" in str(k) for k in keys):
                    victim = address
                    break
            time.sleep(0.005)
        assert victim is not None, "no fit task was seen running"
        os.kill(pids[victim], signal.SIGKILL)
        weights, fitted = c.gather(futures)
        after = c.run(os.getpid)
        assert pids[victim] not in after.values()  # that process is gone: the work was redone
    np.testing.assert_array_equal(weights, whole.weights)
    np.testing.assert_array_equal(fitted, whole.fitted)


@pytest.mark.parametrize("kind", ["npy", "zarr", "ome-zarr", "tiff"])
def test_from_storage_every_block_reads_its_own_halo(tmp_path, kind):
    # An ImageSource (blurmix.dask_io.open_image): each block's task reads its tile and halo
    # from the file itself (beyond the image as the boundary rule extends it). Equal bit for bit
    # to the whole-array calls, every boundary, tiles of odd sizes and smaller than the halo, an
    # image smaller than the halo (the mirror reflected more than once).
    import pickle
    bio = pytest.importorskip("blurmix.dask_io")
    tifffile = pytest.importorskip("tifffile")
    for shape in [(37, 53, 3), (5, 7)]:
        x = image(shape, seed=13)
        s = (0.5 + 4.0 * image(shape[:2], seed=14)).astype(np.float32)
        t = blurmix.gaussian_blur(x, 3.0, boundary="clamp")
        path = tmp_path / f"x{len(shape)}.{ {'ome-zarr': 'ome.zarr'}.get(kind, kind) }"
        with dask_sync():
            if kind == "npy":
                np.save(path, x)
            elif kind == "zarr":
                bio.write_zarr(da.from_array(x, chunks=(16, 16) + shape[2:]), path)
            elif kind == "ome-zarr":
                bio.write_ome_zarr(da.from_array(x, chunks=(16, 16) + shape[2:]), path)
            else:
                tifffile.imwrite(path, x, tile=(16, 16), **({"photometric": "rgb"} if len(shape) == 3 else {}))
        np.save(tmp_path / "s.npy", s)
        np.save(tmp_path / "t.npy", t)
        for tile in (7, 3, 64):
            src = bio.open_image(path, chunks=tile)
            assert src.shape == shape and len(pickle.dumps(src)) < 2000  # where it is, not its data
            smap = bio.open_image(tmp_path / "s.npy", chunks=tile)
            target = bio.open_image(tmp_path / "t.npy", chunks=tile)
            expected, tiled = [], []
            for boundary in BOUNDARIES:
                expected += [blurmix.gaussian_blur(x, 4.0, boundary=boundary),
                             blurmix.mix(x, 0.25, 1.5, 4.5, boundary=boundary),
                             blurmix.local_blur(x, s, boundary=boundary)]
                tiled += [bd.gaussian_blur(src, 4.0, boundary=boundary),
                          bd.mix(src, 0.25, 1.5, 4.5, boundary=boundary),
                          bd.local_blur(src, smap, boundary=boundary)]
            whole = blurmix.fit(x, t, sigma_min=1.5, sigma_max=4.5, iters=30, report_every=10)
            expected += [whole.weights, whole.fitted]
            r = bd.fit(src, target, sigma_min=1.5, sigma_max=4.5, iters=30, report_every=10)
            tiled += [r.weights, r.fitted]
            for k, (want, got) in enumerate(zip(expected, da.compute(*tiled, scheduler="sync"))):
                np.testing.assert_array_equal(got, want, err_msg=f"{kind} {shape} tile {tile} result {k}")


def test_from_storage_on_cluster_and_refusals(client, tmp_path):
    bio = pytest.importorskip("blurmix.dask_io")
    x = image((64, 300), seed=15)
    t = blurmix.gaussian_blur(x, 5.0)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    r = bd.fit(bio.open_image(tmp_path / "x.npy", chunks=40), bio.open_image(tmp_path / "t.npy", chunks=40),
               sigma_min=3.0, sigma_max=9.0, iters=50)
    weights, fitted = client.gather(client.compute([r.weights, r.fitted]))
    whole = blurmix.fit(x, t, sigma_min=3.0, sigma_max=9.0, iters=50)
    np.testing.assert_array_equal(weights, whole.weights)
    np.testing.assert_array_equal(fitted, whole.fitted)
    np.save(tmp_path / "ints.npy", np.zeros((8, 8), np.int32))
    with pytest.raises(TypeError, match="float32 or float64"):
        bd.gaussian_blur(bio.open_image(tmp_path / "ints.npy"), 2.0)
    np.save(tmp_path / "four.npy", np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match=r"not \(H, W\) or \(H, W, C\)"):
        bio.open_image(tmp_path / "four.npy")
    with pytest.raises(ValueError, match="chunks must be at least 1"):
        bio.open_image(tmp_path / "x.npy", chunks=0)
