"""The exceptions that carry a message meant for a person.

`RecsysError` is the base: one plain sentence the CLI prints on one line of stderr
(exit 2) and the UI shows in an `st.error`. The subclasses exist only where a caller
branches on the kind of problem instead of on the message.
"""


class RecsysError(Exception):
    """A problem the user can act on, described in one plain sentence.

    Never raise it with a traceback's worth of text.
    """


class CheckpointError(RecsysError):
    """No usable checkpoint: missing, unreadable, of another format, or made for other data.

    `prepare` catches it to train a new model instead of failing.
    """


class BusyError(RecsysError):
    """Another load, retrain or addition holds the namespace's load lock."""


class NotLoadedError(RecsysError):
    """Nothing is published in the namespace yet (run `python -m recsys prepare`)."""


class ModelMismatchError(RecsysError):
    """A model other than the one the live index was built with (vectors not comparable)."""
