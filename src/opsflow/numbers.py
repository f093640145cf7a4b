"""Whole numbers people type into URLs, headers, forms and the cursors they send back."""

from __future__ import annotations


def plain_int(text: str, most_digits: int = 18) -> int | None:
    """The number ``text`` writes in ASCII digits, no sign (None for anything else).

    ``str.isdigit()`` alone is not the test: it is true for ``²`` and ``١``, which ``int()``
    refuses or reads as another digit. At most ``most_digits`` digits, so the number fits
    the 64-bit integers both databases compare.
    """
    if 0 < len(text) <= most_digits and text.isascii() and text.isdigit():
        return int(text)
    return None
