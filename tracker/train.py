"""Training: pairs of crops of one target, SiamFC's balanced logistic loss, SGD.

Pairs come from two frames of one sequence at most `max_gap` apart, or from one still image seen
twice through different augmentations. Augmentation runs batched in torch (one affine warp per
crop), so the same code feeds a CPU or a GPU.
"""

import collections
import copy
import dataclasses
import io
import itertools
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import cropcache
from . import weights as weights_io
from .architecture import CONFIG_CHOICES, PRETRAINED_BACKBONES, TOTAL_STRIDE
from .config import CONFIG_DIR, at_least, between, load_config, merge, read_yaml, shipped_configs
from .errors import UserError
from .fileio import atomic_path, read_verified, remove_stale_temporaries, writable_folder, write_json, write_verified
from .model import SiamFC, load_mobilenet_v1
from .params import DEFAULT_CONFIG as TRACKING_CONFIG
from .progress import Progress


# The training config, typed. Its values live in one place, configs/train.yaml (what each means is
# said there); every other training YAML states what differs from it.
@dataclass
class DataConfig:
    """Where the training pairs come from, and how they are drawn."""

    root: str
    format: str
    split: str
    images: bool
    weight: float
    sources: list
    coco: str
    coco_images: str
    cache: str
    workers: int
    frame_stride: int
    max_set_boxes: int
    jpeg_quality: int
    max_gap: int
    image_prob: float
    negative_prob: float
    distractor_prob: float
    val_fraction: float
    val_pairs: int
    val_frames: int


@dataclass
class AugmentConfig:
    """How the training crops are jittered."""

    shift: int
    scale: float
    aspect: float
    flip: float
    color: float
    gray: float
    blur: float


@dataclass
class OptimConfig:
    """The optimisation: epochs, batches, learning rates, where the weights start."""

    pretrained: str
    start_from: str
    freeze_convs: int
    backbone_lr: float
    epochs: int
    pairs_per_epoch: int
    batch_size: int
    lr: float
    lr_end: float
    momentum: float
    weight_decay: float
    r_pos: int
    seed: int
    threads: int
    bf16: bool
    exemplar_size: int
    instance_size: int


@dataclass
class TrainingConfig:
    """A training config: the network, the data, the augmentation, the optimisation, the output folder."""

    model: dict
    data: DataConfig
    augment: AugmentConfig
    train: OptimConfig
    out: str

    @classmethod
    def from_dict(cls, cfg):
        """The config of a load_config dict (checked against DEFAULTS)."""
        parts = {"data": DataConfig, "augment": AugmentConfig, "train": OptimConfig}
        return cls(model=dict(cfg["model"]), out=cfg["out"], **{k: kind(**cfg[k]) for k, kind in parts.items()})

    def as_dict(self):
        return dataclasses.asdict(self)


DEFAULT_CONFIG = os.path.join(CONFIG_DIR, "train.yaml")
DEFAULTS = read_yaml(DEFAULT_CONFIG)  # every key's default, and the schema load_config checks a YAML file against
QUICK_AUC_SEQUENCES = 8  # held-out sequences tracked for the quick AUC, at most
# What the values may be, beyond their types (see config.check_rules); train.exemplar_size and
# instance_size depend on the backbone (check_train_sizes).
RULES = (
    (("model.width",), lambda w: w > 0, "more than 0, e.g. 1.0"),
    at_least("data.frame_stride", 1),
    at_least("data.max_set_boxes", 0),
    between("data.jpeg_quality", 1, 100),
    at_least("data.max_gap", 0),
    at_least("data.workers", 0),
    between("data.image_prob", 0, 1),
    between("data.negative_prob", 0, 1),
    between("data.distractor_prob", 0, 1),
    (("data.weight",), lambda w: w > 0, "more than 0, e.g. 1.0"),
    (("data.val_fraction",), lambda v: 0 <= v < 1, "0 or more and less than 1, e.g. 0.1"),
    at_least("data.val_pairs", 1),
    at_least("data.val_frames", 0),
    at_least("augment.shift", 0),
    at_least("augment.scale", 0),
    at_least("augment.aspect", 0),
    between("augment.flip", 0, 1),
    between("augment.color", 0, 1),
    between("augment.gray", 0, 1),
    between("augment.blur", 0, 1),
    at_least("train.epochs", 1),
    at_least("train.batch_size", 1),
    (
        ("train.pairs_per_epoch", "train.batch_size"),
        lambda pairs, batch: pairs >= batch,
        "train.batch_size or more: an epoch is whole batches",
    ),
    (("train.lr",), lambda lr: lr > 0, "more than 0, e.g. 0.01"),
    (("train.lr_end",), lambda lr: lr > 0, "more than 0, e.g. 1e-5"),
    (("train.momentum",), lambda m: 0 <= m < 1, "0 or more and less than 1, e.g. 0.9"),
    at_least("train.weight_decay", 0),
    at_least("train.r_pos", 0),
    at_least("train.seed", 0),
    at_least("train.threads", 0),
    at_least("train.backbone_lr", 0),
    (
        ("train.freeze_convs", "train.pretrained", "train.start_from"),
        lambda frozen, pretrained, start_from: frozen == 0 or bool(pretrained or start_from),
        "0 where the weights start at random (train.pretrained and train.start_from empty): frozen, they learn nothing",
    ),
)


