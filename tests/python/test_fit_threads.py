"""The GIL is released while pipelines run (two fits in two threads at once), and Ctrl-C stops a
fit between runs of iterations with KeyboardInterrupt."""
import os
import signal as signals
import threading
import time

import numpy as np
import pytest

import blurmix


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(11)
    # Large enough that a fit lasts tens of milliseconds even on a fast machine: the tests below
    # look at what happens while one runs.
    x = rng.standard_normal((512, 512)).astype(np.float32)
    return x, blurmix.gaussian_blur(x, 5.0)


def test_two_fits_in_two_threads_run_at_once(pair):
    """Each fit reports every 20 iterations through its progress callable, which takes the GIL.
    Had a fit held the GIL while it ran, the other's reports could not come in between: the two
    runs of reports would follow each other. Released, they interleave."""
    x, target = pair
    events = []  # (time, fit)
    lock = threading.Lock()
    barrier = threading.Barrier(2)
    results = {}

    def run(name):
        def note(p):
            with lock:
                events.append((time.perf_counter(), name))
        barrier.wait()
        results[name] = blurmix.fit(x, target, iters=600, report_every=20, progress=note)

    threads = [threading.Thread(target=run, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"a", "b"}
    names = [n for _, n in sorted(events)]
    assert names.count("a") == names.count("b") == 31
    spans = {n: (min(t for t, m in events if m == n), max(t for t, m in events if m == n)) for n in "ab"}
    overlap = min(spans["a"][1], spans["b"][1]) - max(spans["a"][0], spans["b"][0])
    switches = sum(1 for u, v in zip(names, names[1:]) if u != v)
    print(f"reports of a then b switched {switches} times; the two fits overlapped {overlap * 1e3:.1f} ms "
          f"(a {1e3 * (spans['a'][1] - spans['a'][0]):.1f} ms, b {1e3 * (spans['b'][1] - spans['b'][0]):.1f} ms)")
    assert overlap > 0 and switches >= 3
    # Both got the single-threaded answer.
    alone = blurmix.fit(x, target, iters=600, report_every=20)
    for r in results.values():
        np.testing.assert_array_equal(r.weights, alone.weights)


def test_python_runs_while_a_fit_runs(pair):
    """The main thread keeps running Python while a fit runs in another thread. Had the fit held
    the GIL, no tick of the main thread could fall strictly inside the fit's span."""
    x, target = pair
    ticks = []
    span = {}
    done = threading.Event()

    def fit():
        span["start"] = time.perf_counter()
        blurmix.fit(x, target, iters=1000)
        span["end"] = time.perf_counter()
        done.set()

    t = threading.Thread(target=fit)
    t.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    t.join()
    inside = [u for u in ticks if span["start"] < u < span["end"]]
    print(f"{len(inside)} ticks of the main thread inside a fit of {1e3 * (span['end'] - span['start']):.1f} ms")
    assert len(inside) >= 3


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals go to the main thread")
def test_ctrl_c_stops_a_fit(pair):
    x, target = pair
    seen = []
    # Python's own Ctrl-C handler, also where this process started with SIGINT ignored (a job
    # started in the background by a shell without job control: Python then installs none).
    previous = signals.signal(signals.SIGINT, signals.default_int_handler)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signals.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            blurmix.fit(x, target, iters=10**7, report_every=10, progress=seen.append)
    finally:
        timer.cancel()
        signals.signal(signals.SIGINT, previous)
    elapsed = time.perf_counter() - start
    assert 0 < len(seen) and seen[-1].iteration < 10**7 - 1
    assert elapsed < 5, elapsed
    # The interpreter goes on.
    assert blurmix.fit(x, target, iters=5).iterations == 5
