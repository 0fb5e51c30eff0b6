"""Text accuracy of this checkout against an earlier release, same pages,
same run: what a change to the default route costs or gains in words.

The earlier release is built from git (``--rev``, a tag or commit) into a
temporary folder (``pip install --no-deps --target``, the checkout's own
dependencies serve both), and each version reads bench/evaluate.py's
pages (the real PDF pages and the scanned-looking set) in a process of
its own through its page handler with its own defaults.  Scores: CER of
the page, line CER and word F1 of the ``text`` column, per group.

    python bench/against_release.py --rev 7982899
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, emit  # noqa: E402

#: Run by each version's process: read the pages given on stdin (a JSON
#: list of {name, image (hex), size}) with that version's defaults.
_READER = """
import json, sys
from ocrbeam.transforms.config import load_config
from ocrbeam.transforms.handlers import PPOCRv5ModelHandler
from ocrbeam.transforms.records import PageImage
config = load_config(None, ["ocr.isolate=false"])
# Page images: the layout and table models run where the default route
# runs them on an OCR'd page.
pages = getattr(config, "structure_pages", config.route == "structure")
structure = config.structure.settings() if pages else None
handler = PPOCRv5ModelHandler(config.ocr, "eval", structure=structure)
model = handler.load_model()
out = {}
for item in json.load(sys.stdin):
    image = bytes.fromhex(item["image"])
    page = PageImage("e", item["name"], 0, 1, *item["size"], image)
    [result] = handler.run_inference([page], model)
    out[item["name"]] = getattr(result, "row", result).text
print(json.dumps({"route": config.route, "texts": out}))
"""


def _install(rev: str, target: Path) -> None:
    work = target.parent / "src"
    git = ["git", "-C", str(REPO), "worktree"]
    subprocess.run([*git, "add", "--detach", str(work), rev], check=True,
                   capture_output=True)  # fmt: skip
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--target", str(target), str(work)],
            check=True,
        )  # fmt: skip
    finally:
        subprocess.run([*git, "remove", "--force", str(work)], check=True,
                       capture_output=True)  # fmt: skip


def _read(items: list[dict], path: str | None) -> dict:
    env = dict(os.environ)
    if path:
        # The release's package first on the path; run from a folder that
        # holds no ocrbeam of its own.
        env["PYTHONPATH"] = path
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run(
            [sys.executable, "-c", _READER],
            input=json.dumps(items), capture_output=True, text=True,
            env=env, cwd=cwd, check=True,
        )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the earlier release (git rev)")
    parser.add_argument("--dpi", type=int, default=144, help="for the PDFs")
    args = parser.parse_args()

    from bench.evaluate import GROUPS, _score, evaluation_set, scanned_set

    items = [{**i, "set": "pdfs"} for i in evaluation_set(args.dpi)]
    items += [{**i, "set": "scanned"} for i in scanned_set()]
    wire = [
        {"name": i["name"], "image": i["image"].hex(), "size": list(i["size"])}
        for i in items
    ]
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "release"
        _install(args.rev, target)
        versions = {
            args.rev: _read(wire, str(target)),
            "this checkout": _read(wire, None),
        }
    groups = {}
    for set_name, group_list in GROUPS.items():
        for group, kinds in group_list:
            chosen = [i for i in items if i["set"] == set_name and i["kind"] in kinds]
            if not chosen:
                continue
            groups[group] = {"pages": len(chosen)}
            for version, read in versions.items():
                scores = [_score(i["truth"], read["texts"][i["name"]]) for i in chosen]
                groups[group][version] = {
                    metric: round(sum(s[metric] for s in scores) / len(scores), 4)
                    for metric in ("cer", "line_cer", "word_f1")
                }
    print(f"{'group':<14} {'pages':>5}  " + "  ".join(f"{v:>30}" for v in versions))
    for group, g in groups.items():
        cells = "  ".join(
            f"{g[v]['cer']:.4f}/{g[v]['line_cer']:.4f}/{g[v]['word_f1']:.3f}".rjust(30)
            for v in versions
        )
        print(f"{group:<14} {g['pages']:>5}  {cells}")
    print("(CER of the page / line CER / word F1 of the text column)")
    emit(
        {
            "bench": "against_release",
            "rev": args.rev,
            "routes": {v: r["route"] for v, r in versions.items()},
            "groups": groups,
        }
    )


if __name__ == "__main__":
    main()
