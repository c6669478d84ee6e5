import argparse
import json
import os

import cv2
import numpy as np
import pytest
import torch

from tracker import benchmark, params, pool, records, runner
from tracker import specs as tracker_specs
from tracker import weights as tracker_weights
from tracker.config import resolve_weights
from tracker.errors import UserError
from tracker.interface import Tracker
from tracker.sequences import Sequence, load_dataset

KEYS = {"auc", "precision", "norm_precision", "ao", "sr50", "sr75", "fps", "frames"}
FRAMES = 16  # enough for frames counted after the VOT burn-in


def write_sequence(root, name, step, absent=()):
    """A GOT-10k-layout sequence: a textured 40 px square moving `step` px per frame over noise;
    frames listed in `absent` have no box."""
    rng = np.random.default_rng(len(name))
    background = rng.integers(0, 60, (120, 160, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (10, 10, 3), dtype=np.uint8).repeat(4, axis=0).repeat(4, axis=1)
    folder = root / name
    folder.mkdir(parents=True)
    boxes = []
    for i in range(FRAMES):
        x, y = 20 + step[0] * i, 20 + step[1] * i
        frame = background.copy()
        frame[y : y + 40, x : x + 40] = patch
        cv2.imwrite(str(folder / f"{i:08d}.png"), frame)
        boxes.append(f"{x},{y},40,40")
    for i in absent:
        boxes[i] = "nan,nan,nan,nan"
    (folder / "groundtruth.txt").write_text("\n".join(boxes) + "\n")
    (folder / "absence.label").write_text("".join("1\n" if i in absent else "0\n" for i in range(FRAMES)))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    write_sequence(root, "right", (3, 1))
    write_sequence(root, "late", (2, 2), absent=(0,))
    (root / "list.txt").write_text("right\nlate\n")
    return root


@pytest.fixture(scope="module")
def finished(dataset, tmp_path_factory):
    """One benchmark of kcf and mosse, shared by the tests that only read its outputs."""
    out = tmp_path_factory.mktemp("out")
    results = benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=out)
    return out, results


def read(path):
    with open(path) as f:
        return json.load(f)


def test_results_json_has_exactly_the_documented_shape(finished):
    out, results = finished
    assert read(out / "results.json")["trackers"] == results
    assert set(results) == {"kcf", "mosse"}
    for entry in results.values():
        assert set(entry) == KEYS | {"sequences"}
        assert list(entry["sequences"]) == ["right", "late"]
        for row in [entry, *entry["sequences"].values()]:
            assert all(0 <= row[k] <= 1 for k in ("auc", "precision", "norm_precision", "ao", "sr50", "sr75"))
            assert row["fps"] > 0
        # A GOT-10k layout, so its protocol: neither the init frame nor an absent frame is scored.
        assert entry["sequences"]["right"]["frames"] == FRAMES - 1
        assert entry["sequences"]["late"]["frames"] == FRAMES - 2
        assert entry["frames"] == 2 * FRAMES - 3
        assert entry["fps"] == np.median([s["fps"] for s in entry["sequences"].values()])
    assert read(out / "status.json") == {}
    assert not (out / "longterm.json").exists()  # the target never leaves the view once seen


def test_result_file_has_one_line_per_frame_starting_with_the_given_box(finished):
    out, _ = finished
    right = (out / "kcf" / "right.txt").read_text().splitlines()
    late = (out / "kcf" / "late.txt").read_text().splitlines()
    assert len(right) == len(late) == FRAMES
    assert right[0] == "20.00,20.00,40.00,40.00"
    # "late" has no box on frame 0, so tracking starts on frame 1.
    assert late[0] == "nan,nan,nan,nan"
    assert late[1] == "22.00,22.00,40.00,40.00"


