"""The broker and database endpoints the environment names, and the forms a database URL must take.

Below the command line on purpose: the API, the projections and the replay jobs
need these names and URL forms too, and no layer but the composition root
(``aitrader``) may import the command line. ``aitrader.stack.endpoints`` adds
the local stack's fixed addresses as the fallback.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit, urlunsplit

from eventlog.envsecret import CredentialsError, secret

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
DATABASE_ENV = "DATABASE_URL"
# The database password apart from the URL, so the URL can sit in plain config and the password in a secret file.
DATABASE_PASSWORD_ENV = "DATABASE_PASSWORD"


def sqlalchemy_url(url: str) -> str:
    """Normalise a Postgres URL to SQLAlchemy + psycopg 3.

    A bare ``postgresql://`` makes SQLAlchemy pick psycopg2, which this project
    does not install.
    """
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def libpq_url(url: str) -> str:
    """The same URL in the form psycopg/libpq accept (no ``+driver``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    return scheme.split("+", 1)[0] + "://" + rest


def kafka_from_env() -> str | None:
    return os.environ.get(KAFKA_ENV, "").strip() or None


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` for its user; refuses a URL that carries one already (two sources for one secret)."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if not at or not user:
        raise CredentialsError(f"{DATABASE_PASSWORD_ENV} is set but {DATABASE_ENV} names no user (user@host)")
    if ":" in user:
        raise CredentialsError(f"{DATABASE_ENV} carries a password and {DATABASE_PASSWORD_ENV} is set too: keep one")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def redacted(url: str) -> str:
    """``url`` fit to print: a password from the environment or a secret file is replaced by ``***``."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in user:
        return url
    return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}"))


def database_from_env() -> str | None:
    raw = os.environ.get(DATABASE_ENV, "").strip()
    if not raw:
        return None
    password = secret(DATABASE_PASSWORD_ENV)
    return sqlalchemy_url(with_password(raw, password) if password else raw)
