import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from tracker import cli, cropcache, weights
from tracker.config import load_config
from tracker.errors import UserError
from tracker.model import SiamFC
from tracker.train import (
    CONFIG_CHOICES,
    DEFAULTS,
    RULES,
    AugmentConfig,
    PairSampler,
    balanced_loss,
    held_out,
    labels,
    load_checkpoint,
    random_affine,
    tracking_config_for,
    train,
    usage_lines,
    video_weights,
    warp,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The tests' tiny light networks start at random: nothing to load, nothing frozen.
RANDOM_START = {"pretrained": "", "freeze_convs": 0, "backbone_lr": 1.0}


def frame_with(rng, texture, box):
    """Noise with `texture` stretched over `box`: a target easy to tell from its background."""
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    x, y, w, h = box
    img[y : y + h, x : x + w] = cv2.resize(texture, (w, h), interpolation=cv2.INTER_NEAREST)
    return img


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny dataset: one 5-frame video and a set of two still images."""
    data = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    texture = lambda: rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)  # noqa: E731
    seq = data / "sequences" / "square"
    os.makedirs(seq)
    boxes = [(40 + 4 * i, 30 + 2 * i, 40, 32) for i in range(5)]
    target = texture()
    writer = cv2.VideoWriter(str(seq / "frames.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for box in boxes:
        writer.write(frame_with(rng, target, box))
    writer.release()
    (seq / "groundtruth.txt").write_text("".join(",".join(map(str, b)) + "\n" for b in boxes))
    (data / "train.txt").write_text("square\n")
    stills = data / "images" / "stills"
    os.makedirs(stills)
    for k in range(2):
        cv2.imwrite(str(stills / f"{k}.jpg"), frame_with(rng, texture(), (50, 40, 48, 36)))
    (stills / "annotations.json").write_text(
        json.dumps([{"file": f"{k}.jpg", "size": [160, 120], "boxes": [[50, 40, 48, 36]]} for k in range(2)])
    )
    return data


@pytest.fixture(scope="module")
def cache(data, tmp_path_factory):
    """A crop cache of `data`, built through cropcache.build, as training does, so the cache lies
    where training looks for it."""
    cache = tmp_path_factory.mktemp("cache")
    paths = cropcache.build(str(data), str(data / "train.txt"), str(cache))
    assert len(paths) == 2
    return cache


def write_config(folder, cache):
    """A tiny run: 2 epochs of 32 pairs on the synthetic cache, the data folder absent."""
    cfg = {
        "model": {"backbone": "light", "width": 0.25},
        "data": {"root": str(folder / "no_data"), "cache": str(cache), "max_set_boxes": 0},
        "train": {
            **RANDOM_START,
            "epochs": 2,
            "pairs_per_epoch": 32,
            "batch_size": 8,
            "threads": 1,
            "lr_end": 0.005,
        },  # the second epoch must still learn, or resuming it proves little
        "out": str(folder / "out"),
    }
    os.makedirs(folder, exist_ok=True)
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def run_train(config, resume=False):
    # train() sets torch's thread count (for determinism); leave the rest of the session as it was.
    threads = torch.get_num_threads()
    try:
        return train(config, resume=resume, log=io.StringIO())
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_a(tmp_path_factory, cache):
    folder = tmp_path_factory.mktemp("a")
    return folder / "out", run_train(write_config(folder, cache))


def test_training_writes_its_outputs(run_a):
    out, history = run_a
    assert len(history["loss"]) == 2 and all(math.isfinite(v) for v in history["loss"])
    for name in ("weights.pt", "loss.png", "history.json", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "history.json").read_text())["loss"] == history["loss"]
    _, meta = weights.load(str(out / "weights.pt"), {"backbone": "light", "width": 0.25})
    assert meta["epochs"] == 2 and meta["pairs"] == 64


def test_killed_run_resumes_to_the_same_result(tmp_path, cache, run_a):
    config = write_config(tmp_path, cache)
    ckpt = tmp_path / "out" / "checkpoint.pt"
    env = dict(os.environ, PYTHONPATH=ROOT)
    with open(tmp_path / "log.txt", "w") as log:
        script = "import sys; from tracker.train import train; train(sys.argv[1])"
        proc = subprocess.Popen([sys.executable, "-c", script, config], cwd=ROOT, env=env, stderr=log)
        try:
            deadline = time.time() + 120
            while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.005)
        finally:
            proc.kill()  # SIGKILL: no chance to clean up, as when a machine dies
            proc.wait()
    assert ckpt.exists(), f"the training subprocess wrote no checkpoint: {(tmp_path / 'log.txt').read_text()[-2000:]}"
    assert load_checkpoint(str(ckpt))["epoch"] == 1, "the kill came too late to interrupt the run"

    resumed = run_train(config, resume=True)
    np.testing.assert_allclose(resumed["loss"], run_a[1]["loss"], atol=1e-5, rtol=0)
    a = torch.load(str(run_a[0] / "weights.pt"), weights_only=True)["state_dict"]
    b = torch.load(str(tmp_path / "out" / "weights.pt"), weights_only=True)["state_dict"]
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-5, rtol=1e-4)


def test_crops_decoded_by_workers_train_as_crops_decoded_up_front(tmp_path, cache, run_a):
    """data.workers keeps the crops compressed and decodes each batch's in worker processes: the same
    pixels, so the same losses and weights."""
    threads = torch.get_num_threads()
    try:
        history = train(write_config(tmp_path, cache), log=io.StringIO(), overrides=["data.workers=2"])
    finally:
        torch.set_num_threads(threads)
    assert history["loss"] == run_a[1]["loss"]
    a = torch.load(str(run_a[0] / "weights.pt"), weights_only=True)["state_dict"]
    b = torch.load(str(tmp_path / "out" / "weights.pt"), weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_corrupt_checkpoint_is_refused(tmp_path, cache, run_a):
    config = write_config(tmp_path, cache)
    blob = bytearray((run_a[0] / "checkpoint.pt").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    os.makedirs(tmp_path / "out")
    (tmp_path / "out" / "checkpoint.pt").write_bytes(bytes(blob))
    with pytest.raises(UserError, match="corrupt"):
        run_train(config, resume=True)


def test_existing_checkpoint_needs_resume(tmp_path, cache):
    config = write_config(tmp_path, cache)
    os.makedirs(tmp_path / "out")
    (tmp_path / "out" / "checkpoint.pt").write_bytes(b"x")
    with pytest.raises(UserError, match="--resume"):
        run_train(config)


def test_pair_sampler():
    # Groups 0 and 1 are videos (every 2nd frame cached), group 2 three still images.
    groups = np.array([0] * 100 + [1] * 30 + [2] * 3)
    frames = np.concatenate([np.arange(0, 200, 2), np.arange(0, 60, 2), np.arange(3)])
    still = groups == 2
    sampler = PairSampler(groups, frames, still, max_gap=10, image_prob=0.2, negative_prob=0.3)
    z, x, negative = sampler.sample(3000, np.random.default_rng(0))
    positive = ~negative
    from_video = positive & ~still[z]
    assert negative.sum() > 500 and still[z][positive].sum() > 300 and from_video.sum() > 1000
    assert np.all(groups[z][negative] != groups[x][negative])
    assert np.all(x[positive & still[z]] == z[positive & still[z]])
    assert np.all(groups[x][from_video] == groups[z][from_video])
    gaps = np.abs(frames[x] - frames[z])[from_video]
    assert gaps.max() == 10  # the limit is reached and never passed


def test_distractors_come_from_the_exemplars_own_image_set():
    # Group 0 a video, groups 1 and 2 still-image sets of 4 and 3 boxes.
    groups = np.array([0] * 20 + [1] * 4 + [2] * 3)
    frames = np.concatenate([np.arange(20), np.arange(4), np.arange(3)])
    still = groups > 0
    sampler = PairSampler(groups, frames, still, max_gap=5, image_prob=0.5, negative_prob=1.0, distractor_prob=1.0)
    z, x, negative = sampler.sample(4000, np.random.default_rng(1))
    from_stills = still[z] & negative
    assert from_stills.sum() > 1000
    # Every negative of a still exemplar is another box of its own set; never the box itself.
    assert np.all(groups[x][from_stills] == groups[z][from_stills])
    assert np.all(x[from_stills] != z[from_stills])
    # Video exemplars still take their negatives from other groups: their own video shows the target.
    video_neg = ~still[z] & negative
    assert video_neg.sum() > 300 and np.all(groups[x][video_neg] != groups[z][video_neg])
    # A draw of the exemplar itself is left positive, and is then a positive pair.
    assert np.all(x[still[z] & ~negative] == z[still[z] & ~negative])
    # Without distractors, no still exemplar meets its own set.
    sampler.distractor_prob = 0.0
    z, x, negative = sampler.sample(4000, np.random.default_rng(1))
    assert np.all(groups[x][negative] != groups[z][negative])


def test_fine_tuning_starts_from_the_given_weights(tmp_path, cache):
    start = tmp_path / "start.pt"
    torch.manual_seed(3)
    weights.save(str(start), SiamFC("light", 0.25), {"backbone": "light", "width": 0.25})
    path = write_config(tmp_path, cache)
    config = tmp_path / "train.yaml"
    cfg = yaml.safe_load(config.read_text())
    # A learning rate of ~0 and no decay: the weights trained must be the ones started from.
    cfg["train"].update(start_from=str(start), epochs=1, lr=1e-12, lr_end=1e-12, weight_decay=0.0)
    config.write_text(yaml.safe_dump(cfg))
    run_train(path)
    got, _ = weights.load(str(tmp_path / "out" / "weights.pt"))
    want, _ = weights.load(str(start))
    for (name, a), b in zip(got.state_dict().items(), want.state_dict().values()):
        if "running" not in name and "num_batches" not in name:  # batchnorm statistics move with no lr
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    cfg["train"]["start_from"] = str(tmp_path / "missing.pt")
    cfg["out"] = str(tmp_path / "out2")
    config.write_text(yaml.safe_dump(cfg))
    with pytest.raises(UserError, match="weights file not found"):
        run_train(path)


def test_training_at_smaller_input_sizes_records_them(tmp_path, cache):
    config = tmp_path / "train.yaml"
    write_config(tmp_path, cache)
    cfg = yaml.safe_load(config.read_text())
    cfg["train"].update(epochs=1, exemplar_size=95, instance_size=191)
    config.write_text(yaml.safe_dump(cfg))
    run_train(str(config))
    net, meta = weights.load(str(tmp_path / "out" / "weights.pt"))
    assert (meta["exemplar_size"], meta["instance_size"]) == (95, 191)
    with torch.inference_mode():  # 95 px -> 4x4 cells, 191 px -> 16x16: a 13x13 response
        assert net.eval()(torch.zeros(1, 3, 95, 95), torch.zeros(1, 3, 191, 191)).shape == (1, 1, 13, 13)


@pytest.mark.parametrize(
    "sizes,problem",
    [
        ((127, 250), "plus a multiple of 8"),
        ((135, 127), "plus a multiple of 8"),
        ((31, 159), "too small for the backbone"),
    ],
)
def test_input_sizes_the_network_cannot_take_are_refused(tmp_path, cache, sizes, problem):
    config = tmp_path / "train.yaml"
    write_config(tmp_path, cache)
    cfg = yaml.safe_load(config.read_text())
    cfg["train"].update(exemplar_size=sizes[0], instance_size=sizes[1])
    config.write_text(yaml.safe_dump(cfg))
    with pytest.raises(UserError, match=problem) as e:
        run_train(str(config))
    assert "\n" not in str(e.value) and not (tmp_path / "out" / "checkpoint.pt").exists()


def test_labels_hand_computed():
    # 5x5 map, radius 8 px = 1 cell; target 8 px right of the centre = one cell right.
    expected = np.array(
        [[0, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 1, 1, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0]], np.float32
    )
    out = labels(torch.tensor([[8.0, 0.0], [0.0, 0.0]]), 5, 8)
    assert out.shape == (2, 1, 5, 5)
    np.testing.assert_array_equal(out[0, 0].numpy(), expected)
    np.testing.assert_array_equal(out[1, 0].numpy(), np.roll(expected, -1, axis=1))


def test_labels_disc_on_the_response_map():
    # r_pos 16 px = 2 cells: the lattice points within distance 2 of the centre are 13.
    out = labels(torch.tensor([[16.0, -8.0]]), 17, 16)[0, 0]
    ys, xs = np.nonzero(out.numpy())
    assert len(ys) == 13
    assert (xs.mean(), ys.mean()) == (10, 7)  # centre (8, 8) moved 2 cells right, 1 cell up


@pytest.mark.parametrize("out_size", [255, 191])
def test_random_affine_reports_where_the_target_lands(out_size):
    # At 191 px the same 255 px region is shown shrunk: the blob and its offsets shrink by 191/255.
    C = cropcache.CROP
    crops = np.zeros((6, 1, C, C), np.float32)
    crops[:, :, C // 2 - 4 : C // 2 + 5, C // 2 - 4 : C // 2 + 5] = 1  # a 9x9 blob on the crop centre
    aug = AugmentConfig(**{**DEFAULTS["augment"], "scale": 0.05, "aspect": 0.05, "flip": 0.5})
    theta, centre = random_affine(6, out_size, 255, C, aug, 16, torch.Generator().manual_seed(0), "cpu")
    out = warp(torch.from_numpy(crops).expand(-1, 3, -1, -1), theta, out_size)[:, 0].numpy()
    rows, cols = np.indices((out_size, out_size)) + 0.5
    shrink = out_size / 255
    for k in range(6):
        mass = out[k].sum()
        # Output pixels per crop pixel, squared; point-sampling a shrunk blob keeps its area to a few %.
        area = float((out_size / (C * abs(theta[k, 0, 0]))) * (out_size / (C * abs(theta[k, 1, 1]))))
        assert mass == pytest.approx(81 * area, rel=0.08)
        found = ((out[k] * cols).sum() / mass - out_size / 2, (out[k] * rows).sum() / mass - out_size / 2)
        np.testing.assert_allclose(found, centre[k].numpy(), atol=0.25)
    assert centre.abs().max() > 4 * shrink  # the shift really moved the targets
    assert centre.abs().max() <= 16 * shrink * 1.06 + 0.01  # 16 crop px at most, seen shrunk


def test_balanced_loss_hand_computed():
    bce = lambda logit, y: math.log1p(math.exp(-logit if y else logit))  # noqa: E731
    # Item 1: one positive (logit 2) and eight negatives (logit -1): half the weight each.
    # Item 2: a negative pair (no positives): every cell 1/9.
    logits = torch.tensor(
        [[[[-1, -1, -1], [-1, 2, -1], [-1, -1, -1]]], [[[0, 0, 0], [0, 0, 0], [3, 3, 3]]]], dtype=torch.float32
    )
    target = torch.zeros(2, 1, 3, 3)
    target[0, 0, 1, 1] = 1
    first = 0.5 * bce(2, 1) + 0.5 * bce(-1, 0)
    second = (6 * bce(0, 0) + 3 * bce(3, 0)) / 9
    assert balanced_loss(logits, target).item() == pytest.approx((first + second) / 2, rel=1e-6)


def test_bf16_forward_pass_trains_alike(tmp_path, cache, run_a):
    # The same seed and pairs as run_a, the forward pass in bfloat16: a loss that differs (bf16 was
    # used) but by little, and weights stored in float32 as ever.
    path = write_config(tmp_path, cache)
    cfg = yaml.safe_load((tmp_path / "train.yaml").read_text())
    cfg["train"]["bf16"] = True
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    history = run_train(path)
    fp32 = run_a[1]["loss"]
    assert all(0 < abs(a - b) < 0.02 * b for a, b in zip(history["loss"], fp32)), (history["loss"], fp32)
    net, _ = weights.load(str(tmp_path / "out" / "weights.pt"))
    assert all(p.dtype == torch.float32 for p in net.state_dict().values() if p.is_floating_point())


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("train", "batch_size", -4),
        ("train", "batch_size", 0),
        ("train", "epochs", 0),
        ("train", "lr", 0.0),
        ("train", "pairs_per_epoch", 4),
        ("data", "frame_stride", 0),
        ("augment", "flip", 1.5),
        ("model", "width", 0.0),
    ],
)
def test_impossible_training_values_are_refused_before_any_work(tmp_path, cache, section, key, value):
    config = tmp_path / "train.yaml"
    write_config(tmp_path, cache)
    cfg = yaml.safe_load(config.read_text())
    cfg.setdefault(section, {})[key] = value
    config.write_text(yaml.safe_dump(cfg))
    with pytest.raises(UserError) as e:
        run_train(str(config))
    message = str(e.value)
    assert "\n" not in message and f"'{section}.{key}'" in message and f"is {value!r}" in message
    assert not (tmp_path / "out").exists()


def resume_with(tmp_path, run_a, cache, changes):
    """Resume run_a's checkpoint under its config with `changes` ({(section, key): value})."""
    config = tmp_path / "train.yaml"
    write_config(tmp_path, cache)
    os.makedirs(tmp_path / "out")
    shutil.copy(run_a[0] / "checkpoint.pt", tmp_path / "out" / "checkpoint.pt")
    cfg = yaml.safe_load(config.read_text())
    cfg["data"]["root"] = str(run_a[0].parent / "no_data")  # as run_a had it
    for (section, key), value in changes.items():
        cfg.setdefault(section, {})[key] = value
    config.write_text(yaml.safe_dump(cfg))
    return run_train(str(config), resume=True)


@pytest.mark.parametrize(
    "changes",
    [
        {("model", "width"): 0.5},
        {("train", "backbone_lr"): 0.5},
        {("train", "batch_size"): 4},
        {("augment", "shift"): 8},
    ],
)
def test_resume_with_a_config_the_checkpoint_cannot_continue_is_refused(tmp_path, cache, run_a, changes):
    with pytest.raises(UserError) as e:
        resume_with(tmp_path, run_a, cache, changes)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"checkpoint {tmp_path / 'out' / 'checkpoint.pt'} cannot")
    for (section, key), value in changes.items():
        assert f"{section}.{key} (" in message and f"now {value!r})" in message
    assert os.listdir(tmp_path / "out") == ["checkpoint.pt"]  # refused before any work


