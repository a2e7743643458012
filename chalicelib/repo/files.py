"""The documents bucket (issue 17): presigned POSTs for the browser's uploads, what an
uploaded object is, presigned GETs for the pages that show it, and deleting a refused
file. The client is made on first use (a page that shows no document never loads the S3
client), by the composition root's factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.documents import SNIFF_BYTES, Uploaded


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _version(head: dict[str, Any]) -> str:
    # An unversioned bucket answers no VersionId, or "null": nothing to pin to then
    # but the ETag.
    found = str(head.get("VersionId") or "")
    return "" if found == "null" else found


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
        """What is stored at `key` (None: nothing): a HEAD, then the first bytes of that
        very version (an overwrite in between cannot slip other bytes into the check)."""
        client = self._client()
        try:
            head = client.head_object(Bucket=self.bucket, Key=key)
        except client.exceptions.ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        size = int(head.get("ContentLength") or 0)
        version_id = _version(head)
        etag = str(head.get("ETag") or "")
        first = b""
        if size:
            pinned: dict[str, str] = {"VersionId": version_id} if version_id else {}
            if etag:
                pinned["IfMatch"] = etag
            try:
                body = client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}", **pinned
                )["Body"]
            except client.exceptions.ClientError as exc:
                if _code(exc) in ("412", "PreconditionFailed", "404", "NoSuchKey"):
                    return None  # replaced or gone while being read: not what was asked for
                raise
            first = body.read()
        return Uploaded(
            key,
            size,
            str(head.get("ContentType") or ""),
            first,
            version_id=version_id,
            etag=etag,
            last_modified=head.get("LastModified"),
        )

    def keep(self, checked: Uploaded, to_key: str) -> str | None:
        """Copy exactly the version that was checked to `to_key` (server side: the bytes
        never reach the app). Returns the copy's own version id ("" in an unversioned
        bucket), or None if the checked version is no longer there to copy."""
        client = self._client()
        source: dict[str, str] = {"Bucket": self.bucket, "Key": checked.key}
        if checked.version_id:
            source["VersionId"] = checked.version_id
        unchanged = {"CopySourceIfMatch": checked.etag} if checked.etag else {}
        try:
            copied = client.copy_object(
                Bucket=self.bucket,
                Key=to_key,
                CopySource=source,
                MetadataDirective="COPY",
                **unchanged,
            )
        except client.exceptions.ClientError as exc:
            if _code(exc) in ("412", "PreconditionFailed", "404", "NoSuchKey", "NoSuchVersion"):
                return None
            raise
        version = copied.get("VersionId")
        return "" if version in (None, "null") else str(version)

    def delete(self, key: str, version_id: str = "") -> None:
        """A refused file goes (the bucket is versioned: its lifecycle rule removes the
        old version after a few days, and nothing links to it meanwhile). With
        `version_id`, only that version goes: the copy one request made, when another
        request may have made (and attached) its own copy at the same key."""
        extra = {"VersionId": version_id} if version_id else {}
        self._client().delete_object(Bucket=self.bucket, Key=key, **extra)

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
