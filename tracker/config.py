"""YAML parameters, checked against the defaults: every key and type is known up front."""

import copy
import functools
import operator
import os

import yaml

from .errors import UserError


def shipped(name):
    """A folder shipped beside the package: inside it when installed from a wheel (package data),
    at the repository's top level in a clone, the one source of both."""
    here = os.path.dirname(os.path.abspath(__file__))
    inside = os.path.join(here, name)
    return inside if os.path.isdir(inside) else os.path.join(os.path.dirname(here), name)


CONFIG_DIR = shipped("configs")


def shipped_configs():
    return sorted(n[:-5] for n in os.listdir(CONFIG_DIR) if n.endswith(".yaml"))


def resolve(path):
    """A path as given, or a bare name (with or without .yaml) of a shipped config."""
    if path and not os.path.exists(path) and os.path.dirname(path) == "":
        name = path if path.endswith((".yaml", ".yml")) else path + ".yaml"
        return os.path.join(CONFIG_DIR, name)
    return path


WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def resolve_weights(path):
    """A weights path as given, or a bare file name of weights shipped in tracker/weights/."""
    if path and not os.path.exists(path) and os.path.dirname(path) == "":
        return os.path.join(WEIGHTS_DIR, path)
    return path


def merge(defaults, given, path, where, choices):
    """`defaults` overridden by `given`; unknown keys and wrong types are errors naming the key.
    `choices` maps key paths, e.g. ("model", "backbone"), to the values allowed there."""
    out = copy.deepcopy(defaults)
    for key, value in (given or {}).items():
        name = ".".join(path + (key,))
        if key not in defaults:
            raise UserError(f"unknown config key '{name}' in {where}; known keys here: {', '.join(sorted(defaults))}")
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
        raise UserError(
            f"config key '{name}' in {where} is {value!r}; expected a {type(default).__name__} like {default!r}"
        )
    return value


def read_yaml(path):
    """The mapping in the YAML file at `path`, or a UserError naming the file and what is wrong."""
    path = resolve(path)
    if not os.path.isfile(path):
        raise UserError(
            f"config file not found: {path}; give a path or a shipped config's name: {', '.join(shipped_configs())}"
        )
    try:
        with open(path) as f:
            given = yaml.safe_load(f)
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        at = f" line {line + 1}" if line is not None else ""
        raise UserError(f"config file {path}{at} is not valid YAML; fix the syntax") from None
    if given is not None and not isinstance(given, dict):
        raise UserError(f"config file {path} must be a mapping of keys to values")
    return given or {}


def parse_overrides(items):
    """Command-line overrides ["train.epochs=2", "data.root=/data"] as a nested mapping, each value
    read as YAML (2 is a number, true a flag, /data a string)."""
    given = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key or "" in key.split("."):
            raise UserError(f"--set {item!r} must be KEY=VALUE with a dotted key, e.g. --set train.epochs=2")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        *parents, last = key.split(".")
        node = given
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"--set {item!r} sets a key inside '{part}', which another --set gave a value")
        node[last] = value
    return given


def load_config(path, defaults, choices=None, rules=(), overrides=()):
    """Defaults overridden by the YAML file at `path` (None: the defaults alone), then by
    `overrides` (KEY=VALUE strings, see parse_overrides); `choices` as for merge, `rules` as for
    check_rules."""
    choices = choices or {}
    cfg = copy.deepcopy(defaults) if path is None else merge(defaults, read_yaml(path), (), resolve(path), choices)
    if overrides:
        cfg = merge(cfg, parse_overrides(overrides), (), "--set", choices)
    if path is not None or overrides:
        where = [resolve(path)] if path is not None else []
        check_rules(cfg, rules, " with ".join(where + (["--set"] if overrides else [])))
    return cfg


def at_least(key, low):
    """A rule for check_rules: the value of `key` is `low` or more."""
    return (key,), lambda v: v >= low, f"{low} or more"


def between(key, low, high):
    """A rule for check_rules: the value of `key` is from `low` to `high`."""
    return (key,), lambda v: low <= v <= high, f"{low} to {high}"


def check_rules(cfg, rules, where):
    """Values of the right type can still be impossible (a scale count of 0, a minimum above its
    maximum). Each rule is (keys, test, allowed): dotted config keys, a test of their values, and
    what is allowed, in words; an error names the first key."""
    for keys, test, allowed in rules:
        values = [functools.reduce(operator.getitem, key.split("."), cfg) for key in keys]
        try:
            ok = test(*values)
        except TypeError:  # a null where a number belongs
            ok = False
        if not ok:
            others = "".join(f" (with {key} {value!r})" for key, value in zip(keys[1:], values[1:]))
            raise UserError(f"config key '{keys[0]}' in {where} is {values[0]!r}{others}; allowed: {allowed}")
