"""Market data as it arrives and the venues it comes from. Pure.

``tickfile`` parses trade files into ticks, ``calendar`` holds each venue's
trading sessions, ``synthetic`` derives the documented synthetic symbols from
the real ES day.
"""
