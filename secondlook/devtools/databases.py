"""Throw-away PostgreSQL databases on the local server, for the tests and the benchmark: each run gets a
database of its own, so nothing it stores meets anyone else's data, and drops it afterwards."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

# Trust authentication, as on the development and CI machines; `test` is the database they provide.
ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _execute(statement: str) -> None:
    admin = create_engine(ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")  # CREATE DATABASE needs it
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def create_database(prefix: str) -> str:
    """A new, empty database named `<prefix>_<random>`; returns its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _execute(f"CREATE DATABASE {name}")
    return name


def drop_database(name: str) -> None:
    """Drops it even while a server still holds connections to it."""
    _execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    name = create_database(prefix)
    try:
        yield name
    finally:
        drop_database(name)
