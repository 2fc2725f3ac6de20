"""Where drift looks: the configured repositories, their tracked files, components and specs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssot_pipelines.catalog.config import RepoRoot, parse_roots
from ssot_pipelines.drift.baseline import Conn
from ssot_pipelines.drift.files import TrackedFile, tracked_files_from_catalog, tracked_files_from_roots
from ssot_pipelines.drift.specs import DriftComponents, load_drift_components
from ssot_pipelines.settings import env
from ssot_pipelines.vectors.cache import CachedEmbedder
from ssot_pipelines.vectors.embedder import Embedder


@dataclass
class DriftWorkspace:
    roots: tuple[RepoRoot, ...]
    components: DriftComponents
    files: list[TrackedFile]

    def select(
        self, paths: Sequence[str] = (), component: str | None = None, everything: bool = False
    ) -> list[TrackedFile]:
        """Files by catalog key, repo-relative path or path on disk; or by component; or all."""
        if everything:
            return list(self.files)
        if component is not None:
            return [f for f in self.files if f.component == component]
        wanted = set()
        for raw in paths:
            wanted.add(raw)
            candidate = Path(raw).expanduser()
            if candidate.exists():
                wanted.add(str(candidate.resolve()))
        return [f for f in self.files if f.key in wanted or f.path in wanted or str(f.location.resolve()) in wanted]


def open_workspace(
    conn: Conn, roots: Sequence[RepoRoot] | None = None, components_file: Path | None = None
) -> DriftWorkspace:
    """The File Catalog's files when it has any for these roots, else the roots' files read directly."""
    resolved = tuple(roots) if roots is not None else parse_roots(env("SSOT_REPO_ROOTS"))
    components = load_drift_components(resolved, components_file)
    files = tracked_files_from_catalog(conn, resolved)
    conn.commit()
    if not files:
        files = tracked_files_from_roots(resolved, components)
    elif components.components.rules:
        files = [
            TrackedFile(
                f.key, f.repo, f.path, f.root, f.component or components.components.component_for(f.path, f.repo)
            )
            for f in files
        ]
    return DriftWorkspace(resolved, components, files)


def cached_embedder(inner: Embedder, conn: Any) -> Embedder:
    """The embedder behind the ledger's embedding cache (by content hash), unless it already is."""
    return inner if isinstance(inner, CachedEmbedder) else CachedEmbedder(inner, conn)
