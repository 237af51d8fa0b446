"""Hostile and odd uploads that tests/worker/imagefactory.py does not make, and a multipart encoder that
sends exactly the bytes a test asks for (file names with NUL, path separators, 5,000 characters)."""

import io
import secrets
from collections.abc import Iterator, Sequence

from PIL import Image

POLYGLOT_SCRIPT = b"*/=alert(document.domain);/*"

HTML_PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n"
SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b'<script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>\n'
)
PDF_DOCUMENT = (
    b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)
PLAIN_TEXT = b"Not a photo at all, just notes about dinner.\n" * 40


def gif_js_polyglot() -> bytes:
    """A valid 10799x600 GIF that is also valid JavaScript (`GIF89a/*...*/=alert(...)/*...*/`).

    The width 0x2A2F puts `/*` right after the signature; the script hides in a GIF comment; `*/` after the
    trailer closes the last JS comment, and image decoders ignore bytes after the trailer.
    """
    image = Image.new("P", (0x2A2F, 600), 0)
    image.putpalette([255, 0, 0, 255, 255, 255] + [0] * 762)
    out = io.BytesIO()
    image.save(out, "GIF", comment=POLYGLOT_SCRIPT)
    data = out.getvalue()
    assert data.startswith(b"GIF89a/*") and data.count(b"*/") == 1
    return data + b"*/"


class Multipart:
    """A multipart/form-data body built byte for byte (httpx would clean up the names we want to send)."""

    def __init__(self) -> None:
        self.boundary = "----hostile" + secrets.token_hex(12)
        self.parts: list[bytes] = []

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def field(self, name: str, value: str | bytes) -> "Multipart":
        data = value.encode() if isinstance(value, str) else value
        head = f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        self.parts.append(head + data + b"\r\n")
        return self

    def file(
        self, filename: bytes | str, data: bytes, content_type: str = "image/jpeg", name: str = "photos"
    ) -> "Multipart":
        raw_name = filename.encode() if isinstance(filename, str) else filename
        head = (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
            + raw_name
            + f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        )
        self.parts.append(head + data + b"\r\n")
        return self

    def body(self) -> bytes:
        return b"".join(self.parts) + f"--{self.boundary}--\r\n".encode()

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        """The body as a stream of unknown length (sent with Transfer-Encoding: chunked)."""
        body = self.body()
        for start in range(0, len(body), size):
            yield body[start : start + size]


def review_body(photos: Sequence[tuple[bytes | str, bytes]], csrf_token: str | None = None, **fields: str) -> Multipart:
    form = Multipart()
    if csrf_token is not None:
        form.field("csrf_token", csrf_token)  # first, as browsers send it (the form's first input)
    for name, value in {"user_name": "Hostile", "rating": "3", "review_text": "corpus", **fields}.items():
        form.field(name, value)
    for filename, data in photos:
        form.file(filename, data)
    return form
