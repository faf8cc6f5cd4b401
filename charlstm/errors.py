"""The one exception type users see: a message saying what is wrong and what to do.

The command line prints it as one line (no traceback) and exits with status 2.
"""


class CharlstmError(Exception):
    """A problem with the user's input (file, flag, checkpoint), not a bug in charlstm."""


class ConfigError(CharlstmError, ValueError):
    """An impossible hyperparameter value."""
