"""Sphinx extension for the course site: lesson-numbered figures, linked practice pages, clean pages.

- **Numbers.** Sphinx numbers figures and labelled equations consecutively over the whole book when the
  toctree is not numbered. Each page of lesson ``NN`` is renumbered ``NN.1, NN.2, …`` in page order,
  so "Fig. 3.2" and equation (3.1) name lesson 03 wherever they are referenced.
- **Practice links.** Every lesson page starts with links to its exercise and solution pages, and those
  pages link back to the lesson; a page left out of the build (``make book SOLUTIONS=no``) gets no link.
- **Hidden solutions.** On solution pages each answer cell (tagged ``exercise-NN-K``) is collapsed
  behind a "Show the solution" button (myst-nb's own hide-input, an HTML ``<details>``).
- **One repository address.** A page that needs the repository's address (the Colab install cell of
  ``book/intro.md``) writes ``{{ repository_url }}``; it becomes ``repository.url`` of ``book/_config.yml``,
  the address the header's links and the launch buttons use, so the book has it in one place.
- **No page errors.** The default jupyter-book 1 template emits some inline scripts twice; the second
  ``const THEBE_JS_URL`` then raises a SyntaxError on every page. Repeated scripts are dropped.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

PAGE = re.compile(r"^(?P<kind>notebooks|exercises|solutions)/(?P<lesson>\d\d)_")
PRACTICE = {"notebooks": "Lesson", "exercises": "Exercises", "solutions": "Solutions"}
ANSWER_TAG = re.compile(r"^exercise-\d\d-\d+$")
REPOSITORY_URL = "{{ repository_url }}"


def lesson_fignumbers(app: Sphinx, env) -> list[str]:
    """Renumber each lesson page's figures, tables and equations ``(NN, 1), (NN, 2), …`` in page order."""
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        match = PAGE.match(docname)
        if not match:
            continue
        lesson = int(match["lesson"])
        for numbers in by_type.values():
            in_order = sorted(numbers, key=numbers.get)
            for index, node_id in enumerate(in_order, start=1):
                numbers[node_id] = (lesson, index)
        changed.append(docname)
    return changed


def practice_links(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Put links to the same lesson's other pages (lesson, exercises, solutions) under the title."""
    match = PAGE.match(docname)
    if not match:
        return
    stem = docname.split("/", 1)[1]
    paragraph = nodes.paragraph(classes=["practice-links"])
    for kind, label in PRACTICE.items():
        target = f"{kind}/{stem}"
        if kind == match["kind"] or target not in app.env.found_docs:
            continue
        if len(paragraph):
            paragraph += nodes.Text(" · ")
        uri = app.builder.get_relative_uri(docname, target)
        paragraph += nodes.reference("", f"{label} {match['lesson']}", refuri=uri, internal=True)
    if not len(paragraph):
        return
    paragraph.insert(0, nodes.strong("", "This lesson's pages: "))
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is not None and section.children and isinstance(section[0], nodes.title):
        section.insert(1, paragraph)


class CollapseSolutions(SphinxPostTransform):
    """Hide the input of every answer cell on a solution page behind a "Show the solution" button."""

    default_priority = 198  # before myst-nb's HideInputCells (199), which builds the <details>
    formats = ("html",)

    def run(self, **kwargs) -> None:
        if not self.env.docname.startswith("solutions/"):
            return
        for node in self.document.findall(nodes.container):
            tags = node.get("cell_metadata", {}).get("tags", [])
            if node.get("nb_element") == "cell_code" and any(ANSWER_TAG.match(tag) for tag in tags):
                node["hide_mode"] = "input"
                node["prompt_show"] = "Show the solution"
                node["prompt_hide"] = "Hide the solution"


def drop_repeated_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Keep the first of identical script entries (same file, same inline body, same attributes).

    An inline script is registered once with the file name ``None`` and once with ``""``: both mean none.
    """
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def repository_url(app: Sphinx, docname: str, source: list[str]) -> None:
    """Write the repository's address (``repository.url`` of the book's config) for ``{{ repository_url }}``."""
    source[0] = source[0].replace(REPOSITORY_URL, app.config.html_theme_options["repository_url"])


def setup(app: Sphinx) -> dict:
    app.connect("source-read", repository_url)
    app.connect("env-get-updated", lesson_fignumbers, priority=900)
    app.connect("doctree-resolved", practice_links)
    app.add_post_transform(CollapseSolutions)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