class PairSampler:
    """Indices of (exemplar, search) crops and a flag for negative pairs, reproducible per epoch.

    Crops of one group are stored in frame order, so the partners of crop i within `max_gap`
    frames form one index range [lo[i], hi[i]); sampling is then a few vector operations.
    `video_weights` (by group id; None: all 1) weighs how often each video is drawn.
    """

    def __init__(
        self, groups, frames, still, max_gap, image_prob, negative_prob, distractor_prob=0.0, video_weights=None
    ):
        self.groups, self.still = groups, still
        self.image_prob, self.negative_prob, self.distractor_prob = image_prob, negative_prob, distractor_prob
        self.group_start = np.searchsorted(groups, groups, "left")
        self.group_len = np.searchsorted(groups, groups, "right") - self.group_start
        key = groups * (frames.max() + 2 * max_gap + 2) + frames
        self.lo = np.searchsorted(key, key - max_gap, "left")
        self.hi = np.searchsorted(key, key + max_gap, "right")
        videos = np.unique(groups[~still])
        self.video_start = np.searchsorted(groups, videos, "left")
        self.video_len = np.searchsorted(groups, videos, "right") - self.video_start
        weights = None if video_weights is None else np.asarray(video_weights, np.float64)[videos]
        # Equal weights draw as before the weights existed: the same pairs for the same seed.
        self.video_p = None if weights is None or np.ptp(weights) == 0 else weights / weights.sum()
        self.stills = np.flatnonzero(still)

    def sample(self, n, rng):
        z = x = self.stills[rng.integers(len(self.stills), size=n)] if len(self.stills) else np.zeros(n, np.int64)
        if len(self.video_start):
            if self.video_p is None:
                v = rng.integers(len(self.video_start), size=n)
            else:
                v = rng.choice(len(self.video_start), size=n, p=self.video_p)
            vz = self.video_start[v] + (rng.random(n) * self.video_len[v]).astype(np.int64)
            vx = self.lo[vz] + (rng.random(n) * (self.hi[vz] - self.lo[vz])).astype(np.int64)
            video = rng.random(n) >= (self.image_prob if len(self.stills) else 0)
            z, x = np.where(video, vz, z), np.where(video, vx, x)
        other = rng.integers(len(self.groups), size=n)
        # A draw of the exemplar's own target would not be a negative: that pair stays positive.
        different = self.groups[other] != self.groups[z]
        if self.distractor_prob > 0:  # (drawing nothing more otherwise keeps older recipes' pairs)
            # Distractors: another box of the exemplar's own image set, an object of the same kind
            # (another dog, another fish), the hardest negatives the data holds.
            own = self.group_start[z] + (rng.random(n) * self.group_len[z]).astype(np.int64)
            other = np.where(self.still[z] & (rng.random(n) < self.distractor_prob), own, other)
            # Within a still-image set every box is another object; within a video, the same one.
            different = (self.groups[other] != self.groups[z]) | (self.still[z] & (other != z))
        negative = (rng.random(n) < self.negative_prob) & different
        return z, np.where(negative, other, x), negative


