"""Command-line entry point ``cranial-sct``: thin wrappers over the package's Python API.

Each command lives in its own module under ``cranial_sct.cli`` and registers itself on ``app``.
User errors (``InputError``) print one line and exit with status 2; no traceback.
"""

from __future__ import annotations

import importlib
import sys

from cranial_sct.cli.app import app
from cranial_sct.errors import InputError

COMMAND_MODULES: tuple[str, ...] = (
    # one module per command; add yours here
    "benchmark",
    "demo",
    "evaluate",
    "export",
    "info",
    "predict",
    "preprocess",
    "report",
    "simulate",
    "train",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"cranial_sct.cli.{_name}")


def main() -> None:
    """Run the CLI, turning user errors into one clear line on stderr (exit status 2)."""
    try:
        app()
    except InputError as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)  # one line, whatever a message quotes
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
