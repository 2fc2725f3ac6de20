"""Each component's spec text, configured next to the component paths in ``ssot_components.toml``.

The File Catalog's ``[[component]]`` tables (``ssot_pipelines.catalog.components``) gain two optional keys,
so components and their specs live in one file::

    [[component]]
    name = "geometry"
    paths = ["shapes/"]
    spec = "docs/specs/geometry.md"        # relative to the TOML file's directory
    # or: spec_text = "Pure geometry helpers: areas and perimeters. No I/O."

With no components configured at all (no file, no ``SSOT_COMPONENTS``), the components are derived from the
layout (``catalog.components.derived_components``: top-level folders, a package split into its
sub-packages) and each one's spec is its README (``README.md``, ``README.rst``, ``README.txt``, ``README``)
or, failing that, the docstring of its ``__init__.py``. A component with neither has no spec, so its files'
semantic distance is not scored.
"""

from __future__ import annotations

import ast
import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ssot_pipelines.catalog.components import (
    COMPONENTS_FILENAME,
    ComponentMap,
    derived_component_map,
    derived_components,
    load_components,
)
from ssot_pipelines.catalog.config import RepoRoot
from ssot_pipelines.settings import ConfigurationError, env


@dataclass(frozen=True)
class ComponentSpec:
    component: str
    text: str
    source: str  # the spec file, or the TOML file for inline spec_text

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DriftComponents:
    """The component map (shared with the File Catalog) and the spec of each component that has one."""

    components: ComponentMap
    specs: dict[str, ComponentSpec]

    def spec_for(self, component: str | None) -> ComponentSpec | None:
        return self.specs.get(component) if component else None


def parse_specs(text: str, origin: Path) -> dict[str, ComponentSpec]:
    """The ``spec`` / ``spec_text`` of each ``[[component]]`` in one TOML file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{origin} is not valid TOML ({exc}); see docs/drift.md for the format") from None
    specs: dict[str, ComponentSpec] = {}
    for entry in data.get("component", []) if isinstance(data.get("component"), list) else []:
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        inline, spec_file = entry.get("spec_text"), entry.get("spec")
        if isinstance(inline, str) and inline.strip():
            specs[name.strip()] = ComponentSpec(name.strip(), inline, str(origin))
        elif isinstance(spec_file, str):
            path = (origin.parent / spec_file).resolve()
            if not path.is_file():
                raise ConfigurationError(
                    f"{origin}: component {name!r} names spec {spec_file!r}, but {path} is not a file; "
                    "fix the path (relative to the TOML file) or use spec_text"
                )
            specs[name.strip()] = ComponentSpec(name.strip(), path.read_text(encoding="utf-8"), str(path))
    return specs


def load_drift_components(roots: Sequence[RepoRoot], components_file: Path | None = None) -> DriftComponents:
    """Components and specs from ``SSOT_COMPONENTS_FILE`` (or ``components_file``), else each root's file."""
    configured = components_file or (Path(p) if (p := env("SSOT_COMPONENTS_FILE")) else None)
    component_map = load_components(
        configured, inline=env("SSOT_COMPONENTS"), search_roots=[(r.name, r.path) for r in roots]
    )
    if not component_map.rules:
        return derived_drift_components(roots)
    files = [configured] if configured is not None else [r.path / COMPONENTS_FILENAME for r in roots]
    specs: dict[str, ComponentSpec] = {}
    for file in files:
        if file.is_file():
            specs.update(parse_specs(file.read_text(encoding="utf-8"), file))
    return DriftComponents(component_map, specs)


README_NAMES = ("README.md", "README.rst", "README.txt", "README")


def derived_drift_components(roots: Sequence[RepoRoot]) -> DriftComponents:
    """The default when nothing is configured: components from the layout, specs from READMEs or docstrings."""
    pairs = [(r.name, r.path) for r in roots]
    specs: dict[str, ComponentSpec] = {}
    for component in derived_components(pairs):
        spec = folder_spec(component.directory)
        if spec is not None:
            text, source = spec
            specs[component.name] = ComponentSpec(component.name, text, source)
    return DriftComponents(derived_component_map(pairs), specs)


def folder_spec(folder: Path) -> tuple[str, str] | None:
    """(text, source) of a folder's README, else of its ``__init__.py`` docstring; None when it has neither."""
    for name in README_NAMES:
        readme = folder / name
        if readme.is_file():
            text = readme.read_text(encoding="utf-8", errors="replace")
            if text.strip():
                return text, str(readme)
    init = folder / "__init__.py"
    if init.is_file():
        try:
            docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8", errors="replace")))
        except SyntaxError:
            return None
        if docstring and docstring.strip():
            return docstring, str(init)
    return None