def test_record_holds_update_times_scores_and_metrics(finished):
    out, _ = finished
    record = read(out / "kcf" / "late.json")
    assert record["times"][:2] == [None, None] and all(t > 0 for t in record["times"][2:])
    assert record["scores"][:2] == [None, None] and record["scores"][2:] == [1.0] * (FRAMES - 2)
    assert record["fps"] == pytest.approx((FRAMES - 2) / sum(record["times"][2:]))
    # Scored under the protocol asked for, so the record keeps no metric.
    assert set(record) == {"sequence", "setup", "times", "scores", "fps", "sha256"}


def test_report_and_plots_are_written(finished):
    out, _ = finished
    report = (out / "report.md").read_text()
    assert "| tracker | AUC | P@20 | norm P@0.2 | AO | SR50 | SR75 | fps | frames |" in report
    assert "| kcf |" in report and "| mosse |" in report
    assert "GOT-10k toolkit rules" in report and "## Provenance" in report
    for name in ("success", "precision", "norm_precision"):
        assert cv2.imread(str(out / f"{name}.png")) is not None and (out / f"{name}.pdf").is_file()


def test_results_say_how_they_were_made(dataset, finished):
    out, _ = finished
    made = read(out / "results.json")["provenance"]
    assert set(made) == {
        "date",
        "versions",
        "cpu",
        "dataset",
        "format",
        "split",
        "sequences",
        "ground_truth_sha256",
        "protocol",
        "trackers",
    }
    assert (made["dataset"], made["format"], made["protocol"], made["sequences"]) == (
        str(dataset),
        "got10k",
        "got10k",
        2,
    )
    assert made["versions"]["opencv"] == cv2.__version__ and made["versions"]["numpy"] == np.__version__
    assert set(made["trackers"]) == {"kcf", "mosse"}
    assert made["trackers"]["kcf"]["setup"] == read(out / "kcf" / "right.json")["setup"]


def test_another_protocol_rescores_without_tracking_again(dataset, finished, tmp_path, counted_runs):
    out, results = finished
    for pair in ("kcf", "mosse"):
        os.makedirs(tmp_path / pair)
        for name in os.listdir(out / pair):
            (tmp_path / pair / name).write_bytes((out / pair / name).read_bytes())
    otb = benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path, protocol="otb")
    assert counted_runs == []
    # OTB scores the init frame with the given box, and averages over sequences.
    assert otb["kcf"]["sequences"]["right"]["frames"] == FRAMES
    assert otb["kcf"]["sequences"]["late"]["frames"] == FRAMES - 1
    assert otb["kcf"]["auc"] == pytest.approx(np.mean([s["auc"] for s in otb["kcf"]["sequences"].values()]))
    assert read(tmp_path / "results.json")["provenance"]["protocol"] == "otb"


@pytest.fixture
def counted_runs(monkeypatch):
    """Count the one-pass runs actually done."""
    done = []

    def run_ope(tracker, sequence, stem, setup):
        done.append((os.path.basename(os.path.dirname(stem)), sequence.name))
        real_run_ope(tracker, sequence, stem, setup)

    real_run_ope = records.RUNS["ope"]
    monkeypatch.setitem(records.RUNS, "ope", run_ope)
    return done


def test_rerun_only_computes_missing_pairs(dataset, tmp_path, counted_runs):
    benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path)
    assert len(counted_runs) == 4
    before = (tmp_path / "kcf" / "late.txt").read_text()
    first = read(tmp_path / "results.json")["trackers"]

    counted_runs.clear()
    assert benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path) == first
    assert counted_runs == []

    (tmp_path / "kcf" / "late.txt").unlink()
    benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path)
    assert counted_runs == [("kcf", "late")]
    assert (tmp_path / "kcf" / "late.txt").read_text() == before

    counted_runs.clear()
    benchmark.run_benchmark(dataset, trackers=("kcf",), out=tmp_path, force=True)
    assert sorted(counted_runs) == [("kcf", "late"), ("kcf", "right")]


