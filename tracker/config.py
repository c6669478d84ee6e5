"""YAML parameters, checked against the defaults: every key and type is known up front."""
import copy
import os

import yaml

from .errors import UserError

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")

def merge(defaults, given, path, where, choices):
    """`defaults` overridden by `given`; unknown keys and wrong types are errors naming the key.
    `choices` maps key paths, e.g. ("model", "backbone"), to the values allowed there."""
    out = copy.deepcopy(defaults)
    for key, value in (given or {}).items():
        name = ".".join(path + (key,))
        if key not in defaults:
            raise UserError(f"unknown config key '{name}' in {where}; known keys here: "
                            f"{', '.join(sorted(defaults))}")
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise UserError(f"config key '{name}' in {where} must be a mapping of: {', '.join(sorted(default))}")
            out[key] = merge(default, value, path + (key,), where, choices)
            continue
        out[key] = check_value(name, value, default, choices.get(path + (key,)), where)
    return out


def check_value(name, value, default, choices, where):
    if choices is not None and value not in choices:
        raise UserError(f"config key '{name}' in {where} is {value!r}; allowed values: {', '.join(choices)}")
    if default is None or value is None:
        return value
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float))
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise UserError(f"config key '{name}' in {where} is {value!r}; expected a {type(default).__name__} "
                        f"like {default!r}")
    return value


def load_config(path, defaults, choices=None):
    """Defaults overridden by the YAML file at `path` (None: the defaults alone); `choices` as for merge."""
    if path is None:
        return copy.deepcopy(defaults)
    if not os.path.isfile(path):
        raise UserError(f"config file not found: {path}; see the files in {CONFIG_DIR}")
    try:
        with open(path) as f:
            given = yaml.safe_load(f)
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        at = f" line {line + 1}" if line is not None else ""
        raise UserError(f"config file {path}{at} is not valid YAML; fix the syntax") from None
    if given is not None and not isinstance(given, dict):
        raise UserError(f"config file {path} must be a mapping of keys to values")
    return merge(defaults, given, (), path, choices or {})
