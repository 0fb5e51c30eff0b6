"""The stages the batch and streaming graphs share: SplitPages -> OcrPages with
the handler the config's route calls for, and the BigQuery sinks."""

from __future__ import annotations

from typing import NamedTuple, Optional

import apache_beam as beam
from ocrbeam.transforms.bigquery import WriteBigQuery, errors_table
from ocrbeam.transforms.config import BigQueryConfig, PipelineConfig
from ocrbeam.transforms.handlers import (
    PaddleOCRVLModelHandler,
    PageModelHandler,
    PPOCRv5ModelHandler,
)
from ocrbeam.transforms.ocr import ENGINE_POOL, RUN_INFERENCE, OcrPages
from ocrbeam.transforms.pdf import SplitPages
from ocrbeam.transforms.records import DeadLetter, PageResult, typed


class OcrStages(NamedTuple):
    """What the shared SplitPages -> OcrPages stages produce."""

    pages: beam.PCollection  # PageResult, the pages that needed no OCR included
    split_dead: beam.PCollection  # DeadLetter
    ocr_dead: beam.PCollection  # DeadLetter
    artifacts: beam.PCollection  # PageArtifact: cut-out images, drawn pages
    #: ``pages`` as its producers gave it (OCR'd, and made without OCR): a
    #: transform applied to each fuses into the stage that made its rows,
    #: where one applied to ``pages`` (a Flatten) runs after that stage.
    page_parts: tuple = ()


def page_handler(
    config: PipelineConfig,
    *,
    cpu_threads: Optional[int] = None,
    engine_pool: Optional[int] = None,
) -> PageModelHandler:
    """The RunInference handler the config's route calls for; ``engine_pool``
    engines shared by the machine (local runs), else one per worker process."""
    fingerprint = config.fingerprint()
    if config.route == "vl":
        return PaddleOCRVLModelHandler(
            config.vl, fingerprint, fail_fast=config.fail_fast
        )
    return PPOCRv5ModelHandler(
        config.ocr,
        fingerprint,
        fail_fast=config.fail_fast,
        cpu_threads=cpu_threads,
        engine_pool=engine_pool,
        structure=config.structure.settings() if config.structure_pages else None,
        text_layer=config.render.text_layer if config.route == "auto" else None,
    )


def ocr_blobs(
    blobs: beam.PCollection,
    config: PipelineConfig,
    *,
    cpu_threads: Optional[int] = None,
    progress_dir: Optional[str] = None,
    handler: Optional[PageModelHandler] = None,
    spread_pages: bool = True,
) -> OcrStages:
    """SplitPages -> OcrPages.

    ``spread_pages``: reshuffle the pages between the two, so that a long
    document's pages spread over the workers (Dataflow, Flink, dask).  Local
    runs keep a document's pages in the stage that reads and splits it: with
    the machine-wide engine pool (``handler.engine_pool``) every page reaches
    the same engines anyway, Beam's local runner then never holds the rendered
    pages of the whole run in memory, and a document's rows all arrive where
    they are committed as they come (``CommitRows``)."""
    fingerprint = config.fingerprint()
    handler = handler or page_handler(config, cpu_threads=cpu_threads)
    pooled = handler.engine_pool is not None
    # routes vl and structure read every page with their models: no text-layer
    # shortcut.
    split_route = "ocr" if config.route in ("vl", "structure") else config.route
    pages, split_dead, no_ocr = blobs | "SplitPages" >> SplitPages(
        config.render,
        fingerprint,
        config.fail_fast,
        progress_dir,
        config.source,
        split_route,
        break_fusion=spread_pages and not pooled,
        structure=config.structure_pages,
    )
    results, ocr_dead, artifacts = pages | "OcrPages" >> OcrPages(
        handler,
        fingerprint,
        config.fail_fast,
        progress_dir,
        inference=ENGINE_POOL if pooled else RUN_INFERENCE,
    )
    every_page = typed((results, no_ocr) | "AllPages" >> beam.Flatten(), PageResult)
    return OcrStages(every_page, split_dead, ocr_dead, artifacts, (results, no_ocr))


def write_bigquery(
    pages: beam.PCollection,
    dead: beam.PCollection,
    bigquery: BigQueryConfig,
    triggering_frequency: Optional[float] = None,
) -> list:
    """Pages and dead letters to BigQuery when ``pagesTable`` is set."""
    if not bigquery.pages_table:
        return []
    return [
        pages
        | "BigQueryPages"
        >> WriteBigQuery(
            bigquery,
            PageResult,
            bigquery.pages_table,
            triggering_frequency=triggering_frequency,
        ),
        dead
        | "BigQueryErrors"
        >> WriteBigQuery(
            bigquery,
            DeadLetter,
            errors_table(bigquery),
            triggering_frequency=triggering_frequency,
        ),
    ]
