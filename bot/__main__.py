"""`python -m bot` is the same as the `inference-bot` console script."""

from bot.cli import main

raise SystemExit(main())