def random_affine(n, out_size, region, crop_size, aug, shift, g, device):
    """Warps to an `out_size` px view of the crop's central `region` px with scale/aspect jitter,
    shift (in crop px) and flip, and where the target centre lands, in output pixels from the centre."""
    r = lambda: torch.rand(n, generator=g, device=device) * 2 - 1  # noqa: E731 - uniform(-1, 1)
    zoom = torch.exp(r() * math.log1p(aug.scale))
    aspect = torch.exp(r() * math.log1p(aug.aspect))
    ax = region / (crop_size * zoom * aspect)
    ay = region / (crop_size * zoom / aspect)
    flip = torch.rand(n, generator=g, device=device) < aug.flip
    ax = torch.where(flip, -ax, ax)
    tx, ty = r() * shift * 2 / crop_size, r() * shift * 2 / crop_size
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = ax, tx, ay, ty
    centre = torch.stack([-tx / ax, -ty / ay], 1) * out_size / 2
    return theta, centre


def warp(crops, theta, out_size):
    grid = F.affine_grid(theta, (len(crops), 3, out_size, out_size), align_corners=False)
    return F.grid_sample(crops, grid, mode="bilinear", padding_mode="border", align_corners=False)


def photometric_draws(n, aug, g, device):
    """The random part of photometric() for n images: colour gains, which turn gray, which blur."""
    u = lambda *s: torch.rand(*s, generator=g, device=device)  # noqa: E731
    gain = (1 + (u(n, 1, 1, 1) * 2 - 1) * aug.color) * (1 + (u(n, 3, 1, 1) * 2 - 1) * aug.color / 2)
    gray = u(n, 1, 1, 1) < aug.gray
    blur = u(n, 1, 1, 1) < aug.blur
    return gain, gray, blur


def photometric(img, draws):
    gain, gray, blur = draws
    img = img * gain
    img = torch.where(gray, img.mean(1, keepdim=True).expand_as(img), img)
    k = torch.tensor([1.0, 4, 6, 4, 1], device=img.device)
    k = (k[:, None] * k[None]) / 256
    blurred = F.conv2d(F.pad(img, (2, 2, 2, 2), mode="replicate"), k.expand(3, 1, 5, 5), groups=3)
    return torch.where(blur, blurred, img).clamp(0, 255)


def labels(centres, size, r_pos):
    """1 within r_pos px (in search-crop pixels) of the target centre, 0 elsewhere."""
    c = torch.arange(size, device=centres.device, dtype=torch.float32) - (size - 1) / 2
    dx = c[None, None, :] - centres[:, 0, None, None] / TOTAL_STRIDE
    dy = c[None, :, None] - centres[:, 1, None, None] / TOTAL_STRIDE
    return ((dx**2 + dy**2) <= (r_pos / TOTAL_STRIDE) ** 2).float()[:, None]


def balanced_loss(logits, target):
    """SiamFC's logistic loss with positives and negatives weighted to count equally."""
    pos = target.sum((1, 2, 3), keepdim=True)
    neg = target[0].numel() - pos
    w = torch.where(target > 0, 0.5 / pos.clamp(min=1), 0.5 / neg.clamp(min=1))
    # A negative pair has no positives: its negatives alone get the full weight.
    w = torch.where(pos > 0, w, 1.0 / target[0].numel())
    return F.binary_cross_entropy_with_logits(logits, target, w, reduction="sum") / len(logits)


def make_batch(crops, index, sampler, n, rng, g, aug, sizes, device, part=slice(None)):
    """n augmented (exemplar, search) pairs drawn by `sampler` (its indices map to crops through
    `index`): the exemplars, the search crops, where each target's centre lands, which are negative.
    Only the pairs in `part` are made: every process of a distributed run draws the whole batch
    (the same random numbers as one process) and makes its own share of it."""
    plan = sampler.sample(n, rng)
    z, x = pair_crops(crops, index, plan, part)
    return augment_pairs(z, x, plan[2][part], n, g, aug, sizes, device, part)


def pair_crops(crops, index, plan, part):
    """The uint8 crops (n, 3, CROP, CROP) of the exemplars and the search crops of the pairs in
    `part` of `plan` (PairSampler.sample's), from decoded crops (a tensor) or JpegCrops."""

    def at(i):
        i = index[i][part]
        return crops[torch.from_numpy(i).to(crops.device)] if isinstance(crops, torch.Tensor) else crops[i]

    return at(plan[0]), at(plan[1])


