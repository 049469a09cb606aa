"""Test doubles that stand in for external services (Telegram) in tests, benchmarks and the console."""