def test_results_of_another_config_weights_or_code_are_run_again(dataset, tmp_path, counted_runs, capsys, monkeypatch):
    out = tmp_path / "out"
    benchmark.run_benchmark(dataset, trackers=("siamfc", "mosse"), out=out)
    assert len(counted_runs) == 4
    config = tmp_path / "wide_window.yaml"
    config.write_text("tracking:\n  window_influence: 0.4\n")
    capsys.readouterr()

    counted_runs.clear()
    benchmark.run_benchmark(dataset, trackers=("siamfc", "mosse"), out=out, config=str(config))
    assert sorted(counted_runs) == [("siamfc", "late"), ("siamfc", "right")]  # mosse's still hold
    assert "results of siamfc" in capsys.readouterr().err
    counted_runs.clear()
    benchmark.run_benchmark(dataset, trackers=("siamfc",), out=out, config=str(config))
    assert counted_runs == []

    # The same config and another weights file (same model, other bytes) makes other results too.
    weights = tmp_path / "other.pt"
    blob = torch.load(resolve_weights(params.DEFAULTS["weights"]), weights_only=True)
    blob["state_dict"]["out_bias"] += 0.5
    blob["sha256"] = tracker_weights.checksum(blob)  # changed on purpose: not corrupt
    torch.save(blob, weights)
    benchmark.run_benchmark(dataset, trackers=("siamfc",), out=out, config=str(config), weights=str(weights))
    assert len(counted_runs) == 2

    # So do other tracking code: an edited geometry.py, here a copy of it with one more line.
    sources = list(tracker_specs.tracking_sources())
    i = [os.path.basename(p) for p in sources].index("geometry.py")
    edited = tmp_path / "geometry.py"
    edited.write_text(open(sources[i]).read() + "# edited\n")
    sources[i] = str(edited)
    monkeypatch.setattr(tracker_specs, "tracking_sources", lambda: tuple(sources))
    counted_runs.clear()
    benchmark.run_benchmark(dataset, trackers=("siamfc", "mosse"), out=out, config=str(config), weights=str(weights))
    assert len(counted_runs) == 2 and all(name == "siamfc" for name, _ in counted_runs)

    # A record from before records named their setup counts as stale.
    record = out / "mosse" / "right.json"
    record.write_text(json.dumps({k: v for k, v in read(record).items() if k not in ("setup", "sha256")}))
    counted_runs.clear()
    benchmark.run_benchmark(dataset, trackers=("mosse",), out=out)
    assert counted_runs == [("mosse", "right")]


def test_damaged_or_unchecked_results_are_run_again(dataset, tmp_path, counted_runs, capsys):
    first = benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path)
    boxes = tmp_path / "kcf" / "right.txt"
    boxes.write_text(boxes.read_text().replace("2", "3", 1))  # one digit: still a valid result file
    record = tmp_path / "mosse" / "late.json"
    record.write_text(record.read_text().replace('"fps": ', '"fps": 1', 1))
    old = tmp_path / "kcf" / "late.json"  # from before records carried a checksum
    old.write_text(json.dumps({k: v for k, v in read(old).items() if k != "sha256"}))
    capsys.readouterr()
    counted_runs.clear()
    rerun = benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path)
    assert sorted(counted_runs) == [("kcf", "late"), ("kcf", "right"), ("mosse", "late")]
    err = capsys.readouterr().err
    assert f"benchmark: {tmp_path / 'kcf' / 'right'}.txt or .json is damaged: running it again" in err
    assert f"{tmp_path / 'mosse' / 'late'}.txt or .json is damaged" in err
    assert "results of kcf in" in err and "Traceback" not in err
    assert without_fps(rerun) == without_fps(first)


def without_fps(results):
    return {
        name: {k: v for k, v in entry.items() if k != "fps"}
        | {"sequences": {seq: {k: v for k, v in row.items() if k != "fps"} for seq, row in entry["sequences"].items()}}
        for name, entry in results.items()
    }


