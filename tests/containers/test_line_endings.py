"""Files that run in the images or in a shell keep LF line endings, even in a Windows checkout.

A Windows Git usually checks out with core.autocrlf=true; a CRLF `#!/bin/sh` script copied into an image then
fails (`set: Illegal option -`, `/bin/sh^M: not found`). The checkout is replayed here with that setting.
"""

import subprocess

import pytest

from tests.fixtures.stack import REPO_ROOT


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    return [name for name in listing.decode().split("\0") if name]


def runs_in_a_shell_or_an_image(name: str) -> bool:
    if name.endswith((".sh", "Dockerfile")) or name == ".env.example":
        return True
    with (REPO_ROOT / name).open("rb") as file:
        return file.read(2) == b"#!"


SHELL_FILES = [name for name in tracked_files() if runs_in_a_shell_or_an_image(name)]


def windows_checkout(name: str) -> bytes:
    """The file's bytes as `git checkout` writes them with core.autocrlf=true, under this tree's attributes."""
    return subprocess.run(
        ["git", "-c", "core.autocrlf=true", "cat-file", "--filters", f":{name}"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout


def test_the_scripts_the_images_run_are_covered() -> None:
    for name in ("scripts/migrate.sh", "scripts/dev", "scripts/test", "services/web/Dockerfile", ".env.example"):
        assert name in SHELL_FILES


@pytest.mark.parametrize("name", SHELL_FILES)
def test_windows_checkout_keeps_lf(name: str) -> None:
    content = windows_checkout(name)
    assert content, f"{name}: empty checkout"
    assert b"\r" not in content, f"{name} gets CRLF in a Windows checkout; pin eol=lf in .gitattributes"
