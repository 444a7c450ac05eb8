"""The one exception type the command line turns into a clear message."""


class UserError(Exception):
    """A problem the user can fix: the message names the problem and the fix."""
