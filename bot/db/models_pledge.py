"""Confidentiality pledges (保密承诺书): requests, signatures, departures."""

from __future__ import annotations
