"""Shared pieces of the Python tests: where the seed's numbers and PyTorch code are (../shared beside
the clone, as CI has it), the seed's formulation loaded from there, and the blurmix command."""
import importlib.util
import json
import os
import pathlib
import shutil

import numpy as np
import pytest

import blurmix

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def _need_shared(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the seed's numbers and PyTorch code are expected in ../shared "
                    f"beside the clone ({SHARED})")
    return path


@pytest.fixture(scope="session")
def seed_torch():
    """/work/shared/anchors/seed_torch.py: the seed notebook's blur and mix in PyTorch (conv2d)."""
    pytest.importorskip("torch")
    path = _need_shared(SHARED / "anchors" / "seed_torch.py")
    spec = importlib.util.spec_from_file_location("seed_torch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def expected():
    return json.loads(_need_shared(SHARED / "seed-experiments" / "expected.json").read_text())


@pytest.fixture(scope="session")
def signal():
    """The seed's 64x64 signal (float32)."""
    return np.load(_need_shared(SHARED / "seed-experiments" / "signal_64x64.npy")).astype(np.float32)


@pytest.fixture(scope="session")
def cli():
    """The blurmix command of the build this package was imported from (BLURMIX_CLI overrides)."""
    path = os.environ.get("BLURMIX_CLI")
    if not path:
        # The package in the build folder: <build>/python/blurmix; the command in <build>/bin.
        candidate = pathlib.Path(blurmix.__file__).resolve().parents[2] / "bin" / "blurmix"
        path = str(candidate) if candidate.exists() else shutil.which("blurmix")
    if not path or not os.path.exists(path):
        pytest.skip("no blurmix command beside this package (an installed wheel has none); set BLURMIX_CLI")
    return path


def rel_err(actual, reference) -> float:
    """max |actual - reference| over max |reference|: the error relative to the array's scale."""
    actual, reference = np.asarray(actual, np.float64), np.asarray(reference, np.float64)
    scale = np.abs(reference).max()
    return float(np.abs(actual - reference).max() / scale) if scale > 0 else float(np.abs(actual).max())
