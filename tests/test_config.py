"""The run configuration (rdf_ttbar/config.py): defaults, validation, generated command-line options, layers.

Fast: no event loop, no ROOT.
"""

from __future__ import annotations

import argparse
import dataclasses
import re

import pytest
import yaml

from helpers import REPO
from rdf_ttbar import config
from rdf_ttbar.cli import options
from rdf_ttbar.cli.main import config_from, main_parser
from rdf_ttbar.config import RunConfig
from rdf_ttbar.errors import UserError

KEYS = [key for key, _, _ in config.fields()]


def parse(add, argv):
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args([str(a) for a in argv])


def test_defaults_are_those_of_config_yaml():
    assert yaml.safe_load((REPO / "config.yaml").read_text()) == RunConfig().as_dict()
    assert config.load(REPO / "config.yaml") == RunConfig()


def test_every_option_has_type_default_and_help():
    assert len(KEYS) == len(set(KEYS)) >= 19
    text = (REPO / "config.yaml").read_text()
    for key, f, kinds in config.fields():
        assert kinds and all(isinstance(k, type) for k in kinds), key
        assert f.metadata["help"], key
        assert re.search(rf"^\s*{key.rpartition('.')[2]}:", text, re.MULTILINE), f"{key} missing from config.yaml"


def test_config_is_frozen_and_checked_when_made():
    c = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.mt = 2
    with pytest.raises(UserError, match=re.escape("RunConfig: 'mt' must be >= 0, got -1")):
        RunConfig(mt=-1)
    with pytest.raises(UserError, match=re.escape("'mt' must be >= 0, got -1")):
        dataclasses.replace(c, mt=-1)
    with pytest.raises(UserError, match="'demo' must be a mapping"):
        RunConfig(demo={"seed": 2})
    assert RunConfig(io_percent="4").io_percent == 4  # normal form
    assert RunConfig(io_percent="ANALYSIS").io_percent == "analysis"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"threads": 2}, "src: unknown option 'threads' (known: agc, analysis, cache_dir, deliver_cache, demo,"),
        ({"mt": "two"}, "src: 'mt' must be of type int, got 'two'"),
        ({"mt": True}, "src: 'mt' must be of type int, got True"),
        ({"mt": -1}, "src: 'mt' must be >= 0, got -1"),
        ({"fit": "yes"}, "src: 'fit' must be of type bool, got 'yes'"),
        ({"tree": None}, "src: 'tree' must be of type str, got None"),
        ({"files_per_sample": 0}, "src: 'files_per_sample' must be >= 1, got 0"),
        ({"npartitions": 0}, "src: 'npartitions' must be >= 1, got 0"),
        (
            {"scheduler": "spark"},
            "src: unknown scheduler 'spark': choose one of mt, dask-local, dask-remote, spark-local, spark-remote",
        ),
        ({"io_percent": 3}, "src: 'io_percent' must be one of 2.7, 4, 15, 25, 50 or analysis, got 3"),
        ({"demo": 5}, "src: 'demo' must be a mapping"),
        ({"demo": {"events": 5}}, "src: unknown option 'demo.events' (known: demo.cache_dir, demo.events_per_sample,"),
        ({"demo": {"events_per_sample": 0}}, "src: 'demo.events_per_sample' must be >= 1, got 0"),
        ({"agc": {"inputs": 7}}, "src: 'agc.inputs' must be of type str, got 7"),
    ],
)
def test_bad_values_are_refused_with_key_value_and_fix(options, message):
    with pytest.raises(UserError) as err:
        config.load(None, options, source="src")
    assert str(err.value).startswith(message), str(err.value)


