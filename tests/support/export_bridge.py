"""EMULATOR BRIDGE: bqemulator writes EXPORT DATA files to a local folder, not to a GCS emulator; this
warehouse wrapper uploads them into fake-gcs-server through the storage API when the job is DONE."""

from __future__ import annotations

from pathlib import Path


class BridgedWarehouse:
    def __init__(self, inner, export_root: Path, bucket):
        self.inner, self.export_root, self.bucket = inner, export_root, bucket
        self.prefixes: dict[str, str] = {}
        self.started: list[str] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def start_export(self, job):
        self.prefixes[job.job_id] = job.destination_prefix
        self.started.append(job.job_id)
        return self.inner.start_export(job)

    def wait_export(self, job_id, timeout):
        status = self.inner.wait_export(job_id, timeout)
        folder = self.export_root / self.bucket.name / self.prefixes.get(job_id, "-")
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                blob = self.bucket.blob(self.prefixes[job_id] + path.name)
                if not blob.exists():
                    blob.upload_from_filename(str(path))
        return status
