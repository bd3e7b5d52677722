"""The bot's database: engine, tables and the migrations that own their shape."""

from bot.watch.db.engine import database_url, make_engine, schema_of
from bot.watch.db.migrate import downgrade, upgrade

__all__ = ["database_url", "downgrade", "make_engine", "schema_of", "upgrade"]
