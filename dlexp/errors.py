"""The data error a user can cause, in a module of its own so that the command line can catch it
without importing torch (see `dlexp.console`)."""


class DataError(Exception):
    """A problem with the data that the user can fix; str(error) is one sentence saying how."""
