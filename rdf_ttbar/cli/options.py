"""The command line's options, generated from the fields of :class:`rdf_ttbar.config.RunConfig` (type, range,
default and help are written there once), and the RunConfig they give."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import DEFAULT_FILE, RunConfig, build, fields, read_file


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, ``rdf_ttbar[ SUB]: error: ...`` with a pointer to ``--help``
    (argparse's own print the whole usage block and the program as ``python -m rdf_ttbar``), exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        command = self.prog.split()[-1]  # "python -m rdf_ttbar generate" -> "generate"
        name = "rdf_ttbar" if command == "rdf_ttbar" else f"rdf_ttbar {command}"
        self.exit(2, f"{name}: error: {message} (see {self.prog} --help)\n")


# the command line: argparse options generated from the fields


def add_arguments(
    parser: argparse.ArgumentParser,
    keys: Iterable[str] | None = None,
    *,
    config_file: bool = True,
    flags: Mapping[str, tuple[str, ...]] | None = None,
    defaults: Mapping[str, Any] | None = None,
    helps: Mapping[str, str] | None = None,
) -> None:
    """Add the command-line options of the options ``keys`` (dotted, e.g. ``demo.seed``; default: every option)
    to ``parser``, and ``--config FILE`` when ``config_file``. A sub-command may give some of them other
    ``flags``, ``defaults`` (shown in the help) or ``helps``. An option not given stays None, so that
    :func:`from_args` keeps the value of config.yaml; :func:`from_args` reads the parsed options back."""
    flags, defaults, helps = flags or {}, defaults or {}, helps or {}
    chosen = None if keys is None else set(keys)
    dests: dict[str, tuple[str, str]] = {}  # argparse dest -> (option key, flag named in messages)
    if config_file:
        parser.add_argument(
            "--config",
            metavar="FILE",
            help="YAML file with the defaults (default: ./config.yaml if present, else built-in defaults)",
        )
    for key, f, kinds in fields():
        if chosen is not None and key not in chosen:
            continue
        strings = flags.get(key) or f.metadata["flags"] or (f"--{key.replace('_', '-')}",)
        default = defaults.get(key, None)
        shown = defaults.get(key, f.default)
        text = helps.get(key, f.metadata["help"]) + f" [config: {key}, default {_yaml_text(shown)}]"
        kwargs: dict[str, Any] = {"default": default, "help": text.replace("%", "%%")}
        if bool in kinds:  # a switch: --io-only, or --no-fit for what is on by default
            if f.default:
                strings = flags.get(key) or f.metadata["flags"] or (f"--no-{key.replace('_', '-')}",)
            kwargs.update(action="store_const", const=not f.default)
        else:
            kwargs.update(metavar=f.metadata["metavar"], choices=f.metadata["choices"], type=_cli_type(key, f, kinds))
        action = parser.add_argument(*strings, **kwargs)
        dests[action.dest] = (key, action.option_strings[-1])
    parser.set_defaults(config_options={**(parser.get_default("config_options") or {}), **dests})


def _yaml_text(value) -> str:
    """A default as config.yaml writes it."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def _cli_type(key: str, f: dataclasses.Field, kinds: tuple):
    parse = f.metadata["parse"]
    if parse is None:
        return int if int in kinds else str

    def convert(text: str):
        value = parse(text)
        if value is None:
            raise argparse.ArgumentTypeError(f"expected {f.metadata['choices_text']}, got {text!r}")
        return value

    convert.__name__ = key  # argparse names it in "invalid ... value"
    return convert


def from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of parsed command-line options (:func:`add_arguments`): the built-in defaults, updated
    with ``--config FILE`` (default: ./config.yaml where present, when the parser has --config), then with
    the options given on the command line."""
    layers = []
    if hasattr(args, "config"):
        path = args.config if args.config is not None else (DEFAULT_FILE if Path(DEFAULT_FILE).is_file() else None)
        if path is not None:
            layers.append(read_file(path))
    for dest, (key, flag) in (getattr(args, "config_options", None) or {}).items():
        value = getattr(args, dest)
        if value is None:
            continue
        section, _, leaf = key.rpartition(".")
        layers.append((f"option {flag}", {section: {leaf: value}} if section else {leaf: value}))
    return build(layers)
