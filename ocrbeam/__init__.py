"""ocrbeam: OCR and document parsing for data lakes on Apache Beam."""

__version__ = "0.1.0"
