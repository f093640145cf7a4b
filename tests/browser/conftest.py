"""Browser tests: Playwright (sync API) driving Debian's Chromium against a real ``opsflow serve``.

Fixtures:

- ``site``: a served board (``boardsite.serve_board``) per test module and backend (SQLite,
  and PostgreSQL when ``OPSFLOW_TEST_POSTGRES_URL`` is set). Every person of the tests' team
  (ann author, ed/eve editor, lou legal, bea brand, pat publisher and admin, dir director,
  both author+editor) has the password ``boardsite.PASSWORD``. Make cases with
  ``site.engine().start(...)`` / ``.fire(...)`` or ``site.api(name, "POST", "/v1/...")``.
  A module changes the project by overriding the module-scoped ``site_config`` fixture
  (a dict merged into opsflow.yaml, e.g. ``{"server": {"login": {"oidc": {...}}}}``).
  The module's tests share it: give cases titles of their own, and mind that the login
  limits count failed logins per address (127.0.0.1: 20 in 15 minutes) and per name (5).
- ``browser``: one headless Chromium per session (per xdist worker).
- ``page``: a fresh browser context and page per test, ``base_url`` set to the site, so
  ``page.goto("/inbox")`` works. Its language is the ``locale`` fixture ("en-US"; override
  with ``@pytest.mark.parametrize("locale", ["zh-CN"])``), its size the ``viewport``
  fixture (1280x800; override the same way), more options in the ``context_options``
  fixture. ``new_context(**options)`` makes more contexts (another person, another
  device) closed after the test.
- ``browsing.logged_in(page, "ann")`` logs in through the real login form.

Wait for what a click does before the next step: ``page.wait_for_url(...)`` returns at
once when the address already matches (a link to the page one is on); then use
``with page.expect_navigation(): ...click()``.

Every page is watched: an uncaught JavaScript error or a Content-Security-Policy violation
fails the test (``browsing.Watch``).

Mark each module ``pytestmark = pytest.mark.browser``. These tests never skip: without
Chromium or Playwright they fail with how to install them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from boardsite import BoardSite, serve_board
from browsing import INSTALL, Watch

from local_services import postgres_schema

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

POSTGRES_URL = os.environ.get("OPSFLOW_TEST_POSTGRES_URL")
CHROMIUM = os.environ.get("OPSFLOW_TEST_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 15_000  # one action or navigation; a loaded CI machine is slow, a hang is not


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session (each xdist worker has its own)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        missing: ImportError | None = error
    else:
        missing = None
    if missing is not None:
        pytest.fail(f"Playwright is not installed ({missing}).\n{INSTALL}", pytrace=False)
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"No Chromium at {CHROMIUM}.\n{INSTALL}", pytrace=False)
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        except Exception as error:  # a broken install: say so, with the way out
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {error}\n{INSTALL}", pytrace=False)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site_config() -> dict[str, Any]:
    """What a module adds to the served project's opsflow.yaml (override it in the module)."""
    return {}


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=pytest.mark.skipif(
                not POSTGRES_URL, reason="OPSFLOW_TEST_POSTGRES_URL is not set"
            ),
        ),
    ],
)
def site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    site_config: dict[str, Any],
) -> Iterator[BoardSite]:
    """A real ``opsflow serve`` of the board project per module and backend."""
    root: Path = tmp_path_factory.mktemp("board")
    if request.param == "sqlite":
        served = serve_board(f"sqlite:///{root / 'opsflow.db'}", root, site_config)
        yield served
        served.stop()
        return
    assert POSTGRES_URL
    with postgres_schema(POSTGRES_URL) as url:
        served = serve_board(url, root, site_config)
        yield served
        served.stop()


@pytest.fixture
def locale() -> str:
    """The browser's language (navigator.language and Accept-Language)."""
    return "en-US"


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 800}


@pytest.fixture
def context_options() -> dict[str, Any]:
    """More options of every new context (override: e.g. a phone's has_touch, is_mobile)."""
    return {}


@pytest.fixture
def new_context(
    browser: Browser,
    site: BoardSite,
    locale: str,
    viewport: dict[str, int],
    context_options: dict[str, Any],
) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts on the site (own cookies each); all closed after the test."""
    made: list[tuple[BrowserContext, Watch]] = []

    def make(**options: Any) -> BrowserContext:
        options = {"locale": locale, "viewport": viewport, **context_options, **options}
        context = browser.new_context(base_url=site.base, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        made.append((context, Watch(context)))
        return context

    yield make
    problems = [problem for _context, watch in made for problem in watch.problems]
    for context, _watch in made:
        context.close()
    assert not problems, "the pages had script errors or CSP violations:\n" + "\n".join(problems)


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page in a fresh context (no cookies): the ``locale`` and ``viewport`` fixtures'."""
    return new_context().new_page()
