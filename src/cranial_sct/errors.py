"""The one exception type users see: a clear, one-line message that names the file and the fix.

Library code raises ``InputError`` for anything the user can correct (bad paths, bad values, bad
files); the CLI prints its message on one line and exits non-zero, without a traceback.
"""


class InputError(Exception):
    """A problem with what the user gave us (file, option, config); the message says what to do."""


def reason(error: BaseException, limit: int = 160) -> str:
    """A library exception as a short one-line reason (``Type: message``), to quote inside an ``InputError``.

    Parsers of damaged files (nibabel, pydicom, SimpleITK) raise many types, often with messages over
    several lines; the user's one line must stay one line."""
    text = " ".join(str(error).split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
