"""``python -m ssot_pipelines.sandbox``: run the Notion sandbox in the foreground."""

from __future__ import annotations

import argparse
import sys

from .cli import add_options, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ssot_pipelines.sandbox", description=__doc__)
    add_options(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
