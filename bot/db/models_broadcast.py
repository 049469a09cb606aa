"""Broadcasts from the secrecy office and their recipients."""

from __future__ import annotations
