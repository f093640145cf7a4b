"""Screenshots of the board's main pages, zh-CN and en, 1280 and 390 px wide, into OUTDIR.

    .venv/bin/python tests/browser/screens.py OUTDIR

It makes the demo project (``opsflow demo``), makes everyone of its team able to log in
(password :data:`boardsite.PASSWORD`, bob an admin), starts a few more cases in several
states, serves it with ``opsflow serve`` and saves ``PAGE-LANG-WIDTH.png`` (a full page)
for each page below, logged in as bob. A page that is not built yet (404) is left out with
a note. For docs/board.md; not part of the test run. Needs what the browser tests need.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from boardsite import PASSWORD, password_hash
from browsing import INSTALL, logged_in
from served import Served

from opsflow_process import clean_env

CHROMIUM = os.environ.get("OPSFLOW_TEST_CHROMIUM", "/usr/bin/chromium")
VIEWER = "bob"  # editor, lead: has cases to act on; made an admin here
LOCALES = ("zh-CN", "en-US")
WIDTHS = {1280: 900, 390: 844}  # width: height of the first screen
WORKFLOW = "content_approval"
MORE_CASES = [  # (title, events fired in order and by whom), beside the demo's own cases
    ("双十一预热海报 Singles' Day teaser poster", [("submit", "alice")]),
    ("新品发布会直播预告 Launch live-stream teaser", [("submit", "frank")]),
]


def make_project(root: Path) -> tuple[str, list[str]]:
    """The demo project in ``root`` with passwords, bob an admin and more cases; (db, ids)."""
    made = subprocess.run(
        [sys.executable, "-m", "opsflow", "demo", "--dir", str(root)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if made.returncode != 0:
        raise SystemExit(f"opsflow demo failed:\n{made.stdout}\n{made.stderr}")
    config = root / "opsflow.yaml"
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    if VIEWER not in (settings.get("admins") or []):
        with config.open("a", encoding="utf-8") as out:
            out.write(f"\nadmins: [{VIEWER}]\n")
    db_url = f"sqlite:///{root / 'opsflow.db'}"
    from opsflow.engine import identity
    from opsflow.facade import Engine

    engine = Engine.from_config(config, db=db_url)
    try:
        for name in settings["team"]:
            identity._store_hash(engine, name, password_hash())
        ids: list[str] = []
        for title, events in MORE_CASES:
            publish_at = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
            data = {"title": title, "publish_at": publish_at.isoformat(), "channel": "wechat"}
            case = engine.start(WORKFLOW, data=data, actor="alice")
            for event, actor in events:
                try:
                    engine.fire(case.id, event, actor=actor)
                except Exception as error:  # a demo workflow that changed: keep going
                    print(f"note: {title}: {event} by {actor}: {error}")
            ids.append(str(case.id))
    finally:
        engine.close()
    return db_url, ids


def pages(case_id: str) -> list[tuple[str, str]]:
    """(name, path) of the main pages."""
    return [
        ("inbox", "/inbox"),
        ("boards", "/board"),
        ("board", f"/board/{WORKFLOW}"),
        ("case", f"/cases/{case_id}"),
        ("history", f"/cases/{case_id}/history"),
        ("search", "/search"),
        ("start", "/start"),
        ("admin", "/admin"),
    ]


def shoot(site: Served, case_id: str, out: Path) -> list[str]:
    """Every page in every language and width; the notes on pages left out."""
    from playwright.sync_api import sync_playwright

    notes: list[str] = []
    saved = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        for locale in LOCALES:
            lang = locale.split("-")[0]
            for width, height in WIDTHS.items():
                context = browser.new_context(
                    base_url=site.base,
                    locale=locale,
                    viewport={"width": width, "height": height},
                    is_mobile=width < 600,
                    has_touch=width < 600,
                )
                page = context.new_page()
                page.goto("/login")
                page.screenshot(path=str(out / f"login-{lang}-{width}.png"), full_page=True)
                saved += 1
                logged_in(page, VIEWER, PASSWORD)
                for name, path in pages(case_id):
                    answer = page.goto(path)
                    status = answer.status if answer else 0
                    if status == 404:
                        note = f"{name} ({path}): not built yet (404), left out"
                        if note not in notes:
                            notes.append(note)
                        continue
                    if status >= 400:
                        notes.append(f"{name} ({path}) answered {status} in {locale} at {width}")
                    target = out / f"{name}-{lang}-{width}.png"
                    page.screenshot(path=str(target), full_page=True)
                    saved += 1
                context.close()
        browser.close()
    notes.append(f"{saved} screenshots in {out}")
    return notes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    out: Path = args.outdir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise SystemExit(INSTALL) from None
    if not Path(CHROMIUM).exists():
        raise SystemExit(INSTALL)
    with tempfile.TemporaryDirectory(prefix="opsflow-screens-") as work:
        root = Path(work) / "demo"
        db_url, ids = make_project(root)
        site = Served(root, db_url, {})
        try:
            notes = shoot(site, ids[0], out)
        finally:
            site.stop()
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
