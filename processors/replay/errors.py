"""How a replay fails to run, as one type its callers catch: the CLI exits 2, a job ends ``failed``.

A replay that runs and derives other events than live did has not failed: it
ends with an outcome (``outcome.py``) whose ``diverged`` is true and whose
exit code is 1, with the comparison and the report like any other run, because
the first difference is what a person reads next.
"""

from __future__ import annotations

REFUSED_EXIT = 2


class ReplayRefused(ValueError):
    """The replay cannot be run as asked: the request, the log or the broker does not allow it.

    The message says why and, where it can, what to do instead.
    """

    exit_code = REFUSED_EXIT


class ReplaySpecError(ReplayRefused):
    """The request itself is wrong, whatever the log holds (the CLI reports it as a usage error)."""
