"""Leak reports (泄密事件报告): cases, their events and reporters."""

from __future__ import annotations