def augment_pairs(z, x, negative, n, g, aug, sizes, device, part):
    """make_batch's augmentation of the pairs in `part` of a batch of n, whose crops are z and x:
    the random numbers of all n are drawn, so that any share of the batch gets its own."""
    z_size, x_size = sizes
    z_theta, _ = random_affine(n, z_size, cropcache.EXEMPLAR, cropcache.CROP, aug, 0, g, device)
    x_theta, centre = random_affine(n, x_size, cropcache.INSTANCE, cropcache.CROP, aug, aug.shift, g, device)
    z_draws, x_draws = (photometric_draws(n, aug, g, device) for _ in range(2))
    z = photometric(warp(z.to(device).float(), z_theta[part], z_size), [d[part] for d in z_draws])
    x = photometric(warp(x.to(device).float(), x_theta[part], x_size), [d[part] for d in x_draws])
    return z, x, centre[part], torch.from_numpy(negative).to(device)


class StepCrops(torch.utils.data.Dataset):
    """Each training step's crops (pair_crops of its plan), for DataLoader workers to decode."""

    def __init__(self, crops, index, plans, part):
        self.crops, self.index, self.plans, self.part = crops, index, plans, part

    def __len__(self):
        return len(self.plans)

    def __getitem__(self, step):
        return pair_crops(self.crops, self.index, self.plans[step], self.part)


def step_crops(crops, index, plans, part, workers):
    """The steps' crops in order: gathered here, or with `workers` decoded in as many processes."""
    if not workers:
        return (pair_crops(crops, index, plan, part) for plan in plans)
    return iter(torch.utils.data.DataLoader(StepCrops(crops, index, plans, part), batch_size=None, num_workers=workers))


def pairs_loss(net, batch, r_pos, bf16):
    """The balanced logistic loss of `net` on a make_batch batch."""
    z, x, centre, neg = batch
    with torch.autocast(z.device.type, torch.bfloat16, enabled=bf16):
        logits = net(z.contiguous(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last))
    target = labels(centre, logits.shape[-1], r_pos)
    target[neg] = 0
    return balanced_loss(logits.float(), target)


SOURCE = {"root": "", "format": "auto", "split": "", "weight": 1.0}  # an item of data.sources


def check_sources(items, where):
    """data.sources' items, each a mapping of SOURCE's keys (the defaults filled in), or a
    UserError naming the item and what is wrong."""
    sources = []
    for i, item in enumerate(items):
        name = f"data.sources[{i}]"
        if not isinstance(item, dict):
            raise UserError(f"{name} in {where} must be a mapping of {', '.join(SOURCE)}, e.g. {{root: /data/got10k}}")
        source = merge(SOURCE, item, ("data", f"sources[{i}]"), where, {})
        if not source["root"] or source["weight"] <= 0:
            raise UserError(
                f"{name} in {where} needs a root and a weight above 0, e.g. {{root: /data/got10k, weight: 2}}"
            )
        sources.append(source)
    return sources


def video_weights(paths, sources):
    """Each group's weight in drawing videos: its source's weight over the source's number of
    groups, so that each source gives its weight's share of the video pairs (still-image groups
    are drawn apart, by data.image_prob)."""
    weight_of = {os.path.basename(cropcache.source_folder("", s["root"])): s["weight"] for s in sources}
    folders = [os.path.basename(os.path.dirname(p)) for p in paths]
    counts = collections.Counter(folders)
    return np.array([weight_of.get(f, 1.0) / counts[f] for f in folders])


def held_out(groups, still, fraction):
    """Which crops belong to the sequences held out for validation: every n-th sequence (n =
    round(1 / fraction)), never still images; none for fraction 0."""
    if fraction <= 0:
        return np.zeros(len(groups), bool)
    n = max(round(1 / fraction), 2)
    return np.isin(groups, np.unique(groups[~still])[n - 1 :: n])


def validation_loss(net, crops, index, sampler, cfg: TrainingConfig, sizes, device):
    """The mean loss, in inference mode, over the held-out pairs: drawn and augmented with a fixed
    seed, so every epoch scores the same pairs."""
    d, a, t = cfg.data, cfg.augment, cfg.train
    rng = np.random.default_rng([t.seed, 1_000_003])
    g = torch.Generator(device=device)
    g.manual_seed(t.seed * 100003 + 1_000_003)
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, d.val_pairs, t.batch_size):
            n = min(t.batch_size, d.val_pairs - start)
            total += (
                pairs_loss(net, make_batch(crops, index, sampler, n, rng, g, a, sizes, device), t.r_pos, False).item()
                * n
            )
            count += n
    return total / count


