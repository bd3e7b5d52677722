"""Alembic migrations of the bot's database; `bot.watch.db.migrate` runs them."""
