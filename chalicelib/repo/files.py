"""The documents bucket (issue 17): presigned POSTs for the browser's uploads, what an
uploaded object is, presigned GETs for the pages that show it, and deleting a refused
file. The client is made on first use (a page that shows no document never loads the S3
client), by the composition root's factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.documents import SNIFF_BYTES, Uploaded


class FilesOff(Exception):
    """This stage has no documents bucket: uploads are not offered."""


@dataclass(frozen=True)
class FileStore:
    client_factory: Callable[[], Any]
    bucket: str
    endpoint: str = ""  # the local S3 (moto); empty: AWS
    region: str = ""

    @property
    def on(self) -> bool:
        return bool(self.bucket)

    def upload_origins(self) -> tuple[str, ...]:
        """Where a page's script posts files (the page's CSP must allow it to connect)."""
        if not self.bucket:
            return ()
        if self.endpoint:
            return (self.endpoint.rstrip("/"),)
        return (
            f"https://{self.bucket}.s3.amazonaws.com",
            f"https://{self.bucket}.s3.{self.region}.amazonaws.com",
        )

    def _client(self) -> Any:
        if not self.bucket:
            raise FilesOff()
        return self.client_factory()

    def upload_form(
        self, key: str, content_type: str, max_bytes: int, expires_seconds: int
    ) -> dict[str, Any]:
        """The URL and fields of a presigned POST for exactly this key and type, of 1
        byte to `max_bytes`: S3 refuses anything else the browser sends."""
        return dict(
            self._client().generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Fields={"Content-Type": content_type},
                Conditions=[
                    {"Content-Type": content_type},
                    ["content-length-range", 1, max_bytes],
                ],
                ExpiresIn=expires_seconds,
            )
        )

    def uploaded(self, key: str) -> Uploaded | None:
        """What is stored at `key` (None: nothing): a HEAD, then its first bytes."""
        client = self._client()
        try:
            head = client.head_object(Bucket=self.bucket, Key=key)
        except client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        size = int(head.get("ContentLength") or 0)
        first = b""
        if size:
            body = client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}"
            )["Body"]
            first = body.read()
        return Uploaded(key, size, str(head.get("ContentType") or ""), first)

    def delete(self, key: str) -> None:
        """A refused file goes (the bucket is versioned: its lifecycle rule removes the
        old version after a few days, and nothing links to it meanwhile)."""
        self._client().delete_object(Bucket=self.bucket, Key=key)

    def view_url(self, key: str, filename: str, content_type: str, expires_seconds: int) -> str:
        """A short-lived link to read the file, made when a page is drawn."""
        return str(
            self._client().generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ResponseContentType": content_type,
                    "ResponseContentDisposition": f'inline; filename="{filename}"',
                },
                ExpiresIn=expires_seconds,
            )
        )
