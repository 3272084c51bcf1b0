"""Offline by default: hub look-ups fail fast instead of waiting on the network."""

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
