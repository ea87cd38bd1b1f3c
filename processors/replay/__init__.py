"""Replay: re-run the kernel over a range of the sequenced input topic and prove it derives what live did.

``run.run_replay(spec, bootstrap, progress)`` is the use case, the one entry
for the CLI (``aitrader replay``) and the API's jobs (``job.py``, a process of
its own). It composes, in order:

* ``spec``: the request, typed and checked (``names``: the ``replay.NAME.``
  rule; ``errors``: ``ReplayRefused``, exit code 2);
* ``window``: the inputs (a trading day by time, or explicit offsets) and the
  snapshot to start from; ``start``: each partition's kernel from it;
* ``target``: the replay topics, and the offsets a run appended;
* ``fast`` (in one process) or ``pipeline`` (the live Faust worker): the run,
  accounted in ``tally`` and observed for the report in ``observe``;
* ``compare``: digests of replay and live and the first difference;
* ``report``: report.json and its files; ``progress`` and ``outcome``: what the
  caller is told on the way and at the end.
"""
