#!/usr/bin/python3
"""darknet's own network input for an image file: load_image_color (OpenCV imread, RGB, /255, planar)
then letterbox_image or resize_image to NETW x NETH, all inside libdarknet (ctypes, dk_common).

usage (cwd = the oracle scripts): dk_input.py IMAGE NETW NETH letterbox|resize OUT_F32
Writes the C*H*W float32 values (little-endian) to OUT_F32 and prints {"w", "h", "c"} of the image.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.getcwd())
import dk_common as dk  # noqa: E402

path, nw, nh, mode, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
im = dk.load_image_color(path.encode(), 0, 0)
if im.w <= 0:
    sys.exit(f"darknet could not load {path}")
r = dk.letterbox_image(im, nw, nh) if mode == "letterbox" else dk.resize_image(im, nw, nh)
np.asarray(dk.floats(r.data, nw * nh * r.c), dtype="<f4").tofile(out)
print(json.dumps({"w": im.w, "h": im.h, "c": im.c}))
dk.free_image(r)
dk.free_image(im)
