"""The shape of the code, checked: dependencies point one way, and every capability plugs in the same way.

- channels, the engine, the outbox, the sweeps' runner and the shared core import no capability (only the
  composition root, bot/app.py, and what runs it — bot/cli.py, bot/server.py, bot/console.py — see them all);
- capabilities, services, rules and storage never import a messaging library or a channel;
- nothing imports the command line's entry module (capabilities add subcommands through `register`);
- capabilities depend on each other without cycles, and each is registered in bot/app.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from bot.app import CAPABILITIES
from bot.core.capability import Wiring

BOT = Path(__file__).parents[1] / "bot"
HANDLERS = BOT / "handlers"


def modules(*parts: str) -> Iterator[Path]:
    base = BOT.joinpath(*parts)
    if base.suffix == ".py":
        yield base
        return
    yield from (p for p in base.rglob("*.py") if "migrations" not in p.parts)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    """Each import of one of the `forbidden` modules or packages (or anything inside them)."""
    return sorted(
        f"{path.relative_to(BOT.parent)} imports {name}"
        for path in paths
        for name in imports(path)
        if any(name == root or name.startswith(root + ".") for root in forbidden)
    )


def test_infrastructure_imports_no_capability() -> None:
    infrastructure = [
        *modules("channels"),
        *modules("core"),
        *modules("jobs"),
        *modules("engine.py"),
        *modules("outbox.py"),
    ]
    assert offenders(infrastructure, ("bot.handlers", "bot.app", "bot.cli")) == []


def test_capabilities_services_rules_and_storage_never_see_a_channel() -> None:
    inner = [*modules("handlers"), *modules("services"), *modules("domain"), *modules("db")]
    assert offenders(inner, ("telegram", "bot.channels", "aiohttp", "bot.app", "bot.cli", "bot.console_web")) == []
    # The shared core names the HTTP handler type of a channel's routes, and nothing of any channel.
    assert offenders(list(modules("core")), ("telegram", "bot.channels", "bot.app", "bot.cli")) == []


def test_nothing_imports_the_command_line_entry_module() -> None:
    everything = [p for p in modules("") if p.name != "__main__.py"]
    assert offenders(everything, ("bot.cli",)) == []


def test_capabilities_depend_on_each_other_without_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for package in sorted(p for p in HANDLERS.iterdir() if (p / "__init__.py").is_file()):
        used = {
            name.split(".")[2]
            for path in package.rglob("*.py")
            for name in imports(path)
            if name.startswith("bot.handlers.")
        }
        graph[package.name] = {n for n in used if n in {p.name for p in HANDLERS.iterdir()}} - {package.name}
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, " -> ".join((*path, node))
        if node not in done:
            for other in sorted(graph[node]):
                visit(other, (*path, node))
            done.add(node)

    for node in graph:
        visit(node, ())


def test_every_capability_package_is_registered_and_registers_something() -> None:
    packages = {p.name for p in HANDLERS.iterdir() if (p / "__init__.py").is_file()}
    registered = {c.__name__.rsplit(".", 1)[1] for c in CAPABILITIES}  # type: ignore[attr-defined]
    assert registered == packages
    for capability in CAPABILITIES:
        bot = Wiring()
        capability.register(bot)
        assert bot.entries or bot.sweeps or bot.actions, capability
