"""The pledge catalogue: `messages/pledges/catalog.yaml` lists every version of every kind, and each version's
text is a template beside it, rendered per person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.handlers.pledges.rules import Catalog, PledgeKind, PledgeVersion, check_catalog
from bot.texts import MESSAGES, Texts

# The messages root the catalogue is read from; tests point it at a copy with extra versions.
ROOT = MESSAGES
CATALOG_FILE = "pledges/catalog.yaml"


@dataclass(frozen=True)
class PledgeBook:
    """The catalogue and where its texts live."""

    catalog: Catalog
    root: Path

    def render(self, version: PledgeVersion, locale: str, timezone: ZoneInfo, **context: Any) -> str:
        if version.template is None:
            raise ValueError(f"pledge {version.kind} v{version.number} is retired: its text is no longer shown")
        return _texts(self.root, timezone).render(version.template, locale, **context)


@lru_cache(maxsize=8)
def _texts(root: Path, timezone: ZoneInfo) -> Texts:
    return Texts(timezone, root)


def load_catalog(root: Path | None = None) -> PledgeBook:
    """Read and check the catalogue; a broken one stops the bot at start rather than at the first /pledge. Read
    once for each version of the file."""
    base = root or ROOT
    return _load_catalog(base, (base / CATALOG_FILE).stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_catalog(base: Path, version: int) -> PledgeBook:
    raw = yaml.safe_load((base / CATALOG_FILE).read_text(encoding="utf-8"))
    versions = []
    for kind_name, entries in raw.items():
        kind = PledgeKind(kind_name)
        for entry in entries:
            effective = entry["effective"]
            if not isinstance(effective, date):
                raise ValueError(f"pledge catalogue: {kind} v{entry['version']} needs an effective date")
            # No template: a retired version, whose text lives on only in the records signed under it.
            template = str(entry["template"]) if entry.get("template") else None
            if template is not None and not (base / f"{template}.j2").is_file():
                raise ValueError(f"pledge catalogue: no template {template}.j2")
            versions.append(PledgeVersion(kind, int(entry["version"]), bool(entry["material"]), template, effective))
    catalog = Catalog(tuple(versions))
    check_catalog(catalog)
    return PledgeBook(catalog, base)
