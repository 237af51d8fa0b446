"""Generate small, deterministic test images as encoded bytes (no files, no network).

Every public function returns the bytes of an encoded image (or of something that pretends
to be one), so tests can feed them straight to an upload endpoint or to ``make_thumbnails``.

Conventions shared by all generators:

* ``photo()`` content is photo-like (gradients, soft shapes, sensor-like grain) and has a
  pure-red square in its top-left corner, so a test can tell which way an image was rotated.
* Everything is seeded: the same arguments give the same bytes.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from typing import Literal

from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFilter

__all__ = [
    "RED",
    "animated_gif",
    "animated_webp",
    "cmyk_jpeg",
    "encode_jpeg",
    "gif",
    "icc_profile",
    "jpeg",
    "jpeg_declaring",
    "mpo",
    "palette_with_transparency",
    "photo",
    "png",
    "png16",
    "png_bomb",
    "random_bytes",
    "truncated",
    "webp",
]

RED = (255, 0, 0)

# Frame colours of animated_gif / animated_webp, in order: a test can check which frame it got.
FRAME_COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def _noise(size: tuple[int, int], rng: random.Random) -> Image.Image:
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def _smooth_noise(size: tuple[int, int], cell: int, rng: random.Random) -> Image.Image:
    """Random colour field that varies over ``cell`` pixels: looks like out-of-focus scenery."""
    small = (max(2, size[0] // cell), max(2, size[1] // cell))
    return Image.frombytes("RGB", small, rng.randbytes(small[0] * small[1] * 3)).resize(size, Image.Resampling.BICUBIC)


def photo(width: int = 640, height: int = 480, *, seed: int = 0, grain: int = 24) -> Image.Image:
    """An RGB image that encodes like a photo: a 4032x3024 one is about 3 MB as a q90 JPEG.

    ``grain`` is the amplitude of per-pixel noise (0 gives a smooth, very compressible image).
    A pure-red square marks the top-left corner.
    """
    rng = random.Random(seed)
    size = (width, height)
    # Warm "ground" below a cooler "sky": different vertical gradients per channel.
    vertical = Image.linear_gradient("L").resize(size)
    base = Image.merge(
        "RGB",
        (
            vertical.point(lambda v: 90 + v // 2),
            vertical.point(lambda v: 150 - v // 4),
            vertical.point(lambda v: 220 - v // 2),
        ),
    )
    image = Image.blend(base, _smooth_noise(size, max(8, width // 12), rng), 0.35)
    image = Image.blend(image, _smooth_noise(size, max(2, width // 200), rng), 0.12)

    draw = ImageDraw.Draw(image)
    unit = max(1, min(width, height) // 20)
    for _ in range(12):  # plates, glasses, table edges: hard edges JPEG has to spend bits on
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(unit, unit * 6), rng.randrange(unit, unit * 6)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + w, y + h), fill=colour, outline=(20, 20, 20), width=max(1, unit // 8))
        else:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(max(0.5, width / 2000)))

    if grain:
        # Blending towards uniform noise costs a little contrast and adds +-grain/2 of sensor grain.
        grain_layer = Image.merge("RGB", [_noise(size, rng) for _ in range(3)])
        image = Image.blend(image, grain_layer, grain / 255)

    marker = max(2, min(width, height) // 8)
    ImageDraw.Draw(image).rectangle((0, 0, marker - 1, marker - 1), fill=RED)
    return image


# --- ICC ------------------------------------------------------------------------------------

# Primaries as D50-adapted XYZ columns (what an ICC v2 matrix/TRC profile stores).
_PRIMARIES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "display-p3": ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841)),
    # sRGB with the red and green primaries exchanged: a pure-red source pixel must come out
    # green after a correct conversion, which makes "was the profile applied?" easy to test.
    "swapped-rg": ((0.3851, 0.7169, 0.0971), (0.4361, 0.2225, 0.0139), (0.1431, 0.0606, 0.7141)),
}


def _s15f16(*values: float) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def icc_profile(kind: Literal["srgb", "display-p3", "swapped-rg"] = "display-p3") -> bytes:
    """Bytes of an RGB ICC profile. ``srgb`` is LittleCMS's; the others are hand-built v2 ones."""
    if kind == "srgb":
        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    description = {"display-p3": b"Display P3 (test)", "swapped-rg": b"Swapped RG (test)"}[kind]
    red, green, blue = _PRIMARIES[kind]
    xyz = lambda v: b"XYZ \0\0\0\0" + _s15f16(*v)  # noqa: E731
    desc = (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(description) + 1)
        + description
        + b"\0"
        + b"\0" * 8  # no Unicode description
        + b"\0" * 3  # no ScriptCode description
        + b"\0" * 67
    )
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256))
    tags = [
        (b"desc", desc),
        (b"cprt", b"text\0\0\0\0public domain\0"),
        (b"wtpt", xyz((0.9642, 1.0, 0.8249))),
        (b"rXYZ", xyz(red)),
        (b"gXYZ", xyz(green)),
        (b"bXYZ", xyz(blue)),
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"none"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual intent
        + _s15f16(0.9642, 1.0, 0.8249)
        + b"none"
    )
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


