import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRICS = ("auc", "precision", "norm_precision", "ao", "sr50", "sr75")


def results(path, tracker, aucs, protocol=None):
    """A results.json; without a protocol, of the shape from before results recorded their provenance."""
    sequences = {name: {m: auc for m in METRICS} for name, auc in aucs.items()}
    trackers = {tracker: {"auc": 0.0, "sequences": sequences}}
    made = {"provenance": {"protocol": protocol}, "trackers": trackers}
    path.write_text(json.dumps(made if protocol else trackers))
    return str(path)


def compare(*args, script=("run_tracker.py", "compare")):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, script[0]), *script[1:], *args], capture_output=True, text=True
    )


def test_compare_two_runs(tmp_path):
    a = results(tmp_path / "a.json", "siamfc", {"s1": 0.5, "s2": 0.2, "s3": 0.4})
    b = results(tmp_path / "b.json", "siamfc", {"s1": 0.6, "s2": 0.1, "s3": 0.43, "s4": 0.9})
    run = compare(a, b)
    assert run.returncode == 0, run.stderr
    auc = next(line for line in run.stdout.splitlines() if line.startswith("auc "))
    # +0.10, -0.10, +0.03 on the three shared sequences (s4 has no partner)
    assert "+0.0100 ± 0.0586" in auc and "3 sequences" in auc and "better on 2, worse on 1" in auc


def test_the_old_script_still_compares(tmp_path):
    a = results(tmp_path / "a.json", "siamfc", {"s1": 0.5, "s2": 0.2})
    b = results(tmp_path / "b.json", "siamfc", {"s1": 0.6, "s2": 0.4})
    run = compare(a, b, script=(os.path.join("benchmarks", "compare.py"),))
    assert run.returncode == 0 and "B - A = +0.1500" in run.stdout


def test_compare_warns_when_the_protocols_differ(tmp_path):
    a = results(tmp_path / "a.json", "siamfc", {"s1": 0.5, "s2": 0.2}, protocol="otb")
    b = results(tmp_path / "b.json", "siamfc", {"s1": 0.6, "s2": 0.4}, protocol="otb")
    run = compare(a, b)
    assert run.returncode == 0 and run.stderr == "" and "B - A = +0.1500" in run.stdout
    for other in (
        results(tmp_path / "old.json", "siamfc", {"s1": 0.5}),
        results(tmp_path / "lasot.json", "siamfc", {"s1": 0.5}, protocol="lasot"),
    ):
        run = compare(a, other)
        assert run.returncode == 0 and "differences mix in the rules" in run.stderr


def test_compare_two_trackers_of_one_run(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(
        json.dumps(
            {
                "csrt": {"sequences": {"s": {m: 0.3 for m in METRICS}}},
                "siamfc": {"sequences": {"s": {m: 0.5 for m in METRICS}}},
            }
        )
    )
    run = compare(str(path), str(path), "--tracker", "csrt", "--tracker-b", "siamfc")
    assert run.returncode == 0 and "B - A = +0.2000" in run.stdout


def test_compare_skips_a_metric_one_file_lacks(tmp_path):
    a = results(tmp_path / "a.json", "siamfc", {"s1": 0.5, "s2": 0.2})
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"siamfc": {"sequences": {"s1": {"auc": 0.6}, "s2": {"auc": 0.4}}}}))
    run = compare(a, str(path))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("auc ") and "+0.1500" in lines[0]
    assert [line.split()[0] for line in lines if "not in both results" in line] == list(METRICS[1:])


def test_compare_errors_are_one_line(tmp_path):
    a = results(tmp_path / "a.json", "siamfc", {"s1": 0.5})
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"siamfc": {"auc": 0.4}}))
    number = tmp_path / "number.json"
    number.write_text("5")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for args, problem in [
        ((a, str(tmp_path / "missing.json")), "No such file"),
        ((a, str(tmp_path)), "Is a directory"),
        ((a, str(number)), "not a JSON object"),
        ((a, str(binary)), "not a JSON object"),
        ((a, a, "--tracker", "nano"), "no results for 'nano'"),
        ((a, results(tmp_path / "c.json", "siamfc", {"other": 0.1})), "no sequence in common"),
        ((a, str(bare)), "no per-sequence results"),
    ]:
        run = compare(*args)
        assert run.returncode != 0 and problem in run.stderr
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_output_cut_short_by_the_reader(tmp_path):
    a = results(tmp_path / "a.json", "siamfc", {"s1": 0.5, "s2": 0.4})
    script = os.path.join(ROOT, "run_tracker.py")
    # `true` exits without reading: the command's first write meets a closed pipe.
    run = subprocess.run(
        f'"{sys.executable}" "{script}" compare "{a}" "{a}" | true', shell=True, capture_output=True, text=True
    )
    assert "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr
