"""Which component a file belongs to: an ordered mapping of path patterns to component names.

Shared by the File Catalog (the Component property) and drift detection. The mapping comes from a TOML
file (``SSOT_COMPONENTS_FILE``, else ``ssot_components.toml`` at the top of a scanned repository) and/or
the ``SSOT_COMPONENTS`` variable; the first rule that matches wins. File format::

    [[component]]
    name = "catalog"
    paths = ["ssot_pipelines/catalog/", "docs/catalog.md"]   # gitignore-style patterns
    repository = "main"                                      # optional: only in this repository

``SSOT_COMPONENTS`` holds the same rules inline: ``catalog=ssot_pipelines/catalog/,docs/catalog.md;docs=*.md``.

With neither, ``derived_components`` proposes a default (drift uses it): each top-level folder of a
repository is a component, and a top-level Python package that holds sub-packages is split into them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from ssot_pipelines.settings import ConfigurationError

COMPONENTS_FILENAME = "ssot_components.toml"


@dataclass(frozen=True)
class ComponentRule:
    name: str
    patterns: tuple[str, ...]
    repository: str | None = None
    spec: pathspec.GitIgnoreSpec = field(compare=False, repr=False, default_factory=lambda: _spec(()))

    @classmethod
    def build(cls, name: str, patterns: Sequence[str], repository: str | None = None) -> ComponentRule:
        return cls(name=name, patterns=tuple(patterns), repository=repository, spec=_spec(patterns))


def _spec(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(patterns))


@dataclass(frozen=True)
class ComponentMap:
    """Ordered rules; ``component_for`` returns the first match's name, or None."""

    rules: tuple[ComponentRule, ...] = ()
    source: str = "none"

    def component_for(self, path: str, repository: str | None = None) -> str | None:
        """The component of a repo-relative POSIX ``path`` (in ``repository``), or None when no rule matches."""
        for rule in self.rules:
            if rule.repository is not None and repository is not None and rule.repository != repository:
                continue
            if rule.spec.match_file(path):
                return rule.name
        return None

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(r.name for r in self.rules))


def parse_components_toml(text: str, *, origin: str = "<components>") -> tuple[ComponentRule, ...]:
    """Rules from the TOML format above; a malformed file is an error naming the file and the fix."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{origin} is not valid TOML ({exc}); see docs/catalog.md for the format") from None
    entries = data.get("component", [])
    if not isinstance(entries, list):
        raise ConfigurationError(f"{origin}: write each component as a [[component]] table with name and paths")
    rules = []
    for i, entry in enumerate(entries, 1):
        name, paths, repo = entry.get("name"), entry.get("paths"), entry.get("repository")
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f'{origin}: component #{i} needs a name = "..."')
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise ConfigurationError(f'{origin}: component {name!r} needs paths = ["pattern", ...]')
        if repo is not None and not isinstance(repo, str):
            raise ConfigurationError(f"{origin}: component {name!r} has a repository that is not a string")
        rules.append(ComponentRule.build(name.strip(), paths, repo))
    return tuple(rules)


def parse_components_inline(text: str) -> tuple[ComponentRule, ...]:
    """Rules from ``SSOT_COMPONENTS``: ``name=pattern,pattern;name2=pattern``."""
    rules = []
    for chunk in text.split(";"):
        if not chunk.strip():
            continue
        name, sep, patterns = chunk.partition("=")
        pats = [p.strip() for p in patterns.split(",") if p.strip()]
        if not sep or not name.strip() or not pats:
            raise ConfigurationError(f"SSOT_COMPONENTS entry {chunk.strip()!r} should read name=pattern[,pattern...]")
        rules.append(ComponentRule.build(name.strip(), pats))
    return tuple(rules)


def load_components(
    path: Path | None = None, *, inline: str | None = None, search_roots: Sequence[tuple[str, Path]] = ()
) -> ComponentMap:
    """The component map: inline rules first, then the given file, else each repository's own file.

    Rules found in a repository's ``ssot_components.toml`` apply to that repository unless they name one.
    """
    rules: list[ComponentRule] = []
    sources: list[str] = []
    if inline:
        rules.extend(parse_components_inline(inline))
        sources.append("SSOT_COMPONENTS")
    if path is not None and not path.is_file():
        raise ConfigurationError(
            f"SSOT_COMPONENTS_FILE points at {path}, which is not a file; fix the path or unset the variable"
        )
    candidates: list[tuple[str | None, Path]] = (
        [(None, path)] if path is not None else [(name, d / COMPONENTS_FILENAME) for name, d in search_roots]
    )
    for repo, candidate in candidates:
        if candidate.is_file():
            found = parse_components_toml(candidate.read_text(encoding="utf-8"), origin=str(candidate))
            rules.extend(ComponentRule.build(r.name, r.patterns, r.repository or repo) if repo else r for r in found)
            sources.append(str(candidate))
    return ComponentMap(rules=tuple(rules), source=", ".join(sources) or "none")


# Folders that are never a component of their own: tooling, caches, virtualenvs, build output.
_NOT_COMPONENTS = frozenset({"node_modules", "__pycache__", "venv", "build", "dist", "site-packages", "target"})


@dataclass(frozen=True)
class DerivedComponent:
    """A component found from the layout: its name, its folder (repo-relative POSIX) and its repository."""

    name: str
    folder: str
    repository: str
    directory: Path


def derived_components(roots: Sequence[tuple[str, Path]]) -> list[DerivedComponent]:
    """The default components of ``roots`` (name, path): top-level folders, a package split into sub-packages.

    ``pkg/`` with sub-packages ``pkg/a/`` and ``pkg/b/`` gives components ``pkg.a``, ``pkg.b`` and ``pkg``
    (its other modules); a plain folder ``docs/`` gives ``docs``. Hidden folders, tooling folders
    (``node_modules``, ``build``, a virtualenv, ...) and folders the root's ``.gitignore`` names are
    skipped. Names gain a ``repo/`` prefix only when two repositories have the same folder.
    """
    found: list[DerivedComponent] = []
    for repo, root in roots:
        ignored = _root_gitignore(root)
        for top in _subfolders(root):
            if ignored.match_file(f"{top.name}/"):
                continue
            subpackages = [d for d in _subfolders(top) if (d / "__init__.py").is_file()]
            if (top / "__init__.py").is_file() and subpackages:
                found.extend(
                    DerivedComponent(f"{top.name}.{d.name}", f"{top.name}/{d.name}", repo, d) for d in subpackages
                )
            found.append(DerivedComponent(top.name, top.name, repo, top))
    clashes = {c.name for c in found if sum(1 for o in found if o.name == c.name) > 1}
    return [
        DerivedComponent(f"{c.repository}/{c.name}", c.folder, c.repository, c.directory) if c.name in clashes else c
        for c in found
    ]


def derived_component_map(roots: Sequence[tuple[str, Path]]) -> ComponentMap:
    """``derived_components`` as ordered rules (sub-packages before their parent package)."""
    rules = tuple(ComponentRule.build(c.name, [f"/{c.folder}/"], c.repository) for c in derived_components(roots))
    return ComponentMap(rules=rules, source="derived from the layout (no ssot_components.toml)")


def _root_gitignore(root: Path) -> pathspec.GitIgnoreSpec:
    try:
        return _spec((root / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return _spec(())


def _subfolders(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [
        e
        for e in entries
        if e.is_dir()
        and not e.is_symlink()
        and not e.name.startswith(".")
        and e.name not in _NOT_COMPONENTS
        and not (e / "pyvenv.cfg").exists()
    ]
