# The Flask + gunicorn + OpenCV DNN peer of bench/peer.ts: darknet cfg + weights loaded by
# cv2.dnn.readNetFromDarknet, OpenCV's own YOLO sample pipeline (blobFromImage, forward, NMSBoxes).
#
#   PEER_CFG=... PEER_WEIGHTS=... PEER_NAMES=... gunicorn -w 2 -k gthread --threads 1 --keep-alive 75 \
#     -b 127.0.0.1:8091 --chdir bench/peers flask_server:app
import os

import cv2
import numpy as np
from flask import Flask, jsonify, request

CFG = os.environ['PEER_CFG']
WEIGHTS = os.environ['PEER_WEIGHTS']
NAMES = [l.strip() for l in open(os.environ['PEER_NAMES'])] if os.environ.get('PEER_NAMES') else None
SIZE = int(os.environ.get('PEER_SIZE', '416'))

net = cv2.dnn.readNetFromDarknet(CFG, WEIGHTS)
net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
out_names = net.getUnconnectedOutLayersNames()
app = Flask(__name__)


@app.post('/v1/detect')
def detect():
    img = cv2.imdecode(np.frombuffer(request.get_data(), np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        return jsonify({'error': {'code': 'bad_image', 'message': 'cannot decode image'}}), 400
    thresh = float(request.args.get('thresh', 0.25))
    h, w = img.shape[:2]
    net.setInput(cv2.dnn.blobFromImage(img, 1 / 255.0, (SIZE, SIZE), (0, 0, 0), swapRB=True, crop=False))
    boxes, scores, classes = [], [], []
    for out in net.forward(out_names):
        for row in out:
            probs = row[5:]
            c = int(np.argmax(probs))
            s = float(probs[c])
            if s > thresh:
                cx, cy, bw, bh = row[0] * w, row[1] * h, row[2] * w, row[3] * h
                boxes.append([int(cx - bw / 2), int(cy - bh / 2), int(bw), int(bh)])
                scores.append(s)
                classes.append(c)
    keep = cv2.dnn.NMSBoxes(boxes, scores, thresh, 0.45) if boxes else []
    dets = []
    for i in np.array(keep).flatten():
        x, y, bw, bh = boxes[i]
        dets.append({'class_id': classes[i], 'class': NAMES[classes[i]] if NAMES else str(classes[i]), 'score': scores[i],
                     'box': {'x1': x, 'y1': y, 'x2': x + bw, 'y2': y + bh}})
    return jsonify({'detections': dets})
