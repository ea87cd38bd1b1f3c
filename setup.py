"""The one compiled part of the package: ``contract._tick_decoder`` (the metadata is in pyproject.toml).

setuptools hands a ``.pyx`` source to Cython (a build requirement) and the C compiler. The extension is
optional: where it does not build (no C compiler) the install still succeeds and ``contract.tick_decoder``
uses its pure-Python decoder; ``tests/test_tick_decoder.py`` asks for the compiled one wherever a C
compiler is. Not ``Cython.Build.cythonize``: the extensions it returns have lost ``optional``.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "contract/_tick_decoder.pyx"
# The module reports the source it was built from (``SOURCE_SHA256``): a test refuses a stale build.
SOURCE_SHA256 = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()

setup(
    ext_modules=[
        Extension(
            "contract._tick_decoder",
            [SOURCE],
            define_macros=[("TICK_DECODER_SOURCE_SHA256", f'"{SOURCE_SHA256}"')],
            optional=True,
        )
    ]
)
