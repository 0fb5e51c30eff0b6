"""One run at a time into an output prefix: a lease with a heartbeat.

``ocrbeam run`` takes ``OUT/_LEASE.json`` before it reads what the output
holds and keeps it until it has written ``_SUMMARY.json``: a run clears
superseded files at its end, so two runs into one output would delete each
other's work.  A second run that finds a live lease refuses with one line
(exit status 2); one that finds a dead holder's lease takes it over.

The lease is created with the store's own exclusive create, so two runs that
start at the same instant cannot both win:

* local paths: the lease written aside and hard-linked into place (the link
  fails if a lease exists); a stale lease is renamed away (one renamer wins)
  before the new one is created;
* ``gs://``: an upload with ``ifGenerationMatch=0``; heartbeats and takeover
  replace it with ``ifGenerationMatch=<generation read>``;
* ``s3://``: ``PutObject`` with ``If-None-Match: *``; heartbeats and
  takeover with ``If-Match: <ETag read>``;
* any other fsspec store: read, then write (no atomic create there; a
  warning says so).

The holder rewrites the lease every ``ttl_s / 4`` seconds.  A lease is dead
when its heartbeat is older than ``ttl_s`` (clocks of different hosts are
assumed to agree within seconds), or at once when its holder ran on this host
and its process is gone.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Optional

from ocrbeam.errors import UsageError

from .paths import join_uri

_LOG = logging.getLogger(__name__)

LEASE_FILE = "_LEASE.json"


class LeaseHeld(UsageError):
    """Another live run holds the output's lease."""


class Conflict(Exception):
    """A conditional write lost: the lease changed since it was read."""


@dataclass
class Holder:
    """What a lease file says about the run that holds it."""

    run_id: str
    host: str
    pid: int
    started: float
    heartbeat: float
    ttl_s: float

    def dead(self, now: float) -> bool:
        if now - self.heartbeat > self.ttl_s:
            return True
        if self.host == socket.gethostname():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:  # alive, another user's
                return False
        return False

    def describe(self, now: float) -> str:
        return (
            f"run {self.run_id} (host {self.host}, pid {self.pid}, last heartbeat "
            f"{max(0.0, now - self.heartbeat):.0f} s ago)"
        )


# -- stores: read, create if absent, replace / delete if unchanged --------------


class _LocalStore:
    def __init__(self, path: str):
        self._path = path

    def read(self) -> Optional[tuple[bytes, Any]]:
        try:
            with open(self._path, "rb") as fh:
                data = fh.read()
            return data, data
        except FileNotFoundError:
            return None

    def create(self, data: bytes) -> Any:
        # The whole lease appears at once: written aside, then hard-linked into
        # place (which fails if the path exists).  An O_EXCL create would show
        # other runs an empty file until it is written.
        os.makedirs(os.path.dirname(self._path) or ".", exist_ok=True)
        staged = f"{self._path}.{uuid.uuid4().hex}.tmp"
        with open(staged, "wb") as fh:
            fh.write(data)
        try:
            os.link(staged, self._path)
        except FileExistsError:
            raise Conflict from None
        finally:
            os.remove(staged)
        return data

    def replace(self, token: Any, data: bytes) -> Any:
        current = self.read()
        if current is None or current[1] != token:
            raise Conflict
        staged = f"{self._path}.{uuid.uuid4().hex}.tmp"
        with open(staged, "wb") as fh:
            fh.write(data)
        os.replace(staged, self._path)
        return data

    def take_over(self, token: Any, data: bytes) -> Any:
        # Rename the stale lease away: of two runs taking over, one renames.
        current = self.read()
        if current is None or current[1] != token:
            raise Conflict
        try:
            os.rename(self._path, f"{self._path}.stale-{uuid.uuid4().hex}")
        except FileNotFoundError:
            raise Conflict from None
        return self.create(data)

    def delete(self, token: Any) -> None:
        current = self.read()
        if current is not None and current[1] == token:
            os.remove(self._path)


#: Seconds one lease request may take: a heartbeat that cannot reach the
#: store is tried again at the next beat, and a run must not hang at exit on a
#: store that went away.
_REQUEST_TIMEOUT_S = 10


class _GcsStore:
    def __init__(self, bucket: str, key: str):
        from google.cloud import storage

        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            client = storage.Client(
                project=os.environ.get("GOOGLE_CLOUD_PROJECT", "ocrbeam"),
                credentials=AnonymousCredentials(),
            )
        else:
            client = storage.Client()
        self._blob = client.bucket(bucket).blob(key)

    def read(self) -> Optional[tuple[bytes, Any]]:
        from google.api_core.exceptions import NotFound

        try:
            data = self._blob.download_as_bytes(timeout=_REQUEST_TIMEOUT_S, retry=None)
        except NotFound:
            return None
        return data, self._blob.generation

    def _upload(self, data: bytes, generation: int) -> Any:
        from google.api_core.exceptions import PreconditionFailed

        try:
            self._blob.upload_from_string(
                data,
                content_type="application/json",
                if_generation_match=generation,
                timeout=_REQUEST_TIMEOUT_S,
                retry=None,
            )
        except PreconditionFailed:
            raise Conflict from None
        return self._blob.generation

    def create(self, data: bytes) -> Any:
        return self._upload(data, 0)

    def replace(self, token: Any, data: bytes) -> Any:
        return self._upload(data, token)

    take_over = replace

    def delete(self, token: Any) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        try:
            self._blob.delete(
                if_generation_match=token, timeout=_REQUEST_TIMEOUT_S, retry=None
            )
        except (NotFound, PreconditionFailed):
            pass


