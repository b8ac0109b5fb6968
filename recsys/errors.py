"""The one exception type that carries a message meant for a person."""


class RecsysError(Exception):
    """A problem the user can act on, described in one plain sentence.

    The CLI prints it on one line of stderr and exits non-zero; the UI shows it in
    an `st.error`. Never raise it with a traceback's worth of text.
    """
