"""What browser tests do with a page: log in through the form, read the session, measure.

Nothing here imports Playwright at import time, so a machine without it still collects the
tests and fails them with :data:`INSTALL` (conftest.py's ``browser`` fixture).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from boardsite import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, WebError

INSTALL = (
    "The browser tests need Debian's Chromium, a CJK font and Playwright for Python:\n"
    "    apt-get install -y chromium fonts-wqy-microhei\n"
    "    .venv/bin/pip install -e '.[test]'\n"
    "(.ci/run does both. Another Chromium: OPSFLOW_TEST_CHROMIUM=/path/to/chromium.)"
)


class Watch:
    """Script errors and Content-Security-Policy violations on every page of a context."""

    def __init__(self, context: BrowserContext) -> None:
        self.problems: list[str] = []
        context.on("console", self._console)
        context.on("weberror", self._error)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text} ({message.location.get('url')})")

    def _error(self, error: WebError) -> None:
        self.problems.append(f"script error: {error.error}")


def path_of(page: Page) -> str:
    """The path of the page's address (no query)."""
    return urlsplit(page.url).path


def log_in_form(page: Page, name: str, password: str = PASSWORD) -> None:
    """Type ``name`` and ``password`` into the login form on the page and send it."""
    page.locator("#username").fill(name)
    page.locator("#password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()


def logged_in(page: Page, name: str, password: str = PASSWORD, next_path: str = "/inbox") -> Page:
    """``page`` logged in as ``name`` through the real login form, showing ``next_path``."""
    page.goto(f"/login?next={next_path}")
    log_in_form(page, name, password)
    page.wait_for_url(lambda url: urlsplit(url).path == next_path)
    return page


def session_of(page: Page) -> dict[str, Any]:
    """The page's board session as ``GET /v1/session`` gives it (with its cookies)."""
    answer = page.request.get("/v1/session")
    assert answer.status == 200, answer.text()
    body: dict[str, Any] = answer.json()
    return body


def csrf_token(page: Page) -> str:
    """The CSRF token the page's forms carry (base.html's user menu has one)."""
    token = page.locator("input[name=csrf_token]").first.input_value()
    assert token
    return token


def scroll_width(page: Page) -> int:
    """How wide the page's content is: more than the viewport means a horizontal scroll."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def overflowing(page: Page) -> list[str]:
    """Elements sticking out past the right edge of the viewport (tag#id.class: right px)."""
    found: list[str] = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth, out = [];
          for (const el of document.querySelectorAll('body *')) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > width + 1 && !el.closest('.table-wrap')) {
              const name = `${el.tagName.toLowerCase()}#${el.id}.${el.className}`;
              out.push(`${name}: ${Math.round(box.right)}`);
            }
          }
          return out.slice(0, 10);
        }"""
    )
    return found
