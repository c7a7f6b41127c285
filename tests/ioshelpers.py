"""
Helpers for the tests of the C{srst.<pkg>.iosconfig} importers.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from srst.iostext import ImportNotes, IosLine, parseIosConfig

Importer = Callable[..., Sequence[IosLine]]


def imported(importIos: Importer, text: str, **kwargs: Any) -> tuple[dict[str, Any], list[str], list[str]]:
    """
    Import C{text} with one package's C{importIos} (passing it C{kwargs}).

    @return: the document, the skipped lines as the operator sees them, and
        the text of the lines left for other importers.
    """
    document: dict[str, Any] = {}
    notes = ImportNotes()
    rest = importIos(parseIosConfig(text), document, notes, **kwargs)
    return document, [str(each) for s in notes.sortedSkipped() for each in s.each()], [line.text for line in rest]
