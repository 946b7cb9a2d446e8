"""Mutation testing of the safety-critical modules, with a report per module.

    python tools/mutation.py [--only NAME ...] [--out mutation-report]

Needs the development install with the mutation extra
(``pip install -c constraints.txt -e '.[test,mutation]'``). For each
campaign of ``tools/mutation.toml`` it copies the repository to a
temporary folder, runs mutmut on the campaign's module with the
campaign's tests, and writes ``report.md`` and ``report.json`` to the
output folder: per module the mutants killed, survived, not reached by any
test, timed out, equivalent (with the reason), the score
``killed / (all - equivalent)``, and the diff of every mutant not killed.
It takes long (tens of minutes per module); the default test run carries a
fixed sample of mutants instead (``tests/test_mutants.py``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGNS = ROOT / "tools" / "mutation.toml"
COPIED_PACKAGES = ["src/twin", "src/apc", "src/rto"]
TARGET = 0.9


def _copy_repository(to: Path) -> None:
    """The tracked files and the compiled kernels (the tests import them)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                           text=True).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    for so in (ROOT / "src").rglob("*.so"):
        target = to / so.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(so, target)


def _configure(folder: Path, campaign: dict, defaults: dict) -> None:
    pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
    pyproject.setdefault("tool", {})["mutmut"] = {
        "source_paths": [campaign["source"]],
        "pytest_add_cli_args_test_selection": campaign["tests"],
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q"],
        "also_copy": COPIED_PACKAGES,
        "do_not_mutate_patterns": defaults.get("skip", []) + campaign.get("skip", []),
    }
    (folder / "pyproject.toml").write_text(tomli_w.dumps(pyproject))


def _mutmut(folder: Path, *args: str, log=None) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=folder, text=True,
                          stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT)
    return done.stdout or ""


def _changed_lines(diff: str) -> tuple[list[str], list[str]]:
    removed = [line[1:] for line in diff.splitlines()
               if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    return removed, added


def _equivalent(diff: str, rules: list[dict]) -> str | None:
    """The reason of the first rule the mutant matches, else ``None``."""
    removed, added = _changed_lines(diff)
    for rule in rules:
        if any(re.search(rule["mutated"], line) for line in added) and \
                all(re.search(rule.get("original", ""), line) for line in removed):
            return rule["reason"]
    return None


def run_campaign(campaign: dict, defaults: dict, log_folder: Path, children: int = 2) -> dict:
    """Run one campaign; its counts, score and the mutants not killed."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="twin-mutation-") as tmp:
        folder = Path(tmp)
        _copy_repository(folder)
        _configure(folder, campaign, defaults)
        log_path = log_folder / f"{campaign['name'].replace(' ', '-')}.log"
        with open(log_path, "w") as log:
            _mutmut(folder, "run", "--max-children", str(children), log=log)
        statuses: dict[str, str] = {}
        for line in _mutmut(folder, "results", "--all", "true").splitlines():
            name, _, status = line.strip().rpartition(": ")
            if name:
                statuses[name] = status
        rules = defaults.get("equivalent", []) + campaign.get("equivalent", [])
        not_killed, equivalent = [], []
        for name, status in sorted(statuses.items()):
            if status == "killed":
                continue
            diff = _mutmut(folder, "show", name)
            reason = _equivalent(diff, rules) if status == "survived" else None
            entry = {"mutant": name, "status": status, "diff": diff.strip()}
            if reason:
                equivalent.append({**entry, "reason": reason})
            else:
                not_killed.append(entry)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    considered = len(statuses) - len(equivalent)
    killed = counts.get("killed", 0)
    return {"name": campaign["name"], "source": campaign["source"], "tests": campaign["tests"],
            "skip": campaign.get("skip", []),
            "mutants": len(statuses), "counts": counts, "equivalent": equivalent,
            "not_killed": not_killed, "score": killed / considered if considered else None,
            "seconds": round(time.monotonic() - started, 1)}


def _report(results: list[dict], skip: list[str]) -> str:
    lines = ["# Mutation testing report", "",
             f"Target: at least {TARGET:.0%} of the non-equivalent mutants killed per module.", "",
             "| module | mutants | killed | survived | no test reached | timeout | equivalent "
             "| score | minutes |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r["counts"]
        score = "n/a" if r["score"] is None else f"{r['score']:.1%}"
        lines.append(f"| {r['name']} (`{r['source']}`) | {r['mutants']} | {c.get('killed', 0)} | "
                     f"{c.get('survived', 0)} | {c.get('no tests', 0)} | {c.get('timeout', 0)} | "
                     f"{len(r['equivalent'])} | {score} | {r['seconds'] / 60:.1f} |")
    lines += ["", "Lines not mutated (`skip` patterns of tools/mutation.toml):", ""]
    lines += [f"- `{p}`" for p in skip]
    for r in results:
        lines += ["", f"## {r['name']}", "", f"Tests: {', '.join(r['tests'])}", ""]
        if r.get("skip"):
            lines += ["Lines of this module not mutated:", ""]
            lines += [f"- `{p}`" for p in r["skip"]] + [""]
        if r["equivalent"]:
            lines += ["### Equivalent mutants", ""]
            for e in r["equivalent"]:
                lines += [f"- `{e['mutant']}`: {e['reason']}"]
            lines.append("")
        lines += ["### Mutants not killed", ""] if r["not_killed"] else ["All killed.", ""]
        for e in r["not_killed"]:
            lines += [f"`{e['mutant']}` ({e['status']})", "", "```diff", e["diff"], "```", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this campaign (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "mutation-report")
    parser.add_argument("--children", type=int, default=2,
                        help="mutants tested at once (default 2)")
    args = parser.parse_args(argv)
    config = tomllib.loads(CAMPAIGNS.read_text())
    defaults = config.get("defaults", {})
    campaigns = [c for c in config["campaign"] if not args.only or c["name"] in args.only]
    unknown = set(args.only) - {c["name"] for c in config["campaign"]}
    if unknown:
        parser.error(f"unknown campaign {', '.join(sorted(unknown))}; valid: "
                     f"{', '.join(c['name'] for c in config['campaign'])}")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for campaign in campaigns:
        print(f"mutation: {campaign['name']} ({campaign['source']})", file=sys.stderr, flush=True)
        results.append(run_campaign(campaign, defaults, args.out, args.children))
        (args.out / "report.json").write_text(json.dumps(results, indent=2))
        (args.out / "report.md").write_text(_report(results, defaults.get("skip", [])))
        r = results[-1]
        print(f"mutation: {r['name']}: score {r['score']}, {r['counts']}", file=sys.stderr,
              flush=True)
    below = [r["name"] for r in results if r["score"] is not None and r["score"] < TARGET]
    print(f"report: {args.out / 'report.md'}; below {TARGET:.0%}: {', '.join(below) or 'none'}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
