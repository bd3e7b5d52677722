"""One module per schema change, oldest first; each comes with a test that upgrades a
database holding rows of the release before it (tests/watch/test_migrations.py)."""
