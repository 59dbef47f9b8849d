"""File-storage delivery: a local directory (atomic writes) or S3-compatible storage through boto3.

A storage recipient is a relative folder under the storage root ("finance/weekly") or an S3
location ("s3://bucket/prefix"). Files land in `<folder>/<schedule-slug>/<due time>/<file name>`,
so runs never overwrite each other and a folder listing sorts by time.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from delivery.base import Bundle, DeliveryError, DeliveryResult, Recipient


class StorageDeliveryError(DeliveryError):
    channel = "storage"


def run_folder(bundle: Bundle) -> PurePosixPath:
    """`<schedule-slug>/<due time, UTC>` for one run."""
    slug = (
        re.sub(r"[^a-z0-9]+", "-", bundle.schedule_name.lower()).strip("-")
        or f"schedule-{bundle.schedule_id}"
    )
    return PurePosixPath(
        f"{slug}-{bundle.schedule_id}", f"{bundle.due_at:%Y%m%dT%H%M%SZ}-run{bundle.run_id}"
    )


class StorageChannel:
    """Copies a run's files to a local folder under `root`, or to S3 for s3:// recipients.

    `s3_client` is a boto3 S3 client (or anything with `upload_file(Filename, Bucket, Key,
    ExtraArgs=...)`); when it is None and an s3:// recipient appears, one is made with boto3 from
    the standard AWS environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_S3 for S3-compatible stores).
    """

    name = "storage"

    def __init__(self, root: str | Path, *, s3_client: Any = None) -> None:
        self.root = Path(root).resolve()
        self._s3 = s3_client

    def send(self, bundle: Bundle, recipient: Recipient) -> DeliveryResult:
        if recipient.address.startswith("s3://"):
            return self._send_s3(bundle, recipient)
        folder = self._local_folder(recipient.address) / run_folder(bundle)
        written = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for artifact in bundle.artifacts:
                written.append(str(atomic_copy(artifact.path, folder / _safe_name(artifact.name))))
        except OSError as exc:
            raise StorageDeliveryError(
                f"could not write to storage folder {recipient.address!r} ({type(exc).__name__})"
            ) from exc
        return DeliveryResult(self.name, recipient.label, 1, {"paths": written})

    def _local_folder(self, address: str) -> Path:
        relative = PurePosixPath(address.removeprefix("file:").strip("/") or ".")
        if ".." in relative.parts:
            raise StorageDeliveryError(
                f"storage folder {address!r} must stay inside the storage root"
            )
        folder = (self.root / relative).resolve()
        if not folder.is_relative_to(self.root):
            raise StorageDeliveryError(
                f"storage folder {address!r} must stay inside the storage root"
            )
        return folder

    def _send_s3(self, bundle: Bundle, recipient: Recipient) -> DeliveryResult:
        bucket, _, prefix = recipient.address.removeprefix("s3://").partition("/")
        if not bucket:
            raise StorageDeliveryError(f"{recipient.address!r} names no bucket")
        client = self._s3 or _boto3_client()
        keys = []
        for artifact in bundle.artifacts:
            key = str(
                PurePosixPath(prefix.strip("/"), run_folder(bundle), _safe_name(artifact.name))
            ).lstrip("/")
            try:
                client.upload_file(
                    Filename=str(artifact.path),
                    Bucket=bucket,
                    Key=key,
                    ExtraArgs={
                        "ContentType": artifact.content_type,
                        "Metadata": {"sha256": artifact.sha256},
                    },
                )
            except Exception as exc:  # noqa: BLE001 - botocore errors have no common importable base here
                raise StorageDeliveryError(
                    f"upload to s3://{bucket}/{key} failed ({type(exc).__name__})"
                ) from exc
            keys.append(f"s3://{bucket}/{key}")
        return DeliveryResult(self.name, recipient.label, 1, {"keys": keys})


def atomic_copy(source: Path, target: Path) -> Path:
    """Copy `source` to `target` so readers see either no file or the whole file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePosixPath(name).name).lstrip(".")
    return cleaned or "file"


def _boto3_client() -> Any:
    try:
        import boto3
    except ImportError:
        raise StorageDeliveryError(
            "S3 storage needs the boto3 package, which is not installed"
        ) from None
    return boto3.client("s3")