def test_resume_may_extend_the_epochs_and_change_the_threads(tmp_path, cache, run_a):
    history = resume_with(tmp_path, run_a, cache, {("train", "epochs"): 3, ("train", "threads"): 2})
    assert history["loss"][:2] == run_a[1]["loss"] and len(history["loss"]) == 3


def test_damaged_or_unchecked_cached_crops_are_built_again(data, tmp_path, capfd):
    paths = cropcache.build(str(data), str(data / "train.txt"), str(tmp_path))
    crops = cropcache.load(paths)[0]
    damaged = bytearray(Path(paths[0]).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    Path(paths[0]).write_bytes(damaged)
    # As written before the checksum: the .npz alone.
    Path(paths[1]).write_bytes(Path(paths[1]).read_bytes().partition(b"\n")[2])
    with pytest.raises(UserError, match="damaged or from an older siamtrack; set data.root"):
        cropcache.load(cropcache.build(str(tmp_path / "no_data"), "", str(tmp_path)))  # nothing to build from
    capfd.readouterr()
    assert cropcache.build(str(data), str(data / "train.txt"), str(tmp_path)) == paths
    err = capfd.readouterr().err
    assert "crop cache: 2 cached file(s) damaged or from an older siamtrack" in err and "Traceback" not in err
    np.testing.assert_array_equal(cropcache.load(paths)[0], crops)


def test_the_plainest_shipped_tracking_config_is_named_for_new_weights():
    assert tracking_config_for({"backbone": "mobilenet_v1_deep", "width": 0.5}) == "siamfc"
    assert tracking_config_for({"backbone": "mobilenet_v1", "width": 0.5}) == "siamfc_mobilenet"
    assert tracking_config_for({"backbone": "light", "width": 1.0}) == "siamfc_light"  # not 5s, fast or onepass
    assert tracking_config_for({"backbone": "alexnet", "width": 1.0}) == "siamfc_alexnet"
    assert tracking_config_for({"backbone": "light", "width": 0.25}) is None


def test_train_command_takes_overrides_and_says_how_to_use_the_weights(tmp_path, cache, capfd):
    config = write_config(tmp_path, cache)
    out = tmp_path / "elsewhere"
    threads = torch.get_num_threads()
    try:
        assert cli.main(["train", "--config", config, "--set", "train.epochs=1", f"out={out}"]) == 0
    finally:
        torch.set_num_threads(threads)
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 1  # one epoch, not the file's two
    err = capfd.readouterr().err
    weights = out / "weights.pt"
    assert f"track with them:      python run_tracker.py track VIDEO --bbox X,Y,W,H --weights {weights}" in err
    assert "no shipped tracking config has model {'backbone': 'light', 'width': 0.25}" in err


def got10k_folder(root, names=("seq_a", "seq_b"), frames=4):
    """A GOT-10k-layout training folder: list.txt, and a folder of PNG frames with
    groundtruth.txt and absence.label per sequence, a textured square moving over noise."""
    rng = np.random.default_rng(3)
    texture = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        boxes = []
        for i in range(frames):
            box = (20 + 4 * i, 30, 40, 32)
            cv2.imwrite(str(folder / f"{i + 1:08d}.png"), frame_with(rng, texture, box))
            boxes.append(",".join(map(str, box)))
        (folder / "groundtruth.txt").write_text("\n".join(boxes) + "\n")
        (folder / "absence.label").write_text("0\n" * frames)
    (root / "list.txt").write_text("\n".join(names) + "\n")
    return root


def train_on(data, tmp_path, overrides=()):
    """One short epoch on `data` (the config's data section), then `overrides`: the log and history."""
    cfg = {
        "model": {"backbone": "light", "width": 0.25},
        "data": {"images": False, "max_set_boxes": 0, "cache": str(tmp_path / "cache"), "split": "", **data},
        "train": {**RANDOM_START, "epochs": 1, "pairs_per_epoch": 16, "batch_size": 8, "threads": 1},
        "out": str(tmp_path / "out"),
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    log = io.StringIO()
    threads = torch.get_num_threads()
    try:
        history = train(str(path), log=log, overrides=overrides)
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "out" / "weights.pt").is_file()
    return log.getvalue(), history


def trained_on(log):
    return next(line for line in log.splitlines() if line.startswith("training on"))


def test_training_reads_a_got10k_folder(tmp_path):
    root = got10k_folder(tmp_path / "got10k")
    log, _ = train_on({"root": str(root)}, tmp_path)
    assert trained_on(log) == "training on 8 crops (0 from still images) from 2 groups"


def test_training_reads_coco_boxes_as_still_images(tmp_path):
    root = got10k_folder(tmp_path / "got10k", names=("seq_a",))
    coco_dir = tmp_path / "coco"
    coco_dir.mkdir()
    rng = np.random.default_rng(4)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(coco_dir / name), rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    coco = {
        "images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "traffic light"}],
        "annotations": [
            {"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 30], "iscrowd": 0},
            {"image_id": 2, "category_id": 1, "bbox": [50, 20, 30, 30], "iscrowd": 0},
            {"image_id": 2, "category_id": 2, "bbox": [90, 40, 20, 50], "iscrowd": 0},
            {"image_id": 1, "category_id": 2, "bbox": [0, 0, 100, 100], "iscrowd": 1},  # crowd: left out
            {"image_id": 1, "category_id": 2, "bbox": [5, 5, 3, 3], "iscrowd": 0},  # under 8 px: left out
        ],
    }
    (coco_dir / "instances.json").write_text(json.dumps(coco))
    data = {"root": str(root), "format": "got10k", "coco": str(coco_dir / "instances.json")}
    # 4 frames of the sequence, then a set per category: cat (2 boxes), traffic_light (1).
    assert trained_on(train_on(data, tmp_path)[0]) == "training on 7 crops (3 from still images) from 3 groups"
    names = sorted(p.name for p in (tmp_path / "cache").rglob("*.npz"))
    assert names == ["coco_cat.npz", "coco_traffic_light.npz", "seq_a.npz"]


def test_sources_are_mixed_by_weight(tmp_path):
    """A GOT-10k folder of two sequences and one of ours (the data.root) of one, weighted 3 to 1:
    three quarters of the video pairs from the GOT-10k folder, half from each of its sequences."""
    got = got10k_folder(tmp_path / "got10k")
    ours = got10k_folder(tmp_path / "ours", names=("seq_c",))
    sources = [{"root": str(got), "weight": 3.0}]
    log, _ = train_on({"root": str(ours), "weight": 1.0, "sources": sources}, tmp_path)
    assert trained_on(log) == "training on 12 crops (0 from still images) from 3 groups"
    paths = sorted(str(p) for p in (tmp_path / "cache").rglob("*.npz"))
    weights = video_weights(paths, [{"root": str(ours), "weight": 1.0}, {"root": str(got), "weight": 3.0}])
    names = [os.path.basename(p) for p in paths]
    assert dict(zip(names, weights)) == {"seq_a.npz": 1.5, "seq_b.npz": 1.5, "seq_c.npz": 1.0}
    groups = np.repeat([0, 1, 2], 4)
    sampler = PairSampler(groups, np.tile(np.arange(4), 3), np.zeros(12, bool), 10, 0.0, 0.0, video_weights=weights)
    z, _, _ = sampler.sample(20000, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(groups[z]) / 20000, [0.375, 0.375, 0.25], atol=0.01)


@pytest.mark.parametrize(
    "sources, problem",
    [
        (["/data/got10k"], r"data.sources\[0\] .* must be a mapping"),
        ([{"rot": "/data"}], r"unknown config key 'data.sources\[0\].rot'"),
        ([{"root": "/data", "weight": 0}], r"data.sources\[0\] .* a weight above 0"),
        ([{"root": "/no/such/folder"}], r"not found: /no/such/folder; check the roots in data.sources"),
    ],
)
def test_a_bad_source_is_a_one_line_error(tmp_path, sources, problem):
    root = got10k_folder(tmp_path / "got10k", names=("seq_a",))
    with pytest.raises(UserError, match=problem) as e:
        train_on({"root": str(root), "sources": sources}, tmp_path)
    assert "\n" not in str(e.value)


def test_equal_weights_draw_the_pairs_drawn_without_them():
    groups, frames = np.repeat([0, 1, 2], 4), np.tile(np.arange(4), 3)
    plain = PairSampler(groups, frames, np.zeros(12, bool), 10, 0.0, 0.4)
    weighted = PairSampler(groups, frames, np.zeros(12, bool), 10, 0.0, 0.4, video_weights=[2.0, 2.0, 2.0])
    a, b = plain.sample(50, np.random.default_rng(1)), weighted.sample(50, np.random.default_rng(1))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_file_that_is_not_coco_is_a_one_line_error(tmp_path):
    root = got10k_folder(tmp_path / "got10k", names=("seq_a",))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"file": "a.png", "boxes": []}]))
    with pytest.raises(UserError, match="is not a COCO detection file"):
        train_on({"root": str(root), "coco": str(bad)}, tmp_path)


