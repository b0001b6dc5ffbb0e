"""The README's headline numbers are the published reports' own (lrlab.publish), and the published reports can
be re-rendered from the runs committed beside them."""

import json
from pathlib import Path

import pytest

from lrlab import publish

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("profile", publish.PUBLISHED)
def test_the_readme_headline_numbers_are_the_published_report_s(profile):
    readme = (ROOT / "README.md").read_text()
    block = publish.readme_block(readme, profile)
    assert block is not None, f"README.md has no findings block for {profile}: run python -m lrlab.publish"
    report = ROOT / "outputs" / profile / "report.html"
    assert block == publish.readme_findings(report), "README.md disagrees with the report: run python -m lrlab.publish"
    assert block.startswith(publish.findings(publish.embedded_csv(report, "summary.csv")))
    answer = publish.embedded(report, "answer.md")
    assert answer and answer.strip() in block  # the first screen's answer, word for word


def test_findings_follow_the_numbers():
    import pandas as pd

    summary = pd.DataFrame([
        {"family": "adaptive", "configuration": "Adam", "seeds": 3, "healthy": 3, "failed": 0, "final_mean": 0.71,
         "final_ci_low": 0.70, "final_ci_high": 0.72},
        {"family": "constant", "configuration": "SGD", "seeds": 3, "healthy": 3, "failed": 0, "final_mean": 0.69,
         "final_ci_low": 0.68, "final_ci_high": 0.70},
        {"family": "exponential_decay", "configuration": "exp", "seeds": 3, "healthy": 1, "failed": 2,
         "final_mean": 0.75, "final_ci_low": float("nan"), "final_ci_high": float("nan")}])
    text = publish.findings(summary)
    assert text.startswith("- Best configuration: **Adam**, 71.0% [70.0, 72.0]")  # not exp: a seed failed
    assert text.endswith("- Failed seeds: 2 of 9 (exp: 2 of 3).")


@pytest.mark.parametrize("profile", publish.COMMITTED_RUNS)
def test_the_published_report_s_runs_are_committed_beside_it(profile):
    """Every run the paper and Shakespeare reports draw on is in outputs/<profile>/runs/ (configuration, history,
    summary): a fresh clone re-renders them without training (make publish)."""
    runs = publish.embedded_csv(ROOT / "outputs" / profile / "report.html", "runs.csv")
    stored = ROOT / "outputs" / profile / "runs"
    for rid in runs["run_id"].unique():
        for name in ("config.json", "history.csv", "summary.json"):
            assert (stored / rid / name).is_file(), f"{rid}/{name} is not committed"
        assert json.loads((stored / rid / "summary.json").read_text())["run_id"] == rid


def test_the_readme_quotes_the_report_s_first_screen_word_for_word(tmp_path):
    import base64

    def link(name, kind, text):
        return f'<a download="{name}" href="data:{kind};base64,{base64.b64encode(text.encode()).decode()}">{name}</a>'

    summary = ("family,configuration,seeds,healthy,failed,final_mean,final_ci_low,final_ci_high\n"
               "constant,SGD,3,3,0,0.69,0.68,0.70\n")
    answer = "- **Use Adam**: +2.0 points (95% simultaneous CI +0.5 to +3.5).\n"
    report = tmp_path / "report.html"
    report.write_text("<p>" + link("summary.csv", "text/csv", summary) + link("answer.md", "text/markdown", answer))
    block = publish.readme_findings(report)
    assert block.startswith("- Best configuration: **SGD**, 69.0% [68.0, 70.0]")
    assert block.endswith("first screen):\n\n- **Use Adam**: +2.0 points (95% simultaneous CI +0.5 to +3.5).")
    import gzip  # a large table travels gzip-compressed: read back the same

    packed = base64.b64encode(gzip.compress(summary.encode())).decode()
    report.write_text(f'<p><a download="runs.csv.gz" href="data:application/gzip;base64,{packed}">runs</a>')
    assert publish.embedded(report, "runs.csv") == summary and publish.embedded(report, "answer.md") is None
    report.write_text("<p>" + link("summary.csv", "text/csv", summary))  # a report rendered before answer.md
    assert publish.readme_findings(report) == publish.findings(publish.embedded_csv(report, "summary.csv"))
