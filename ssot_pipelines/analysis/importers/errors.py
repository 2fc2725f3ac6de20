"""The one error a report can raise: it says which file, what was wrong and what was expected."""

from __future__ import annotations

SUPPORTED_FORMATS = (
    "pylint --output-format=json2 or json, ruff check --output-format=json, mypy -O json (JSON lines), "
    "eslint -f json (or json-with-metadata), SARIF 2.1.0, SonarQube api/issues/search"
)


class ReportFormatError(ValueError):
    """A report that cannot be imported; nothing from it is recorded."""

    def __init__(self, source: str, problem: str, expected: str = SUPPORTED_FORMATS) -> None:
        self.source = source
        self.problem = problem
        self.expected = expected
        super().__init__(
            f"cannot import analysis report {source}: {problem}. Expected {expected}. "
            "Nothing from this report was recorded; regenerate it (or pass --format) and import again."
        )


def require(
    source: str,
    expected: str,
    item: dict[str, object],
    where: str,
    name: str,
    kinds: type | tuple[type, ...],
    *,
    optional: bool = False,
) -> object:
    """``item[name]`` checked for type; a clear ReportFormatError when missing or of the wrong type."""
    if name not in item or item[name] is None:
        if optional:
            return None
        raise ReportFormatError(source, f"{where} has no {name!r}", expected)
    value = item[name]
    # bool is an int in Python, but never a valid line number or severity code.
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ReportFormatError(source, f"{where} field {name!r} is a boolean", expected)
    if not isinstance(value, kinds):
        raise ReportFormatError(
            source, f"{where} field {name!r} is {type(value).__name__}, not {_kind_names(kinds)}", expected
        )
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value <= MAX_INT:
        raise ReportFormatError(
            source, f"{where} field {name!r} is {value}, out of range for a line, column or code", expected
        )
    return value


MAX_INT = 2**31 - 1  # lines, columns and codes are stored as PostgreSQL integers


def _kind_names(kinds: type | tuple[type, ...]) -> str:
    if isinstance(kinds, tuple):
        return " or ".join(k.__name__ for k in kinds)
    return kinds.__name__
