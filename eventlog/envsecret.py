"""Secrets from the environment: ``NAME`` itself, or the contents of the file ``NAME_FILE`` names.

The ``*_FILE`` form is how Docker and Kubernetes hand secrets to a process (a file
under ``/run/secrets``) without putting them in the environment, where ``ps e``,
``docker inspect`` and crash reports would show them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

FILE_SUFFIX = "_FILE"


class CredentialsError(ValueError):
    """A security setting is missing, malformed or inconsistent; the message names the variable."""


def secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of ``name`` or of the file ``name_FILE`` points at (one trailing newline dropped); None if neither is set."""
    env = os.environ if environ is None else environ
    direct, file_name = env.get(name, ""), env.get(name + FILE_SUFFIX, "").strip()
    if direct and file_name:
        raise CredentialsError(f"both {name} and {name}{FILE_SUFFIX} are set: keep one")
    if not file_name:
        return direct or None
    try:
        text = Path(file_name).read_text()
    except OSError as exc:
        raise CredentialsError(f"{name}{FILE_SUFFIX}={file_name}: cannot read it ({exc.strerror})") from None
    value = text[:-1] if text.endswith("\n") else text
    if not value:
        raise CredentialsError(f"{name}{FILE_SUFFIX}={file_name}: the file is empty")
    return value