def test_the_commands_for_new_weights_name_a_config_only_where_needed():
    default = usage_lines("w.pt", {"backbone": "mobilenet_v1_deep", "width": 0.5})
    assert default[0].endswith("track VIDEO --bbox X,Y,W,H --weights w.pt") and "--trackers siamfc@w.pt," in default[1]
    light = usage_lines("w.pt", {"backbone": "light", "width": 1.0})
    assert "--config siamfc_light --weights w.pt" in light[0] and "--trackers siamfc:siamfc_light@w.pt," in light[1]


def test_held_out_sequences_are_every_nth_and_never_still_images():
    groups = np.array([0, 0, 1, 1, 2, 3, 3, 4])
    still = np.array([False, False, False, False, True, False, False, False])
    # Videos 0, 1, 3, 4; every 2nd held out: 1 and 4. The still-image set 2 always trains.
    np.testing.assert_array_equal(held_out(groups, still, 0.5), [0, 0, 1, 1, 0, 0, 0, 1])
    assert not held_out(groups, still, 0.0).any()


def test_a_validation_loss_each_epoch_on_held_out_sequences(tmp_path):
    root = got10k_folder(tmp_path / "got10k", names=("seq_a", "seq_b", "seq_c", "seq_d"))
    overrides = ["train.epochs=2", "data.val_fraction=0.5", "data.val_pairs=12"]
    log, history = train_on({"root": str(root)}, tmp_path, overrides)
    assert "validating on 2 held-out sequences (8 crops)" in log and "training on 16 crops" in log
    assert len(history["val_loss"]) == 2 and all(math.isfinite(v) for v in history["val_loss"])
    # The held-out sequences' frames are there: each epoch also tracks them for a quick AUC.
    assert len(history["val_auc"]) == 2 and all(0 <= v <= 1 for v in history["val_auc"])
    losses = f"training loss {history['loss'][1]:.4f}, validation loss {history['val_loss'][1]:.4f}"
    assert f"epoch 2: {losses}, quick AUC on them" in log
    assert json.loads((tmp_path / "out" / "history.json").read_text())["val_loss"] == history["val_loss"]
    # Without held-out sequences, no validation.
    plain = run_train(write_config(tmp_path / "plain", tmp_path / "cache"))
    assert plain["val_loss"] == [] and plain["val_auc"] == []