def test_message_names_the_layer_that_set_the_bad_value(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("mt: -2\n")
    with pytest.raises(UserError, match=re.escape(f"config file {path}: 'mt' must be >= 0, got -2")):
        config.load(path)
    with pytest.raises(UserError, match=re.escape("option --mt: 'mt' must be >= 0, got -1")):
        options.from_args(parse(options.add_arguments, ["--config", path, "--mt", "-1"]))
    config.load(path, {"mt": 1})  # the file's bad value, overridden, is never checked


def test_bad_files_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    with pytest.raises(UserError, match="does not exist: pass an existing file to --config"):
        config.load(path)
    path.write_text("mt: [1,\n")
    with pytest.raises(UserError, match="is not valid YAML"):
        config.load(path)
    path.write_text("- 1\n")
    with pytest.raises(UserError, match="must hold a mapping of option: value, not list"):
        config.load(path)
    path.write_text("")
    assert config.load(path) == RunConfig()


def test_argparse_options_are_generated_for_every_field():
    parser = main_parser()
    keys = {key for key, _ in parser.get_default("config_options").values()}
    assert keys == set(KEYS)
    strings = {s for a in parser._actions for s in a.option_strings}
    assert {
        "--mt",
        "-n",
        "--files-per-sample",
        "--no-fit",
        "--io-only",
        "--io-percent",
        "--agc-list",
        "--remote-prefix",
        "--events-per-sample",
        "--seed",
        "--demo-cache-dir",
        "--config",
    } <= strings
    help_text = " ".join(parser.format_help().split())
    for key in KEYS:
        assert f"[config: {key}, default " in help_text, key


def test_command_line_beats_yaml_beats_default(tmp_path, monkeypatch):
    path = tmp_path / "c.yaml"
    path.write_text("mt: 3\ntree: T\ndemo:\n  seed: 5\n  events_per_sample: 10\n")
    c = options.from_args(
        parse(
            options.add_arguments,
            [
                "--config",
                path,
                "--mt",
                4,
                "--events-per-sample",
                7,
                "--no-fit",
                "--io-percent",
                "analysis",
                "--agc-list",
                "x",
            ],
        )
    )
    assert (c.mt, c.tree, c.demo.seed, c.demo.events_per_sample) == (4, "T", 5, 7)  # cli, yaml, yaml, cli
    assert (c.fit, c.io_percent, c.agc.inputs, c.output_dir, c.ncores) == (False, "analysis", "x", "results", 0)
    # without --config: ./config.yaml where present, else the built-in defaults
    monkeypatch.chdir(tmp_path)
    assert options.from_args(parse(options.add_arguments, [])) == RunConfig()
    path.rename(tmp_path / "config.yaml")
    assert options.from_args(parse(options.add_arguments, [])).tree == "T"


def test_api_configure_takes_a_path_a_mapping_or_a_config(tmp_path):
    from rdf_ttbar import api

    path = tmp_path / "c.yaml"
    path.write_text("mt: 3\n")
    assert api.configure(path, demo={"seed": 2}) == RunConfig(mt=3, demo=config.DemoConfig(seed=2))
    c = api.configure({"mt": 2, "demo": {"seed": 7}})
    assert api.configure(c, demo={"cache_dir": "d"}).demo == config.DemoConfig(seed=7, cache_dir="d")
    with pytest.raises(UserError, match=re.escape("configure(): 'mt' must be >= 0, got -1")):
        api.configure(c, mt=-1)


def test_io_percent_needs_io_only():
    with pytest.raises(UserError, match="--io-percent chooses the branches of an I/O-only run: add --io-only"):
        config_from(main_parser().parse_args(["--io-percent", "4"]))
    assert config_from(main_parser().parse_args(["--io-only", "--io-percent", "4"])).io_percent == 4


def test_sub_commands_reuse_the_generated_options(tmp_path, monkeypatch):
    from rdf_ttbar.cli import bench
    from rdf_ttbar.cli import deliver as deliver_command
    from rdf_ttbar.cli import generate as demo

    monkeypatch.chdir(tmp_path)  # no config.yaml
    args = parse(deliver_command.add_arguments, ["--output-dir", "o", "--mt", 2, "-n", 1, "--seed", 3])
    c = options.from_args(args)
    assert (c.mt, c.files_per_sample, c.demo.seed) == (2, 1, 3)
    with pytest.raises(UserError, match="option --ncores: 'ncores' must be >= 0"):
        options.from_args(parse(deliver_command.add_arguments, ["--output-dir", "o", "--ncores", -1]))
    c = options.from_args(parse(demo.add_arguments, ["--events-per-sample", 300, "--mt", 1]))
    assert (c.demo.events_per_sample, c.mt, c.demo.seed) == (300, 1, 1)
    args = parse(bench.add_arguments, ["--cache-dir", "cache"])  # bench: --cache-dir is the demo cache
    # bench's own default size (1M events per sample; 200k with --rtt-ms) is filled in by bench.main when no
    # --events-per-sample is given, so the parser leaves it unset
    assert args.events_per_sample is None
    args.events_per_sample = bench.DEFAULT_EVENTS_PER_SAMPLE
    c = options.from_args(args)
    assert (c.demo.cache_dir, c.demo.events_per_sample, c.cache_dir) == ("cache", bench.DEFAULT_EVENTS_PER_SAMPLE, None)
    with pytest.raises(UserError, match="option --events-per-sample: 'demo.events_per_sample' must be >= 1, got 0"):
        options.from_args(parse(bench.add_arguments, ["--events-per-sample", 0]))


def test_no_options_dict_below_the_entry_points():
    """The modules from the API and the command line to the event loop take the RunConfig, not a dict."""
    for name in (
        "api",
        "cli/main",
        "execution/pipeline",
        "execution/prepare",
        "execution/io_only",
        "cli/deliver",
        "inputs/demo",
        "cli/generate",
        "cli/bench",
    ):
        text = (REPO / "rdf_ttbar" / f"{name}.py").read_text()
        assert not re.search(r"options\[", text), name
