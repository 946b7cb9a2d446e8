"""Build an FMU from a plant model: ``python -m twin_fmus.build MODEL [--set p=v]... -o FILE``."""

from __future__ import annotations

import argparse
import sys

from twin_fmus.export import export_fmu
from twin.orchestration.registry import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="P=V")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = float(value)
    path = export_fmu(load_model(args.model, overrides), args.output)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