def test_interrupted_run_resumes_where_it_stopped(dataset, finished, tmp_path, monkeypatch):
    real_run_ope = records.RUNS["ope"]
    calls = []

    def run_ope(tracker, sequence, stem, setup):
        calls.append(sequence.name)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if killed during the third pair
        real_run_ope(tracker, sequence, stem, setup)

    monkeypatch.setitem(records.RUNS, "ope", run_ope)
    with pytest.raises(KeyboardInterrupt):
        benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kcf", "late.json", "late.txt", "right.json", "right.txt"]

    calls.clear()
    resumed = benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path)
    assert calls == ["right", "late"]
    assert without_fps(resumed) == without_fps(finished[1])


def test_workers_give_the_same_boxes_as_one_process(dataset, finished, tmp_path):
    out, results = finished
    parallel = benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path, workers=2)
    for name in ("kcf", "mosse"):
        for seq in ("right", "late"):
            assert (tmp_path / name / f"{seq}.txt").read_text() == (out / name / f"{seq}.txt").read_text()
    assert without_fps(parallel) == without_fps(results)


@pytest.mark.parametrize("cores, asked, used", [(8, 1000, 4), (2, 8, 2), (8, 3, 3)])
def test_workers_are_capped_at_the_runs_and_the_cores(dataset, tmp_path, monkeypatch, capsys, cores, asked, used):
    pools = []

    def run_jobs(jobs, workers, work, tick):
        pools.append(workers)
        return (work(job, tick) for job in jobs)  # in this process: what is tested is the count asked for

    monkeypatch.setattr(benchmark, "run_jobs", run_jobs)
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    benchmark.run_benchmark(dataset, trackers=("kcf", "mosse"), out=tmp_path, workers=asked)  # 4 runs
    assert pools == [used]
    said = [line for line in capsys.readouterr().err.splitlines() if "--workers" in line]
    assert said == (
        [f"benchmark: --workers {asked} capped at {used} (4 runs to do, {cores} cores)"] if asked > used else []
    )


class Breaks(Tracker):
    """A tracker that raises on its third update."""

    def init(self, frame, box):
        self.box, self.updates = np.asarray(box, float), 0

    def update(self, frame):
        self.updates += 1
        if self.updates == 3:
            raise RuntimeError("out of\nideas")
        return self.box, 1.0


def test_tracker_that_raises_is_listed_as_failed_and_others_finish(dataset, tmp_path, monkeypatch):
    real = benchmark.make_tracker
    monkeypatch.setattr(
        benchmark, "make_tracker", lambda name, **kw: Breaks() if name == "breaks" else real(name, **kw)
    )
    results = benchmark.run_benchmark(dataset, trackers=("breaks", "kcf"), out=tmp_path)
    assert set(results) == {"kcf"}
    assert read(tmp_path / "status.json") == {
        "breaks": {
            "status": "failed",
            "errors": {"right": "RuntimeError: out of ideas", "late": "RuntimeError: out of ideas"},
        }
    }
    assert "- breaks: failed on right: RuntimeError: out of ideas" in (tmp_path / "report.md").read_text()


def test_sequence_without_a_visible_target_is_left_out(tmp_path, capsys):
    write_sequence(tmp_path / "data", "right", (3, 1))
    write_sequence(tmp_path / "data", "never", (0, 0), absent=range(FRAMES))
    (tmp_path / "data" / "list.txt").write_text("right\nnever\n")
    results = benchmark.run_benchmark(tmp_path / "data", trackers=("mosse",), out=tmp_path / "out")
    assert list(results["mosse"]["sequences"]) == ["right"]
    assert "leaving out never" in capsys.readouterr().err


def test_unavailable_peer_is_skipped_with_its_reason(dataset, tmp_path):
    results = benchmark.run_benchmark(dataset, trackers=("kcf", "nano"), out=tmp_path, peer_models=tmp_path / "none")
    assert set(results) == {"kcf"}
    status = read(tmp_path / "status.json")
    assert status["nano"]["status"] == "skipped" and "--peer-models" in status["nano"]["reason"]
    assert "- nano: skipped, model file" in (tmp_path / "report.md").read_text()


