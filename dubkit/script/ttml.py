"""The dubbing script as TTML, through ttconv: `<p xml:id="LINE">` timed paragraphs holding the translation, the
speaker as a `ttm:agent` declared in the head, the source text as `<metadata><ttm:desc>` (shown, not read back).

ttconv's model carries the timing and text both ways (any TTML time expression reads back); it keeps no content
ids or agents, so those are written into and read from the same paragraphs of its XML tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from dubkit.errors import ConfigError
from dubkit.script import Script, Segment
from dubkit.script.edits import LineEdit, cleaned, malformed

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from ttconv import model

TTML = "http://www.w3.org/ns/ttml"
TTM = "http://www.w3.org/ns/ttml#metadata"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


def write(script: Script) -> str:
    """ttconv writes the timed text; the speakers (ttm:agent) and source texts (ttm:desc) are added to its tree."""
    import xml.etree.ElementTree as ET

    from ttconv import model
    from ttconv.imsc import writer

    doc = model.ContentDocument()
    doc.set_lang(script.target_language)
    body, div = model.Body(doc), model.Div(doc)
    doc.set_body(body)
    body.push_child(div)
    for s in script.segments:
        div.push_child(_paragraph(doc, s))
    ET.register_namespace("ttm", TTM)
    root = writer.from_model(doc).getroot()
    agents = _add_agents(root, sorted({s.speaker for s in script.segments}))
    segments = {s.id: s for s in script.segments}
    for p in root.iter(f"{{{TTML}}}p"):
        segment = segments[p.get(XML_ID)]
        p.set(f"{{{TTM}}}agent", agents[segment.speaker])
        metadata = ET.Element(f"{{{TTML}}}metadata")
        ET.SubElement(metadata, f"{{{TTM}}}desc").text = segment.text.strip()
        p.insert(0, metadata)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _paragraph(doc: model.ContentDocument, segment: Segment) -> model.P:
    from ttconv import model

    p = model.P(doc)
    p.set_id(segment.id)
    p.set_begin(Fraction(segment.start_ms, 1000))
    p.set_end(Fraction(segment.end_ms, 1000))
    span = model.Span(doc)
    for index, line in enumerate(segment.translation.strip().split("\n")):
        if index:
            span.push_child(model.Br(doc))
        span.push_child(model.Text(doc, line))
    p.push_child(span)
    return p


def _add_agents(root: Element, speakers: Sequence[str]) -> dict[str, str]:
    """Declare one `ttm:agent` per speaker in the head; speaker → agent id."""
    import xml.etree.ElementTree as ET

    head = root.find(f"{{{TTML}}}head")
    if head is None:
        head = ET.Element(f"{{{TTML}}}head")
        root.insert(0, head)
    metadata = ET.SubElement(head, f"{{{TTML}}}metadata")
    agents = {}
    for number, speaker in enumerate(speakers, start=1):
        agents[speaker] = f"speaker{number}"
        agent = ET.SubElement(metadata, f"{{{TTM}}}agent", {XML_ID: agents[speaker], "type": "person"})
        ET.SubElement(agent, f"{{{TTM}}}name", {"type": "full"}).text = speaker
    return agents


def read(text: str, origin: str) -> tuple[LineEdit, ...]:
    """Times and texts from ttconv's model; ids and speakers from the same paragraphs in the XML tree."""
    import xml.etree.ElementTree as ET

    from ttconv import model
    from ttconv.imsc import reader

    try:
        root = ET.fromstring(text)
        doc = reader.to_model(ET.ElementTree(root))
        paragraphs = [e for e in doc.get_body().dfs_iterator() if isinstance(e, model.P)] if doc.get_body() else []
    except (ET.ParseError, ValueError, TypeError, KeyError, AttributeError, RuntimeError) as exc:
        raise malformed(origin, "ttml", exc) from None
    elements = list(root.iter(f"{{{TTML}}}p"))
    if len(elements) != len(paragraphs):
        raise ConfigError(f"{origin}: not a valid ttml file (ttconv read {len(paragraphs)} of {len(elements)} <p>)")
    names = {a.get(XML_ID): a.findtext(f"{{{TTM}}}name", a.get(XML_ID)) for a in root.iter(f"{{{TTM}}}agent")}
    return tuple(_line(p, e, names, origin) for p, e in zip(paragraphs, elements, strict=True))


def _line(paragraph: model.P, element: Element, names: dict, origin: str) -> LineEdit:
    from ttconv import model

    begin, end = paragraph.get_begin(), paragraph.get_end()
    if begin is None or end is None:
        raise ConfigError(f"{origin}: paragraph {element.get(XML_ID) or '?'} needs begin and end times")
    offset = sum((a.get_begin() or 0 for a in _ancestors(paragraph)), Fraction(0))
    parts = [
        "\n" if isinstance(n, model.Br) else n.get_text()
        for n in paragraph.dfs_iterator()
        if isinstance(n, model.Br | model.Text)
    ]
    agent = element.get(f"{{{TTM}}}agent")
    speaker = names.get(agent, agent) if agent else None
    return LineEdit(cleaned("".join(parts)), element.get(XML_ID), _ms(offset + begin), _ms(offset + end), speaker)


def _ancestors(element: model.ContentElement) -> Iterator[model.ContentElement]:
    parent = element.parent()
    while parent is not None:
        yield parent
        parent = parent.parent()


def _ms(seconds: Fraction) -> int:
    return int(round(Fraction(seconds) * 1000))
