"""Reusable Beam transforms, model handlers and records of ocrbeam."""
