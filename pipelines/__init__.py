"""Runnable ocrbeam pipelines."""
