"""The blurmix-dask command (python -m blurmix.dask_cli), run as a user runs it, on a local cluster
of two worker processes: results equal the one-machine calls, reruns resume, batch reports a
corrupt image and finishes the rest, bad arguments are refused before a cluster starts."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import blurmix

da = pytest.importorskip("dask.array")
pytest.importorskip("dask.distributed")
pytest.importorskip("zarr")
pytest.importorskip("ome_zarr_models")
tifffile = pytest.importorskip("tifffile")
bio = pytest.importorskip("blurmix.dask_io")


def run(*args, cwd):
    """The command with a local cluster of two single-thread workers: (exit status, stdout's last
    JSON line or None, stderr)."""
    cmd = [sys.executable, "-m", "blurmix.dask_cli", "--workers", "2", "--no-progress"] + [str(a) for a in args]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    return p.returncode, (json.loads(lines[-1]) if lines else None), p.stderr


def image(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_blur_ome_zarr_in_and_out(tmp_path):
    x = image((300, 260, 3), seed=1)
    with __import__("dask").config.set(scheduler="sync"):
        bio.write_ome_zarr(da.from_array(x, chunks=(64, 64, 3)), tmp_path / "in.ome.zarr")
    rc, out, err = run("blur", "in.ome.zarr", "out.ome.zarr", "--sigma", 3, "--boundary", "mirror",
                       "--chunk", 128, cwd=tmp_path)
    assert rc == 0, err
    assert out == {"chunks_written": 9, "chunks_failed": 0}
    np.testing.assert_array_equal(bio.read_image(tmp_path / "out.ome.zarr").compute(),
                                  blurmix.gaussian_blur(x, 3.0, boundary="mirror"))
    # A chunk lost (as if the first run had been killed): the rerun writes that one only.
    os.unlink(tmp_path / "out.ome.zarr" / "0" / "c" / "0" / "1" / "2")
    rc, out, err = run("blur", "in.ome.zarr", "out.ome.zarr", "--sigma", 3, "--boundary", "mirror",
                       "--chunk", 128, cwd=tmp_path)
    assert rc == 0 and out["chunks_written"] == 1, err
    np.testing.assert_array_equal(bio.read_image(tmp_path / "out.ome.zarr").compute(),
                                  blurmix.gaussian_blur(x, 3.0, boundary="mirror"))


def test_local_blur_from_bigtiff_to_plain_zarr(tmp_path):
    x = image((200, 150), seed=2)
    s = (0.5 + 3.0 * image((200, 150), seed=3)).astype(np.float32)
    tifffile.imwrite(tmp_path / "in.tif", x, bigtiff=True, tile=(32, 32))
    np.save(tmp_path / "sigma.npy", s)
    rc, out, err = run("local-blur", "in.tif", "out.zarr", "--sigma-map", "sigma.npy", "--boundary", "clamp",
                       "--chunk", 64, "--plain-zarr", cwd=tmp_path)
    assert rc == 0, err
    np.testing.assert_array_equal(bio.read_image(tmp_path / "out.zarr").compute(),
                                  blurmix.local_blur(x, s, boundary="clamp"))


@pytest.mark.parametrize("mode", ["local", "global"])
def test_fit_writes_the_maps_of_the_whole_image_fit(tmp_path, mode):
    x = image((160, 300), seed=4)
    t = blurmix.gaussian_blur(x, 5.0)
    np.save(tmp_path / "s.npy", x)
    tifffile.imwrite(tmp_path / "t.tif", t)
    rc, out, err = run("fit", "--source", "s.npy", "--target", "t.tif", "--out", "fit", "--iters", 120,
                       "--mode", mode, "--chunk", 64, cwd=tmp_path)
    assert rc == 0, err
    whole = blurmix.fit(x, t, sigma_min=3.0, sigma_max=9.0, iters=120, mode=mode)
    weights = bio.read_image(tmp_path / "fit" / "weights.ome.zarr").compute()
    fitted = bio.read_image(tmp_path / "fit" / "fitted.ome.zarr").compute()
    sigma = bio.read_image(tmp_path / "fit" / "sigma.ome.zarr").compute()
    summary = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert summary["mode"] == mode and summary["iters"] == 120
    if mode == "local":  # bit for bit
        np.testing.assert_array_equal(weights, whole.weights)
        np.testing.assert_array_equal(sigma, whole.sigma)
        np.testing.assert_array_equal(fitted, whole.fitted)
    else:
        # The moments summed in another order. Here the one-machine loss is itself 1.4e-6 off the
        # float64 value (its row sums are float32, and a m^2 + 2 b m + c cancels near the
        # optimum), where the tiled one, from float64 block totals, is within 1.3e-8 of it
        # (measured); test_dask.py holds both to 1e-6 on images where the rows keep their digits.
        assert abs(out["loss_final"] - whole.loss_final) <= 1e-5 * whole.loss_final
        np.testing.assert_allclose(weights, whole.weights, rtol=1e-5)
        np.testing.assert_allclose(fitted, whole.fitted, rtol=1e-5, atol=1e-6)


def test_batch_reports_a_corrupt_image_and_finishes_the_rest(tmp_path):
    src = tmp_path / "images"
    src.mkdir()
    images = {}
    for i in range(5):
        images[f"im{i}.png"] = image((40 + i, 50, 3), seed=10 + i)
        blurmix.save_image(src / f"im{i}.png", images[f"im{i}.png"])
    images["a.npy"] = image((30, 20), seed=20)
    np.save(src / "a.npy", images["a.npy"])
    images["b.tif"] = image((25, 35), seed=21)
    tifffile.imwrite(src / "b.tif", images["b.tif"])
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a png" * 10)

    rc, out, err = run("batch", "blur", "--sigma", 2, "--out", "blurred", "images", cwd=tmp_path)
    assert rc == 1
    assert out == {"images": 8, "done": 7, "skipped": 0, "failed": 1}
    assert "images/corrupt.png" in err and "bad PNG" in err
    for name, x in images.items():
        path = tmp_path / "blurred" / name
        if name.endswith(".png"):  # read back as the command reads PNG: 8-bit samples
            x = blurmix.load_image(src / name)
            np.testing.assert_array_equal(blurmix.load_image(path),
                                          blurmix.load_image(_saved(tmp_path, blurmix.gaussian_blur(x, 2.0))))
        elif name.endswith(".npy"):
            np.testing.assert_array_equal(np.load(path), blurmix.gaussian_blur(x, 2.0))
        else:
            np.testing.assert_array_equal(tifffile.imread(path), blurmix.gaussian_blur(x, 2.0))
    assert not (tmp_path / "blurred" / "corrupt.png").exists()
    assert not [p for p in (tmp_path / "blurred").iterdir() if p.name.startswith(".tmp-")]

    # The second run skips every finished image (and reports the corrupt one again).
    os.unlink(tmp_path / "blurred" / "im3.png")
    rc, out, err = run("batch", "blur", "--sigma", 2, "--out", "blurred", str(src / "*.png"), str(src / "*.npy"),
                       str(src / "*.tif"), cwd=tmp_path)
    assert rc == 1 and out == {"images": 8, "done": 1, "skipped": 6, "failed": 1}, err


def _saved(tmp_path, x):
    path = tmp_path / "reference.png"
    blurmix.save_image(path, x)
    return path


def test_batch_fit_and_format(tmp_path):
    # The fit op against same-named targets, outputs converted to .npy: fitted and weights.
    import blurmix.dask_batch as bb
    (tmp_path / "s").mkdir()
    (tmp_path / "t").mkdir()
    pairs = {}
    for i in range(3):
        x = image((48, 64), seed=30 + i)
        t = blurmix.gaussian_blur(x, 4.0 + i)
        np.save(tmp_path / "s" / f"p{i}.npy", x)
        np.save(tmp_path / "t" / f"p{i}.npy", t)
        pairs[f"p{i}"] = blurmix.fit(x, t, sigma_min=3.0, sigma_max=9.0, iters=60)
    report = bb.batch([tmp_path / "s"], tmp_path / "out", bb.Fit(targets=str(tmp_path / "t"), iters=60))
    assert (report.done, report.skipped, report.failed) == (3, 0, {})
    for name, whole in pairs.items():
        np.testing.assert_array_equal(np.load(tmp_path / "out" / f"{name}.npy"), whole.fitted)
        np.testing.assert_array_equal(np.load(tmp_path / "out" / f"{name}.weights.npy"), whole.weights)
    report = bb.batch([tmp_path / "s"], tmp_path / "out", bb.Fit(targets=str(tmp_path / "t"), iters=60))
    assert (report.done, report.skipped) == (0, 3)
    report = bb.batch([tmp_path / "s"], tmp_path / "png", bb.Mix(weight=0.3), fmt="png")
    assert report.done == 3 and sorted(os.listdir(tmp_path / "png")) == ["p0.png", "p1.png", "p2.png"]


def test_refused_before_a_cluster_starts(tmp_path):
    (tmp_path / "a.npy").write_bytes(b"")
    for args, message in [
        (["blur", "missing.zarr", "out.zarr", "--sigma", 2], "missing.zarr: no such file"),
        (["blur", "a.npy", "out.zarr", "--sigma", -1], "sigma must be"),
        (["batch", "blur", "--sigma", 2, "--out", "o", "nothing/*.png"], "no such file, folder or matching"),
        (["batch", "blur", "--sigma", 2, "--out", ".", "a.npy"], "would overwrite the input"),
        (["batch", "mix", "--weight", 2, "--out", "o", "a.npy"], "weight must be in [0, 1]"),
        (["fit", "--source", "a.npy", "--target", "a.npy", "--out", "o", "--sigma-max", 0], "sigma-max"),
    ]:
        rc, _, err = run(*args, cwd=tmp_path)
        assert rc == 2, (args, err)
        assert message in err, (args, err)
    p = subprocess.run([sys.executable, "-m", "blurmix.dask_cli", "--workers", "2", "blur", "a.npy", "o.zarr"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 2 and "--sigma" in p.stderr  # argparse: the required option named


def test_the_installed_command():
    # `pip install .[dask]` installs blurmix-dask beside the interpreter (build.sh writes the same
    # for its venv); it starts and lists its subcommands.
    import pathlib
    path = pathlib.Path(sys.executable).parent / "blurmix-dask"
    if not path.exists():
        pytest.skip(f"no {path}: the package was not installed with its scripts")
    p = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for command in ("blur", "local-blur", "fit", "batch", "--scheduler", "--workers"):
        assert command in p.stdout


def test_ctrl_c_then_rerun_finishes_the_job(tmp_path):
    # Ctrl-C (SIGINT to the command's process group, as a terminal sends it) while chunks are being
    # written: exit 130 with a message, only whole chunks in place; the same command again writes
    # only the missing chunks, and the result is the whole-image fit's.
    import signal
    import time
    x = image((512, 1024), seed=40)
    t = blurmix.gaussian_blur(x, 5.0)
    np.save(tmp_path / "s.npy", x)
    np.save(tmp_path / "t.npy", t)
    args = ["fit", "--source", "s.npy", "--target", "t.npy", "--out", "fit", "--iters", 3000, "--chunk", 128,
            "--plain-zarr"]
    cmd = [sys.executable, "-m", "blurmix.dask_cli", "--workers", "2", "--no-progress"] + [str(a) for a in args]
    # Its own process group (the signal reaches it and its workers only), with SIGINT's default
    # disposition even where this process was started with it ignored (a background job).
    p = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    chunks = tmp_path / "fit" / "weights.zarr" / "c"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        if chunks.exists() and sum(len(f) for _, _, f in os.walk(chunks)) >= 2:
            break
        time.sleep(0.01)
    assert p.poll() is None, "the job ended before it could be interrupted"
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "interrupted" in err and "run the same command again" in err
    present = sum(len([n for n in files if not n.startswith(".tmp-")])
                  for folder, _, files in os.walk(tmp_path / "fit") if f"{os.sep}c{os.sep}" in folder + os.sep)
    assert 2 <= present < 3 * 32  # 32 chunks in each of the 3 outputs
    rc, out, err = run(*args, cwd=tmp_path)
    assert rc == 0, err
    assert out["chunks_written"] == 3 * 32 - present  # only the missing ones
    whole = blurmix.fit(x, t, sigma_min=3.0, sigma_max=9.0, iters=3000)
    np.testing.assert_array_equal(bio.read_image(tmp_path / "fit" / "weights.zarr").compute(), whole.weights)
    np.testing.assert_array_equal(bio.read_image(tmp_path / "fit" / "fitted.zarr").compute(), whole.fitted)
