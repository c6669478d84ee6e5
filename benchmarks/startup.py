"""Time from launch to the first tracked frame: `track` on the demo clip's first two frames (the
first box, then one update), in a fresh Python each time, with an empty ONNX graph cache (cold)
and then with the graphs cached (warm). Median wall seconds of --runs runs each.

    python benchmarks/startup.py [--runs 5] [--config siamfc] [--out benchmarks/startup.md]
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

import cv2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "videos", "bunny.mp4")


def two_frames(folder):
    video = cv2.VideoCapture(DEMO)
    for i in range(2):
        ok, frame = video.read()
        cv2.imwrite(os.path.join(folder, f"{i}.png"), frame)
    with open(os.path.splitext(DEMO)[0] + ".txt") as f:
        return f.read().strip()


def launch(frames, bbox, config, cache, out):
    env = dict(os.environ, SIAMTRACK_CACHE=cache)
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "run_tracker.py"),
            "track",
            frames,
            "--bbox",
            bbox,
            "--config",
            config,
            "--boxes",
            out,
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--config", default="siamfc")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "startup.md"))
    args = ap.parse_args()
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        frames = os.path.join(tmp, "frames")
        os.makedirs(frames)
        bbox = two_frames(frames)
        out = os.path.join(tmp, "boxes.txt")
        for run in range(args.runs):
            cache = os.path.join(tmp, f"cache{run}")
            cold.append(launch(frames, bbox, args.config, cache, out))
            warm.append(launch(frames, bbox, args.config, cache, out))
            print(f"run {run + 1}/{args.runs}: cold {cold[-1]:.2f} s, warm {warm[-1]:.2f} s", file=sys.stderr)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    torch_s = time.perf_counter() - t0
    text = (
        f"# Start-up time\n\n{datetime.now():%Y-%m-%d %H:%M}, {platform.processor() or platform.machine()} "
        f"({os.cpu_count()} logical CPUs), config {args.config}. Launch to the first tracked frame, "
        f"median of {args.runs} runs:\n\n| cache | seconds |\n|---|---|\n"
        f"| cold (graphs exported) | {statistics.median(cold):.2f} |\n"
        f"| warm (graphs cached) | {statistics.median(warm):.2f} |\n\n"
        f"A bare `python -c 'import torch'` took {torch_s:.2f} s in the same run.\n"
    )
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