class _S3Store:
    def __init__(self, bucket: str, key: str):
        import boto3
        from botocore.config import Config

        self._client = boto3.client(
            "s3",
            config=Config(
                connect_timeout=_REQUEST_TIMEOUT_S,
                read_timeout=_REQUEST_TIMEOUT_S,
                retries={"max_attempts": 2},
            ),
        )
        self._bucket, self._key = bucket, key

    def read(self) -> Optional[tuple[bytes, Any]]:
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._key)
        except self._client.exceptions.NoSuchKey:
            return None
        return answer["Body"].read(), answer["ETag"]

    def _put(self, data: bytes, **condition) -> Any:
        from botocore.exceptions import ClientError

        try:
            answer = self._client.put_object(
                Bucket=self._bucket, Key=self._key, Body=data, **condition
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                raise Conflict from None
            raise
        return answer["ETag"]

    def create(self, data: bytes) -> Any:
        return self._put(data, IfNoneMatch="*")

    def replace(self, token: Any, data: bytes) -> Any:
        return self._put(data, IfMatch=token)

    take_over = replace

    def delete(self, token: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.delete_object(
                Bucket=self._bucket, Key=self._key, IfMatch=token
            )
        except ClientError:
            pass


class _FsspecStore:
    """Stores without a conditional write: read, then write."""

    def __init__(self, url: str):
        import fsspec

        self._fs, self._path = fsspec.core.url_to_fs(url)
        _LOG.warning(
            "%s has no atomic create: the output's lease is checked, not enforced", url
        )

    def read(self) -> Optional[tuple[bytes, Any]]:
        try:
            data = self._fs.cat_file(self._path)
        except FileNotFoundError:
            return None
        return data, data

    def create(self, data: bytes) -> Any:
        if self._fs.exists(self._path):
            raise Conflict
        self._fs.pipe_file(self._path, data)
        return data

    def replace(self, token: Any, data: bytes) -> Any:
        current = self.read()
        if current is None or current[1] != token:
            raise Conflict
        self._fs.pipe_file(self._path, data)
        return data

    take_over = replace

    def delete(self, token: Any) -> None:
        current = self.read()
        if current is not None and current[1] == token:
            self._fs.rm_file(self._path)


def _store(url: str):
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _LocalStore(url)
    if scheme == "file":
        return _LocalStore(rest)
    bucket, _, key = rest.partition("/")
    if scheme in ("gs", "gcs"):
        return _GcsStore(bucket, key)
    if scheme in ("s3", "s3a"):
        return _S3Store(bucket, key)
    return _FsspecStore(url)


# -- the lease -----------------------------------------------------------------


class Lease:
    """The lease on an output prefix, for one run.

    Example:
        >>> with Lease("gs://lake/ocr-out", run_id):
        ...     run_the_pipeline()
    """

    def __init__(self, output: str, run_id: str, ttl_s: float = 60.0):
        self.url = join_uri(output, LEASE_FILE)
        self._run_id = run_id
        self._ttl_s = ttl_s
        self._store = None
        self._token: Any = None
        self._holder: Optional[Holder] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        #: Set when another run took the lease (this run's heartbeats stopped
        #: reaching the store for longer than the lease lives).
        self.lost = False

    def _payload(self) -> bytes:
        self._holder.heartbeat = time.time()
        return json.dumps(asdict(self._holder), sort_keys=True).encode()

    def acquire(self) -> Lease:
        """Take the lease, or raise :class:`LeaseHeld` naming its live holder."""
        self._store = _store(self.url)
        now = time.time()
        self._holder = Holder(
            self._run_id, socket.gethostname(), os.getpid(), now, now, self._ttl_s
        )
        for _attempt in range(5):
            current = self._store.read()
            try:
                if current is None:
                    self._token = self._store.create(self._payload())
                    break
                data, token = current
                holder = _parse(data)
                if holder is not None and not holder.dead(time.time()):
                    raise LeaseHeld(
                        f"{self.url.rsplit('/', 1)[0]} is in use by "
                        f"{holder.describe(time.time())}: wait for it to end, "
                        "or write to another --output"
                    )
                if holder is not None:
                    _LOG.warning("taking over the lease of dead %s", holder.run_id)
                self._token = self._store.take_over(token, self._payload())
                break
            except Conflict:
                continue  # someone else moved first: look again
        else:
            raise LeaseHeld(f"{self.url}: could not take the lease (contended)")
        self._thread = threading.Thread(
            target=self._beat, name="ocrbeam-lease", daemon=True
        )
        self._thread.start()
        return self

    def _beat(self) -> None:
        interval = max(0.5, self._ttl_s / 4)
        failing = False
        while not self._stop.wait(interval):
            try:
                with self._lock:
                    self._token = self._store.replace(self._token, self._payload())
            except Conflict:
                self.lost = True
                _LOG.error("%s: another run took this run's lease", self.url)
                return
            except Exception as exc:  # noqa: BLE001 - the store is away: retried
                if not failing:  # once, not every beat
                    _LOG.warning("%s: heartbeat failed (%s); retrying", self.url, exc)
                failing = True
            else:
                failing = False

    def store_reachable(self) -> bool:
        """Whether the output's store answers one request now (bounded: it
        tells a store that went away from a failure of another kind)."""
        try:
            self._store.read()
        except Exception:  # noqa: BLE001 - any failure to answer
            return False
        return True

    def release(self) -> None:
        """Stop the heartbeat and delete the lease (if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._store is None or self.lost:
            return
        try:
            with self._lock:
                self._store.delete(self._token)
        except Exception as exc:  # noqa: BLE001 - it expires on its own
            _LOG.warning("%s: could not release the lease (%s)", self.url, exc)

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _parse(data: bytes) -> Optional[Holder]:
    try:
        return Holder(**json.loads(data.decode("utf-8")))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None  # unreadable: treated as dead
