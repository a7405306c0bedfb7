"""Screenshots of the web workbench for docs/web.md: the worklist, a letter, a needs-review
denial, the dashboard.

    python -m tools.web_screenshots            (or `make screenshots`)

Runs what the browser tests run (tests/web/browser/harness.py): `make demo`'s pipeline on
the bundled fictional fixtures plus one claim waiting in needs_review, the workbench on
127.0.0.1, Debian's Chromium through Playwright. Writes docs/screenshots/worklist.png,
letter.png, needs-review.png and dashboard.png. Not part of `make test`: the pictures
change only when the pages do.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

from tests.test_supply_evidence import CARE
from tests.web.browser import harness

ROOT = Path(__file__).resolve().parents[1]
SIZE = {"width": 1440, "height": 1000}
TALL = {"width": 1440, "height": 1300}


def _ids(db: Path, claim_id: str) -> tuple[str, str | None]:
    """The denial id and letter id of a claim's denial."""
    with sqlite3.connect(db) as connection:
        (row,) = connection.execute(
            "SELECT id, json_extract(doc, '$.letter_id') FROM appeal_denials "
            "WHERE json_extract(doc, '$.denial.claim_id') = ?", (claim_id,)).fetchall()
    return str(row[0]), row[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    reason = harness.missing()
    if reason:
        print(f"web_screenshots: {reason}", file=sys.stderr)
        return 1
    from playwright.sync_api import expect, sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        run = harness.build_run(Path(folder))
        _, letter_id = _ids(run / "appeals.db", "LOM26-10433")
        denial_id, _ = _ids(run / "appeals.db", harness.EXTRA_CLAIM)
        with harness.serve(run) as url, sync_playwright() as playwright:
            browser = harness.launch(playwright)
            page = browser.new_context(base_url=url, viewport=SIZE).new_page()
            harness.sign_in(page, "ann")
            page.screenshot(path=args.out / "worklist.png")
            page.set_viewport_size(TALL)
            page.goto(f"/letters/{letter_id}")
            page.screenshot(path=args.out / "letter.png")
            # The needs-review form filled in by a selection of words in the note.
            page.goto(f"/denials/{denial_id}")
            harness.drag_over(page, CARE)
            expect(page.locator("#supply-selection")).to_have_text(CARE)
            page.evaluate("window.scrollTo(0, document.querySelector('#missing')"
                          ".getBoundingClientRect().top + window.scrollY - 8)")
            page.screenshot(path=args.out / "needs-review.png")
            page.goto("/dashboard")
            expect(page.locator("#chart-denial-rates-image")).to_be_visible()
            page.screenshot(path=args.out / "dashboard.png")
            browser.close()
    for name in ("worklist", "letter", "needs-review", "dashboard"):
        print(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
