import cv2
import numpy as np

from tracker.report import format_table, sequence_table, write_report


def row(auc, precision, fps=30.0, frames=100):
    return {
        "auc": auc,
        "precision": precision,
        "norm_precision": 0.5,
        "ao": 0.55,
        "sr50": 0.6,
        "sr75": 0.25,
        "fps": fps,
        "frames": frames,
    }


RESULTS = {
    "slow": {**row(0.4, 0.9, fps=12.345), "sequences": {"a": row(0.3, 0.8), "b": row(0.5, 1.0)}},
    "good": {**row(0.61234, 0.7), "sequences": {"a": row(0.6, 0.7), "b": row(0.62468, 0.7)}},
}
CURVES = {
    name: {
        "success_curve": np.linspace(1, 0, 21).tolist(),
        "precision_curve": np.linspace(0, 1, 51).tolist(),
        "norm_precision_curve": np.linspace(0, 1, 51).tolist(),
    }
    for name in RESULTS
}
MADE = {
    "date": "2026-12-01T10:00:00+00:00",
    "protocol": "lasot",
    "dataset": "/data/lasot",
    "format": "lasot",
    "split": None,
    "sequences": 2,
    "ground_truth_sha256": "ab" * 32,
    "cpu": "Some CPU (2 logical CPUs)",
    "versions": {"numpy": "2.4.6", "torch": "2.13.0", "onnxruntime": None},
    "trackers": {
        "good": {"setup": "1234", "config": "/c/siamfc.yaml", "weights": "/w/a.pt", "weights_sha256": "cd" * 32},
        "slow": {"setup": "5678", "models": {"/m/vit.onnx": "ef" * 32}},
    },
}


def test_table_is_best_first_with_three_decimals_and_fps_one():
    lines = format_table(RESULTS).splitlines()
    assert lines[0] == "| tracker | AUC | P@20 | norm P@0.2 | AO | SR50 | SR75 | fps | frames |"
    assert lines[2] == "| good | 0.612 | 0.700 | 0.500 | 0.550 | 0.600 | 0.250 | 30.0 | 100 |"
    assert lines[3] == "| slow | 0.400 | 0.900 | 0.500 | 0.550 | 0.600 | 0.250 | 12.3 | 100 |"


def test_unmeasured_fps_shows_as_a_dash():
    results = {"one": {**row(0.5, 0.5, fps=None), "sequences": {}}}
    assert format_table(results).splitlines()[2].endswith("| - | 100 |")


def test_sequence_table_has_a_row_per_sequence_and_a_column_per_tracker():
    assert sequence_table(RESULTS).splitlines() == [
        "| sequence | good | slow |",
        "|---|---|---|",
        "| a | 0.600 | 0.300 |",
        "| b | 0.625 | 0.500 |",
    ]


def test_report_lists_tables_plots_and_unmeasured_trackers(tmp_path):
    status = {
        "vit": {"status": "skipped", "reason": "model file x not found"},
        "odd": {"status": "failed", "errors": {"b": "ValueError: bad box"}},
    }
    vot = {"good": {"accuracy": 0.6, "robustness": 1.5, "eao": 0.3, "failures": 3}}
    write_report(RESULTS, status, tmp_path, CURVES, vot, MADE)
    report = (tmp_path / "report.md").read_text()
    assert format_table(RESULTS) in report and sequence_table(RESULTS) in report
    assert "| good | 0.600 | 1.500 | 0.300 | 3 |" in report
    assert "- vit: skipped, model file x not found" in report
    assert "- odd: failed on b: ValueError: bad box" in report
    assert "LaSOT toolkit rules" in report
    assert "- 2026-12-01T10:00:00+00:00, protocol lasot" in report
    assert "(lasot, split all, 2 sequences, ground truth sha256 abababababababab)" in report
    assert "- numpy 2.4.6, torch 2.13.0; CPU Some CPU (2 logical CPUs)" in report
    assert "- good: setup 1234, config /c/siamfc.yaml, weights /w/a.pt (sha256 cdcdcdcdcdcdcdcd)" in report
    assert "- slow: setup 5678, /m/vit.onnx (sha256 efefefefefefefef)" in report
    for name in ("success", "precision", "norm_precision"):
        image = cv2.imread(str(tmp_path / f"{name}.png"))
        assert image is not None and image.shape == (500, 600, 3)
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert f"![{name}]({name}.png)" in report
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_report_without_any_result_has_no_plots(tmp_path):
    write_report({}, {"vit": {"status": "skipped", "reason": "no model"}}, tmp_path, {})
    assert "- vit: skipped, no model" in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "success.png").exists()
