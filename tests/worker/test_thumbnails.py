"""Specification of restaurant_worker.thumbnails.make_thumbnails."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest
from PIL import Image, ImageFile

from restaurant_worker.thumbnails import (
    CorruptImage,
    ImageRejected,
    ImageTooLarge,
    NotAnImage,
    Thumbnail,
    make_thumbnails,
)

from . import imagefactory

IMAGES = Path(__file__).resolve().parent.parent / "images"
SIZES = (320, 640, 1024)


def decode(item: Thumbnail) -> Image.Image:
    image = Image.open(io.BytesIO(item.data))
    assert image.format == "WEBP"
    assert image.size == (item.width, item.height)
    image.load()
    return image


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def close(colour: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=True))


@pytest.fixture(scope="module")
def phone_photo() -> bytes:
    """1200x900 stored, EXIF orientation 6 (upright 900x1200), GPS, XMP, Display P3 profile."""
    return (IMAGES / "photo_orientation6_gps.jpg").read_bytes()


@pytest.fixture(scope="module")
def logo_png() -> bytes:
    """320x240 RGBA: left half opaque, right half fading to fully transparent."""
    return (IMAGES / "logo_alpha.png").read_bytes()


# --- geometry ---------------------------------------------------------------------------------


def test_exif_orientation_6_swaps_dimensions(phone_photo: bytes) -> None:
    result = make_thumbnails(phone_photo, SIZES)
    assert (result.width, result.height) == (900, 1200)
    assert [(t.width, t.height) for t in result.items] == [(240, 320), (480, 640), (768, 1024)]


def test_exif_orientation_6_rotates_clockwise(phone_photo: bytes) -> None:
    # The stored image's top-left red marker must end up top-right after a 90 degree CW turn.
    image = decode(make_thumbnails(phone_photo, [320]).items[0]).convert("RGB")
    assert close(pixel(image, (image.width - 3, 2)), imagefactory.RED)
    assert not close(pixel(image, (2, 2)), imagefactory.RED)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_upright_dimensions(orientation: int) -> None:
    result = make_thumbnails(imagefactory.jpeg(300, 200, orientation=orientation), [100])
    swapped = orientation >= 5
    assert (result.width, result.height) == ((200, 300) if swapped else (300, 200))
    assert (result.items[0].width, result.items[0].height) == ((67, 100) if swapped else (100, 67))


def test_large_input_gets_longest_side_exactly_the_size() -> None:
    result = make_thumbnails(imagefactory.jpeg(2000, 1500), SIZES)
    assert [(t.size, t.width, t.height) for t in result.items] == [
        (320, 320, 240),
        (640, 640, 480),
        (1024, 1024, 768),
    ]


def test_portrait_input_keeps_aspect_ratio() -> None:
    result = make_thumbnails(imagefactory.png(300, 1000, "RGB"), [320])
    assert (result.items[0].width, result.items[0].height) == (96, 320)


def test_small_input_is_never_upscaled_but_every_size_is_emitted() -> None:
    result = make_thumbnails(imagefactory.jpeg(200, 100), SIZES)
    assert [(t.size, t.width, t.height) for t in result.items] == [(s, 200, 100) for s in SIZES]
    assert all(decode(t).size == (200, 100) for t in result.items)


def test_items_are_ascending_and_one_per_distinct_size() -> None:
    result = make_thumbnails(imagefactory.jpeg(800, 600), [640, 160, 320, 160])
    assert [t.size for t in result.items] == [160, 320, 640]


def test_extreme_aspect_ratio_keeps_at_least_one_pixel() -> None:
    result = make_thumbnails(imagefactory.png(4000, 3, "RGB"), [320])
    assert (result.items[0].width, result.items[0].height) == (320, 1)


@pytest.mark.parametrize("sizes", [[], [0], [-5, 320], [20000]])
def test_invalid_sizes_are_a_programming_error(sizes: list[int]) -> None:
    with pytest.raises(ValueError, match="size"):
        make_thumbnails(imagefactory.jpeg(64, 48), sizes)


# --- output -----------------------------------------------------------------------------------


def test_every_output_decodes_as_webp(phone_photo: bytes) -> None:
    for item in make_thumbnails(phone_photo, SIZES).items:
        assert item.data[:4] == b"RIFF" and item.data[8:12] == b"WEBP"
        decode(item)


def test_outputs_carry_no_exif_gps_xmp_or_icc(phone_photo: bytes) -> None:
    source = Image.open(io.BytesIO(phone_photo))
    assert source.getexif().get_ifd(0x8825) and "xmp" in source.info and "icc_profile" in source.info
    for item in make_thumbnails(phone_photo, SIZES).items:
        image = decode(item)
        assert not {"exif", "xmp", "icc_profile"} & image.info.keys()
        assert not image.getexif()
        assert b"Exif" not in item.data and b"xmpmeta" not in item.data and b"ICCP" not in item.data


def test_format_is_reported() -> None:
    assert make_thumbnails(imagefactory.jpeg(64, 48), [32]).format == "JPEG"
    assert make_thumbnails(imagefactory.png(64, 48), [32]).format == "PNG"
    assert make_thumbnails(imagefactory.webp(64, 48), [32]).format == "WEBP"
    assert make_thumbnails(imagefactory.gif(64, 48), [32]).format == "GIF"


def test_multi_picture_jpeg_from_a_phone_is_a_jpeg_and_uses_the_first_picture() -> None:
    result = make_thumbnails(imagefactory.mpo(320, 240), [320])
    assert result.format == "JPEG"
    image = decode(result.items[0]).convert("RGB")
    assert not close(pixel(image, (300, 200)), imagefactory.RED)  # the second picture is all red


# --- modes and colour -------------------------------------------------------------------------


def test_png_alpha_is_kept(logo_png: bytes) -> None:
    image = decode(make_thumbnails(logo_png, [160]).items[0])
    assert image.mode == "RGBA"
    assert pixel(image, (10, 60))[3] == 255
    assert pixel(image, (image.width - 1, 60))[3] < 16


def test_grayscale_alpha_png_keeps_alpha() -> None:
    image = decode(make_thumbnails(imagefactory.png(320, 240, "LA"), [160]).items[0])
    assert image.mode == "RGBA"
    assert pixel(image, (image.width - 1, 60))[3] < 16


def test_webp_with_alpha_keeps_alpha() -> None:
    image = decode(make_thumbnails(imagefactory.webp(320, 240, "RGBA"), [160]).items[0])
    assert image.mode == "RGBA"
    assert pixel(image, (image.width - 1, 60))[3] < 16


def test_opaque_images_have_no_alpha_channel(phone_photo: bytes) -> None:
    assert decode(make_thumbnails(phone_photo, [320]).items[0]).mode == "RGB"


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    image = decode(make_thumbnails(imagefactory.cmyk_jpeg(), [160]).items[0])
    assert image.mode == "RGB"
    assert close(pixel(image, (80, 60)), imagefactory.RED)


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16_bit_png_mid_gray_stays_mid_gray(mode: str) -> None:
    image = decode(make_thumbnails(imagefactory.png16(64, 64, 32768, mode), [32]).items[0])
    assert close(pixel(image.convert("RGB"), (16, 16)), (128, 128, 128), tolerance=3)


def test_16_bit_png_keeps_black_and_white() -> None:
    for value, expected in ((0, 0), (65535, 255)):
        image = decode(make_thumbnails(imagefactory.png16(32, 32, value), [32]).items[0])
        assert close(pixel(image.convert("RGB"), (8, 8)), (expected,) * 3, tolerance=2)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_becomes_alpha(fmt: Literal["PNG", "GIF"]) -> None:
    image = decode(make_thumbnails(imagefactory.palette_with_transparency(64, 64, fmt), [64]).items[0])
    assert image.mode == "RGBA"
    assert pixel(image, (5, 32))[3] == 0
    assert close(pixel(image, (58, 32)), (*imagefactory.RED, 255))


def test_grayscale_jpeg_stays_gray() -> None:
    image = decode(make_thumbnails(imagefactory.jpeg(320, 240, mode="L"), [160]).items[0]).convert("RGB")
    r, g, b = pixel(image, (100, 100))
    assert r == g == b


def test_one_bit_png_is_resized_smoothly_not_nearest_neighbour() -> None:
    image = decode(make_thumbnails(imagefactory.png(640, 480, "1"), [160]).items[0]).convert("L")
    assert len(image.getcolors(256) or []) > 16  # dithered black/white averages to grays when shrunk


@pytest.mark.parametrize("factory", [imagefactory.animated_gif, imagefactory.animated_webp])
def test_animated_input_gives_a_still_of_the_first_frame(factory: Callable[..., bytes]) -> None:
    data = factory(frames=3, width=64, height=48)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    image = decode(make_thumbnails(data, [64]).items[0])
    assert not getattr(image, "is_animated", False) and getattr(image, "n_frames", 1) == 1
    assert close(pixel(image.convert("RGB"), (32, 24)), imagefactory.FRAME_COLOURS[0])


def test_non_srgb_profile_is_converted_to_srgb() -> None:
    # In the swapped-RG profile, a pixel stored as red means sRGB green.
    data = imagefactory.encode_jpeg(
        Image.new("RGB", (64, 64), (200, 30, 30)), icc=imagefactory.icc_profile("swapped-rg"), quality=95
    )
    r, g, _ = pixel(decode(make_thumbnails(data, [64]).items[0]), (32, 32))
    assert g > 150 and r < 80


def test_non_srgb_profile_on_a_png_with_alpha_keeps_alpha() -> None:
    out = io.BytesIO()
    image = Image.new("RGBA", (64, 64), (200, 30, 30, 128))
    image.save(out, "PNG", icc_profile=imagefactory.icc_profile("swapped-rg"))
    r, g, _, a = pixel(decode(make_thumbnails(out.getvalue(), [64]).items[0]), (32, 32))
    assert g > 150 and r < 80 and abs(a - 128) <= 2


def test_profile_of_another_colour_space_is_ignored() -> None:
    gray = imagefactory.encode_jpeg(Image.new("L", (64, 64), 90), icc=imagefactory.icc_profile("display-p3"))
    assert close(pixel(decode(make_thumbnails(gray, [64]).items[0]), (32, 32)), (90, 90, 90), 3)


def test_srgb_profile_is_left_as_is() -> None:
    data = imagefactory.encode_jpeg(
        Image.new("RGB", (64, 64), (200, 30, 30)), icc=imagefactory.icc_profile("srgb"), quality=95
    )
    assert close(pixel(decode(make_thumbnails(data, [64]).items[0]), (32, 32)), (200, 30, 30), 6)


def test_unusable_profile_falls_back_to_the_plain_pixels() -> None:
    data = imagefactory.encode_jpeg(Image.new("RGB", (64, 64), (200, 30, 30)), icc=b"not a profile" * 20)
    assert close(pixel(decode(make_thumbnails(data, [64]).items[0]), (32, 32)), (200, 30, 30), 6)


def test_progressive_jpeg_is_supported() -> None:
    result = make_thumbnails(imagefactory.jpeg(1600, 1200, progressive=True), [320])
    assert decode(result.items[0]).size == (320, 240)


# --- rejections -------------------------------------------------------------------------------


def test_png_bomb_is_too_large() -> None:
    with pytest.raises(ImageTooLarge):
        make_thumbnails(imagefactory.png_bomb(20000, 20000), SIZES)


def test_jpeg_declaring_60000_squared_pixels_is_too_large() -> None:
    with pytest.raises(ImageTooLarge):
        make_thumbnails(imagefactory.jpeg_declaring(60000, 60000), SIZES)


def test_max_pixels_is_checked_before_decoding() -> None:
    # Only 16x16 pixels of data behind the header: decoding first would raise CorruptImage.
    with pytest.raises(ImageTooLarge, match="2000x1000"):
        make_thumbnails(imagefactory.jpeg_declaring(2000, 1000), SIZES, max_pixels=1_000_000)


def test_pillow_decompression_bomb_warning_is_an_error_even_above_max_pixels() -> None:
    # 95 MP is over Pillow's warning threshold (~89 MP) but under its error threshold.
    with pytest.raises(ImageTooLarge):
        make_thumbnails(imagefactory.png_bomb(10000, 9500), SIZES, max_pixels=10**9)


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.95])
def test_truncated_jpeg_is_corrupt(fraction: float) -> None:
    with pytest.raises(CorruptImage):
        make_thumbnails(imagefactory.truncated(imagefactory.jpeg(640, 480), fraction), SIZES)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_png_is_corrupt(fraction: float) -> None:
    with pytest.raises(CorruptImage):
        make_thumbnails(imagefactory.truncated(imagefactory.png(320, 240), fraction), SIZES)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, this is a review, not a photo\n" * 40, imagefactory.random_bytes(4096), b"%PDF-1.7\n"],
    ids=["empty", "text", "random", "pdf"],
)
def test_non_images_are_not_an_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        make_thumbnails(data, SIZES)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_other_image_formats_are_not_accepted(fmt: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(out, fmt)
    with pytest.raises(NotAnImage, match="JPEG, PNG, WebP or GIF"):
        make_thumbnails(out.getvalue(), SIZES)


def test_rejections_have_a_human_readable_reason() -> None:
    for data in (b"", imagefactory.truncated(imagefactory.jpeg(), 0.5), imagefactory.png_bomb()):
        with pytest.raises(ImageRejected) as caught:
            make_thumbnails(data, SIZES)
        message = str(caught.value)
        assert message[0].isupper() and message.endswith(".") and "PIL" not in message


# --- no global side effects -------------------------------------------------------------------


def test_global_pillow_and_warning_settings_are_untouched() -> None:
    filters_before, limit_before = list(warnings.filters), Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageTooLarge):
        make_thumbnails(imagefactory.png_bomb(10000, 9500), SIZES, max_pixels=10**9)
    make_thumbnails(imagefactory.jpeg(64, 48), SIZES)
    assert warnings.filters == filters_before
    assert limit_before == Image.MAX_IMAGE_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
