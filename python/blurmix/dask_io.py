"""Zarr v3 and BigTIFF in, Zarr v3 out, for blurmix.dask: chunk-aligned, atomic, resumable writes.

    import blurmix.dask as bd, blurmix.dask_io as bio
    x = bio.read_zarr("scene.zarr")                     # or bio.read_tiff("slide.tif")
    bio.write_zarr(bd.gaussian_blur(x, 4.0), "blurred.zarr")   # run again after a crash: resumes

A write stores each dask block as one Zarr chunk (the array's chunks are made regular first), and
each chunk file is written under a temporary name and renamed into place, so a chunk is there
whole or not at all. Re-running the same write computes only the blocks whose chunk is missing.
"""
import os
import tempfile

import numpy as np

__all__ = ["read_zarr", "read_tiff", "write_zarr"]


def _zarr():
    import zarr
    return zarr


def _atomic_store(path):
    """A zarr LocalStore whose writes of whole objects are atomic (temporary file, then rename)."""
    zarr = _zarr()
    from zarr.storage import LocalStore

    class AtomicLocalStore(LocalStore):
        async def set(self, key, value):
            import asyncio
            target = os.path.join(str(self.root), key)

            def put():
                os.makedirs(os.path.dirname(target), exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".tmp-")
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(value.as_buffer_like())
                    os.replace(tmp, target)
                except BaseException:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
                    raise
            await asyncio.to_thread(put)

    del zarr
    return AtomicLocalStore(str(path))


def read_zarr(path):
    """A Zarr v3 array (a path to the array's folder) as a dask array with the array's chunks."""
    import dask.array as da
    z = _zarr().open_array(str(path), mode="r")
    return da.from_zarr(z)


def read_tiff(path, *, series=0, level=0):
    """A (Big)TIFF image as a dask array, read lazily tile by tile (strip by strip) through
    tifffile's Zarr view: (H, W) or (H, W, C)."""
    import dask.array as da
    import tifffile
    store = tifffile.imread(str(path), aszarr=True, series=series, level=level)
    z = _zarr().open_array(store, mode="r")
    return da.from_zarr(z)


def _regular(arr):
    """arr with the chunks of a Zarr array: all of an axis's chunks as large as its first."""
    return arr.rechunk(tuple(c[0] for c in arr.chunks))


def _chunk_key(index):
    return os.path.join("c", *(str(i) for i in index))


def write_zarr(arr, path, *, compute=True):
    """Writes the dask array arr to a Zarr v3 array at path, one chunk per block, each chunk
    written atomically; a chunk already there is not computed again (resume). An existing array of
    another shape, dtype or chunking is refused (ValueError). Returns the number of chunks
    written, or with compute=False the dask.delayed writes and that number."""
    import dask
    zarr = _zarr()
    arr = _regular(arr)
    chunks = tuple(c[0] for c in arr.chunks)
    path = str(path)
    store = _atomic_store(path)
    if os.path.exists(os.path.join(path, "zarr.json")):
        z = zarr.open_array(store, mode="r+")
        if z.shape != arr.shape or z.dtype != arr.dtype or tuple(z.chunks) != chunks:
            raise ValueError(f"{path} holds an array of shape {z.shape}, {z.dtype}, chunks {tuple(z.chunks)}, "
                             f"not {arr.shape}, {arr.dtype}, chunks {chunks}: remove it or write elsewhere")
    else:
        zarr.create_array(store, shape=arr.shape, chunks=chunks, dtype=arr.dtype, fill_value=0,
                          config={"write_empty_chunks": True})  # every chunk a file: resume sees it

    def write(block, index):
        z = zarr.open_array(_atomic_store(path), mode="r+")
        z[tuple(slice(i * c, i * c + n) for i, c, n in zip(index, chunks, block.shape))] = block
        return 1

    writes = []
    for index in np.ndindex(*arr.numblocks):
        if os.path.exists(os.path.join(path, _chunk_key(index))):
            continue
        writes.append(dask.delayed(write)(arr.blocks[index], index))
    if not compute:
        return writes, len(writes)
    if writes:
        dask.compute(*writes)
    return len(writes)