def validation_tracking(cfg: TrainingConfig):
    """The tracking parameters of the quick AUC: our default search for this model, at the
    training's input sizes, on torch in the training process."""
    from .params import load_params

    params = load_params(tracking_config_for(cfg.model))
    params["model"] = cfg.model
    sizes = {"exemplar_size": cfg.train.exemplar_size, "instance_size": cfg.train.instance_size}
    params["tracking"].update(engine="torch", side_size=0, **sizes)
    return params


def validation_auc(net, sequences, params, frames):
    """Mean success AUC (OTB rules) of tracking the first `frames` frames of each of `sequences`
    with `net` as it is and `params` (validation_tracking's)."""
    from .build import tracker_from_net
    from .interface import track
    from .protocols import sequence_metrics
    from .runner import first_visible

    aucs = []
    with tracker_from_net(copy.deepcopy(net).cpu(), params) as tracker:
        for seq in sequences:
            start = first_visible(seq)
            part = slice(start, start + frames)
            steps = track(tracker, itertools.islice(seq.frames(), part.start, part.stop), seq.boxes[start])
            boxes = np.array([step.box for step in steps])
            aucs.append(sequence_metrics(boxes, seq.boxes[part][: len(boxes)], seq.absent[part][: len(boxes)])["auc"])
    return float(np.mean(aucs))


def check_train_sizes(net, z_size, x_size):
    """A UserError unless the backbone can embed an exemplar of z_size px and the response to an
    x_size px search region has a centre cell, as the labels assume."""
    if z_size > x_size or (x_size - z_size) % TOTAL_STRIDE:
        raise UserError(
            f"train.instance_size {x_size} must be train.exemplar_size {z_size} plus a multiple of "
            f"{TOTAL_STRIDE}; e.g. 127 and 255"
        )
    try:
        with torch.no_grad():
            net.eval().embed(torch.zeros(1, 3, z_size, z_size))
    except RuntimeError:
        raise UserError(
            f"train.exemplar_size {z_size} px is too small for the backbone to embed; use a larger one, e.g. 127"
        ) from None


def init_weights(net):
    for m in net.modules():
        if isinstance(m, nn.Conv2d) and m.out_channels > 1:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def start_from_pretrained(net, model_cfg, path):
    from .pretrained import read_convolutions  # needs the tflite package: only when asked for

    if model_cfg["backbone"] not in PRETRAINED_BACKBONES:
        names = " or ".join(PRETRAINED_BACKBONES)
        raise UserError(
            f"train.pretrained needs model.backbone {names}, not {model_cfg['backbone']}; "
            'set train.pretrained: "" (and train.freeze_convs: 0) to start that backbone from random weights'
        )
    try:
        load_mobilenet_v1(net.backbone, read_convolutions(path))
    except ValueError as e:
        raise UserError(f"{path}: {e}") from None


def param_groups(net, freeze_convs, backbone_lr):
    """The optimiser's parameter groups: the backbone's first `freeze_convs` convolutions frozen
    (no gradient is computed through them at all when they come first), the rest of the backbone
    less its last layer at `backbone_lr` times the learning rate, the last layer and the output
    bias at the full rate."""
    convs = [m for m in net.backbone if isinstance(m, nn.Conv2d)]
    if not 0 <= freeze_convs < len(convs):
        raise UserError(f"train.freeze_convs {freeze_convs} must be 0 to {len(convs) - 1} for this backbone")
    for m in convs[:freeze_convs]:
        m.requires_grad_(False)
    head = {id(p) for p in [*net.backbone[-2:].parameters(), net.out_bias]}
    params = [p for p in net.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if id(p) not in head], "lr_factor": backbone_lr},
        {"params": [p for p in params if id(p) in head], "lr_factor": 1.0},
    ]


def save_checkpoint(path, state):
    buf = io.BytesIO()
    torch.save(state, buf)
    write_verified(path, buf.getvalue())


