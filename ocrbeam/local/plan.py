"""How a run uses this machine: the runner, Beam's running mode, the engine
pool and the threads per engine.

The default local run (no ``--runner``) keeps Beam in ``ocrbeam run``'s own
process (``in_memory``: one bundle at a time, no SDK worker processes to
start and stop, each importing Beam) and OCRs the pages in a pool of
``--workers`` engine processes, one per core by default, each page going to
whichever engine is free.  Configs whose pages cannot be pooled (VL,
``ocr.backend=remote``, ``ocr.sharedEngines=false``) and an explicit
``--direct_running_mode`` run Beam's SDK worker processes: ``--workers`` of
them, one per core by default.  Other runners (Dataflow, Flink, dask) get no
local plan: every worker process there holds its own engine.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NamedTuple, Optional

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import PipelineOptions

    from ocrbeam.transforms.config import PipelineConfig

#: Runners that run on this machine (None: ocrbeam picks FnApiRunner).
LOCAL_RUNNERS = {"FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", None}
#: ``--runner DaskRunner`` means ocrbeam's runner (see ocrbeam/runners/dask.py).
DASK_RUNNER = "ocrbeam.runners.dask.DaskRunner"
_BEAM_DASK_RUNNERS = ("DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner")


class LocalPlan(NamedTuple):
    """How a run uses this machine."""

    #: Intra-op threads per engine; None where the runner is not local.
    threads: Optional[int]
    #: Engines of the machine's pool; None: one engine per worker process.
    engines: Optional[int]
    #: The run executes on this machine (progress lines make sense).
    local: bool = True


def pools_pages(config: PipelineConfig) -> bool:
    """Whether this config's pages can go to one pool of engines for the
    machine: the PP-OCRv5 routes with a local backend (a remote service is
    its own pool; VL has its own handler)."""
    return (
        config.ocr.shared_engines
        and config.route != "vl"
        and config.ocr.backend != "remote"
    )


def pool_size(
    config: PipelineConfig,
    runner: Optional[str],
    running_mode: Optional[str],
    workers: Optional[int],
) -> Optional[int]:
    """Engines of the default local run's pool, one per core or ``workers``;
    None where the run has no such pool (a ``--runner`` or
    ``--direct_running_mode`` given, or pages that do not pool).  What the run
    plans with, and what ``ocrbeam run`` prestarts before Beam is imported."""
    if runner is not None or running_mode is not None:
        return None
    if not pools_pages(config):
        return None
    return workers or os.cpu_count() or 1


def register_runner_options(argv: list[str]) -> None:
    """Register the options of the runner ``argv`` names before Beam parses
    them: Beam's DaskOptions are declared in its dask runner module, which is
    only imported when the runner starts, after parsing, so
    ``--dask_client_address`` would be reported as "unparseable" though it is
    used."""
    if any("DaskRunner" in arg for arg in argv):
        try:
            import apache_beam.runners.dask.dask_runner  # noqa: F401
        except ImportError:  # dask not installed: the runner says so
            pass


def plan_run(
    options: PipelineOptions,
    workers: Optional[int],
    config: PipelineConfig,
    own_pipeline: bool,
) -> LocalPlan:
    """Fill in the runner defaults in ``options`` (module doc) and return the
    plan.  ``own_pipeline`` is False for a pipeline handed in (tests): it
    builds no pool of its own."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    standard = options.view_as(StandardOptions)
    direct = options.view_as(DirectOptions)
    if standard.runner in _BEAM_DASK_RUNNERS:
        standard.runner = DASK_RUNNER
    cores = os.cpu_count() or 1
    explicit_mode = options.get_all_options(drop_default=True).get(
        "direct_running_mode"
    )
    engines = pool_size(config, standard.runner, explicit_mode, workers)
    if standard.runner is None:
        # FnApiRunner directly: DirectRunner would first try to download Prism.
        standard.runner = "FnApiRunner"
        if engines and own_pipeline:
            direct.direct_running_mode = "in_memory"
            direct.direct_num_workers = 1
            return LocalPlan(max(1, cores // engines), engines)
        direct.direct_running_mode = explicit_mode or "multi_processing"
        direct.direct_num_workers = workers or cores
    elif workers:
        direct.direct_num_workers = workers
    if standard.runner not in LOCAL_RUNNERS:
        return LocalPlan(None, None, local=False)
    processes = direct.direct_num_workers or cores
    if direct.direct_running_mode != "multi_processing":
        return LocalPlan(cores, None)
    # Beam's worker processes, one engine each or all sharing the pool.
    pooled = own_pipeline and pools_pages(config) and processes > 1
    return LocalPlan(max(1, cores // processes), processes if pooled else None)
