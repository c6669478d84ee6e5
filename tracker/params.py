"""The tracker's parameters: the shipped configs/siamfc.yaml is their default, every other config
states what differs from it, and RULES say what the values may be beyond their types."""

import os

from .architecture import CONFIG_CHOICES, TOTAL_STRIDE
from .config import CONFIG_DIR, at_least, between, load_config, parse_overrides, read_yaml
from .engine import ENGINES
from .errors import UserError

DEFAULT_CONFIG = os.path.join(CONFIG_DIR, "siamfc.yaml")
DEFAULTS = read_yaml(DEFAULT_CONFIG)
CHOICES = {**CONFIG_CHOICES, ("tracking", "engine"): ENGINES}
# What the tracking values may be, beyond their types (see config.check_rules).
RULES = (
    (
        ("tracking.instance_size", "tracking.exemplar_size"),
        lambda x, z: z >= 1 and x >= z and (x - z) % TOTAL_STRIDE == 0,
        f"tracking.exemplar_size (1 or more) plus a multiple of {TOTAL_STRIDE}, e.g. 255 with 127",
    ),
    at_least("tracking.context", 0),
    (("tracking.scale_num",), lambda n: n >= 1 and n % 2 == 1, "an odd number, 1 or more, e.g. 3"),
    # A step of 1 would search one scale n times; beyond 2, the side scales see other objects.
    (
        ("tracking.scale_step", "tracking.scale_num"),
        lambda step, n: n == 1 or 1 < step <= 2,
        "more than 1 and at most 2 when tracking.scale_num is above 1, e.g. 1.0375",
    ),
    between("tracking.scale_penalty", 0, 1),
    between("tracking.scale_lr", 0, 1),
    (("tracking.window_influence",), lambda w: 0 <= w < 1, "0 or more and less than 1, e.g. 0.176"),
    between("tracking.response_up", 1, 64),  # 64: a 1025 px map, already 4 MB a scale
    (
        ("tracking.side_size", "tracking.exemplar_size", "tracking.instance_size"),
        lambda side, z, x: side == 0 or (z <= side <= x and (side - z) % TOTAL_STRIDE == 0),
        f"0, or from tracking.exemplar_size to tracking.instance_size in steps of {TOTAL_STRIDE}, e.g. 143",
    ),
    # The first size is 1x: the range must hold it.
    (("tracking.min_scale",), lambda v: 0 < v <= 1, "more than 0 and at most 1, e.g. 0.2"),
    at_least("tracking.max_scale", 1),
    between("tracking.lost_threshold", 0, 1),
    between("tracking.redetect_threshold", 0, 1),
    between("tracking.colour_weight", 0, 1),
    between("tracking.colour_rate", 0, 1),
    between("tracking.colour_bins", 2, 256),  # levels per 8-bit channel
    at_least("tracking.threads", 0),
)


def load_params(path=None):
    """The parameters of the config at `path` (a file or a shipped config's name; None: the default)."""
    return load_config(path, DEFAULTS, CHOICES, RULES)


def tracking_overrides(path, items):
    """The tracking values that `--set tracking.KEY=VALUE` items give, checked against the config at
    `path` (keys, types and rules) as if written there. The model comes with the weights, so only
    tracking keys may be set this way."""
    given = parse_overrides(items)
    others = sorted(set(given) - {"tracking"})
    if others:
        raise UserError(
            f"--set {others[0]}…: only tracking parameters can be set here, e.g. --set tracking.threads=2; "
            "the model comes with --config and --weights"
        )
    load_config(path, DEFAULTS, CHOICES, RULES, items)
    return given.get("tracking", {})
