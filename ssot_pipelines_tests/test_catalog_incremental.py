"""The incremental File Catalog refresh (what hourly_incremental_sync runs) in a git work tree: it asks git
which paths may have changed, stats only those, and must still see every change a walk of the tree sees.

Real git repositories and the real ledger (PostgreSQL). After each step the ledger must equal the tree as
git hashes it, and a full walk must find nothing left to do.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from ssot_pipelines.catalog.config import CatalogConfig
from ssot_pipelines.catalog.detect import detect_changes
from ssot_pipelines.catalog.refresh import RefreshResult, refresh_catalog
from ssot_pipelines_tests.catalog_fixtures import commit_all, config_for, git, git_hash_objects, make_repo


def _tree(repo: Path) -> dict[str, str]:
    """Every file a walk catalogues: tracked or untracked, present on disk, and not matched by an ignore rule
    (the catalog applies .gitignore to tracked files too)."""
    listed = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    ignored = git(repo, "ls-files", "-z", "--cached", "--ignored", "--exclude-standard").split("\0")
    present = sorted(p for p in set(listed) - set(ignored) if p and (repo / p).is_file())
    return git_hash_objects(repo, present)


def _ledger(ledger: Any, repo: str) -> dict[str, str]:
    rows = ledger.execute("SELECT path, sha FROM catalog_files WHERE repo = %s", (repo,)).fetchall()
    ledger.commit()
    return {r["path"]: r["sha"] for r in rows}


def _incremental_via_git(ledger: Any, config: CatalogConfig, repo: Path) -> RefreshResult:
    """One hourly incremental refresh; it must have asked git, and leave the ledger equal to the tree."""
    result = refresh_catalog(ledger, config)
    assert result.via_git == [repo.name] and result.git_fallbacks == []
    assert (result.counts()["checked_via_git"], result.counts()["git_fallback"]) == (1, 0)
    tree = _tree(repo)
    assert _ledger(ledger, repo.name) == tree
    assert result.scanned == len(tree)
    settled = refresh_catalog(ledger, config, full=True, dry_run=True)  # a walk finds nothing more
    assert (settled.changed_keys, settled.deleted) == ([], [])
    return result


def _keys(entries: Any) -> list[str]:
    return sorted(e.key for e in entries)


def test_incremental_sync_asks_git_and_sees_every_work_tree_change(tmp_path: Path, ledger: Any) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            ".gitignore": "*.log\n",
            **{f"src/m{i}.py": f"x = {i}\n" for i in range(10)},
            "docs/guide.md": "# guide\n" + "a long enough text to pair by content\n" * 20,
            "draft.txt": "wip\n",
        },
    )
    commit_all(repo)
    (repo / "draft.txt").write_text("uncommitted edit\n")
    (repo / "scratch.md").write_text("untracked\n")
    config = config_for([repo])
    first = refresh_catalog(ledger, config)
    assert first.via_git == [] and first.counts()["git_fallback"] == 1  # nothing recorded yet: a walk
    assert "no git state recorded" in first.counts()["git_fallback_reasons"]

    (repo / "src" / "m1.py").write_text("x = 'edited'\n")  # tracked, modified
    (repo / "src" / "m2.py").unlink()  # tracked, deleted
    (repo / "src" / "new.py").write_text("n = 1\n")  # untracked, new
    (repo / "new_dir" / "deep").mkdir(parents=True)
    (repo / "new_dir" / "deep" / "file.txt").write_text("deep\n")  # untracked, in new directories
    (repo / "draft.txt").write_text("wip\n")  # dirty at the last walk, clean now
    (repo / "scratch.md").unlink()  # untracked, gone
    (repo / "debug.log").write_text("ignored\n")  # ignored: never catalogued
    os.rename(repo / "docs" / "guide.md", repo / "docs" / "handbook.md")  # renamed in the work tree

    result = _incremental_via_git(ledger, config, repo)

    assert _keys(result.added) == ["repo/new_dir/deep/file.txt", "repo/src/new.py"]
    assert _keys(result.changed) == ["repo/draft.txt", "repo/src/m1.py"]
    assert [(r.old_key, r.entry.key, r.detected_by) for r in result.renamed] == [
        ("repo/docs/guide.md", "repo/docs/handbook.md", "same content")
    ]
    assert sorted(result.deleted) == ["repo/scratch.md", "repo/src/m2.py"]
    assert result.hashed == 5  # only what changed was read

    # The files this sync read stay on the re-check list once, with what git calls not clean.
    row = ledger.execute("SELECT head_commit, dirty_paths FROM catalog_repos WHERE repo = 'repo'").fetchone()
    ledger.commit()
    assert row["head_commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert {"src/m1.py", "draft.txt", "src/new.py", "new_dir/deep/file.txt", "docs/handbook.md"} <= set(
        row["dirty_paths"]
    )

    quiet = _incremental_via_git(ledger, config, repo)  # nothing changed since: nothing read, nothing written
    assert (quiet.hashed, quiet.changed_keys, quiet.deleted) == (0, [], [])


def test_incremental_sync_follows_head_through_commit_checkout_pull_and_reset(tmp_path: Path, ledger: Any) -> None:
    upstream = make_repo(tmp_path / "upstream", {f"lib/a{i}.py": f"a = {i}\n" for i in range(6)})
    base = commit_all(upstream, "base")
    repo = tmp_path / "repo"
    git(tmp_path, "clone", "-q", str(upstream), str(repo))
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "Catalog Test")
    config = config_for([repo])
    refresh_catalog(ledger, config)

    (repo / "lib" / "a0.py").write_text("a = 'zero'\n")
    git(repo, "rm", "-q", "lib/a1.py")
    commit_all(repo, "commit: edit one file, delete one")  # clean work tree, new HEAD
    result = _incremental_via_git(ledger, config, repo)
    assert (_keys(result.changed), result.deleted) == (["repo/lib/a0.py"], ["repo/lib/a1.py"])

    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "lib" / "feature.py").write_text("feature = True\n")
    (repo / "lib" / "a2.py").write_text("a = 'two on a branch'\n")
    commit_all(repo, "feature")
    result = _incremental_via_git(ledger, config, repo)
    assert (_keys(result.added), _keys(result.changed)) == (["repo/lib/feature.py"], ["repo/lib/a2.py"])

    git(repo, "checkout", "-q", "main")  # checkout back
    result = _incremental_via_git(ledger, config, repo)
    assert (_keys(result.changed), result.deleted) == (["repo/lib/a2.py"], ["repo/lib/feature.py"])

    (upstream / "lib" / "pulled.py").write_text("pulled = 1\n")
    (upstream / "lib" / "a3.py").write_text("a = 'three upstream'\n")
    commit_all(upstream, "upstream work")
    git(repo, "pull", "-q", "--no-rebase", "--no-edit")  # pull (a merge commit)
    result = _incremental_via_git(ledger, config, repo)
    assert (_keys(result.added), _keys(result.changed)) == (["repo/lib/pulled.py"], ["repo/lib/a3.py"])

    git(repo, "reset", "-q", "--hard", base)  # HEAD moves back
    result = _incremental_via_git(ledger, config, repo)
    assert _keys(result.added) == ["repo/lib/a1.py"]
    assert _keys(result.changed) == ["repo/lib/a0.py", "repo/lib/a3.py"]
    assert result.deleted == ["repo/lib/pulled.py"]


def test_incremental_sync_walks_when_git_cannot_vouch_and_counts_the_fallback(
    tmp_path: Path, ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            ".gitignore": "*.log\n",
            "notes.txt": "notes\n",
            "old.log": "log\n",
            **{f"m{i}.py": f"x = {i}\n" for i in range(5)},
        },
    )
    commit_all(repo)
    config = config_for([repo])
    refresh_catalog(ledger, config)

    def walked(reason: str, **kwargs: Any) -> RefreshResult:
        result = refresh_catalog(ledger, config, **kwargs)
        assert result.via_git == [] and result.counts()["git_fallback"] == 1
        assert reason in result.counts()["git_fallback_reasons"]
        assert _ledger(ledger, "repo") == _tree(repo)
        return result

    # A changed .gitignore decides about files git does not list: only a walk can tell.
    (repo / ".gitignore").write_text("*.txt\n")
    result = walked(".gitignore changed")
    assert (_keys(result.added), result.deleted) == (["repo/old.log"], ["repo/notes.txt"])

    # The commit recorded at the last sync is gone from the repository (say, after a rebase and gc).
    ledger.execute("UPDATE catalog_repos SET head_commit = %s WHERE repo = 'repo'", ("0" * 40,))
    ledger.commit()
    (repo / "m3.py").write_text("x = 'unknown base'\n")
    result = walked("git could not diff")
    assert _keys(result.changed) == ["repo/m3.py"]

    # git is not installed (or not on PATH): the work tree is walked.
    (repo / "m1.py").write_text("x = 'no git'\n")
    (repo / "m2.py").unlink()
    with monkeypatch.context() as m:
        m.setenv("PATH", str(tmp_path / "no-git-here"))
        result = refresh_catalog(ledger, config)
    assert result.via_git == [] and "git could not tell HEAD" in result.counts()["git_fallback_reasons"]
    assert (_keys(result.changed), result.deleted) == (["repo/m1.py"], ["repo/m2.py"])
    assert _ledger(ledger, "repo") == _tree(repo)

    # Another clone under the same repository name: git's view of the old work tree says nothing here.
    clone = tmp_path / "elsewhere" / "repo"
    shutil.copytree(repo, clone, symlinks=True)
    config = config_for([clone])
    result = walked("no git state recorded for this work tree")
    assert result.scanned == len(_tree(clone))


def test_non_git_roots_are_walked_without_counting_a_fallback(tmp_path: Path, ledger: Any) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for i in range(4):
        (plain / f"f{i}.txt").write_text(f"{i}\n")
    config = config_for([plain])
    refresh_catalog(ledger, config)
    (plain / "f1.txt").write_text("changed\n")
    (plain / "f2.txt").unlink()
    result = refresh_catalog(ledger, config)
    counts = result.counts()
    assert (counts["checked_via_git"], counts["git_fallback"]) == (0, 0)
    assert (_keys(result.changed), result.deleted) == (["plain/f1.txt"], ["plain/f2.txt"])


def test_what_git_cannot_see_is_left_to_the_daily_full_sync(tmp_path: Path, ledger: Any) -> None:
    repo = make_repo(tmp_path / "repo", {"frozen.py": "x = 1\n", "other.py": "y = 1\n"})
    commit_all(repo)
    config = config_for([repo])
    refresh_catalog(ledger, config)
    git(repo, "update-index", "--assume-unchanged", "frozen.py")
    (repo / "frozen.py").write_text("x = 'changed behind git'\n")

    hourly = refresh_catalog(ledger, config)
    assert hourly.via_git == ["repo"] and hourly.changed_keys == []  # git says clean; so does the hourly sync
    daily = refresh_catalog(ledger, config, full=True)
    assert daily.via_git == [] and "git_fallback" not in daily.counts()
    assert _keys(daily.changed) == ["repo/frozen.py"]


def test_an_untracked_file_in_the_users_global_git_excludes_is_still_seen(
    tmp_path: Path, ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The catalog honours .gitignore files and .git/info/exclude, not the user's own core.excludesFile,
    # so the git route must not let that file hide new files either.
    global_ignore = tmp_path / "global_ignore"
    global_ignore.write_text("*.bak\n")
    global_config = tmp_path / "gitconfig"
    global_config.write_text(f"[core]\n\texcludesFile = {global_ignore}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    repo = make_repo(tmp_path / "repo", {"a.py": "a = 1\n"})
    commit_all(repo)
    assert git(repo, "status", "--porcelain") == ""
    config = config_for([repo])
    refresh_catalog(ledger, config)

    (repo / "notes.bak").write_text("kept by the catalog\n")
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""  # what plain git shows
    assert detect_changes(ledger, config).keys == ["repo/notes.bak"]
    result = refresh_catalog(ledger, config)
    assert result.via_git == ["repo"] and _keys(result.added) == ["repo/notes.bak"]
