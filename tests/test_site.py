"""The built book in a real browser, page by page, as a reader opens it.

Serves ``book/_build/html`` on 127.0.0.1 and opens every page of the table of contents in Debian's
headless Chromium through Playwright, at 1280 px (a laptop) and at 390 px (a phone). Every request that
is not to 127.0.0.1 is aborted and listed. On every page: no page error and no console error at all,
math typeset, no raw TeX or Markdown, every image loaded with alt text that is not a file path (and, for
a figure, a description of the picture rather than its caption), no display equation or code cell wider
than its column, no inline formula running past its line, every equation and figure number referred to
by a link in the text, one search entry point, a page weight under 4 MB, no horizontal scrolling on the
phone. Lesson and solution pages also carry working download and launch links and numbered figure
captions; a slider's kernel-free player really changes its picture. The References page lists every
entry of ``book/references.bib``. With ``SITE_SCREENSHOTS=1`` a full-page screenshot of each page at
each width goes to ``book/_build/screenshots`` (off by default: they are half the test's time and nothing
asserts on them). ``make test`` builds the site first; under CI (``CI=true``) a missing site
or browser is a failure, never a skip.
"""

import functools
import http.server
import os
import re
import threading
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

SITE = ROOT / "book" / "_build" / "html"
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
TAKE_SCREENSHOTS = os.environ.get("SITE_SCREENSHOTS", "") not in ("", "0")
CONFIG = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]["url"].removeprefix("https://github.com/")
BRANCH = CONFIG["repository"]["branch"]
MAX_PAGE_BYTES = 4_000_000  # the budget for one page with everything it loads
WIDTHS = {"desktop": 1280, "phone": 390}
IMAGE_PATH = re.compile(r"(^|/)[\w.-]+\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)
# A description of a figure for a reader who cannot see it says what is plotted against what and what it
# shows: more than a caption-length phrase. Twelve words is about the shortest such sentence.
MIN_ALT_WORDS = 12


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def alt_text_problem(alt: str, caption: str) -> str | None:
    """Why ``alt`` does not describe its figure (``caption`` is the figure's caption, number included), or None."""
    words = _words(alt)
    if not words or IMAGE_PATH.search(alt.strip()):
        return "empty or a file path"
    if words[0] in ("figure", "fig"):
        return "starts with 'Figure' (a screen reader already announces the figure)"
    caption_words = set(_words(caption))
    if sum(word in caption_words for word in words) > 0.8 * len(words):
        return "repeats the caption"
    if len(words) < MIN_ALT_WORDS:
        return f"{len(words)} words: too short to say what is plotted and what it shows"
    return None


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser check must run)")
    pytest.skip(reason)


