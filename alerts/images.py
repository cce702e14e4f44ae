"""Where an alert's picture comes from: the user's images folder (`[Alerts] ImagesDirectory`).

The same resolver as the sounds (`sounds.py`): a rule names a plain file name (`Image = "hype.gif"`),
the service checks it at start-up, and the `alert` event carries the URL the overlay shows,
`/static/user-images/<file>`. Only raster image types are served: an SVG opened by its URL would run
its scripts on the bus's origin, so it is refused like any other non-image file.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from .sounds import file_inside, plain_file_name

IMAGE_SUFFIXES = frozenset({".png", ".apng", ".jpg", ".jpeg", ".gif", ".webp", ".avif"})
USER_PREFIX = "/static/user-images/"


def safe_image_name(name: str) -> bool:
    """Whether `name` is a plain image file name (no path, no traversal, a known image suffix)."""
    return plain_file_name(name, IMAGE_SUFFIXES)


class ImageMissing(ValueError):
    """A configured image that is not in the images folder (or is not a plain image file name)."""


class ImageLibrary:
    """Resolves image names to URLs and serves the user's images folder safely."""

    def __init__(self, user_dir: Path) -> None:
        self.user_dir = user_dir

    def url(self, name: str) -> str:
        """The URL the overlay shows for `name` ("" for no image); raises ImageMissing."""
        if not name:
            return ""
        if not safe_image_name(name):
            raise ImageMissing(
                f"{name!r} is not a plain image file name (one of {', '.join(sorted(IMAGE_SUFFIXES))})")
        if self.user_file(name) is None:
            raise ImageMissing(f"image file {name!r} not found in {self.user_dir}")
        return USER_PREFIX + quote(name)

    def user_file(self, name: str) -> Path | None:
        """The user's image file to serve, or None (bad name, missing, or outside the folder)."""
        return file_inside(self.user_dir, name) if safe_image_name(name) else None
