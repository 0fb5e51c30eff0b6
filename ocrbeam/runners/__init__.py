"""Beam runners ocrbeam fixes or adds: :mod:`.dask` (``--runner DaskRunner``)."""
