"""Look at a report as a reader does: render it with headless Chromium, the network blocked, at a desktop and a
phone width, and save PNG screenshots of the first screen and of a long stretch of the page.

    python -m lrlab.screenshots outputs/paper/report.html docs/screenshots/paper [--long 20000]

Needs Debian's `chromium` (apt install chromium). Not part of the tests: it is for looking, by eye.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

WIDTHS = {"desktop": 1280, "phone": 420}
FIRST_SCREEN = 900


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("screenshots: no chromium on PATH: install it (Debian: apt install chromium)")


def shoot(report: Path, png: Path, width: int, height: int):
    png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    # no request leaves the machine: the report must read offline
                    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                    "--host-resolver-rules=MAP * ~NOTFOUND", "--force-device-scale-factor=1",
                    f"--window-size={width},{height}", "--virtual-time-budget=5000",
                    f"--screenshot={png.resolve()}", report.resolve().as_uri()],
                   check=True, capture_output=True, timeout=180)
    return png


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("prefix", type=Path, help="where to write: PREFIX-desktop-first.png, ...")
    parser.add_argument("--long", type=int, default=0, metavar="HEIGHT",
                        help="also a screenshot this many pixels tall, to look through the whole page")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        raise SystemExit(f"screenshots: {args.report} is not a file: give the path of a report.html")
    for name, width in WIDTHS.items():
        for part, height in (("first", FIRST_SCREEN), ("long", args.long))[:2 if args.long else 1]:
            png = shoot(args.report, Path(f"{args.prefix}-{name}-{part}.png"), width, height)
            print(png)


if __name__ == "__main__":
    sys.exit(main())
