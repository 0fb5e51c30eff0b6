"""The README's commands name real flags: Beam 2.77's, ocrbeam's, dask's."""

import argparse
import re
from pathlib import Path

import apache_beam.options.pipeline_options as po
import apache_beam.runners.dask.dask_runner  # noqa: F401 - registers DaskOptions
import ocrbeam.pipelines.stream  # noqa: F401 - registers StreamOptions
import ocrbeam.transforms.options  # noqa: F401 - registers OcrbeamOptions

README = Path(__file__).parent.parent / "README.md"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _known_flags() -> set[str]:
    flags = set()
    for cls in set(_subclasses(po.PipelineOptions)):
        parser = argparse.ArgumentParser(add_help=False)
        cls._add_argparse_args(parser)
        for action in parser._actions:
            flags.update(action.option_strings)
    return flags


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip().startswith(("ocrbeam run", "ocrbeam stream")):
                commands.append(command)
    return commands


def test_readme_flags_exist_in_the_installed_sdk():
    commands = _readme_commands()
    assert any("DataflowRunner" in c for c in commands)
    assert any("FlinkRunner" in c for c in commands)
    known = _known_flags()
    used = {flag for c in commands for flag in re.findall(r"(?<!\S)--[a-z_]+", c)}
    assert {"--sdk_container_image", "--flink_master", "--subscription"} <= used
    assert used - known == set()
