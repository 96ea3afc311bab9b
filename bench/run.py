"""The performance benchmark (issue 10): every page × view × database × scale; writes bench/results.json.

    python -m bench.run [--scales small,large] [--databases sqlite,postgresql] [--pages portfolio,…]
                        [--repeat 3] [--sessions 10] [--no-browser] [--merge] [--out bench/results.json]
    python -m bench.report bench/results.json > bench/report.md

`make bench` does both. Defaults come from BENCH_SCALES, BENCH_DATABASES, BENCH_REPEAT and
BENCH_BROWSER (0 = leave out the Chromium measurements) when set. The databases are built on the
first run and kept under bench/data/ (see bench/data.py); PostgreSQL runs from a cluster there,
started for the run and stopped after it.

The targets of the issue are in the report, never here: this only measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bench import data, serverside
from bench.serverside import PAGES, REPO_DIR, VIEWS, Target

RESULTS = Path(__file__).resolve().parent / "results.json"
LOG_DIR = data.DATA_DIR / "logs"
# Long enough to measure a slow query rather than see it fail; a user's statement timeout is the setting's.
STATEMENT_TIMEOUT_S = 600
PAGE_TIMEOUT_S = 900


def _machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


def _git() -> dict:
    def out(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": out("rev-parse", "--short", "HEAD"), "uncommitted_changes": bool(out("status", "--porcelain"))}


def run(
    targets: list[Target],
    *,
    pages=PAGES,
    views=VIEWS,
    repeat: int = 3,
    browser: bool = True,
    sessions: int = 10,
    databases: list[dict] | None = None,
    modes: tuple[bool, ...] = (True, False),
    log=print,
    on_progress=None,
) -> dict:
    """Measure every page × view on every target; returns the results (see bench/report.py for how they are read).

    `databases` describes the targets' databases (sizes, build times) for the report; `modes` whether the server-side
    runs read the published snapshots (True), compute live (False) or both; `on_progress(results)` is called after
    each target, so a long run can save what it has. The browser measurements read the snapshots, as deployed.
    """
    import streamlit

    results: dict = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": _machine(),
            "streamlit": streamlit.__version__,
            "git": _git(),
            "options": {
                "repeat": repeat,
                "browser": browser,
                "sessions": sessions,
                "pages": list(pages),
                "views": list(views),
                "statement_timeout_s": STATEMENT_TIMEOUT_S,
                "snapshots": list(modes),
            },
        },
        "databases": databases or [],
        "records": [],
        "bursts": [],
        "apptest_floor_s": None,
        "floor_page": None,
    }
    started = time.perf_counter()
    warmed = False
    for target in targets:
        for snapshots in modes:
            log(
                f"{target.scale} × {target.database} ({'published snapshots' if snapshots else 'computed live'}): "
                "server-side runs and queries alone"
            )
            _server_side(target, pages, views, repeat, snapshots, results, log, warm=not warmed)
            warmed = True
        if browser:
            _browser_part(target, pages, views, sessions, results, log)
        results["meta"]["duration_s"] = round(time.perf_counter() - started, 1)
        if on_progress:
            on_progress(results)
    if browser:
        from bench import browser as chromium

        log("floor: the bare one-chart page")
        try:
            results["floor_page"] = chromium.measure_floor(LOG_DIR)
        except chromium.BrowserUnavailable as exc:
            results["meta"]["browser_unavailable"] = str(exc)
    results["meta"]["duration_s"] = round(time.perf_counter() - started, 1)
    return results


def _server_side(target: Target, pages, views, repeat: int, snapshots: bool, results: dict, log, *, warm: bool) -> None:
    with serverside.app_environment(target, STATEMENT_TIMEOUT_S, snapshots=snapshots):
        if warm:
            serverside.warm_up(target, pages, timeout_s=PAGE_TIMEOUT_S)
            results["apptest_floor_s"] = serverside.measure_floor(repeat)
        for page in pages:
            for view in views:
                record = serverside.measure_page(
                    target,
                    page,
                    view,
                    repeat=repeat,
                    timeout_s=PAGE_TIMEOUT_S,
                    statement_timeout_s=STATEMENT_TIMEOUT_S,
                    snapshots=snapshots,
                )
                results["records"].append(record)
                log(
                    f"  {page:<10} {view:<9} queries {record['queries_alone_s']:7.2f} s · cold {record['cold_s']:7.2f} s"
                    f" · warm {record['warm_s']:6.2f} s · {record['bytes'] / 1e6:5.2f} MB"
                    + (f" · forecast {record['forecast_s']:.2f} s" if record["forecast_s"] is not None else "")
                    + (f" · {len(record['errors'])} error(s)" if record["errors"] else "")
                )


def _browser_part(target: Target, pages, views, sessions: int, results: dict, log) -> None:
    from bench import browser as chromium

    log(f"{target.scale} × {target.database}: time to charts in Chromium")
    try:
        timings = chromium.measure_pages(
            target, pages, views, LOG_DIR, timeout_s=PAGE_TIMEOUT_S, statement_timeout_s=STATEMENT_TIMEOUT_S
        )
    except chromium.BrowserUnavailable as exc:
        results["meta"]["browser_unavailable"] = str(exc)
        log(f"  skipped: {exc}")
        return
    for record in results["records"]:
        if (
            record["scale"] == target.scale
            and record["database"] == target.database
            and record.get("snapshots", True)
            and (record["page"], record["view"]) in timings
        ):
            timing = timings[(record["page"], record["view"])]
            record["browser"] = timing
            log(
                f"  {record['page']:<10} {record['view']:<9} first {timing['first_s'] or float('nan'):6.2f} s"
                f" · repeat {timing['repeat_s'] or float('nan'):6.2f} s"
                + (f" · {timing['errors']}" if timing["errors"] else "")
            )
    log(f"{target.scale} × {target.database}: {sessions} sessions at once")
    burst = chromium.measure_burst(
        target,
        data.largest_trials(target.url, sessions),
        sessions,
        LOG_DIR,
        timeout_s=PAGE_TIMEOUT_S,
        statement_timeout_s=STATEMENT_TIMEOUT_S,
    )
    results["bursts"].append(burst)
    log(
        f"  p50 {burst['p50_s'] or float('nan'):.2f} s · p95 {burst['p95_s'] or float('nan'):.2f} s · {burst['n_errors']} error(s)"
        f" · RSS {burst['rss_sessions_mb']:.0f} MB (peak {burst['peak_rss_mb']:.0f}) · server CPU {burst['server_cpu_s']:.1f} s"
    )


def merge(old: dict, new: dict) -> dict:
    """`new`, plus the records, bursts and databases of `old` for the scale × database pairs `new` did not measure."""
    measured = {(d["scale"], d["database"]) for d in new["databases"]} | {
        (r["scale"], r["database"]) for r in new["records"]
    }
    merged = dict(new)
    for key in ("databases", "records", "bursts"):
        merged[key] = [item for item in old.get(key, []) if (item["scale"], item["database"]) not in measured] + new[
            key
        ]
    for key in ("floor_page", "apptest_floor_s"):
        if new.get(key) is None:
            merged[key] = old.get(key)
    merged["meta"] = {**new["meta"], "merged_with_run_of": old.get("meta", {}).get("started_at")}
    return merged


def baseline(earlier: dict) -> dict:
    """What the report compares live runs with: the cold runs of an earlier results JSON that computed live."""
    return {
        "run_of": earlier["meta"]["started_at"],
        "commit": earlier["meta"].get("git", {}).get("commit"),
        "records": [
            {k: r[k] for k in ("scale", "database", "page", "view", "cold_s")}
            for r in earlier["records"]
            if not r.get("snapshots", False)
        ],
    }


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Measure every page at each scale on each database."
    )
    parser.add_argument(
        "--scales",
        type=_csv,
        default=_csv(os.environ.get("BENCH_SCALES", "small,large")),
        help=f"comma-separated, of {', '.join(data.SCALES)} (default: all, or BENCH_SCALES)",
    )
    parser.add_argument(
        "--databases",
        type=_csv,
        default=_csv(os.environ.get("BENCH_DATABASES", "sqlite,postgresql")),
        help="comma-separated, of sqlite, postgresql (default: both, or BENCH_DATABASES)",
    )
    parser.add_argument(
        "--pages", type=_csv, default=list(PAGES), help="comma-separated (default: every page with queries)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=int(os.environ.get("BENCH_REPEAT", "3")),
        help="runs per measurement; the report shows the median (default 3, or BENCH_REPEAT)",
    )
    parser.add_argument("--sessions", type=int, default=10, help="pages opened at once in the burst (default 10)")
    parser.add_argument(
        "--no-browser",
        action="store_true",
        default=os.environ.get("BENCH_BROWSER", "1") == "0",
        help="leave out the Chromium measurements (or BENCH_BROWSER=0)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the results in --out of the scale × database pairs this run does not measure",
    )
    parser.add_argument(
        "--snapshots",
        choices=("both", "on", "off"),
        default="both",
        help="server-side runs reading the published snapshots (on), computing live (off), or both (default)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="an earlier results JSON: the report compares this run's live cold runs with its (before a change)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"the JSON file to write (default {RESULTS.relative_to(REPO_DIR)})"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.scales if s not in data.SCALES] + [d for d in args.databases if d not in data.DATABASES]
    unknown += [p for p in args.pages if p not in PAGES]
    if unknown or args.repeat < 1 or args.sessions < 1:
        parser.error(
            f"unknown value(s): {', '.join(unknown)}" if unknown else "--repeat and --sessions must be at least 1"
        )

    old = json.loads(args.out.read_text()) if args.merge and args.out.exists() else None

    before = baseline(json.loads(args.baseline.read_text())) if args.baseline else (old or {}).get("baseline")

    def save(results: dict) -> None:
        results = merge(old, results) if old else results
        if before:
            results["baseline"] = before
        write_json(results, args.out)

    with ExitStack() as stack:
        targets, databases = [], []
        print("Preparing the databases")
        for database in args.databases:
            if database == "postgresql":
                from bench import pg

                server = stack.enter_context(pg.server(data.DATA_DIR / "pg"))
            for scale in args.scales:
                url = data.sqlite_url(scale) if database == "sqlite" else pg.database_url(server, f"bench_{scale}")
                built = data.ensure(scale, database, url)
                databases.append(built)
                targets.append(data.target(scale, database, url, built))
        results = run(
            targets,
            pages=args.pages,
            repeat=args.repeat,
            browser=not args.no_browser,
            sessions=args.sessions,
            databases=databases,
            on_progress=save,
            modes={"both": (True, False), "on": (True,), "off": (False,)}[args.snapshots],
        )
        save(results)
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
