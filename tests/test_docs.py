"""The docs match the code: every flag in the README's and docs/' commands is
a real flag (Beam 2.77's, ocrbeam's, dask's), and docs/configuration.md is the
one the config model generates."""

import argparse
import re
from pathlib import Path

import apache_beam.options.pipeline_options as po
import apache_beam.runners.dask.dask_runner  # noqa: F401 - registers DaskOptions
import ocrbeam.pipelines.stream  # noqa: F401 - registers StreamOptions
import ocrbeam.transforms.options  # noqa: F401 - registers OcrbeamOptions

ROOT = Path(__file__).parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


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


def _commands() -> list[str]:
    commands = []
    for document in DOCUMENTS:
        blocks = re.findall(r"```bash\n(.*?)```", document.read_text(), flags=re.S)
        for block in blocks:
            for command in block.replace("\\\n", " ").splitlines():
                if command.strip().startswith(("ocrbeam run", "ocrbeam stream")):
                    commands.append(command)
    return commands


def test_documented_flags_exist_in_the_installed_sdk():
    commands = _commands()
    assert any("DataflowRunner" in c for c in commands)
    assert any("FlinkRunner" in c for c in commands)
    known = _known_flags()
    used = {flag for c in commands for flag in re.findall(r"(?<!\S)--[a-z_]+", c)}
    assert {"--sdk_container_image", "--flink_master", "--subscription"} <= used
    assert used - known == set()


def test_configuration_doc_is_generated_from_the_config_model():
    from ocrbeam.reference import config_markdown

    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == config_markdown(), (
        "docs/configuration.md is stale: python -m ocrbeam.reference "
        "> docs/configuration.md"
    )


def test_every_config_key_is_in_the_help_and_the_docs():
    from ocrbeam.reference import config_keys, fields

    keys = [doc.key for doc in fields()]
    assert "ocr.textDetThresh" in keys and "vl.layoutThreshold" in keys
    help_text = config_keys(width=10_000)
    committed = (ROOT / "docs" / "configuration.md").read_text()
    for key in keys:
        assert f"`{key}`" in committed, key
        section, _, name = key.rpartition(".")
        assert f"{name}=" in help_text, key


def test_docs_link_to_files_that_exist():
    for document in DOCUMENTS:
        for target in re.findall(r"\]\(([^)#:]+)\)", document.read_text()):
            assert (document.parent / target).exists(), (document.name, target)