def load_checkpoint(path):
    """The saved state, or a UserError if the file is not exactly what was written."""
    blob = read_verified(path)
    if blob is None:
        raise UserError(f"checkpoint {path} is corrupt (checksum mismatch); delete it to start over")
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)


# What a resumed run may change: how long it runs (more epochs), how many threads it uses, where its
# files are. Any other key changes the network, the pairs or the steps the checkpoint was made with.
RESUMABLE = {"train.epochs", "train.threads", "out", "data.cache"}


def flatten(cfg, prefix=""):
    """{"train.epochs": 20, ...} from {"train": {"epochs": 20, ...}, ...}."""
    flat = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_resumable(ckpt_path, saved: dict, cfg: TrainingConfig):
    """A UserError naming the config keys, other than RESUMABLE, that differ from the checkpoint's."""
    # A key newer than the checkpoint was at its default then.
    old, new = {**flatten(DEFAULTS), **flatten(saved)}, flatten(cfg.as_dict())
    changed = [k for k in new if k not in RESUMABLE and old.get(k) != new[k]]
    if changed:
        raise UserError(
            f"checkpoint {ckpt_path} cannot continue with a changed "
            + ", ".join(f"{k} ({old.get(k)!r}, now {new[k]!r})" for k in changed)
            + f"; set it back, or another 'out' to start afresh (only {', '.join(sorted(RESUMABLE))} may change)"
        )


def plot_loss(path, history, val_history=(), auc_history=()):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(history) + 1), history, marker="o", label="training")
    if len(val_history):
        ax.plot(range(1, len(val_history) + 1), val_history, marker="s", label="validation (held-out sequences)")
        ax.legend(loc="upper left")
    if len(auc_history):
        right = ax.twinx()
        right.plot(range(1, len(auc_history) + 1), auc_history, marker="^", color="tab:green", label="quick AUC")
        right.set(ylabel="AUC on the held-out sequences", ylim=(0, 1))
        right.legend(loc="upper right")
    ax.set(xlabel="epoch", ylabel="balanced logistic loss", title="Training loss")
    ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def tracking_config_for(model):
    """The name of the shipped tracking config for weights of `model` that changes the fewest
    tracking values (the plainest use of them), or None."""
    from .params import load_params

    names = [n for n in shipped_configs() if not n.startswith("train") and load_params(n)["model"] == model]
    return min(names, key=lambda n: len(read_yaml(n).get("tracking") or {}), default=None)


def usage_lines(weights, model):
    """What to run next with freshly trained `weights`."""
    name = tracking_config_for(model)
    # The default tracking config needs no naming.
    named = name and name != os.path.splitext(os.path.basename(TRACKING_CONFIG))[0]
    lines = [
        f"track with them:      python run_tracker.py track VIDEO --bbox X,Y,W,H"
        f"{' --config ' + name if named else ''} --weights {weights}",
        f"benchmark them:       python run_tracker.py benchmark --dataset DATA --trackers "
        f"siamfc{':' + name if named else ''}@{weights},nano,vit",
    ]
    if not name:
        lines.append(f"(no shipped tracking config has model {model}: write one with that model block)")
    return lines


