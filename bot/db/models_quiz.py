"""Training quiz (保密知识答卷): attempts and answers."""

from __future__ import annotations