class Scripted(Tracker):
    """A tracker that answers each update from a script of boxes, indexed by frame number."""

    def __init__(self, answers):
        self.answers = answers

    def init(self, frame, box):
        pass

    def update(self, frame):
        return np.array(self.answers.get(int(frame[0, 0, 0]), (10, 10, 10, 10)), float), 1.0


def numbered_sequence(tmp_path, n, boxes):
    """Frames whose first pixel holds their number, so a scripted tracker knows where it is."""
    paths = []
    for i in range(n):
        path = str(tmp_path / f"{i:04d}.png")
        cv2.imwrite(path, np.full((4, 4, 3), i, np.uint8))
        paths.append(path)
    return Sequence("numbered", np.array(boxes, float), paths)


def test_supervised_run_reinitialises_five_frames_after_a_failure(tmp_path):
    boxes = [(10, 10, 10, 10)] * 22
    boxes[12] = boxes[19] = (np.nan,) * 4
    sequence = numbered_sequence(tmp_path, 22, boxes)
    far = (50, 50, 5, 5)
    result, inits, failures = runner.track_supervised(Scripted({3: far, 12: far, 14: far}), sequence)
    # Fails on 3, back on 8; no failure on 12, where the target is absent; fails on 14, due back
    # on 19 but the target is absent there, so back on 20.
    assert inits == [0, 8, 20] and failures == [3, 14]
    assert np.isnan(result[4:8]).all() and np.isnan(result[15:20]).all()
    assert result[3].tolist() == list(far) and result[20].tolist() == [10, 10, 10, 10]


def test_supervised_overlaps_leave_out_burn_in_and_failed_frames():
    n = 30
    gt = np.tile([0.0, 0.0, 10.0, 10.0], (n, 1))
    boxes = np.tile([0.0, 0.0, 10.0, 5.0], (n, 1))  # IoU 0.5 everywhere it tracks
    boxes[3] = (50, 50, 5, 5)
    absent = np.zeros(n, bool)
    absent[20] = True
    ious, fragments = runner.supervised_overlaps(boxes, gt, absent, inits=[0, 8], failures=[3])
    # Counted: after each init's 10 burn-in frames, before its failure, where visible.
    expected = np.full(n, np.nan)
    expected[19:] = 0.5
    expected[20] = np.nan
    np.testing.assert_array_equal(ious, expected)
    assert fragments == [([0.5, 0.5], True), ([0.5] * 20, False)]


def test_vot_run_writes_vot_json_and_a_report_section(dataset, tmp_path):
    benchmark.run_benchmark(dataset, trackers=("kcf",), out=tmp_path, vot=True)
    vot = read(tmp_path / "vot.json")["trackers"]
    assert set(vot["kcf"]) == {"accuracy", "robustness", "eao", "failures", "frames", "sequences"}
    assert 0 < vot["kcf"]["accuracy"] <= 1 and 0 < vot["kcf"]["eao"] <= 1
    assert vot["kcf"]["frames"] == 2 * FRAMES
    assert set(vot["kcf"]["sequences"]) == {"right", "late"}
    assert (tmp_path / "vot" / "kcf" / "right.json").is_file()
    assert "| tracker | accuracy | robustness | EAO | failures |" in (tmp_path / "report.md").read_text()


