"""Tests of ``predict --output-format html``: a self-contained page, parsed with the standard library's
html.parser: every record's text comes back whole and escaped, entities are marked by type (with their
score when they have one), and nothing is loaded or run."""

from __future__ import annotations

from html.parser import HTMLParser

from test_cli import assert_ok
from test_predict import invoke, run_folder  # noqa: F401 (a fixture: a one-epoch run of the default config)

from windowner.data.text import tokenize
from windowner.tagging.html import PALETTE, html_end, html_record, html_start, type_colour
from windowner.tagging.predict import Record, format_html

VOID = {"meta", "br", "img", "link", "input", "hr"}


class Page(HTMLParser):
    """The parts of a page the tests look at: each record's text and marks, the legend, what would load."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.records: list[dict] = []  # {"text", "marks": [{"type", "text", "title", "style", "label"}]}
        self.legend: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.style = self.footer = self.title = ""
        self.where: list[str] = []  # the class of each open element
        self.feed(text)
        self.close()
        assert not self.stack, f"unclosed elements: {self.stack}"

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        self.attributes += attrs
        if tag in VOID:
            return
        self.stack.append(tag)
        self.where.append(attributes.get("class") or "")
        if tag == "p" and "record" in self.where[-1]:
            self.records.append({"text": "", "marks": [], "class": self.where[-1]})
        if tag == "mark":
            mark = {"type": attributes["data-type"], "text": "", "label": "", "score": ""}
            self.records[-1]["marks"].append(
                mark | {"title": attributes["title"], "style": attributes["style"]}
            )

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()
        self.where.pop()

    def handle_data(self, data):
        inside = self.stack[-1] if self.stack else ""
        if inside == "style":
            self.style += data
        elif inside == "title":
            self.title += data
        elif inside == "li":
            self.legend.append(data)
        elif inside == "footer":
            self.footer += data
        elif self.records and "record" in " ".join(self.where):
            record = self.records[-1]
            if self.where[-1] in ("type", "score"):
                record["marks"][-1]["label" if self.where[-1] == "type" else "score"] += data
                return
            record["text"] += data
            if inside == "mark":
                record["marks"][-1]["text"] += data


def page_of(records: list[tuple[Record, list[str]]], types=("LOC",)) -> Page:
    body = "".join(format_html(record, tags) for record, tags in records)
    return Page(html_start("in.txt: entities", list(types), "about") + body + html_end(len(records), 9))


def record(text: str) -> Record:
    return Record(text, tokenize(text))


def test_the_page_gives_back_every_text_escaped_and_marks_entities_by_type():
    tricky = record('<script>alert("x")</script> & Lyon <b>bold</b> \u2028 Paris')
    plain = record("Rain fell on Paris and New York.")
    lyon, paris = tricky.tokens.index("Lyon"), tricky.tokens.index("Paris")
    tags_tricky = ["O"] * len(tricky.tokens)
    tags_tricky[lyon], tags_tricky[paris] = "B-LOC", "B-PER"
    tags_plain = ["O", "O", "O", "B-LOC", "O", "B-LOC", "I-LOC", "O"]
    page = page_of([(tricky, tags_tricky), (record(""), []), (plain, tags_plain)], types=("LOC", "PER"))
    assert "script" not in page.tags and "b" not in page.tags  # the text's markup stays text
    assert [r["text"] for r in page.records] == [tricky.text, "", plain.text]
    assert page.records[1]["class"] == "record empty"
    marks = [(m["type"], m["text"], m["label"]) for r in page.records for m in r["marks"]]
    assert marks == [
        ("LOC", "Lyon", "LOC"),
        ("PER", "Paris", "PER"),
        ("LOC", "Paris", "LOC"),
        ("LOC", "New York", "LOC"),
    ]
    for mark in (m for r in page.records for m in r["marks"]):
        assert mark["style"] == f"background: {type_colour(mark['type'])}" and mark["title"] == mark["type"]
        assert mark["score"] == ""  # no score given, none shown
    assert page.legend == ["LOC", "PER"] and page.title == "in.txt: entities"
    assert page.footer.startswith("3 records, 9 tokens")


def test_the_page_loads_and_runs_nothing():
    page = page_of([(record("Paris ."), ["B-LOC", "O"])])
    assert {"script", "link", "img", "iframe", "object", "embed"}.isdisjoint(page.tags)
    assert not [name for name, _ in page.attributes if name in ("src", "href") or name.startswith("on")]
    assert "url(" not in page.style and "@import" not in page.style
    policies = [
        value for name, value in page.attributes if name == "content" and "default-src" in (value or "")
    ]
    assert policies == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_an_entity_with_a_score_shows_it_and_escapes_its_type():
    found = [
        {"start_char": 0, "end_char": 5, "type": "LOC", "score": 0.98765},
        {"start_char": 10, "end_char": 14, "type": 'X"<y>', "score": 0.5},
    ]
    page = Page(html_start("t", ["LOC"]) + html_record("Paris and Lyon", found) + html_end(1, 3))
    marks = page.records[0]["marks"]
    assert [(m["text"], m["label"], m["score"], m["title"]) for m in marks] == [
        ("Paris", "LOC", "0.99", "LOC, score 0.988"),
        ("Lyon", 'X"<y>', "0.50", 'X"<y>, score 0.500'),
    ]
    assert page.records[0]["text"] == "Paris and Lyon"


def test_type_colours_are_fixed_for_the_usual_types_and_stable_for_others():
    assert type_colour("LOC") == type_colour("location") != type_colour("PER")
    assert type_colour("PRODUCT") in PALETTE and type_colour("PRODUCT") == type_colour("PRODUCT")


def test_predict_writes_a_page(run_folder, tmp_path):  # noqa: F811
    text = "Rain fell on Paris and Lyon yesterday.\n\nShe drove from Geneva to <Zürich> & back.\n"
    source = tmp_path / "notes.txt"
    source.write_text(text, encoding="utf-8")
    result = invoke(run_folder, source, "--output-format", "html", "--output", tmp_path / "notes.html")
    assert_ok(result)
    page = Page((tmp_path / "notes.html").read_text(encoding="utf-8"))
    assert [r["text"] for r in page.records] == text.splitlines()
    assert page.legend == ["LOC"]  # the default run: the location task
    assert page.title == f"{source}: entities"
    assert any(m["type"] == "LOC" for r in page.records for m in r["marks"])
    assert page.footer.startswith("3 records, 19 tokens")
    marks = [m for r in page.records for m in r["marks"]]
    assert all(0 < float(m["score"]) <= 1 for m in marks)  # predict's page shows each entity's probability
    plain = invoke(run_folder, source, "--output-format", "html", "--no-scores")
    assert_ok(plain)
    assert all(m["score"] == "" for r in Page(plain.stdout).records for m in r["marks"])
