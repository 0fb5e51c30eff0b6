"""Where an ``ocrbeam run`` spends CPU outside the OCR engines.

Renders pages from the real PDFs in tests/data to PNG, runs ``ocrbeam run`` on
a small and on a large set of them, and samples the CPU time of every process
of each run: the launcher (which runs Beam itself in the default local run),
Beam's SDK worker processes (none in the default local run; ``--set
ocr.sharedEngines=false`` brings them back), the engine processes (those that
load onnxruntime or Paddle) and the rest (renderers, a separate engine pool
server).  From the two runs it derives each role's fixed CPU seconds
(start-up, model loads, shut-down) and its CPU milliseconds per page, so the
pipeline's own cost per page shows next to the engines'.  It also reports each
role's peak resident memory (summed over its processes) in both runs: memory
that grows with the pages of a run shows as the difference.

    python bench/overhead.py --pages 64 --small 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, ocrbeam_run_command, write_page_folder  # noqa: E402

ROLES = ("launcher", "sdk_worker", "engine", "other")
_ENGINE_LIBRARIES = ("onnxruntime", "libpaddle")


#: Seconds after which a process that has not loaded an inference library is
#: taken for a renderer (engines load theirs within seconds of starting).
_SETTLED_S = 10.0


def _role(proc, root_pid: int, known: dict[int, str]) -> str:
    if proc.pid in known:
        return known[proc.pid]
    if proc.pid == root_pid:
        role = "launcher"
    elif "sdk_worker_main" in " ".join(proc.cmdline()):
        role = "sdk_worker"
    elif any(
        # An engine process maps its inference library once it has imported it.
        lib in m.path
        for m in proc.memory_maps()
        for lib in _ENGINE_LIBRARIES
    ):
        role = "engine"
    else:
        role = "other"
        if time.time() - proc.create_time() < _SETTLED_S:
            return role  # for now: it may still be an engine that is starting
    known[proc.pid] = role
    return role


def sampled_run(cmd: list[str], interval_s: float = 0.25) -> dict:
    """Run ``cmd``; CPU seconds of its process tree by role, wall clock, peak
    resident memory by role and of the whole tree, and what it printed."""
    import psutil

    # stderr goes to a file: a pipe read only at the end would fill up (Beam
    # logs a warning per bundle) and block a long run.
    log = tempfile.TemporaryFile()
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    root = psutil.Process(child.pid)
    last: dict[int, tuple[str, float]] = {}
    known: dict[int, str] = {}
    peak_rss = {role: 0 for role in ROLES}
    peak_total = 0
    while child.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = []
        rss = {role: 0 for role in ROLES}
        for proc in procs:
            try:
                if proc.name() in ("sh", "bash"):
                    continue  # the shell Beam starts each SDK worker through
                role = _role(proc, root.pid, known)
                times = proc.cpu_times()
                rss[role] += proc.memory_info().rss
                last[proc.pid] = (role, times.user + times.system)
            except psutil.Error:
                pass  # exited between listing and reading: its last sample stands
        for role, size in rss.items():
            peak_rss[role] = max(peak_rss[role], size)
        peak_total = max(peak_total, sum(rss.values()))
        time.sleep(interval_s)
    wall = time.perf_counter() - start
    log.seek(0)
    errors = log.read().decode(errors="replace")
    log.close()
    if child.returncode != 0:
        raise SystemExit(f"ocrbeam run failed:\n{errors[-3000:]}")
    cpu = {role: 0.0 for role in ROLES}
    counts = {role: 0 for role in ROLES}
    for role, seconds in last.values():
        cpu[role] += seconds
        counts[role] += 1
    return {
        "wall_s": round(wall, 2),
        "cpu_s": cpu,
        "processes": counts,
        "peak_rss_mb": {r: round(v / 2**20) for r, v in peak_rss.items()},
        "peak_total_rss_mb": round(peak_total / 2**20),
        "stderr": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=64)
    parser.add_argument("--small", type=int, default=2)
    parser.add_argument("--dpi", type=int, default=150)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, n in (("small", args.small), ("large", args.pages)):
            folder = Path(tmp) / f"pages-{name}"
            write_page_folder(folder, args.dpi, n)
            out = Path(tmp) / f"out-{name}"
            runs[name] = sampled_run(ocrbeam_run_command(folder, out, args.overrides))
            runs[name].pop("stderr")
    small, large = runs["small"], runs["large"]
    extra = args.pages - args.small
    per_page_ms = {
        r: round((large["cpu_s"][r] - small["cpu_s"][r]) / extra * 1000, 1)
        for r in ROLES
    }
    fixed_s = {
        r: round(small["cpu_s"][r] - per_page_ms[r] / 1000 * args.small, 1)
        for r in ROLES
    }
    outside = sum(v for r, v in per_page_ms.items() if r != "engine")
    print(f"{args.small} and {args.pages} pages; wall clock {small['wall_s']} s "
          f"and {large['wall_s']} s")  # fmt: skip
    print(f"{'role':<12} {'processes':>9} {'fixed CPU s':>12} {'CPU ms/page':>12}"
          f" {'peak RSS MB':>16}")  # fmt: skip
    for r in ROLES:
        rss = f"{small['peak_rss_mb'][r]} -> {large['peak_rss_mb'][r]}"
        print(f"{r:<12} {large['processes'][r]:>9} {fixed_s[r]:>12.1f} "
              f"{per_page_ms[r]:>12.1f} {rss:>16}")  # fmt: skip
    share = outside / (outside + per_page_ms["engine"])
    print(f"outside the engines: {outside:.0f} ms CPU per page ({share:.1%} of "
          f"a page's CPU)")  # fmt: skip
    emit(
        {
            "bench": "overhead",
            "pages": args.pages,
            "small_pages": args.small,
            "dpi": args.dpi,
            "runs": runs,
            "fixed_cpu_s": fixed_s,
            "cpu_ms_per_page": per_page_ms,
            "outside_engines_ms_per_page": round(outside, 1),
            "outside_engines_share": round(share, 4),
        }
    )


if __name__ == "__main__":
    main()