def test_command_line_flags(dataset, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    args = parser.parse_args(["--dataset", str(dataset), "--trackers", "kcf", "--out", str(tmp_path)])
    assert args.trackers == ["kcf"] and args.workers == 1 and args.format == "auto"
    assert benchmark.main(args) == 0
    assert "| kcf |" in capsys.readouterr().out
    args = parser.parse_args(["--dataset", "x", "--trackers", "siamfc:siamfc_light,siamfc@w.pt,kcf"])
    assert args.trackers == ["siamfc:siamfc_light", "siamfc@w.pt", "kcf"]
    for bad in (["--trackers", "kcf,kfc"], ["--trackers", "kcf@w.pt"], ["--workers", "0"], ["--device", "gpu"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["--dataset", "x", *bad])


def test_several_configurations_of_ours_in_one_run(dataset, tmp_path, counted_runs):
    config = tmp_path / "my configs" / "wide.yaml"
    config.parent.mkdir()
    config.write_text("tracking:\n  window_influence: 0.4\n")
    specs = ("siamfc", "siamfc:siamfc_light", f"siamfc:{config}")
    out = tmp_path / "out"
    results = benchmark.run_benchmark(dataset, trackers=specs, out=out)
    assert set(results) == set(specs) and len(counted_runs) == 6
    folders = ["siamfc", "siamfc_siamfc_light", tracker_specs.folder_name(specs[2])]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(folders)
    made = read(out / "results.json")["provenance"]["trackers"]
    assert made["siamfc:siamfc_light"]["config"].endswith("siamfc_light.yaml")
    assert made["siamfc:siamfc_light"]["weights"].endswith("siamfc_light.pt")
    assert made[f"siamfc:{config}"]["config"] == str(config)
    assert len({made[spec]["setup"] for spec in specs}) == 3
    assert "| siamfc:siamfc_light |" in (out / "report.md").read_text()

    # Each is cached on its own: a rerun does nothing; a new spec has a folder of its own, even for the same files.
    counted_runs.clear()
    benchmark.run_benchmark(dataset, trackers=specs, out=out)
    assert counted_runs == []
    light = resolve_weights("siamfc_light.pt")
    benchmark.run_benchmark(dataset, trackers=(f"siamfc:siamfc_light@{light}", "siamfc"), out=out)
    assert len(counted_runs) == 2 and all(name.endswith("siamfc_light.pt") for name, _ in counted_runs)


def test_specs_that_would_share_a_folder_are_refused(dataset, tmp_path):
    (tmp_path / "a").mkdir()
    for path in (tmp_path / "a" / "b.yaml", tmp_path / "a_b.yaml"):
        path.write_text("tracking:\n  window_influence: 0.4\n")
    specs = (f"siamfc:{tmp_path}/a/b.yaml", f"siamfc:{tmp_path}/a_b.yaml")
    with pytest.raises(UserError, match="would share the folder"):
        benchmark.run_benchmark(dataset, trackers=specs, out=tmp_path / "out")


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_the_frames_read_as_they_are(dataset, tmp_path, workers):
    sequences = load_dataset(dataset)
    built = ("mosse", {"config": None, "weights": None, "peer_models": None, "device": "cpu"})
    jobs = [("ope", "mosse", seq, built, "setup", tmp_path) for seq in sequences]
    ticks = []
    answers = []
    for answer in pool.run_jobs(jobs, workers, benchmark.run_job, ticks.append):
        answers.append((answer, sum(ticks)))
    assert all(error is None for (_, error), _ in answers) and set(ticks) == {1}
    assert sum(ticks) == 2 * FRAMES
    if workers == 1:  # every frame of a run is told before the run's answer
        assert [frames for _, frames in answers] == [FRAMES, 2 * FRAMES]


def test_long_term_figures_where_the_target_leaves_the_view(tmp_path):
    write_sequence(tmp_path / "data", "right", (3, 1))
    write_sequence(tmp_path / "data", "leaves", (2, 2), absent=(6, 7, 8))
    (tmp_path / "data" / "list.txt").write_text("right\nleaves\n")
    benchmark.run_benchmark(tmp_path / "data", trackers=("kcf", "mosse"), out=tmp_path / "out")
    longterm = read(tmp_path / "out" / "longterm.json")
    assert set(longterm) == {"provenance", "trackers"} and set(longterm["trackers"]) == {"kcf", "mosse"}
    for entry in longterm["trackers"].values():
        assert set(entry) == {"precision", "recall", "fscore", "sequences"}
        assert list(entry["sequences"]) == ["right", "leaves"]
        assert all(0 <= row[k] <= 1 for row in [entry, *entry["sequences"].values()] for k in ("precision", "recall"))
        assert 0 < entry["fscore"] <= 1
    assert "| tracker | precision | recall | F-score |" in (tmp_path / "out" / "report.md").read_text()
