"""User configuration: built-in defaults, config.yaml, command-line overrides."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .errors import UserError

SCHEDULERS = ("mt", "dask-local", "dask-remote")

# The built-in defaults; the repository's config.yaml states the same values
# (a test keeps the two in step).
DEFAULTS = {
    "inputs": "demo",
    "files_per_sample": None,
    "tree": "Events",
    "mt": 0,
    "output_dir": "results",
    "fit": True,
    "cache_dir": None,
    "deliver_cache": None,
    "scheduler": "mt",
    "ncores": 0,
    "scheduler_address": None,
    "npartitions": None,
    "io_only": False,
    "io_percent": 2.7,
    "demo": {"events_per_sample": 200000, "seed": 1, "cache_dir": None},
    "agc": {
        "inputs": "https://raw.githubusercontent.com/iris-hep/analysis-grand-challenge/main/"
        "analyses/cms-open-data-ttbar/nanoaod_inputs.json",
        "remote_prefix": None,
    },
}

# expected type of every key (None allowed where the default is None)
_TYPES = {
    "inputs": str,
    "files_per_sample": int,
    "tree": str,
    "mt": int,
    "output_dir": str,
    "fit": bool,
    "cache_dir": str,
    "deliver_cache": str,
    "scheduler": str,
    "ncores": int,
    "scheduler_address": str,
    "npartitions": int,
    "io_only": bool,
    "io_percent": float,
    "demo.events_per_sample": int,
    "demo.seed": int,
    "demo.cache_dir": str,
    "agc.inputs": str,
    "agc.remote_prefix": str,
}
_NULLABLE = {"files_per_sample", "cache_dir", "deliver_cache", "scheduler_address", "npartitions", "demo.cache_dir", "agc.remote_prefix"}


def load(path: str | Path | None) -> dict:
    """Defaults updated with the YAML file at ``path`` (if given), validated."""
    config = copy.deepcopy(DEFAULTS)
    if path is None:
        return config
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist: pass an existing file to --config")
    try:
        user = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"config file {path} is not valid YAML ({err}); fix the syntax or start "
                        "from the repository's config.yaml") from None
    if user is None:
        return config
    if not isinstance(user, dict):
        raise UserError(f"config file {path} must hold a mapping of option: value, not {type(user).__name__}")
    update(config, user, source=f"config file {path}")
    return config


def update(config: dict, user: dict, source: str, prefix: str = "") -> dict:
    """Update ``config`` in place with the options of ``user`` (sections as nested mappings), each checked;
    ``source`` names where they come from in messages. Returns ``config``."""
    for key, value in user.items():
        full = f"{prefix}{key}"
        if key not in config:
            known = ", ".join(sorted(f"{prefix}{k}" for k in config))
            raise UserError(f"{source}: unknown option '{full}' (known: {known})")
        if isinstance(config[key], dict):
            if not isinstance(value, dict):
                raise UserError(f"{source}: '{full}' must be a mapping")
            update(config[key], value, source, prefix=f"{full}.")
            continue
        check(full, value, source=source)
        config[key] = value
    return config


def check(key: str, value, source: str) -> None:
    """Raise a UserError when ``value`` has the wrong type or range for ``key``."""
    if value is None and key in _NULLABLE:
        return
    if key == "io_percent":  # 2.7, 4, 15, 25, 50 or "analysis" (branch_lists.io_percent_key)
        from .branch_lists import IO_PERCENT_CHOICES, io_percent_key

        if io_percent_key(value) is None:
            raise UserError(f"{source}: 'io_percent' must be one of {IO_PERCENT_CHOICES}, got {value!r}")
        return
    expected = _TYPES[key]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise UserError(f"{source}: '{key}' must be of type {expected.__name__}, got {value!r}")
    minimum = {"mt": 0, "ncores": 0, "files_per_sample": 1, "npartitions": 1, "demo.events_per_sample": 1}
    if key in minimum and value < minimum[key]:
        raise UserError(f"{source}: '{key}' must be >= {minimum[key]}, got {value}")
    if key == "scheduler" and value not in SCHEDULERS:
        raise UserError(f"{source}: unknown scheduler '{value}': choose one of {', '.join(SCHEDULERS)}")
