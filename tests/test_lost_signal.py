"""benchmarks/lost_signal.py: the lost flag's precision and recall from a benchmark run's files."""

import importlib.util
import json
import os

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("lost_signal", os.path.join(ROOT, "benchmarks", "lost_signal.py"))
lost_signal = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lost_signal)


def test_hand_computed_from_a_runs_files(tmp_path, capsys):
    # A GOT-10k-layout sequence of five frames; frame 3 has no box.
    data = tmp_path / "data"
    folder = data / "seq"
    folder.mkdir(parents=True)
    for i in range(5):
        cv2.imwrite(str(folder / f"{i + 1:08d}.png"), np.zeros((60, 80, 3), np.uint8))
    truth = ["10,10,20,20"] * 5
    truth[3] = "nan,nan,nan,nan"
    (folder / "groundtruth.txt").write_text("\n".join(truth) + "\n")
    (data / "list.txt").write_text("seq\n")
    # The run: frame 1 on the target (IoU 1), frame 2 off it (IoU 0), frame 3 with the target out
    # of view, frame 4 between (IoU 1/7, counts for neither); lost (< 0.7) on frames 1, 2 and 4.
    run = tmp_path / "run" / "siamfc"
    run.mkdir(parents=True)
    boxes = ["10,10,20,20", "10,10,20,20", "50,30,20,20", "50,30,20,20", "25,10,20,20"]
    (run / "seq.txt").write_text("\n".join(boxes) + "\n")
    (run / "seq.json").write_text(json.dumps({"scores": [None, 0.6, 0.5, 0.8, 0.65]}))
    lost_signal.main(["--dataset", str(data), "--run", f"list={tmp_path / 'run'}"])
    # Flagged among the on and off frames: 1 and 2, one of them off; off frames: 2 and 3, one flagged.
    assert "| list | 4 | 2 | 0.500 | 0.500 |" in capsys.readouterr().out
