"""File-storage delivery: local folders with atomic writes, and the S3 path through a client."""

from __future__ import annotations

import pytest

from delivery.storage import StorageChannel, StorageDeliveryError
from engine.schedules import Recipient
from tests.delivery.helpers import CSV, make_bundle


def test_local_storage_writes_the_files_under_a_run_folder(tmp_path):
    root = tmp_path / "deliveries"
    result = StorageChannel(root).send(
        make_bundle(tmp_path / "src"), Recipient("storage", "finance/weekly")
    )

    [path] = result.detail["paths"]
    written = root / "finance/weekly/weekly-revenue-7/20260330T070000Z-run42/revenue.csv"
    assert path == str(written)
    assert written.read_text() == CSV
    assert not list(written.parent.glob(".*.part"))  # no temporary file left behind


def test_storage_folder_cannot_escape_the_root(tmp_path):
    with pytest.raises(StorageDeliveryError, match="inside the storage root"):
        StorageChannel(tmp_path / "root").send(
            make_bundle(tmp_path), Recipient("storage", "../../etc")
        )


class RecordingS3:
    """Stands in for boto3's S3 client (no S3 here): records upload_file calls with their bytes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, dict]] = {}

    def upload_file(self, Filename: str, Bucket: str, Key: str, ExtraArgs: dict) -> None:  # noqa: N803 - boto3's names
        with open(Filename, "rb") as f:
            self.objects[(Bucket, Key)] = (f.read(), ExtraArgs)


def test_s3_recipient_uploads_each_file_with_its_content_type(tmp_path):
    s3 = RecordingS3()
    result = StorageChannel(tmp_path, s3_client=s3).send(
        make_bundle(tmp_path), Recipient("storage", "s3://reports-bucket/nexpo/")
    )

    key = "nexpo/weekly-revenue-7/20260330T070000Z-run42/revenue.csv"
    assert result.detail["keys"] == [f"s3://reports-bucket/{key}"]
    data, extra = s3.objects[("reports-bucket", key)]
    assert data == CSV.encode() and extra["ContentType"] == "text/csv"