# --- encoders -------------------------------------------------------------------------------


def _exif(orientation: int | None, gps: bool) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Model] = "Factory 1"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(
            {
                ExifTags.GPS.GPSLatitudeRef: "N",
                ExifTags.GPS.GPSLatitude: (52.0, 22.0, 12.5),
                ExifTags.GPS.GPSLongitudeRef: "E",
                ExifTags.GPS.GPSLongitude: (4.0, 53.0, 42.0),
            }
        )
    return exif


XMP_PACKET = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="secret photographer"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def encode_jpeg(
    image: Image.Image,
    *,
    orientation: int | None = None,
    gps: bool = False,
    xmp: bool = False,
    progressive: bool = False,
    icc: bytes | None = None,
    quality: int = 85,
) -> bytes:
    """Encode ``image`` as JPEG with the given metadata (EXIF always carries Make/Model)."""
    out = io.BytesIO()
    options: dict[str, object] = {
        "quality": quality,
        "progressive": progressive,
        "exif": _exif(orientation, gps).tobytes(),
    }
    if icc is not None:
        options["icc_profile"] = icc
    if xmp:
        options["xmp"] = XMP_PACKET
    image.save(out, "JPEG", **options)
    return out.getvalue()


def jpeg(
    width: int = 640,
    height: int = 480,
    orientation: int | None = None,
    gps: bool = False,
    mode: Literal["RGB", "L", "CMYK"] = "RGB",
    progressive: bool = False,
    icc: bytes | None = None,
    *,
    xmp: bool = False,
    quality: int = 85,
    seed: int = 0,
) -> bytes:
    """A photo-like JPEG of ``width`` x ``height`` stored pixels (before EXIF orientation)."""
    return encode_jpeg(
        photo(width, height, seed=seed).convert(mode),
        orientation=orientation,
        gps=gps,
        xmp=xmp,
        progressive=progressive,
        icc=icc,
        quality=quality,
    )


def cmyk_jpeg(width: int = 320, height: int = 240, colour: tuple[int, int, int, int] = (0, 255, 255, 0)) -> bytes:
    """A solid CMYK JPEG (default: full magenta + yellow, i.e. red). Pillow writes Adobe-style
    inverted CMYK with an APP14 marker, like Photoshop does."""
    out = io.BytesIO()
    Image.new("CMYK", (width, height), colour).save(out, "JPEG", quality=95)
    return out.getvalue()


