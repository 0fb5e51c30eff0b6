"""Config sections for what comes in and goes out: source limits, rendering,
sinks (Parquet, JSON lines, markdown, BigQuery)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .base import Section, roles

MB = 1024 * 1024


class SourceConfig(Section):
    """Which documents are accepted (limits as the hosted service's defaults)."""

    max_pdf_bytes: Optional[int] = Field(
        50 * MB,
        gt=0,
        description="Largest PDF accepted, in bytes (service default 50 MB); "
        "null: unlimited. Larger files become file_too_large errors.",
    )
    max_image_bytes: Optional[int] = Field(
        10 * MB,
        gt=0,
        description="Largest image file accepted, in bytes (service default "
        "10 MB); null: unlimited.",
    )


class RenderConfig(Section):
    """How documents are turned into page images."""

    dpi: int = Field(150, gt=0, le=1200, description="PDF rendering resolution.")
    max_pages: Optional[int] = Field(
        None,
        gt=0,
        description="Render at most this many pages per document; the pages "
        "beyond are reported in errors/ (never dropped silently). null: all.",
    )
    passwords: list[str] = Field(
        default_factory=list,
        description="Passwords to try on encrypted PDFs, in order. A PDF that "
        "none opens is a wrong_password error (encrypted_pdf when none are set).",
        json_schema_extra=roles("operational"),
    )
    max_pixels: Optional[int] = Field(
        40_000_000,
        gt=0,
        description="Largest page image, in pixels (decompression-bomb guard); "
        "null: unlimited. Larger pages are page_too_large errors unless "
        "downscaleOversize is true.",
    )
    downscale_oversize: bool = Field(
        False,
        description="Render pages over maxPixels at a reduced scale instead of "
        "failing them.",
    )
    page_timeout_s: Optional[float] = Field(
        120.0,
        gt=0,
        description="Seconds one page may take to render before the renderer "
        "process is killed and the page becomes a page_timeout error.",
        json_schema_extra=roles("operational"),
    )
    isolate: bool = Field(
        True,
        description="Render in a child process, so that a crash or hang in "
        "pdfium costs one document or page, never the worker.",
        json_schema_extra=roles("operational"),
    )
    skip_blank_pages: bool = Field(
        True,
        description="Detect blank pages after rendering and write them as "
        "route=blank rows without running the models.",
    )
    blank_ink_fraction: float = Field(
        0.0002,
        ge=0,
        le=1,
        description="A page with less than this share of dark pixels is blank.",
    )
    text_layer: Literal["auto", "trust", "ignore"] = Field(
        "auto",
        description="route auto: a PDF page's own text layer is checked before "
        "its words are taken (auto: not invisible, mapped to Unicode, in a "
        "script, covering the text the layout model sees; a page that fails is "
        "OCR'd, and its row's textSourceReason says why), taken whenever "
        "present (trust), or never taken (ignore: every page OCR'd).",
    )
    png_compress_level: int = Field(
        1,
        ge=0,
        le=9,
        description="zlib level of the PNG that carries each page between "
        "stages (1: fast, larger; 9: slow, smaller).",
    )


class BigQueryConfig(Section):
    """BigQuery tables for pages and dead letters (Beam's WriteToBigQuery).

    Off unless ``pagesTable`` is set.  Table schemas are derived from the
    record types (``PageResult``, ``DeadLetter``).
    """

    pages_table: Optional[str] = Field(
        None,
        description="PROJECT:DATASET.TABLE (or DATASET.TABLE) for page rows; "
        "null: no BigQuery output.",
    )
    errors_table: Optional[str] = Field(
        None, description="Table for dead letters; default: the pages table + _errors."
    )
    method: Literal["FILE_LOADS", "STREAMING_INSERTS", "STORAGE_WRITE_API"] = Field(
        "FILE_LOADS",
        description="FILE_LOADS (batch default: load jobs from files under "
        "--temp_location), STREAMING_INSERTS (tabledata.insertAll), or "
        "STORAGE_WRITE_API (a Java cross-language transform: needs Java and "
        "Beam's expansion service jar on the launcher).",
    )
    partition_by_ingestion_date: bool = Field(
        True, description="Create tables partitioned by ingestion date (DAY)."
    )
    cluster_by: list[str] = Field(
        default_factory=lambda: ["doc_id"],
        description="Clustering columns for created tables; [] for none.",
    )
    create_disposition: Literal["CREATE_IF_NEEDED", "CREATE_NEVER"] = Field(
        "CREATE_IF_NEEDED", description="Create the tables if needed, as in Beam."
    )
    write_disposition: Literal["WRITE_APPEND", "WRITE_TRUNCATE", "WRITE_EMPTY"] = Field(
        "WRITE_APPEND", description="Append to the tables, as in Beam."
    )


class SinkConfig(Section):
    """What is written under --output (and to BigQuery, when configured)."""

    parquet: bool = Field(True, description="pages/ and errors/ as Parquet.")
    jsonl: bool = Field(False, description="Also pages/ and errors/ as JSON lines.")
    markdown_files: bool = Field(
        False, description="Also one markdown file per page under markdown/."
    )
    documents: bool = Field(
        True,
        description="documents/: one row and one markdown file per document, "
        "pages in order, paragraphs joined across page breaks.",
    )
    num_shards: int = Field(
        0,
        ge=0,
        description="Output files per table on Dataflow, Flink and dask; 0 lets "
        "the runner decide. Local runs write files as documents finish "
        "(commitIntervalS) instead.",
    )
    commit_interval_s: float = Field(
        10.0,
        ge=0,
        description="Local runs: the rows of finished documents are written at "
        "most this many seconds after they finish, one file per table each "
        "time, so a run that is killed keeps them and its rerun skips them. "
        "0: a file per document as it finishes (more, smaller files).",
    )
    bigquery: BigQueryConfig = Field(
        default_factory=BigQueryConfig,
        description="Also write pages and dead letters to BigQuery.",
    )
