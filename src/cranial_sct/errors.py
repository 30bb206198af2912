"""The one exception type users see: a clear, one-line message that names the file and the fix.

Library code raises ``InputError`` for anything the user can correct (bad paths, bad values, bad
files); the CLI prints its message on one line and exits non-zero, without a traceback.
"""


class InputError(Exception):
    """A problem with what the user gave us (file, option, config); the message says what to do."""
