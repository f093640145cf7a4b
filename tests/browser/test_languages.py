"""The board in the browser's language: zh-CN with Chinese glyphs on screen, and en.

Chinese text that is in the HTML can still reach the eye as boxes when no font on the
machine has its glyphs. So besides the words, a test asks Chromium which font it drew the
Chinese with (DevTools' ``CSS.getPlatformFontsForNode``) and compares the pixels of the
Chinese words with those of characters no font has (private-use code points, drawn as
boxes): if both looked alike, the Chinese would be boxes too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from browsing import logged_in

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u4e00-\u9fff]")
CJK_FONTS = re.compile(
    r"WenQuanYi|Noto Sans CJK|Noto Serif CJK|Source Han|Droid Sans Fallback|AR PL|"
    r"PingFang|Hiragino|Microsoft YaHei|SimSun|SimHei|Heiti|Songti",
    re.IGNORECASE,
)
NO_GLYPHS = "\ue000\ue001\ue002\ue003\ue004\ue005\ue006\ue007"  # private use: no font has them


def fonts_drawing(page: Any, selector: str) -> list[str]:
    """The families Chromium drew the text of ``selector``'s first match with."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        cdp.send("CSS.enable")
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()
    return [font["familyName"] for font in fonts if font["glyphCount"]]


def drawn_as(page: Any, selector: str, text: str) -> bytes:
    """A screenshot of ``selector``'s first match showing ``text`` instead of its own."""
    element = page.locator(selector).first
    element.evaluate("(el, text) => { el.textContent = text; }", text)
    shot: bytes = element.screenshot()
    return shot


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_a_zh_cn_browser_gets_the_board_in_chinese(
    page: Any, new_context: Callable[..., Any]
) -> None:
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "登录 opsflow"
    assert page.get_by_label("用户名").is_visible()  # labels in Chinese, tied to their inputs
    assert page.get_by_label("密码").is_visible()
    logged_in(page, "ann")
    assert page.title().startswith("待办")
    nav = page.locator("header nav a").all_inner_texts()
    assert {"待办", "搜索", "发起案例"} <= set(nav), nav
    assert all(CJK.search(text) for text in nav), nav
    assert page.get_by_role("button", name="退出登录").is_visible()
    assert page.get_by_role("button", name="在所有设备上退出").is_visible()


@pytest.mark.parametrize("locale", ["zh-CN"])
def test_the_chinese_is_drawn_with_a_chinese_font_not_as_boxes(page: Any) -> None:
    logged_in(page, "ann")
    link = "header nav a[href='/inbox']"
    families = fonts_drawing(page, link)
    assert any(CJK_FONTS.search(family) for family in families), (
        f"待办 was drawn with {families}, not a Chinese font: apt-get install -y fonts-wqy-microhei"
    )
    heading = "main h1"
    chinese = page.locator(heading).first.screenshot()
    other_chinese = drawn_as(page, heading, "发起")  # two other characters, as many
    boxes = drawn_as(page, heading, NO_GLYPHS[:2])
    more_boxes = drawn_as(page, heading, NO_GLYPHS[2:4])
    assert boxes == more_boxes  # missing glyphs all look alike...
    assert chinese != boxes  # ...and the Chinese does not look like them
    assert chinese != other_chinese  # different characters look different
    assert other_chinese != boxes


def test_an_en_browser_gets_the_board_in_english(page: Any, site: Any) -> None:
    engine = site.engine()
    case = engine.start("review", data={"title": "春季促销 Spring sale"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Log in to opsflow"
    logged_in(page, "eve")
    nav = page.locator("header nav a").all_inner_texts()
    assert {"Inbox", "Search", "Start a case"} <= set(nav), nav
    assert not CJK.search(page.locator("header").inner_text())
    # people's data stays as written, Chinese included, and is drawn with a Chinese font
    title = page.get_by_role("link", name="春季促销 Spring sale")
    assert title.is_visible()
    assert any(CJK_FONTS.search(f) for f in fonts_drawing(page, f"a[href='/cases/{case.id}']"))


def test_a_persons_language_follows_the_browser_per_page_load(
    new_context: Callable[..., Any],
) -> None:
    chinese = logged_in(new_context(locale="zh-CN").new_page(), "pat")
    english = logged_in(new_context(locale="en-US").new_page(), "pat")
    assert chinese.locator("html").get_attribute("lang") == "zh-CN"
    assert english.locator("html").get_attribute("lang") == "en"
    assert "管理" in chinese.locator("header nav").inner_text()  # pat is an admin
    assert "Admin" in english.locator("header nav").inner_text()
