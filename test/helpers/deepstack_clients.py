"""Requests shaped as the DeepStack clients send them, answers read as they read them (Python requests, like they).

- Home Assistant deepstack_object / deepstack_face (through the deepstack-python library): multipart
  files={"image": bytes} plus data={"api_key": ""}; reads response["predictions"]; keeps a prediction when
  its confidence in percent reaches the configured threshold; box as fractions of the image size.
- Frigate's deepstack detector: the frame as a JPEG encoded by PIL, same multipart shape; walks the
  predictions in order, stops at the first under 0.4 or with a label it does not know, at most 20 rows of
  [label id, confidence, y_min/h, x_min/w, y_max/h, x_max/w].
- Blue Iris / CodeProject.AI style: files image + data min_confidence.

Usage: deepstack_clients.py BASE_URL IMAGE_PATH FACE_IMAGE_PATH LABELS_JSON -> one JSON object on stdout.
"""
import io
import json
import sys

import numpy as np
import requests
from PIL import Image

base, image_path, face_path, labels_json = sys.argv[1:5]
labels = json.loads(labels_json)
image_bytes = open(image_path, "rb").read()
face_bytes = open(face_path, "rb").read()
out = {}


def post(path, image, data):
    r = requests.post(base + path, files={"image": image}, data=data, timeout=30)
    return r.status_code, r.headers.get("content-type", ""), r.json()


def home_assistant(path, image, confidence_percent):
    status, ctype, body = post(path, image, {"api_key": ""})
    if status != 200:
        return {"status": status, "body": body}
    w, h = Image.open(io.BytesIO(image)).size
    kept = []
    for p in body["predictions"]:
        if round(float(p["confidence"]) * 100, 1) >= confidence_percent:
            kept.append({
                "label": p.get("label"),
                "confidence": round(float(p["confidence"]) * 100, 1),
                "box": [round(p["y_min"] / h, 5), round(p["x_min"] / w, 5), round(p["y_max"] / h, 5), round(p["x_max"] / w, 5)],
            })
    return {"status": status, "content_type": ctype, "success": body["success"], "kept": kept, "raw": body["predictions"]}


def frigate(path, image):
    # Frigate hands the detector a model-sized RGB array; it encodes it as JPEG with PIL before posting.
    arr = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"), dtype=np.uint8)
    frame = Image.fromarray(arr)
    w, h = frame.size
    buf = io.BytesIO()
    frame.save(buf, format="JPEG")
    r = requests.post(base + path, data={"api_key": ""}, files={"image": buf.getvalue()}, timeout=30)
    body = r.json()
    rows = np.zeros((20, 6), np.float32)
    if body.get("predictions") is None:
        return {"status": r.status_code, "rows": rows.tolist(), "body": body}
    for i, p in enumerate(body["predictions"]):
        if p["confidence"] < 0.4:
            break
        if p["label"] not in labels:
            break
        rows[i] = [labels.index(p["label"]), float(p["confidence"]), p["y_min"] / h, p["x_min"] / w, p["y_max"] / h, p["x_max"] / w]
    return {"status": r.status_code, "rows": rows.tolist(), "count": len(body["predictions"])}


out["ha_object"] = home_assistant("/v1/vision/detection", image_bytes, 30.0)
out["ha_custom"] = home_assistant("/v1/vision/custom/shapes", image_bytes, 30.0)
out["ha_face"] = home_assistant("/v1/vision/face", face_bytes, 0.0)
out["frigate"] = frigate("/v1/vision/detection", image_bytes)
status, ctype, body = post("/v1/vision/custom/shapes", image_bytes, {"min_confidence": "0.6"})
out["blue_iris"] = {"status": status, "body": body}
status, ctype, body = post("/v1/vision/detection", b"not an image", {"api_key": ""})
out["bad_image"] = {"status": status, "content_type": ctype, "body": body}
status, ctype, body = post("/v1/vision/custom/nope", image_bytes, {"api_key": ""})
out["unknown_model"] = {"status": status, "body": body}
print(json.dumps(out))
