"""BigQuery sink: page rows and dead letters through Beam's WriteToBigQuery.

The table schemas come from the record types (``PageResult``, ``DeadLetter``)
through the same Arrow schema the Parquet sink writes, so there is one
definition of each table.  Created tables are partitioned by ingestion date
and clustered by ``doc_id`` unless the config says otherwise.

Example:
    >>> pages | WriteBigQuery(config.sink.bigquery, PageResult, "pages")
"""

from __future__ import annotations

from typing import Any, Optional

import apache_beam as beam
import pyarrow as pa

from .config import BigQueryConfig
from .records import typed
from .sinks import arrow_schema, as_dict

_SCALARS = (
    (pa.types.is_boolean, "BOOLEAN"),
    (pa.types.is_integer, "INTEGER"),
    (pa.types.is_floating, "FLOAT"),
    (pa.types.is_string, "STRING"),
    (pa.types.is_large_string, "STRING"),
    (pa.types.is_binary, "BYTES"),
    (pa.types.is_timestamp, "TIMESTAMP"),
)


def _field(field: pa.Field) -> dict[str, Any]:
    kind, mode = field.type, "NULLABLE" if field.nullable else "REQUIRED"
    if pa.types.is_list(kind):
        kind, mode = kind.value_type, "REPEATED"
    if pa.types.is_struct(kind):
        return {
            "name": field.name,
            "type": "RECORD",
            "mode": mode,
            "fields": [_field(kind.field(i)) for i in range(kind.num_fields)],
        }
    for check, name in _SCALARS:
        if check(kind):
            return {"name": field.name, "type": name, "mode": mode}
    raise TypeError(f"no BigQuery type for {field.name}: {kind}")


def table_schema(record_type) -> dict[str, Any]:
    """The BigQuery schema (JSON form) of a record type."""
    return {"fields": [_field(f) for f in arrow_schema(record_type)]}


def table_parameters(config: BigQueryConfig) -> dict[str, Any]:
    """``additional_bq_parameters`` for tables the sink creates."""
    params: dict[str, Any] = {}
    if config.partition_by_ingestion_date:
        params["timePartitioning"] = {"type": "DAY"}  # no field: ingestion time
    if config.cluster_by:
        params["clustering"] = {"fields": list(config.cluster_by)}
    return params


def errors_table(config: BigQueryConfig) -> Optional[str]:
    if config.errors_table:
        return config.errors_table
    return f"{config.pages_table}_errors" if config.pages_table else None


class WriteBigQuery(beam.PTransform):
    """Write records of ``record_type`` to ``table`` with WriteToBigQuery.

    Beam's sink is used as is: FILE_LOADS stages files under ``--temp_location``
    (or ``custom_gcs_temp_location``) and runs load jobs; STREAMING_INSERTS
    calls tabledata.insertAll; STORAGE_WRITE_API expands through Beam's Java
    expansion service.
    """

    def __init__(
        self,
        config: BigQueryConfig,
        record_type,
        table: str,
        custom_gcs_temp_location: Optional[str] = None,
        triggering_frequency: Optional[float] = None,
    ):
        super().__init__()
        self._frequency = triggering_frequency
        self._config = config
        self._record_type = record_type
        self._table = table
        self._temp = custom_gcs_temp_location

    def expand(self, rows):
        rows = typed(rows, self._record_type)
        kwargs: dict[str, Any] = {}
        if self._temp:
            kwargs["custom_gcs_temp_location"] = self._temp
        if self._frequency:  # streaming FILE_LOADS: a load job per period
            kwargs["triggering_frequency"] = int(self._frequency)
        return (
            rows
            | "AsDict" >> beam.Map(as_dict)
            | "Write"
            >> beam.io.WriteToBigQuery(
                self._table,
                schema=table_schema(self._record_type),
                method=self._config.method,
                create_disposition=self._config.create_disposition,
                write_disposition=self._config.write_disposition,
                additional_bq_parameters=table_parameters(self._config),
                **kwargs,
            )
        )
