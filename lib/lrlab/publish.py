"""Publishing a report: the README's headline numbers regenerated from the published report itself, so the two
cannot disagree (tests/test_publish.py checks them), and the screenshots taken again.

    python -m lrlab.publish            # rewrite the README's findings blocks from outputs/*/report.html
    make publish                       # re-render the published reports from their committed runs, then this

The numbers come from the `summary.csv` each report carries inside its page (its download link), so they are the
report's, whatever code rendered it.
"""

import argparse
import base64
import gzip
import io
import re
from pathlib import Path

import pandas as pd

from .config import PROJECT_ROOT
from .tasks import metric_of

PUBLISHED = ("paper", "study", "shakespeare")
# the published reports whose runs are committed beside them (outputs/<profile>/runs/): a fresh clone re-renders them
COMMITTED_RUNS = ("paper", "study", "shakespeare")


def embedded(report: Path, name: str) -> str | None:
    """The text of a file the report carries as a download link (runs.csv, summary.csv, answer.md; a large one
    gzip-compressed, as name.gz); None where it carries none."""
    page = Path(report).read_text()
    for stored in (name, name + ".gz"):
        found = re.search(rf'<a download="{re.escape(stored)}" href="data:[^;"]+;base64,([^"]+)"', page)
        if found:
            payload = base64.b64decode(found.group(1))
            return (gzip.decompress(payload) if stored.endswith(".gz") else payload).decode()
    return None


def embedded_csv(report: Path, name: str) -> pd.DataFrame:
    """A CSV the report carries as a download link (runs.csv, summary.csv)."""
    text = embedded(report, name)
    if text is None:
        raise ValueError(f"{report} carries no {name}")
    return pd.read_csv(io.StringIO(text))


def readme_findings(report: Path) -> str:
    """What the README prints for one published report: its headline numbers (`findings`), then its first screen's
    answer as the report words it (answer.md), so no sentence of the README is written by hand."""
    answer = embedded(report, "answer.md")
    return findings(embedded_csv(report, "summary.csv")) + (f"\n\nIn the report's own words (its first screen):\n\n"
                                                            f"{answer.strip()}" if answer else "")


def findings(summary: pd.DataFrame) -> str:
    """The headline numbers of one report, as the README prints them: the best configuration whose every seed
    learned with its interval, constant-rate SGD's, and the failed runs."""
    metric = metric_of(summary)
    ok = summary[summary["failed"] == 0].sort_values("final_mean", ascending=not metric.higher_is_better)
    constant = summary[summary["family"] == "constant"]
    if ok.empty:
        lines = ["- Best configuration: none — every configuration had a failed seed."]
    else:
        best = ok.iloc[0]
        lines = [f"- Best configuration: **{best['configuration']}**, {metric.text(best['final_mean'])} "
                 f"[{metric.number(best['final_ci_low'])}, {metric.number(best['final_ci_high'])}] final validation "
                 f"{metric.name} ({int(best['healthy'])} seeds, 95% interval)."]
    if not constant.empty:
        c = constant.iloc[0]
        lines.append(f"- Constant-rate SGD: {metric.text(c['final_mean'])} [{metric.number(c['final_ci_low'])}, "
                     f"{metric.number(c['final_ci_high'])}].")
    failed = int(summary["failed"].sum())
    named = "; ".join(f"{r['configuration']}: {int(r['failed'])} of {int(r['seeds'])}"
                      for _, r in summary[summary["failed"] > 0].iterrows())
    lines.append(f"- Failed seeds: {failed} of {int(summary['seeds'].sum())}" + (f" ({named})." if named else "."))
    return "\n".join(lines)


def _markers(profile):
    return (f"<!-- findings:{profile}:start (python -m lrlab.publish writes this) -->",
            f"<!-- findings:{profile}:end -->")


def readme_block(readme_text: str, profile: str) -> str | None:
    start, end = _markers(profile)
    found = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), readme_text, flags=re.S)
    return found.group(1).rstrip("\n") if found else None


def update_readme(readme: Path, root: Path = PROJECT_ROOT) -> list:
    """Rewrite every published report's findings block in `readme`; returns the profiles written."""
    text = readme.read_text()
    written = []
    for profile in PUBLISHED:
        report = root / "outputs" / profile / "report.html"
        if not report.is_file() or readme_block(text, profile) is None:
            continue
        start, end = _markers(profile)
        block = readme_findings(report)
        text = re.sub(re.escape(start) + r"\n.*?" + re.escape(end), lambda _: f"{start}\n{block}\n{end}", text,
                      flags=re.S)
        written.append(profile)
    readme.write_text(text)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=PROJECT_ROOT / "README.md")
    args = parser.parse_args(argv)
    written = update_readme(args.readme)
    print(f"{args.readme}: findings of {', '.join(written) or 'no report'} rewritten from the published reports")


if __name__ == "__main__":
    main()