def join_processes(device):
    """(device, rank, world size): under torchrun (WORLD_SIZE above 1) this process joins the
    others (gloo on CPUs, NCCL on GPUs, one GPU per process); alone, (device, 0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return device, 0, 1
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, dist.get_rank(), world


def barrier():
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def mean_over_processes(value, device):
    """`value` averaged over the processes of a distributed run (itself when alone)."""
    if not torch.distributed.is_initialized():
        return value
    total = torch.tensor([value], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(total)
    return total.item() / torch.distributed.get_world_size()


def save_epoch(out, cfg: TrainingConfig, net, opt, history, rates, meta, val_history=(), auc_history=()):
    """What an epoch leaves in `out`: the checkpoint to resume from, the loss plot and history, and
    the weights (always the newest epoch's, usable even if the run stops before the last)."""
    state = {"net": net.state_dict(), "opt": opt.state_dict(), "epoch": len(history), "history": history}
    state.update(rates=rates, val_history=list(val_history), auc_history=list(auc_history), config=cfg.as_dict())
    save_checkpoint(os.path.join(out, "checkpoint.pt"), state)
    plot_loss(os.path.join(out, "loss.png"), history, val_history, auc_history)
    figures = {"loss": history, "pairs_per_second": rates}
    figures |= {"val_loss": list(val_history)} if val_history else {}
    figures |= {"val_auc": list(auc_history)} if auc_history else {}
    write_json(os.path.join(out, "history.json"), figures)
    weights_io.save(os.path.join(out, "weights.pt"), net, cfg.model, meta)


def train(
    config: str | None = None,
    resume: bool = False,
    device: str = "cpu",
    log: TextIO | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, list[float]]:
    """Train as the config (a file or a shipped config's name; None: configs/train.yaml) says, with
    `overrides` ("train.epochs=2", ...) on top; returns the loss and pairs/s of each epoch. Progress
    and messages go to `log` (default: sys.stderr as it is at the call)."""
    cfg = TrainingConfig.from_dict(load_config(config or DEFAULT_CONFIG, DEFAULTS, CONFIG_CHOICES, RULES, overrides))
    d, a, t = cfg.data, cfg.augment, cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    device, rank, world = join_processes(torch.device(device))
    if t.batch_size % world:
        raise UserError(
            f"train.batch_size {t.batch_size} does not split evenly over {world} processes; "
            f"give a multiple of {world}, e.g. --set train.batch_size={t.batch_size // world * world or world}"
        )
    share = t.batch_size // world
    part = slice(rank * share, (rank + 1) * share)  # this process's pairs of every batch
    lead = rank == 0  # the one that writes files and messages
    log = (log or sys.stderr) if lead else io.StringIO()
    out = cfg.out
    remove_stale_temporaries(out)  # what a killed run left there
    ckpt_path = os.path.join(out, "checkpoint.pt")
    if os.path.exists(ckpt_path) and not resume:
        raise UserError(f"{ckpt_path} exists; pass --resume to continue it, or set another 'out' in the config")
    state = load_checkpoint(ckpt_path) if resume and os.path.exists(ckpt_path) else None  # before the long part
    if state:
        check_resumable(ckpt_path, state["config"], cfg)
    check_train_sizes(SiamFC(**cfg.model), t.exemplar_size, t.instance_size)  # before the long part
    writable_folder(out)

    if not lead:
        barrier()  # the crops are cut once, by the lead process
    sources = [{"root": d.root, "format": d.format, "split": d.split, "weight": d.weight}]
    sources += check_sources(d.sources, config or DEFAULT_CONFIG)
    paths = cropcache.build(
        d.root,
        d.split or None,
        d.cache,
        d.images,
        d.frame_stride,
        d.max_set_boxes,
        d.jpeg_quality,
        fmt=d.format,
        coco=(d.coco, d.coco_images or os.path.dirname(d.coco)),
        more=[(s["root"], s["format"], s["split"] or None) for s in sources[1:]],
    )
    if lead:
        barrier()
    crops, groups, frames, still = cropcache.load(paths, decode=not d.workers)
    print(f"training on {len(crops)} crops ({still.sum()} from still images) from {len(paths)} groups", file=log)
    if not d.workers:
        crops = torch.from_numpy(crops).to(device).permute(0, 3, 1, 2)  # uint8 stays small until a batch needs it
    val = held_out(groups, still, d.val_fraction)
    if val.any():
        print(f"validating on {len(np.unique(groups[val]))} held-out sequences ({val.sum()} crops)", file=log)
    train_index, val_index = np.flatnonzero(~val), np.flatnonzero(val)

    weights = video_weights(paths, sources)

    def sampler_of(index):
        return PairSampler(
            groups[index],
            frames[index],
            still[index],
            d.max_gap,
            d.image_prob,
            d.negative_prob,
            d.distractor_prob,
            weights,
        )

    sampler = sampler_of(train_index)
    val_sampler = sampler_of(val_index) if val.any() else None
    val_sequences = []
    if val.any() and d.val_frames and os.path.isdir(d.root):
        from .sequences import load_dataset

        names = {os.path.splitext(os.path.basename(paths[g]))[0] for g in np.unique(groups[val])}
        val_sequences = [seq for seq in load_dataset(d.root, d.format, d.split or None) if seq.name in names]
        # Tracked anew every epoch (decoding included): a few are enough to see the trend, and a
        # large dataset's tenth would take longer than the epoch.
        val_sequences = val_sequences[:QUICK_AUC_SEQUENCES]
        val_tracking = validation_tracking(cfg)

    torch.manual_seed(t.seed)
    net = SiamFC(**cfg.model)
    init_weights(net)
    if t.pretrained:
        start_from_pretrained(net, cfg.model, t.pretrained)
    if t.start_from:
        start, _ = weights_io.load(t.start_from, cfg.model)
        net.load_state_dict(start.state_dict())
    # channels_last: on a CPU, training runs 1.7x faster in it (measured: 52 vs 30 pairs/s).
    net.to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(
        param_groups(net, t.freeze_convs, t.backbone_lr),
        lr=t.lr,
        momentum=t.momentum,
        weight_decay=t.weight_decay,
    )
    # Each process computes its share of the batch; DDP averages their gradients, which is the
    # gradient of the whole batch. Wrapped after param_groups froze what it freezes: DDP waits for
    # a gradient of every parameter that wants one.
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    gamma = (t.lr_end / t.lr) ** (1 / max(t.epochs - 1, 1))
    history, rates, val_history, auc_history, start_epoch = [], [], [], [], 0
    if state:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        history, rates, start_epoch = state["history"], state["rates"], state["epoch"]
        val_history, auc_history = state.get("val_history", []), state.get("auc_history", [])
        print(f"resumed {ckpt_path} after epoch {start_epoch}", file=log)

    steps = t.pairs_per_epoch // t.batch_size
    z_size, x_size = t.exemplar_size, t.instance_size
    started = time.time()
    progress = Progress("training", (t.epochs - start_epoch) * steps * t.batch_size, "pairs", log)
    for epoch in range(start_epoch, t.epochs):
        for group in opt.param_groups:
            group["lr"] = t.lr * group["lr_factor"] * gamma**epoch
        # Sampling and augmentation are seeded by epoch, so a resumed run sees the same pairs.
        rng = np.random.default_rng([t.seed, epoch])
        g = torch.Generator(device=device)
        g.manual_seed(t.seed * 100003 + epoch)
        net.train()
        total, t0 = 0.0, time.time()
        # The pairs are drawn first (the same draws as make_batch's, step by step), so that workers
        # can decode the crops of the steps ahead.
        plans = [sampler.sample(t.batch_size, rng) for _ in range(steps)]
        for step, (plan, (z, x)) in enumerate(zip(plans, step_crops(crops, train_index, plans, part, d.workers))):
            batch = augment_pairs(z, x, plan[2][part], t.batch_size, g, a, (z_size, x_size), device, part)
            loss = pairs_loss(model, batch, t.r_pos, t.bf16)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            progress.update(t.batch_size, f", epoch {epoch + 1}/{t.epochs}, loss {total / (step + 1):.4f}")
        history.append(mean_over_processes(total, device) / steps)
        rates.append(steps * t.batch_size / (time.time() - t0))
        if not lead:
            barrier()  # while the lead validates and saves the epoch
            continue
        if val_sampler:
            val_history.append(validation_loss(net, crops, val_index, val_sampler, cfg, (z_size, x_size), device))
            auc = ""
            if val_sequences:
                auc_history.append(validation_auc(net, val_sequences, val_tracking, d.val_frames))
                auc = f", quick AUC on them {auc_history[-1]:.3f}"
            # On a line of its own, below the progress line.
            losses = f"training loss {history[-1]:.4f}, validation loss {val_history[-1]:.4f}"
            print(f"\nepoch {epoch + 1}: {losses}{auc}", file=log)
        meta = {
            "epochs": epoch + 1,
            "pairs": (epoch + 1) * steps * t.batch_size,
            "crops": int(len(crops)),
            "data": f"{d.root} split {d.split or 'all'}"
            + (" + still images" if d.images else "")
            + (f" + {d.coco}" if d.coco else ""),
            "device": str(device),
            "exemplar_size": z_size,
            "instance_size": x_size,
            "seconds_this_run": round(time.time() - started, 1),
        }
        save_epoch(out, cfg, net, opt, history, rates, meta, val_history, auc_history)
        barrier()
    progress.close()
    weights = os.path.join(out, "weights.pt")
    print(f"wrote {weights}", *usage_lines(weights, cfg.model), sep="\n", file=log)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return {"loss": history, "pairs_per_second": rates, "val_loss": val_history, "val_auc": auc_history}
