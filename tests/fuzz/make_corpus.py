#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus (tests/fuzz/corpus/); standard library only. Rerun after
changing it and commit the files: small valid PNGs of each kind libpng reads, .npy files of each
header version, and command lines."""
import os, struct, zlib

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def adam7(w, rows, bpp):
    """Byte rows (8-bit samples, bpp bytes a pixel) reordered into the seven Adam7 passes."""
    out = []
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
        for y in range(y0, len(rows), dy):
            row = b"".join(rows[y][x * bpp:(x + 1) * bpp] for x in range(x0, w, dx))
            if row:
                out.append(row)
    return out


def png(w, h, depth, colour, rows, extra=b"", interlace=0, bpp=0):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace)
    if interlace:
        rows = adam7(w, rows, bpp)
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def npy(major, header, data):
    header = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    size = struct.pack("<H", len(header)) if major == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + size + header.encode() + data


images = {
    "grey1.png": png(8, 2, 1, 0, [b"\xa5", b"\x5a"]),
    "grey4_trns.png": png(4, 2, 4, 0, [b"\x01\x23", b"\x45\x67"], chunk(b"tRNS", b"\0\x03")),
    "grey8_gama.png": png(3, 2, 8, 0, [b"\0\x80\xff", b"\x10\x20\x30"], chunk(b"gAMA", struct.pack(">I", 45455))),
    "greyalpha8.png": png(2, 2, 8, 4, [b"\x10\xff\x20\x80", b"\x30\0\x40\x7f"]),
    "rgb16.png": png(2, 1, 16, 2, [bytes(range(12))]),
    "rgba8_interlaced.png": png(3, 3, 8, 6, [bytes(range(i, i + 12)) for i in range(3)], interlace=1, bpp=4),
    "palette2.png": png(4, 1, 2, 3, [b"\x1b"], chunk(b"PLTE", bytes(range(12))) + chunk(b"tRNS", b"\x80")),
    "srgb_iccp.png": png(1, 1, 8, 2, [b"\x01\x02\x03"], chunk(b"sRGB", b"\0") +
                         chunk(b"iCCP", b"x\0\0" + zlib.compress(b"\0" * 128))),
    "v1_f4.npy": npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                     struct.pack("<6f", 0, .25, .5, .75, 1, 2)),
    "v2_f8_rgb.npy": npy(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3), }",
                         struct.pack("<6d", 0, .1, .2, .3, .4, .5)),
    "v3_f4_keys.npy": npy(3, "{'shape': (1L, 1L), 'fortran_order': False, 'descr': \"<f4\"}",
                          struct.pack("<f", 0.5)),
    "fortran.npy": npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", b"\0\0\0\0"),
}
cli = {
    "blur": ["blur", "in.png", "out.png", "--sigma", "2", "--boundary", "mirror", "--max-pixels", "100"],
    "mix": ["mix", "in.npy", "out.npy", "--sigma-min", "1", "--sigma-max", "3", "--weight", "0.5", "--linear"],
    "mix_map": ["mix", "in.npy", "out.npy", "--sigma-min", "1", "--sigma-max", "3", "--weights", "w.npy", "--force"],
    "fit": ["fit", "--source", "a.png", "--target", "b.png", "--sigma-min", "2", "--sigma-max", "6", "--mode",
            "global", "--iters", "10", "--lr", "0.05", "--learn-sigmas", "--json", "--quiet",
            "--max-megabytes", "1", "--out", "d"],
    "demo": ["demo", "--out", "d", "--iters", "3", "--json", "--force", "--schedule", "naive"],
    "help": ["fit", "--help"],
}

for sub, files in (("fuzz_load_image", images), ("fuzz_cli", {k: "\0".join(v).encode() for k, v in cli.items()})):
    os.makedirs(os.path.join(here, sub), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(here, sub, name), "wb") as f:
            f.write(data)
