#!/usr/bin/python3
"""darknet's YOLO9000 scoring with a class map (get_region_detections(map != NULL), as `detector valid`
runs it): every mapped node scored objectness * path probability.

usage (cwd = the oracle scripts): dk_map.py CFG WEIGHTS INPUT_F32 THRESH NMS NODE,NODE,...
Prints {"boxes": [{"class": NODE, "prob", "x", "y", "w", "h"}]} after do_nms_sort, boxes relative to the
network input. The tree softmax is recomputed as the oracle does (this darknet's CPU one gives NaN).
"""
import ctypes as C
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.getcwd())
import dk_common as dk  # noqa: E402
import ref_decode  # noqa: E402

cfg, weights, inp, thresh, nms, nodes = sys.argv[1:7]
thresh, nms = float(thresh), float(nms)
nodes = [int(v) for v in nodes.split(",")]
if not 0 < len(nodes) <= 200:
    sys.exit("1 to 200 nodes (darknet's map holds 200)")

net = dk.load_network(cfg.encode(), weights.encode(), 0)
dk.set_batch_network(net, 1)
N = net.contents
layers = dk.layer_array(net)
last = layers[N.n - 1]
X = np.ascontiguousarray(np.fromfile(inp, dtype="<f4"))
assert X.size == N.w * N.h * N.c, (X.size, N.w, N.h, N.c)
dk.network_predict(net, X.ctypes.data_as(C.POINTER(C.c_float)))
pre = dk.floats(layers[N.n - 2].output, last.inputs)
t = C.cast(last.softmax_tree, C.POINTER(dk.TREE)).contents
tree = {"groups": [(t.group_offset[g], t.group_size[g]) for g in range(t.groups)]}
post = ref_decode.region_forward(pre, last.n, last.classes, last.coords, last.h, last.w,
                                 last.background, last.softmax, tree, "gpu")
C.memmove(last.output, post.ctypes.data, post.nbytes)

# darknet reads map[0..199]: pad with the first node and ignore those slots below
cmap = (C.c_int * 200)(*(nodes + [nodes[0]] * (200 - len(nodes))))
nb = C.c_int(0)
dets = dk.get_network_boxes(net, N.w, N.h, thresh, 0.5, cmap, 1, C.byref(nb))
dk.do_nms_sort(dets, nb.value, last.classes, nms)
boxes = []
for i in range(nb.value):
    d = dets[i]
    p = dk.floats(d.prob, last.classes)
    for j in np.nonzero(p[:len(nodes)] > thresh)[0]:
        boxes.append({"class": nodes[j], "prob": float(p[j]), "x": float(d.bbox.x), "y": float(d.bbox.y),
                      "w": float(d.bbox.w), "h": float(d.bbox.h)})
dk.free_detections(dets, nb.value)
json.dump({"boxes": boxes}, sys.stdout)
print()
