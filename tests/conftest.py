"""Shared fixtures: generated documents, a loaded PP-OCRv5 engine, runners."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TESTS = str(Path(__file__).parent)
sys.path.insert(0, TESTS)
# Multi-process runners start SDK worker processes that unpickle functions of
# the test modules by reference: let them import those modules too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (TESTS, os.environ.get("PYTHONPATH")) if p
)

from docs import DATA, SENTENCES, encode, pdf_of_pages, text_image  # noqa: E402

# gcsfs probes for hierarchical-namespace buckets on every operation unless
# told not to; against the emulator each probe stalls 60 s.  Read at import.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


@pytest.fixture(scope="session", autouse=True)
def _offline_google_credentials(tmp_path_factory):
    """Credentials that need no network: an access token that never expires.

    Without any, Beam retries ``google.auth.default()`` for ~25 s in every
    process before going anonymous; the emulators ignore the token.
    """
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        yield
        return
    path = tmp_path_factory.mktemp("gcp") / "offline-credentials.json"
    path.write_text(
        '{"type": "authorized_user", "client_id": "offline", "client_secret": "x",'
        ' "refresh_token": "x", "token": "offline", "expiry": "2099-01-01T00:00:00Z"}'
    )
    os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(path)
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", "ocrbeam-test")
    yield
    os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)


# The bundled ONNX model folders are assembled under this cache; keep tests'
# cache out of the user's home so runs start from the installed packages.
os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("ocrbeam-cache")
    old = os.environ.get("OCRBEAM_CACHE_DIR")
    os.environ["OCRBEAM_CACHE_DIR"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("OCRBEAM_CACHE_DIR", None)
    else:
        os.environ["OCRBEAM_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def ppocr_handler():
    from ocrbeam.transforms.config import PPOCRv5Config
    from ocrbeam.transforms.handlers import PPOCRv5ModelHandler

    return PPOCRv5ModelHandler(PPOCRv5Config(), config_hash="test", cpu_threads=2)


@pytest.fixture(scope="session")
def ppocr_engine(ppocr_handler):
    """One real PP-OCRv5 engine for the whole session (load once, reuse)."""
    return ppocr_handler.load_model()


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """Good and bad documents side by side, as a data lake holds them."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "two-pages.pdf").write_bytes(
        pdf_of_pages([SENTENCES[0:2], SENTENCES[2:4]])
    )
    (folder / "scan.png").write_bytes(encode(text_image(SENTENCES[4:6])))
    shutil.copy(DATA / "libreoffice-writer-password.pdf", folder / "locked.pdf")
    (folder / "notes.pdf").write_bytes(b"this is not a PDF at all\n" * 10)
    (folder / ".hidden.pdf").write_bytes(b"ignored")
    return folder
