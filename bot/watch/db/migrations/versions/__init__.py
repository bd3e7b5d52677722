"""One module per schema change, oldest first.

A new change: copy the newest module's header (revision, down_revision), write upgrade()
and downgrade() with `alembic.op`, change the table in `bot/watch/db/schema.py` to match,
move `bot.watch.db.migrate.HEAD` on, and add to tests/watch/test_migrations.py a test that
upgrades a database holding rows of the release before it.
"""