def torchrun(config, *extra, processes=2):
    """run_tracker.py train in `processes` processes under torchrun, as on a multi-GPU machine."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command += [os.path.join(ROOT, "run_tracker.py"), "train", "--config", config, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory, cache):
    folder = tmp_path_factory.mktemp("two")
    done = torchrun(write_config(folder, cache))
    assert done.returncode == 0, done.stderr[-2000:]
    return folder / "out", done


def test_two_processes_follow_one_process_loss_curve(two_processes, run_a):
    """The same global batch of the same pairs, each process making and scoring half of it, DDP
    averaging the gradients: one process's losses, up to the BatchNorms, which see half a batch
    each (measured: within 0.15%)."""
    out, done = two_processes
    two = json.loads((out / "history.json").read_text())["loss"]
    np.testing.assert_allclose(two, run_a[1]["loss"], rtol=0.01)
    assert (done.stdout + done.stderr).count("wrote ") == 1  # one process writes and speaks


def test_killed_processes_resume_to_the_same_result(tmp_path, cache, two_processes):
    config = write_config(tmp_path, cache)
    ckpt = tmp_path / "out" / "checkpoint.pt"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += [os.path.join(ROOT, "run_tracker.py"), "train", "--config", config]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.time() + 120
        while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # every process at once, as when the machine dies
        proc.wait()
    assert load_checkpoint(str(ckpt))["epoch"] == 1, "the kill came too late to interrupt the run"
    done = torchrun(config, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = json.loads((tmp_path / "out" / "history.json").read_text())["loss"]
    uninterrupted = json.loads((two_processes[0] / "history.json").read_text())["loss"]
    np.testing.assert_allclose(resumed, uninterrupted, atol=1e-5, rtol=0)


def test_frozen_layers_train_in_two_processes(tmp_path, cache, run_a):
    """As the shipped recipe freezes its first convolutions: no gradient for DDP to wait on there."""
    start = f"train.start_from={run_a[0] / 'weights.pt'}"  # frozen layers need weights to keep
    done = torchrun(write_config(tmp_path, cache), "--set", "train.freeze_convs=3", start, "train.epochs=1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(json.loads((tmp_path / "out" / "history.json").read_text())["loss"]) == 1


def test_a_batch_that_does_not_split_over_the_processes_is_refused(tmp_path, cache):
    done = torchrun(write_config(tmp_path, cache), "--set", "train.batch_size=7")
    assert done.returncode != 0
    assert "train.batch_size 7 does not split evenly over 2 processes" in done.stderr


def load_training_config(tmp_path, text):
    (tmp_path / "mine.yaml").write_text(text)
    return load_config(str(tmp_path / "mine.yaml"), DEFAULTS, CONFIG_CHOICES, RULES)


def test_a_training_config_states_only_what_differs_from_train_yaml(tmp_path):
    cfg = load_training_config(tmp_path, "data:\n  root: /data/mine\ntrain:\n  epochs: 3\n")
    assert (cfg["data"]["root"], cfg["train"]["epochs"]) == ("/data/mine", 3)
    # The rest is the default weights' recipe: pretrained MobileNet, its first layers frozen.
    assert cfg["model"]["backbone"] == "mobilenet_v1_deep" and cfg["train"]["freeze_convs"] == 9
    assert os.path.basename(cfg["train"]["pretrained"]) == "mobilenet_v1_0.5_160_quant.tflite"


def test_layers_frozen_at_random_weights_are_refused(tmp_path):
    with pytest.raises(UserError, match=r"'train.freeze_convs' in .*mine.yaml is 9 .*frozen, they learn nothing"):
        load_training_config(tmp_path, 'model:\n  backbone: light\ntrain:\n  pretrained: ""\n')
    cfg = load_training_config(tmp_path, 'model:\n  backbone: light\ntrain:\n  pretrained: ""\n  freeze_convs: 0\n')
    assert cfg["train"]["freeze_convs"] == 0
