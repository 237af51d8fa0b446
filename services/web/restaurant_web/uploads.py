"""Streaming review uploads: multipart in, raw photos out to Blob, block by block.

A photo is never held whole in memory: its first bytes are kept only long enough to recognise the format
from the bytes themselves (never the file name or the client's Content-Type) and to read its dimensions
from the header; the rest goes to Blob in blocks. A photo over the size limit stops the request at once.
If anything fails, the blobs this request committed are deleted before the error goes back.
"""

import base64
import io
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
from PIL import Image
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from restaurant_shared.blobstore import BlobStore, raw_blob_name
from restaurant_shared.settings import Settings

BLOCK_SIZE = 4 * 1024 * 1024
# Enough for the header of any real photo; a JPEG can carry up to several 64 KB metadata segments
# before its frame header.
MAX_HEADER_BYTES = 1024 * 1024
FIRST_SNIFF_BYTES = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 20
PHOTO_FIELD = "photos"

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


class UploadRejected(Exception):
    """A client error in an upload; `status_code` and the message go back to the client as they are."""

    status_code = 400
    reason = "malformed"  # a fixed code for metrics and traces; the message may quote a file name

    def __init__(self, message: str, field_name: str = PHOTO_FIELD) -> None:
        super().__init__(message)
        self.message = message
        self.field = field_name


class PayloadTooLarge(UploadRejected):
    status_code = 413
    reason = "too_large"


class UnsupportedImage(UploadRejected):
    status_code = 415
    reason = "unsupported_image"


class ImageDimensionsTooLarge(UploadRejected):
    status_code = 422
    reason = "too_many_pixels"


class TooManyPhotos(UploadRejected):
    status_code = 422
    reason = "too_many_photos"


@dataclass(frozen=True)
class StagedPhoto:
    id: uuid.UUID
    filename: str  # cleaned, for messages only; never part of a blob name
    content_type: str
    size_bytes: int
    width: int
    height: int


@dataclass
class ReviewUpload:
    fields: dict[str, str] = field(default_factory=dict)
    photos: list[StagedPhoto] = field(default_factory=list)


def display_filename(raw: str) -> str:
    """A file name safe to show in a message: no path, no control characters, bounded length."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return (name[:80] + "…") if len(name) > 80 else (name or "photo")


def sniff_format(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


class _AbsurdDimensions(Exception):
    pass


def read_dimensions(head: bytes, image_format: str) -> tuple[int, int] | None:
    """Width and height from the header, or None when `head` does not yet hold the whole header."""
    with warnings.catch_warnings():
        # We compare against our own pixel limit; Pillow's bomb check must not decide for us.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(head), formats=[image_format]) as image:
                return image.size
        except Image.DecompressionBombError:
            raise _AbsurdDimensions from None  # only for sizes far beyond any limit of ours
        except (OSError, SyntaxError, ValueError, EOFError, IndexError):
            return None


class _PhotoWriter:
    """Receives one photo's bytes and stages them in Blob as they arrive."""

    def __init__(self, store: BlobStore, settings: Settings, filename: str) -> None:
        self.id = uuid.uuid4()
        self.filename = filename
        self._store = store
        self._settings = settings
        # The bytes not yet in Blob, as they arrived: joined once per block (growing one buffer instead copies it
        # again and again, which cost as much CPU as the whole rest of an upload).
        self._chunks: list[bytes | memoryview] = []
        self._buffered = 0
        self._blocks: list[str] = []
        self._size = 0
        self._format: str | None = None
        self._dimensions: tuple[int, int] | None = None

    async def write(self, data: bytes | memoryview) -> None:
        self._size += len(data)
        if self._size > self._settings.max_upload_bytes:
            limit_mb = self._settings.max_upload_bytes / (1024 * 1024)
            raise PayloadTooLarge(f'"{self.filename}" is larger than the {limit_mb:g} MB limit per photo.')
        self._chunks.append(data)
        self._buffered += len(data)
        if self._dimensions is None and self._buffered >= FIRST_SNIFF_BYTES:
            self._inspect(final=False)
        if self._dimensions is not None and self._buffered >= BLOCK_SIZE:
            await self._stage()

    async def finish(self) -> StagedPhoto:
        if self._size == 0:
            raise UnsupportedImage(f'"{self.filename}" is empty.')
        if self._dimensions is None:
            self._inspect(final=True)
        assert self._dimensions is not None and self._format is not None
        content_type = ACCEPTED_FORMATS[self._format]
        name = raw_blob_name(self.id)
        if not self._blocks:  # the whole photo is in the buffer: one request
            await anyio.to_thread.run_sync(self._store.put_raw, name, self._take(), content_type)
        else:
            if self._chunks:
                await self._stage()
            await anyio.to_thread.run_sync(self._store.commit_blocks, name, self._blocks, content_type)
        width, height = self._dimensions
        return StagedPhoto(self.id, self.filename, content_type, self._size, width, height)

    def _take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        return data

    def _inspect(self, *, final: bool) -> None:
        # Only until the header is read: at most MAX_HEADER_BYTES, usually the first 64 KiB.
        head = b"".join(self._chunks)
        if self._format is None:
            self._format = sniff_format(head)
            if self._format is None:
                raise UnsupportedImage(f'"{self.filename}" is not a JPEG, PNG, WebP or GIF image.')
        megapixels = self._settings.max_image_pixels / 1_000_000
        too_large = f'"{self.filename}" has more than {megapixels:g} megapixels, the most a photo may have.'
        try:
            dimensions = read_dimensions(head, self._format)
        except _AbsurdDimensions:
            raise ImageDimensionsTooLarge(too_large) from None
        if dimensions is None:
            if final or len(head) >= MAX_HEADER_BYTES:
                raise UnsupportedImage(f'"{self.filename}" is not a readable {self._format} image.')
            return
        width, height = dimensions
        if width * height > self._settings.max_image_pixels:
            raise ImageDimensionsTooLarge(f"{too_large[:-1]} ({width}×{height}).")
        self._dimensions = dimensions

    async def _stage(self) -> None:
        block_id = base64.b64encode(f"{len(self._blocks):08d}".encode()).decode()
        data = self._take()
        await anyio.to_thread.run_sync(self._store.stage_block, raw_blob_name(self.id), block_id, data)
        self._blocks.append(block_id)


