"""The one exception type of windowner.

Everything a user can get wrong (a malformed file, a bad config key, a missing run directory) raises
:class:`WindownerError` with a one-line message that names the file, the line or the config key. The CLI
turns it into that line on stderr and a non-zero exit code; library users can catch it.
"""


class WindownerError(Exception):
    """A user-facing error: bad input, a bad config value, a missing file."""
