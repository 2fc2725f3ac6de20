"""The drift signals between a baseline text and the current text (reference §4.1, §4.4).

Each signal is a distance in [0, 1]. Content change is order-insensitive (a multiset of lines), so moving
functions around is not drift; structure compares declared symbols and the shape of the syntax tree.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

CHURN_FLOOR_LINES = 20  # small files would otherwise saturate churn after a couple of edits
SEMANTIC_EPSILON = 1e-6


def line_multiset(text: str) -> Counter[str]:
    """Whitespace-stripped, non-blank lines with their counts."""
    return Counter("".join(line.split()) for line in text.splitlines() if line.strip())


def multiset_distance(a: Counter[str], b: Counter[str]) -> float:
    """1 - |A & B| / |A | B| over multisets; two empty texts are identical."""
    union = sum((a | b).values())
    if union == 0:
        return 0.0
    return 1.0 - sum((a & b).values()) / union


def content_change(baseline: str, current: str) -> float:
    return multiset_distance(line_multiset(baseline), line_multiset(current))


def changed_lines(baseline: str, current: str) -> int:
    """Lines added plus lines deleted, ignoring order: the churn estimate when there is no git history."""
    a, b = line_multiset(baseline), line_multiset(current)
    return sum((a - b).values()) + sum((b - a).values())


@dataclass(frozen=True)
class Structure:
    """What a file declares (symbols) and the shape of its syntax (node-type histogram)."""

    symbols: frozenset[tuple[str, ...]]
    histogram: Counter[str] = field(default_factory=Counter)
    parsed: bool = True


_DECLARATION = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:public\s+|private\s+|protected\s+|static\s+|async\s+|pub\s+)*"
    r"(?P<kind>function|class|interface|struct|enum|trait|type|def|fn|func|impl|module|import|from|package)"
    r"\s+(?P<name>[\w.$:<>]+)(?P<rest>[^{]*)"
)
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+|[^\s\w]")


def python_structure(text: str) -> Structure | None:
    """Public definitions with their arguments, imports, and the AST node histogram; None if unparsable."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    symbols: set[tuple[str, ...]] = set()
    histogram: Counter[str] = Counter()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            histogram[type(child).__name__] += 1
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = ",".join(a.arg for a in (*child.args.posonlyargs, *child.args.args, *child.args.kwonlyargs))
                symbols.add(("def", prefix + child.name, arguments))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                bases = ",".join(ast.unparse(b) for b in child.bases)
                symbols.add(("class", prefix + child.name, bases))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.Import):
                symbols.update(("import", alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                symbols.update(("import", f"{child.module}.{alias.name}") for alias in child.names)
                visit(child, prefix)
            else:
                visit(child, prefix)

    visit(tree, "")
    return Structure(frozenset(symbols), histogram)


def generic_structure(text: str) -> Structure:
    """Any language: declaration-looking lines as symbols and a histogram of token classes."""
    symbols: set[tuple[str, ...]] = set()
    histogram: Counter[str] = Counter()
    for line in text.splitlines():
        match = _DECLARATION.match(line)
        if match:
            signature = "".join(match["rest"].split())[:120]
            symbols.add((match["kind"], match["name"], signature))
        for token in _TOKEN.findall(line):
            histogram[
                "word" if token[0].isalpha() or token[0] == "_" else "number" if token[0].isdigit() else token
            ] += 1
    return Structure(frozenset(symbols), histogram, parsed=bool(symbols))


def structure_of(text: str, path: str) -> Structure:
    if path.endswith((".py", ".pyi")):
        found = python_structure(text)
        if found is not None:
            return found
        return Structure(frozenset(), Counter(), parsed=False)
    return generic_structure(text)


def jaccard_distance(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    union = len(a | b)
    return 0.0 if union == 0 else 1.0 - len(a & b) / union


def histogram_cosine(a: Counter[str], b: Counter[str]) -> float:
    """Cosine similarity of two histograms; 0 when either is empty."""
    dot = float(sum(a[k] * b[k] for k in a.keys() & b.keys()))
    na = math.sqrt(sum(x * x for x in a.values()))
    nb = math.sqrt(sum(x * x for x in b.values()))
    return 0.0 if na == 0 or nb == 0 else dot / (na * nb)


def vector_cosine(u: Sequence[float], v: Sequence[float]) -> float:
    """Cosine similarity of two embedding vectors; 0 when either is the zero vector."""
    a, b = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 0.0 if na == 0 or nb == 0 else float(a @ b) / (na * nb)


def structural_change(baseline: Structure, current: Structure, content: float) -> float:
    """½ symbol Jaccard distance + ½ histogram cosine distance; unparsable on either side → content change."""
    if not (baseline.parsed and current.parsed):
        return content
    shape = histogram_cosine(baseline.histogram, current.histogram)
    both_empty = not baseline.histogram and not current.histogram
    return 0.5 * jaccard_distance(baseline.symbols, current.symbols) + 0.5 * (0.0 if both_empty else 1.0 - shape)


_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_NESTED_BODIES = ("body", "orelse", "finalbody", "handlers")


def _public_definitions(statements: list[ast.stmt]) -> list[_Definition]:
    """Module-level and class-level definitions; function bodies are implementation, not interface."""
    found: list[_Definition] = []
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node)
        elif isinstance(node, ast.ClassDef):
            found.append(node)
            found.extend(_public_definitions(node.body))
        else:
            for attribute in _NESTED_BODIES:
                nested = getattr(node, attribute, None)
                if isinstance(nested, list):
                    found.extend(_public_definitions([n for n in nested if isinstance(n, ast.stmt)]))
    return found


def summary_text(text: str, path: str, limit_lines: int = 200) -> str:
    """What a file says it is: path, docstring or leading comment, and its public signatures."""
    parts = [path]
    if path.endswith(".py"):
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            tree = None
        if tree is not None:
            doc = ast.get_docstring(tree)
            if doc:
                parts.append(doc)
            for node in _public_definitions(tree.body):
                if not node.name.startswith("_"):
                    inner = ast.get_docstring(node)
                    head = f"{'class' if isinstance(node, ast.ClassDef) else 'def'} {node.name}"
                    parts.append(f"{head}: {inner.splitlines()[0]}" if inner else head)
                    if len(parts) > limit_lines:
                        break
            return "\n".join(parts)
    lines = text.splitlines()
    comment = [
        ln.strip().lstrip("#/*-! ").strip() for ln in lines[:30] if ln.strip().startswith(("#", "//", "/*", "*", "--"))
    ]
    parts.extend(c for c in comment if c)
    parts.extend(ln.strip() for ln in lines if _DECLARATION.match(ln))
    return "\n".join(parts[:limit_lines])


def churn_score(changed: int, baseline_loc: int) -> float:
    """1 - exp(-changed / max(LOC_B, 20)): saturates, so churn cannot dominate the score."""
    return 1.0 - math.exp(-changed / max(baseline_loc, CHURN_FLOOR_LINES))


def semantic_distance(baseline_similarity: float, current_similarity: float) -> float:
    """How much closer to the spec the baseline was than the file is now, relative: clip to [0, 1]."""
    value = (baseline_similarity - current_similarity) / max(baseline_similarity, SEMANTIC_EPSILON)
    return min(1.0, max(0.0, value))
