"""Catalog settings from the environment: which repositories, what to leave out, how much to preview."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ssot_pipelines.catalog.components import ComponentMap, load_components
from ssot_pipelines.settings import ConfigurationError, env

DEFAULT_EXCLUDES = (".ssot/",)
EVENTS_STREAM_DEFAULT = "ssot:catalog:events"


@dataclass(frozen=True)
class RepoRoot:
    """One scanned repository: its name (the key prefix) and its absolute directory."""

    name: str
    path: Path


@dataclass(frozen=True)
class CatalogConfig:
    roots: tuple[RepoRoot, ...]
    excludes: tuple[str, ...] = DEFAULT_EXCLUDES
    components: ComponentMap = field(default_factory=ComponentMap)
    preview_lines: int = 20
    preview_chars: int = 1500
    hash_workers: int = 4
    events_stream: str = EVENTS_STREAM_DEFAULT
    events_maxlen: int = 100_000

    @property
    def prefix_titles(self) -> bool:
        """Titles carry the repository name only when several repositories share the database."""
        return len(self.roots) > 1


def parse_roots(value: str | None, *, cwd: Path | None = None) -> tuple[RepoRoot, ...]:
    """Roots from ``SSOT_REPO_ROOTS``: ``os.pathsep``-separated ``path`` or ``name=path`` entries.

    A root that does not exist is kept (the scan reports it); two roots with one name are an error.
    """
    base = cwd or Path.cwd()
    entries = [e.strip() for e in (value or str(base)).split(os.pathsep) if e.strip()]
    roots: list[RepoRoot] = []
    for entry in entries:
        name, sep, raw = entry.partition("=")
        if not sep or "/" in name or not name:
            name, raw = "", entry
        path = (base / Path(raw).expanduser()).resolve() if not Path(raw).is_absolute() else Path(raw).resolve()
        roots.append(RepoRoot(name=name or path.name or "root", path=path))
    names = [r.name for r in roots]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigurationError(
            f"SSOT_REPO_ROOTS names two repositories {dupes[0]!r}; give each a distinct name with "
            f"name=path entries, e.g. 'api=/src/a/{dupes[0]}{os.pathsep}web=/src/b/{dupes[0]}'"
        )
    return tuple(roots)


def parse_excludes(value: str | None) -> tuple[str, ...]:
    """Extra gitignore-style patterns from ``SSOT_CATALOG_EXCLUDES`` (comma or newline separated)."""
    if not value:
        return DEFAULT_EXCLUDES
    extra = [p.strip() for chunk in value.splitlines() for p in chunk.split(",") if p.strip()]
    return (*DEFAULT_EXCLUDES, *extra)


def _positive_int(name: str, default: int) -> int:
    raw = env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}") from None
    if value < 1:
        raise ConfigurationError(f"{name} must be at least 1 (it is {value})")
    return value


def load_catalog_config(cwd: Path | None = None) -> CatalogConfig:
    """The catalog configuration from the environment (see docs/catalog.md for every variable)."""
    roots = parse_roots(env("SSOT_REPO_ROOTS"), cwd=cwd)
    excludes = list(parse_excludes(env("SSOT_CATALOG_EXCLUDES")))
    components_file = env("SSOT_COMPONENTS_FILE")
    components = load_components(
        Path(components_file) if components_file else None,
        inline=env("SSOT_COMPONENTS"),
        search_roots=[(r.name, r.path) for r in roots],
    )
    home = env("SSOT_HOME")
    if home:
        # The project's own data directory (embedded PostgreSQL, journals) must never be catalogued.
        home_path = Path(home).expanduser().resolve()
        for root in roots:
            if home_path.is_relative_to(root.path) and home_path != root.path:
                excludes.append("/" + home_path.relative_to(root.path).as_posix() + "/")
    return CatalogConfig(
        roots=roots,
        excludes=tuple(excludes),
        components=components,
        preview_lines=_positive_int("SSOT_CATALOG_PREVIEW_LINES", 20),
        preview_chars=_positive_int("SSOT_CATALOG_PREVIEW_CHARS", 1500),
        hash_workers=_positive_int("SSOT_CATALOG_HASH_WORKERS", min(8, (os.cpu_count() or 2) * 2)),
        events_stream=env("SSOT_CATALOG_EVENTS_STREAM") or EVENTS_STREAM_DEFAULT,
        events_maxlen=_positive_int("SSOT_CATALOG_EVENTS_MAXLEN", 100_000),
    )
