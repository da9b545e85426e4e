"""Alembic environment for the progress database. The store applies migrations itself at start
(secondlook/progress_store.py passes its connection in); `alembic upgrade head` from the command line
uses DATABASE_URL or the default SQLite file."""

from alembic import context
from sqlalchemy import create_engine

from secondlook.progress_schema import metadata
from secondlook.progress_store import database_url_from_environment

target_metadata = metadata


def run_migrations_offline() -> None:
    context.configure(url=database_url_from_environment(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(database_url_from_environment(), future=True)
    with engine.connect() as own_connection:
        context.configure(connection=own_connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