def png(
    width: int = 320,
    height: int = 240,
    mode: Literal["RGBA", "RGB", "LA", "L", "1"] = "RGBA",
    *,
    seed: int = 0,
) -> bytes:
    """A PNG; with alpha, the left half is opaque photo and the right half fades to transparent."""
    image = photo(width, height, seed=seed, grain=0)
    if mode in ("RGBA", "LA"):
        alpha = Image.new("L", (width, height), 255)
        fade = Image.linear_gradient("L").rotate(-90).resize((width - width // 2, height))
        alpha.paste(fade, (width // 2, 0))
        image.putalpha(alpha)
    out = io.BytesIO()
    image.convert(mode).save(out, "PNG")
    return out.getvalue()


def png16(width: int = 64, height: int = 64, value: int = 32768, mode: str = "I;16") -> bytes:
    """A 16-bit grayscale PNG filled with ``value`` (0..65535); 32768 is mid-gray."""
    out = io.BytesIO()
    Image.new(mode, (width, height), value).save(out, "PNG")
    return out.getvalue()


def palette_with_transparency(width: int = 64, height: int = 64, fmt: Literal["PNG", "GIF"] = "PNG") -> bytes:
    """A palette image: index 0 is fully transparent (left half), index 1 opaque red (right half)."""
    image = Image.new("P", (width, height), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * (256 - 2) * 3)
    image.paste(1, (width // 2, 0, width, height))
    out = io.BytesIO()
    image.save(out, fmt, transparency=0)
    return out.getvalue()


def gif(width: int = 64, height: int = 48) -> bytes:
    """A still GIF of the photo, quantised to 256 colours."""
    out = io.BytesIO()
    photo(width, height, grain=0).quantize(256).save(out, "GIF")
    return out.getvalue()


def _frames(frames: int, width: int, height: int) -> list[Image.Image]:
    return [Image.new("RGB", (width, height), FRAME_COLOURS[i % len(FRAME_COLOURS)]) for i in range(frames)]


def animated_gif(frames: int = 3, width: int = 64, height: int = 48) -> bytes:
    """An animated GIF whose frame i is solid ``FRAME_COLOURS[i]`` (frame 0 is red)."""
    first, *rest = _frames(frames, width, height)
    out = io.BytesIO()
    first.save(out, "GIF", save_all=True, append_images=rest, duration=100, loop=0)
    return out.getvalue()


def animated_webp(frames: int = 3, width: int = 64, height: int = 48) -> bytes:
    """An animated WebP whose frame i is solid ``FRAME_COLOURS[i]`` (frame 0 is red)."""
    first, *rest = _frames(frames, width, height)
    out = io.BytesIO()
    first.save(out, "WEBP", save_all=True, append_images=rest, duration=100, loop=0, lossless=True)
    return out.getvalue()


def webp(width: int = 320, height: int = 240, mode: Literal["RGB", "RGBA"] = "RGB", lossless: bool = False) -> bytes:
    """A still WebP of the photo (with ``png()``'s alpha fade for RGBA)."""
    image = Image.open(io.BytesIO(png(width, height, mode)))
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=lossless, quality=85)
    return out.getvalue()


def mpo(width: int = 320, height: int = 240) -> bytes:
    """A two-picture MPO (what many phone cameras write with a .jpg name): photo + red frame."""
    out = io.BytesIO()
    second = Image.new("RGB", (width, height), RED)
    photo(width, height).save(out, "MPO", save_all=True, append_images=[second])
    return out.getvalue()


# --- hostile input --------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` black pixels; 20000x20000 is ~60 KB on disk
    but 400 MB once Pillow decodes it (one byte per pixel)."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


# Start-of-frame markers (C4, C8 and CC are DHT, JPG and DAC, not frames).
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_declaring(width: int = 60000, height: int = 60000, *, progressive: bool = False) -> bytes:
    """A small JPEG whose SOF header claims ``width`` x ``height`` (at most 65535 each)."""
    data = bytearray(jpeg(16, 16, progressive=progressive))
    position = 2
    while position < len(data):
        marker, length = data[position + 1], struct.unpack(">H", data[position + 2 : position + 4])[0]
        if marker in _SOF_MARKERS:
            # Segment: FF Cn, length(2), precision(1), height(2), width(2), ...
            struct.pack_into(">HH", data, position + 5, height, width)
            return bytes(data)
        position += 2 + length
    raise AssertionError("no SOF marker in generated JPEG")


def truncated(data: bytes, fraction: float = 0.5) -> bytes:
    """The first ``fraction`` of ``data``, as an interrupted upload would leave it."""
    return data[: int(len(data) * fraction)]


def random_bytes(size: int = 4096, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)