def _pages() -> list[str]:
    """Every page of the table of contents, sections included, in reading order."""
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())

    def walk(entries):
        for entry in entries:
            yield entry["file"]
            yield from walk(entry.get("sections", []))

    return [page for part in toc["parts"] for page in walk(part["chapters"])]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site without a log line per request (they would bury a failure's message)."""

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").exists():
        _missing(f"no built site at {SITE}: run 'make book' (make test does)")
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _missing("Debian's chromium is not installed: 'make test' installs it when run as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield chromium
        chromium.close()


class OpenPage:
    """A page opened offline, with every request, response size, page error and console error recorded."""

    def __init__(self, browser, site_url: str, path: str, width: int):
        # A context of its own: an empty cache, so the page weight counts everything the page loads.
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.blocked, self.errors, self.console, self.failed = [], [], [], []
        self.page.route("**/*", self._route(site_url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)
        self.page.on("requestfailed", lambda request: self.failed.append(request.url))
        self.page.on("response", self._response)
        self.page.goto(f"{site_url}/{path}.html", wait_until="networkidle")
        self.has_math = self.page.locator("script[src*='mathjax']").count() > 0  # only pages with math load it
        if self.has_math:
            self.page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                        timeout=20_000)
            self.page.evaluate("() => MathJax.startup.promise")
        self.page.wait_for_load_state("networkidle")  # the fonts MathJax asked for while typesetting
        # Everything the page loaded, by the browser's own count (same origin, so every size is visible).
        self.bytes = self.page.evaluate("""() => performance.getEntriesByType('navigation')
            .concat(performance.getEntriesByType('resource')).reduce((sum, e) => sum + e.decodedBodySize, 0)""")

    def close(self):
        self.context.close()

    def _route(self, site_url):
        def route(route):
            if route.request.url.startswith(site_url):
                return route.continue_()
            self.blocked.append(route.request.url)
            return route.abort()

        return route

    def _console(self, message):
        if message.type == "error":
            self.console.append(message.text)

    def _response(self, response):
        if not response.ok:
            self.failed.append(f"{response.status} {response.url}")


def test_figures_are_small():
    if not (SITE / "index.html").exists():
        _missing(f"no built site at {SITE}: run 'make book' (make test does)")
    pngs = list((SITE / "_images").glob("*.png"))
    assert pngs, "the site has no figures"
    too_big = {png.name: png.stat().st_size for png in pngs if png.stat().st_size > 200_000}
    assert not too_big, f"figures over 200 kB (use plots.small_figure): {too_big}"


CAPTION = "Fig. 4.1 ULA's bias grows linearly with η; MALA's is zero"


@pytest.mark.parametrize("alt, problem", [
    ("", "empty"),
    ("_images/ab12.png", "file path"),
    ("Figure: ULA's bias grows linearly with η; MALA's is zero", "starts with 'Figure'"),
    ("ULA's bias grows linearly with η; MALA's is zero", "repeats the caption"),
    ("Two lines of bias against the step", "too short"),
])
def test_alt_text_that_does_not_describe_the_figure_is_named(alt, problem):
    assert problem in (alt_text_problem(alt, CAPTION) or "")


def test_alt_text_that_describes_the_figure_passes():
    alt = ("Plot of the stationary variance minus 1 against the step: ULA's measured points lie on the rising "
           "closed-form curve, MALA's on the zero line.")
    assert alt_text_problem(alt, CAPTION) is None


@pytest.mark.parametrize("page_path", _pages())
def test_page_reads_well_offline(site_url, browser, page_path):
    """One page, loaded once at 1280 px; the layout is checked there and again after narrowing to 390 px."""
    opened = OpenPage(browser, site_url, page_path, WIDTHS["desktop"])
    page = opened.page
    kind, stem = page_path.split("/", 1)

    assert opened.blocked == [], f"the page asked for outside resources: {opened.blocked}"
    assert [url for url in opened.failed if url not in opened.blocked] == [], f"requests that failed: {opened.failed}"
    assert opened.errors == [], f"page errors: {opened.errors}"
    assert opened.console == [], f"console errors: {opened.console}"
    assert opened.bytes < MAX_PAGE_BYTES, f"the page weighs {opened.bytes / 1e6:.1f} MB with what it loads"

    for width in WIDTHS.values():
        _check_layout(page, page_path, width)

    if kind != "book":  # every lesson, exercise and solution page has math
        assert opened.has_math and page.locator("mjx-container").count() > 0, "no MathJax output on the page"
    text = page.evaluate("""() => {  // the page's prose and outputs, without the code listings
        const copy = document.querySelector('article').cloneNode(true);
        copy.querySelectorAll('.cell_input, pre, script, style').forEach(element => element.remove());
        return copy.innerText;
    }""")
    assert "$$" not in text and "\\(" not in text, "raw TeX left untypeset"
    assert "|---|" not in text and "|—|" not in text, "a Markdown table left as raw text"
    assert "{cite" not in text and "{numref" not in text, "a MyST role left as raw text"
    assert page.locator("article mjx-merror").count() == 0, "MathJax reported a TeX error"
    assert page.locator("article .output.traceback, article .output.stderr").count() == 0, "error or warning output"

    images = page.evaluate("""() => [...document.querySelectorAll('article img')].map(i =>
        [i.currentSrc.slice(-60), i.complete && i.naturalWidth > 0, i.getAttribute('alt') || ''])""")
    assert all(ok for _, ok, _ in images), f"images that did not load: {[src for src, ok, _ in images if not ok]}"
    bad_alt = [src for src, _, alt in images if not alt.strip() or IMAGE_PATH.search(alt.strip())]
    assert not bad_alt, f"images without alt text that says what they show: {bad_alt}"
    videos = page.evaluate("""() => [...document.querySelectorAll('article video')].map(v =>
        [v.currentSrc.slice(0, 40), v.readyState >= 1 && v.duration > 0 && !v.error])""")
    assert all(ok for _, ok in videos), f"videos that cannot play: {[src for src, ok in videos if not ok]}"
    assert page.locator("script[type='application/vnd.jupyter.widget-view+json']").count() == 0, (
        "a live widget view (it needs a kernel): tag its cell remove-output and add a plots.slider_player")

    figures = page.evaluate("""() => [...document.querySelectorAll('article figure')].map(f =>
        [...f.querySelectorAll('img')].map(i => [i.getAttribute('alt') || '',
            (f.querySelector('figcaption') || {}).textContent || '']))""")
    bad_figure_alt = {alt[:60]: problem for images_of_figure in figures for alt, caption in images_of_figure
                      if (problem := alt_text_problem(alt, caption))}
    assert not bad_figure_alt, f"figure alt text that does not describe the figure: {bad_figure_alt}"

    # Every numbered equation and figure is referred to by its number somewhere on its page: a link to its
    # anchor other than its own permalink.
    unreferenced = page.evaluate("""() => {
        const numbered = [...document.querySelectorAll('article .math[id^="equation-"], article figure[id]')];
        const links = [...document.querySelectorAll('article a[href]')];
        return numbered.filter(n => !links.some(a => !n.contains(a) && a.hash === '#' + n.id
                                                && a.pathname === location.pathname))
            .map(n => (n.querySelector('.eqno, .caption-number') || n).textContent.replace('#', '').trim().slice(0, 20));
    }""")
    assert unreferenced == [], f"equations and figures whose number the text never refers to: {unreferenced}"

    if kind in ("notebooks", "solutions"):
        _check_lesson_links(page, site_url, page_path)
    if kind == "notebooks":
        assert images, "a lesson page without a single figure"
        captions = page.locator("article figure figcaption").all_inner_texts()
        lesson = int(stem[:2])
        assert captions, "a lesson page without a captioned figure"
        assert all(re.match(rf"Fig\. {lesson}\.\d+", caption) for caption in captions), captions
        _check_players(page)
    late_errors = opened.errors + opened.console
    assert late_errors == [], f"errors while resizing or playing: {late_errors}"
    opened.close()


def _check_layout(page, page_path: str, width: int) -> None:
    """At ``width`` px: nothing cut off, no sideways scrolling on a phone, one search box (and a screenshot if asked)."""
    page.set_viewport_size({"width": width, "height": 900})
    if TAKE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{page_path.replace('/', '_')}-{width}.png"), full_page=True)

    # Nothing is cut off: a column never holds a display equation or a code line wider than itself, and an
    # inline formula (which MathJax cannot break) never runs past the right edge of its line.
    too_wide = page.evaluate("""() => {
        const wide = [];
        document.querySelectorAll('article mjx-container[display="true"]').forEach(m => {
            const box = m.parentElement.getBoundingClientRect(), math = m.firstElementChild.getBoundingClientRect();
            if (math.width > box.width + 1 || m.scrollWidth > m.clientWidth + 1) wide.push('equation: ' + m.textContent.slice(0, 40));
        });
        document.querySelectorAll('article .cell_input pre').forEach(p => {
            if (p.scrollWidth > p.clientWidth + 1) wide.push('code: ' + p.textContent.slice(0, 40));
        });
        document.querySelectorAll('article mjx-container:not([display="true"])').forEach(m => {
            const line = m.closest('p, li, dd, dt, td, th, figcaption, caption'), math = m.getBoundingClientRect();
            if (line && math.right > line.getBoundingClientRect().right + 1) wide.push('inline: ' + m.textContent.slice(0, 40));
        });
        return wide;
    }""")
    if width == WIDTHS["desktop"]:
        assert too_wide == [], f"cut off at {width} px: {too_wide}"
    else:  # a phone's column is too narrow for some display equations: they may scroll in their own box
        inline_cut = [item for item in too_wide if item.startswith("inline")]
        assert inline_cut == [], f"inline math cut off at {width} px: {inline_cut}"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width, "the phone layout scrolls sideways"
        cut = page.evaluate("""() => [...document.querySelectorAll('article mjx-container[display="true"]')]
            .filter(m => m.scrollWidth > m.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(m).overflowX))
            .map(m => m.textContent.slice(0, 40))""")
        assert cut == [], f"equations cut off at {width} px: {cut}"

    visible_search = page.locator(".search-button-field:visible, .search-button:visible, .bd-search:visible").count()
    assert visible_search == 1, f"{visible_search} search boxes visible at {width} px"


def _check_lesson_links(page, site_url: str, page_path: str) -> None:
    """The launch buttons open the page's paired .ipynb, and the .ipynb download is served."""
    links = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
    notebook = f"{page_path}.ipynb"
    assert (ROOT / notebook).exists(), f"{notebook} is not in the repository"
    binder = f"https://mybinder.org/v2/gh/{REPOSITORY}/{BRANCH}?urlpath=lab/tree/{notebook}"
    colab = f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{notebook}"
    edit = f"https://github.com/{REPOSITORY}/edit/{BRANCH}/{page_path}.md"
    for expected in (binder, colab, edit, f"https://github.com/{REPOSITORY}"):
        assert expected in links, f"no link {expected}"
    download = f"{site_url}/_sources/{notebook}"
    assert download in links, f"no .ipynb download link {download}"
    response = page.request.get(download)
    assert response.ok and response.json()["cells"], f"the .ipynb download gives {response.status}"


def _check_players(page) -> None:
    """Each kernel-free slider player shows another picture after one step forward."""
    for player in page.locator("article .animation").all():
        image = player.locator("img")
        before = image.get_attribute("src")
        player.locator("button[title='Next frame']").click()
        assert image.get_attribute("src") != before, "the player's picture did not change"


def test_the_colab_install_cell_names_the_configured_repository():
    """book/intro.md writes {{ repository_url }}; the built page carries book/_config.yml's repository.url."""
    if not (SITE / "index.html").exists():
        _missing(f"no built site at {SITE}: run 'make book' (make test does)")
    intro = (SITE / "book" / "intro.html").read_text()
    assert f"git+{CONFIG['repository']['url']}" in intro and "repository_url }}" not in intro


def test_references_page_lists_every_bib_entry(site_url, browser):
    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), flags=re.M)
    opened = OpenPage(browser, site_url, "book/references", WIDTHS["desktop"])
    entries = opened.page.locator("article div.citation").count()
    opened.close()
    # The bibliography lists cited entries only, so a full list means every paper is cited somewhere.
    assert entries == len(keys) > 0, f"{entries} entries on the References page for {len(keys)} in references.bib"
