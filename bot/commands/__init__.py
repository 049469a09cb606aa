"""`baomi` subcommands of each capability (the CLI's own basics live in bot/cli.py)."""
