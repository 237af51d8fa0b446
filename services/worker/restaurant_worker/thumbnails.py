"""Photo thumbnails: untrusted image bytes in, metadata-free WebP thumbnails out.

Pure and I/O-free so the Celery task, the web service and the benchmark share one code path.

Speed comes from decoding as little as possible: JPEGs are DCT-scaled while decoding
(``Image.draft``) to the smallest scale still >= the largest thumbnail, and everything that
costs per pixel (orientation, mode and colour conversion) runs on the shrunk image, never on
the original. Each smaller thumbnail is resized from the next larger one, never the original.

Thread safety: ``warnings.catch_warnings`` mutates process-global state on Python < 3.14, so
call this from one thread per process (Celery's prefork pool) or from processes, not from a
thread pool. ``max_pixels`` is the limit; Pillow's own bomb check (``Image.MAX_IMAGE_PIXELS``,
which the worker sets to the same configured limit at start-up) stays as a second line of defence.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageCms, UnidentifiedImageError

__all__ = [
    "ACCEPTED_FORMATS",
    "WEBP_METHOD",
    "CorruptImage",
    "ImageRejected",
    "ImageTooLarge",
    "NotAnImage",
    "Thumbnail",
    "Thumbnails",
    "make_thumbnails",
]

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")

# libwebp's default, chosen on measurements (bench/thumbnails.py: 1024 px from a 12 MP photo,
# q80, this machine): at equal PSNR its output is ~8% smaller than method 2's and ~14% smaller
# than method 0's, for ~52-65 ms per 1024 px encode vs ~25 (2) and ~17 (0); 3 is a tie, 5-6 are
# slower and no smaller. A thumbnail is encoded once and downloaded many times, so bytes beat
# ~45 ms of worker CPU per photo; use 0-2 if upload throughput ever matters more.
WEBP_METHOD = 4

WEBP_MAX_SIDE = 16383  # libwebp's hard limit

# The one big resize (draft-decoded ~2x the target -> largest thumbnail) dominates the cost
# beyond decode + encode: LANCZOS takes ~55 ms for 2016x1512 -> 1024x768 here, HAMMING ~19 ms
# and is nearly as sharp (edge energy 40.2 vs 41.9, bilinear 37.2; 49.5-51 dB PSNR against a
# full-resolution LANCZOS reference, an error far smaller than WebP q80's ~37 dB). The smaller
# thumbnails are resized from small images, so LANCZOS is affordable there.
_RESAMPLE_LARGEST = Image.Resampling.HAMMING
_RESAMPLE_SMALL = Image.Resampling.LANCZOS
# Box-reduce first when shrinking >= 3x (big non-JPEG sources, which get no DCT scaling):
# the docs call the result indistinguishable from resampling alone, and it is much cheaper.
_REDUCING_GAP = 3.0

# EXIF orientation -> the transpose that makes the image upright (same table as ImageOps).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = {5, 6, 7, 8}

# Everything Pillow's decoders raise on damaged input (they are not consistent about it).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


class ImageRejected(Exception):
    """The upload cannot be turned into thumbnails; ``str(exc)`` is safe to show to the user."""


class NotAnImage(ImageRejected):
    pass


class ImageTooLarge(ImageRejected):
    pass


class CorruptImage(ImageRejected):
    pass


@dataclass(frozen=True)
class Thumbnail:
    size: int  # the requested longest-side bucket, e.g. 320
    width: int
    height: int
    data: bytes  # WebP


@dataclass(frozen=True)
class Thumbnails:
    width: int  # of the original, after EXIF orientation
    height: int
    format: str  # one of ACCEPTED_FORMATS
    items: list[Thumbnail]  # one per distinct requested size, ascending


def make_thumbnails(
    data: bytes,
    sizes: Sequence[int],
    *,
    quality: int = 80,
    max_pixels: int = 50_000_000,
    webp_method: int = WEBP_METHOD,
) -> Thumbnails:
    """Decode ``data`` (JPEG, PNG, WebP or GIF; first frame only) and return one WebP per size.

    Each thumbnail's longest side is ``size``, or the original's if that is smaller (never
    upscaled). EXIF orientation is applied, colours are converted to sRGB, and no metadata
    (EXIF, GPS, XMP, ICC) is carried over. Raises an ``ImageRejected`` subclass for input that
    is not an accepted image, is too large, or is damaged; ``ValueError`` for bad ``sizes``.
    """
    buckets = _check_sizes(sizes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _make_thumbnails(bytes(data), buckets, quality, max_pixels, webp_method)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge("The image has too many pixels to process.") from exc


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    buckets = sorted(set(sizes))
    if not buckets:
        raise ValueError("at least one thumbnail size is required")
    if buckets[0] < 1 or buckets[-1] > WEBP_MAX_SIDE:
        raise ValueError(f"thumbnail sizes must be between 1 and {WEBP_MAX_SIDE}: {buckets}")
    return buckets


def _make_thumbnails(data: bytes, buckets: list[int], quality: int, max_pixels: int, webp_method: int) -> Thumbnails:
    with _open(data) as image:
        stored_width, stored_height = image.size
        if stored_width * stored_height > max_pixels:
            raise ImageTooLarge(
                f"The image is too large ({stored_width}x{stored_height} pixels); "
                f"the limit is {max_pixels / 1e6:g} megapixels."
            )
        source_format = "JPEG" if image.format == "MPO" else str(image.format)
        icc = image.info.get("icc_profile")

        # The largest thumbnail, still in stored orientation: shrink before anything else.
        try:
            largest_stored = _fit((stored_width, stored_height), buckets[-1])
            box = _draft(image, largest_stored) if source_format == "JPEG" else None
            image.load()
            orientation = _orientation(image)
        except _DECODE_ERRORS as exc:
            raise CorruptImage("The image file is damaged or incomplete; please upload it again.") from exc

        largest = _before_resize(image)
        if largest.size != largest_stored:
            largest = largest.resize(largest_stored, _RESAMPLE_LARGEST, box=box, reducing_gap=_REDUCING_GAP)
        largest = _to_srgb(largest, icc)
        if orientation in _ORIENTATION_TRANSPOSE:
            largest = largest.transpose(_ORIENTATION_TRANSPOSE[orientation])

        width, height = (stored_height, stored_width) if orientation in _SWAPS_AXES else (stored_width, stored_height)
        # Each smaller thumbnail is made from the next larger one (cheap: they are small already).
        items: list[Thumbnail] = []
        current = largest
        for bucket in reversed(buckets):
            size = _fit((width, height), bucket)
            if size != current.size:
                current = current.resize(size, _RESAMPLE_SMALL)
            # Buckets above the original's size share one image, hence one encode.
            same = items and (items[-1].width, items[-1].height) == size
            webp = items[-1].data if same else _encode_webp(current, quality, webp_method)
            items.append(Thumbnail(bucket, *size, webp))
    return Thumbnails(width, height, source_format, items[::-1])


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        if _has_accepted_signature(data):
            raise CorruptImage("The image file is damaged or incomplete; please upload it again.") from exc
        raise NotAnImage("This file is not a supported image; please upload a JPEG, PNG, WebP or GIF.") from exc


def _has_accepted_signature(data: bytes) -> bool:
    """True if ``data`` starts like one of the accepted formats (so it is damaged, not foreign)."""
    return data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")) or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    )


def _fit(size: tuple[int, int], bucket: int) -> tuple[int, int]:
    """``size`` scaled so its longest side is ``bucket``; unchanged if it already fits."""
    width, height = size
    longest = max(width, height)
    if longest <= bucket:
        return size
    if width >= height:
        return bucket, max(1, round(height * bucket / width))
    return max(1, round(width * bucket / height)), bucket


def _draft(image: Image.Image, size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """Ask libjpeg to decode at the smallest 1/1..1/8 scale that is still >= ``size``.

    Returns the box of the original picture within the (rounded-up) decoded image.
    """
    result = image.draft("RGB", size)
    if result is None:
        return None
    _, box = result
    return box


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # EXIF is untrusted junk more often than pixels are: ignore, don't reject
        return 1
    return value if isinstance(value, int) else 1


def _before_resize(image: Image.Image) -> Image.Image:
    """Convert modes that resize cannot filter (it falls back to NEAREST for "P" and "1")."""
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode == "1":
        return image.convert("L")
    return image


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert a shrunk image to 8-bit L/LA/RGB/RGBA in sRGB (WebP without a profile means sRGB)."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Plain convert("L") clips everything above 255 to white; scale 16 bits to 8 instead.
        return image.convert("I").point(lambda v: v / 257 + 0.5).convert("L")
    if image.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")

    has_alpha = image.mode in ("LA", "RGBA")
    colour_mode = image.mode[:-1] if has_alpha else image.mode
    transform = _srgb_transform(icc, colour_mode) if icc else None
    if transform is not None:
        try:
            converted = transform.apply(image.convert(colour_mode) if has_alpha else image)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a profile lcms accepts but cannot apply: the plain pixels are the best guess
        else:
            if has_alpha:
                converted.putalpha(image.getchannel("A"))
            return converted
    return image.convert("RGB") if image.mode == "CMYK" else image


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# Camera and phone profiles are a few kB and shared by most uploads, so their transforms are
# cached; big ones (CMYK profiles reach megabytes) are not, so hostile uploads with many
# distinct large profiles cannot pin memory.
_MAX_CACHED_ICC_BYTES = 64 * 1024


def _srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """An ``icc`` -> sRGB transform for ``mode`` images; None if ``icc`` is sRGB or unusable."""
    if len(icc) > _MAX_CACHED_ICC_BYTES:
        return _build_srgb_transform(icc, mode)
    return _cached_srgb_transform(icc, mode)


def _build_srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if ImageCms.getProfileDescription(profile).strip().lower().startswith("srgb"):
            return None
        return ImageCms.buildTransform(profile, _SRGB, mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


_cached_srgb_transform = functools.lru_cache(maxsize=32)(_build_srgb_transform)


def _encode_webp(image: Image.Image, quality: int, method: int) -> bytes:
    out = io.BytesIO()
    # No exif/icc_profile/xmp arguments: Pillow's WebP writer then writes none of them.
    image.save(out, "WEBP", quality=quality, method=method)
    return out.getvalue()
