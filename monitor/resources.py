"""Where the files that travel with the program are: assets/ and sample_data/.

In a source checkout (or an editable install) they sit at the top of the
repository; a wheel carries them inside the monitor package (see
pyproject.toml). Both places are looked at, the package first.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"{name}/ is missing from this installation; "
                            "reinstall infusion-monitor")


ASSETS_DIR: Path = _find("assets")
SAMPLE_DATA_DIR: Path = _find("sample_data")