async def receive_review_upload(
    request: Request,
    store: BlobStore,
    settings: Settings,
    authorize: Callable[[dict[str, str]], None] | None = None,
) -> ReviewUpload:
    """Parse a review form (multipart or urlencoded), streaming its photos into Blob.

    `authorize` sees the fields received so far and may raise to refuse the upload. It runs before the
    first photo's bytes are stored, or at the end when there are no photos (the HTML form checks its CSRF
    token there, so a form must send the token before its files, as browsers do in document order).
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"application/x-www-form-urlencoded":
        form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        if authorize is not None:
            authorize(fields)
        return ReviewUpload(fields=fields)
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise UnsupportedImage("Send the review as multipart/form-data.", field_name="__all__")
    declared = request.headers.get("content-length")
    body_limit = settings.max_photos_per_review * settings.max_upload_bytes + MAX_FIELDS * MAX_FIELD_BYTES
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise PayloadTooLarge(
            f"The upload is too large: at most {settings.max_photos_per_review} photos of "
            f"{settings.max_upload_bytes / (1024 * 1024):g} MB each."
        )

    upload = ReviewUpload()
    try:
        await _parse_multipart(request, params[b"boundary"], store, settings, upload, authorize)
        if authorize is not None and not upload.photos:
            authorize(upload.fields)
    except BaseException:
        written = [raw_blob_name(photo.id) for photo in upload.photos]
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(store.delete_raw, written)
        raise
    return upload


async def discard_upload(store: BlobStore, upload: ReviewUpload) -> None:
    await anyio.to_thread.run_sync(store.delete_raw, [raw_blob_name(photo.id) for photo in upload.photos])


async def _parse_multipart(
    request: Request,
    boundary: bytes,
    store: BlobStore,
    settings: Settings,
    upload: ReviewUpload,
    authorize: Callable[[dict[str, str]], None] | None,
) -> None:
    # The parser's callbacks are synchronous; they record events, which are then handled here
    # asynchronously (Blob writes happen in a thread), the same pattern Starlette's own parser uses.
    events: list[tuple[str, bytes | memoryview]] = []
    headers: dict[bytes, bytes] = {}
    header_field = bytearray()
    header_value = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        events.append(("part", headers.get(b"content-disposition", b"")))
        headers.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        # A view, not a copy: `data` is the request's own chunk (or the parser's boundary bytes), never reused.
        events.append(("data", memoryview(data)[start:end]))

    def on_part_end() -> None:
        events.append(("end", b""))

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    field_name = ""
    field_value = bytearray()
    writer: _PhotoWriter | None = None
    skipping_empty_file = False
    fields_seen = 0
    async for chunk in request.stream():
        try:
            parser.write(chunk)
        except Exception as exc:  # python-multipart raises several types for malformed bodies
            raise UploadRejected(f"The form data is malformed: {exc}", field_name="__all__") from None
        for kind, data in events:
            if kind == "part":
                _, options = parse_options_header(bytes(data))
                field_name = options.get(b"name", b"").decode("utf-8", "replace")
                fields_seen += 1
                if fields_seen > MAX_FIELDS + settings.max_photos_per_review:
                    raise UploadRejected("The form has too many fields.", field_name="__all__")
                if b"filename" not in options:
                    field_value.clear()
                    continue
                if field_name != PHOTO_FIELD:
                    raise UploadRejected(f"Files are accepted only in the '{PHOTO_FIELD}' field.")
                filename = options[b"filename"].decode("utf-8", "replace")
                skipping_empty_file = filename == ""  # a browser's "no file chosen"
                if skipping_empty_file:
                    continue
                if len(upload.photos) >= settings.max_photos_per_review:
                    raise TooManyPhotos(f"A review can have at most {settings.max_photos_per_review} photos.")
                if authorize is not None and not upload.photos:
                    authorize(upload.fields)
                writer = _PhotoWriter(store, settings, display_filename(filename))
            elif kind == "data":
                if writer is not None:
                    await writer.write(data)
                elif not skipping_empty_file:
                    field_value.extend(data)
                    if len(field_value) > MAX_FIELD_BYTES:
                        raise PayloadTooLarge(f"The field '{field_name}' is too long.", field_name=field_name)
                elif data:
                    raise UnsupportedImage("A photo was sent without a file name.")
            elif kind == "end":
                if writer is not None:
                    upload.photos.append(await writer.finish())
                    writer = None
                elif not skipping_empty_file:
                    try:
                        upload.fields[field_name] = field_value.decode("utf-8")
                    except UnicodeDecodeError:
                        raise UploadRejected(
                            f"The field '{field_name}' is not valid UTF-8 text.", field_name=field_name
                        ) from None
                skipping_empty_file = False
        events.clear()
    if writer is not None:
        raise UploadRejected("The upload ended before the last photo was complete.", field_name="__all__")
