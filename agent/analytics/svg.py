"""matplotlib's SVG without CSS: every style as a presentation attribute.

matplotlib styles its shapes with ``style="fill: #1a5fb4; stroke: ..."`` attributes and one
``<style>`` element. A page whose Content Security Policy allows no inline style (the
workbench's) would draw such an SVG unstyled when it is opened as a document; SVG's
presentation attributes (``fill="#1a5fb4"``) are not CSS and need no permission. Each
declaration becomes the attribute of the same name (a style overrides an attribute, as
in CSS); the ``<style>`` element's rule for every element becomes attributes of the
root, which its elements inherit.
"""

from __future__ import annotations

import re

# No lxml stubs (see agent/ehr/formats.py).
from lxml import etree  # type: ignore[import-untyped]

SVG_NS = "http://www.w3.org/2000/svg"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_SIZE = re.compile(r"^[\d.]+(px|pt)$")
_RULE = re.compile(r"\{([^}]*)\}")


def _declarations(css: str) -> list[tuple[str, str]]:
    """``fill: #fff; font: 9px 'DejaVu Sans'`` as (property, value) pairs, longhand."""
    pairs = []
    for item in css.split(";"):
        name, _, value = item.partition(":")
        name, value = name.strip(), value.strip()
        if not name or not value:
            continue
        pairs += _font(value) if name == "font" else [(name, value)]
    return pairs


def _font(value: str) -> list[tuple[str, str]]:
    """The ``font`` shorthand (older matplotlib): style, weight, size, then the family."""
    tokens = value.split(" ")
    for index, token in enumerate(tokens):
        if _SIZE.match(token):
            keywords = tokens[:index]
            pairs = [("font-size", token), ("font-family", " ".join(tokens[index + 1:]))]
            for keyword in keywords:
                name = "font-style" if keyword in ("italic", "oblique") else \
                    "font-variant" if keyword == "small-caps" else "font-weight"
                pairs.append((name, keyword))
            return pairs
    return [("font-family", value)]


def without_css(document: str) -> str:
    """The SVG document with its styles as presentation attributes (and no doctype)."""
    root = etree.fromstring(document.encode("utf-8"), _PARSER)
    for sheet in list(root.iter(f"{{{SVG_NS}}}style")):
        for rule in _RULE.findall(sheet.text or ""):
            for name, value in _declarations(rule):
                if name not in root.attrib:
                    root.set(name, value)
        sheet.getparent().remove(sheet)
    for element in root.iter(etree.Element):  # elements only, not comments
        style = element.attrib.pop("style", "")
        for name, value in _declarations(style):
            element.set(name, value)
    text: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return text.decode("utf-8")
