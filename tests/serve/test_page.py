"""The web page at ``/`` in headless Chromium, against a live server on 127.0.0.1 (tiny mode).

As a user would: choose a clip, submit, watch the stages, see the result. Checked: the caption shown is
the job's ``caption.txt``; the image and the GIF loaded (``naturalWidth > 0``) with alt text naming the
caption; the ``<video>``'s source serves ``video/mp4`` and plays; every file is linked; the stages all
end done; the recent-jobs list names the job; no page error, no console error, no request to any host
but the server. A text file gets the API's own one-line message on the page. With an API key set, the
page shows the API's 401 message until the key is entered, keeps the key for the tab only
(sessionStorage), and then runs a job with it.
"""

import pytest

from ..test_site import browser  # noqa: F401  (the fixture: Debian's chromium through Playwright)
from .conftest import assert_error
from .live import live_server

from mmgp_lesson.serve.app import create_app
from mmgp_lesson.serve.config import ServeSettings

FILES = ("caption.txt", "image.png", "video.mp4", "preview.gif", "manifest.json")
RESULT_TIMEOUT_MS = 60_000  # a tiny job takes a few seconds; a loaded shared machine can take many more
KEY = "page-test-key"


@pytest.fixture(scope="module")
def server(runner, tmp_path_factory):
    app = create_app(ServeSettings(mode="tiny", data=tmp_path_factory.mktemp("page") / "data", batch_size=1),
                     runner_factory=lambda: runner)
    with live_server(app) as client:
        yield client


@pytest.fixture(scope="module")
def keyed_server(runner, tmp_path_factory):
    app = create_app(ServeSettings(mode="tiny", data=tmp_path_factory.mktemp("keyed") / "data", batch_size=1,
                                   api_key=KEY), runner_factory=lambda: runner)
    with live_server(app) as client:
        yield client


class Tab:
    """A fresh browser context on the server's page, recording page errors, console errors and every
    request to anywhere else (aborted)."""

    def __init__(self, chromium, base_url: str):
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors, self.console, self.blocked = [], [], []
        self.page.route("**/*", self._route(base_url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and self.console.append(message.text))
        self.page.goto(f"{base_url}/", wait_until="networkidle")

    def _route(self, base_url: str):
        def route(route):
            if route.request.url.startswith(f"{base_url}/") or route.request.url.startswith("blob:"):
                return route.continue_()
            self.blocked.append(route.request.url)
            return route.abort()

        return route

    def submit(self, clip, **fields):
        self.page.set_input_files("#video-file", str(clip))
        for name, value in fields.items():
            self.page.fill(f"input[name={name}]", str(value))
        self.page.click("#submit")

    def wait_for_result(self) -> None:
        """Wait until the result or an error is shown; an error fails the test with its message."""
        self.page.locator("#result:not([hidden]), #error:not([hidden])").first.wait_for(timeout=RESULT_TIMEOUT_MS)
        error = self.page.locator("#error")
        assert error.is_hidden(), f"the page shows an error instead of the result: {error.inner_text()}"

    def job_id(self) -> str:
        return self.page.locator("#job-id").inner_text()


def _shown_result(page) -> dict:
    """What the result shows, measured in the page itself."""
    return page.evaluate("""async () => {
        const image = document.getElementById('image'), gif = document.getElementById('gif');
        const video = document.getElementById('video');
        await Promise.all([image, gif].map(i => i.decode()));
        if (video.readyState < 1) await new Promise(done => video.addEventListener('loadedmetadata', done));
        const served = await fetch(video.src);
        return {
            caption: document.getElementById('caption').textContent,
            image: [image.naturalWidth, image.alt], gif: [gif.naturalWidth, gif.alt],
            video: [video.src.slice(0, 5), (await served.blob()).type, video.duration, !video.error],
            links: [...document.querySelectorAll('#files a')].map(a => a.download),
            stages: [...document.querySelectorAll('#stages li')].map(li =>
                [li.textContent, li.querySelector('progress').position]),
            recent: document.getElementById('recent').textContent,
        };
    }""")


def test_upload_shows_caption_image_video_and_gif(server, browser, sample_video):  # noqa: F811
    tab = Tab(browser, str(server.base_url))
    tab.submit(sample_video, seed=3)
    tab.wait_for_result()
    shown = _shown_result(tab.page)
    job_id = tab.job_id()
    caption = server.get(f"/v1/jobs/{job_id}/files/caption.txt").text.strip()
    assert caption and shown["caption"] == caption, (shown["caption"], caption)
    assert server.get(f"/v1/jobs/{job_id}").json()["options"]["seed"] == 3, "the seed field was not sent"
    for name in ("image", "gif"):
        width, alt = shown[name]
        assert width > 0, f"the {name} did not load"
        assert caption in alt, f"the {name}'s alt text does not say what it shows: {alt!r}"
    scheme, media_type, duration, playable = shown["video"]
    assert scheme == "blob:" and media_type == "video/mp4" and duration > 0 and playable, shown["video"]
    assert shown["links"] == list(FILES)
    assert len(shown["stages"]) == 4, shown["stages"]
    assert all("done" in text and bar == 1 for text, bar in shown["stages"]), shown["stages"]  # full bars
    assert job_id[:12] in shown["recent"], "the recent-jobs list does not show the job"
    assert tab.blocked == [], f"requests to other hosts: {tab.blocked}"
    assert tab.errors == [], f"page errors: {tab.errors}"
    assert tab.console == [], f"console errors: {tab.console}"
    tab.context.close()


def test_a_text_file_shows_the_apis_message(server, browser, tmp_path):  # noqa: F811
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video\n")
    with notes.open("rb") as handle:
        message = assert_error(server.post("/v1/jobs", files={"video": (notes.name, handle, "text/plain")}), 415)
    tab = Tab(browser, str(server.base_url))
    tab.submit(notes)
    tab.page.locator("#error").wait_for(state="visible")
    assert tab.page.locator("#error").inner_text() == message
    assert tab.errors == [] and tab.blocked == []
    # Chromium logs every 4xx answer as "Failed to load resource"; nothing else may appear.
    assert all("status of 415" in message for message in tab.console), tab.console
    tab.context.close()


def test_the_api_key_is_sent_and_kept_for_the_tab(keyed_server, browser, sample_video):  # noqa: F811
    tab = Tab(browser, str(keyed_server.base_url))
    refused = keyed_server.get("/v1/jobs").json()["error"]
    tab.page.locator("#error").wait_for(state="visible")  # the recent-jobs list, asked for without the key
    assert tab.page.locator("#error").inner_text() == refused
    tab.page.fill("#api-key", KEY)
    tab.page.reload(wait_until="networkidle")
    assert tab.page.input_value("#api-key") == KEY, "the key was not kept in sessionStorage"
    tab.submit(sample_video)
    tab.wait_for_result()
    headers = {"Authorization": f"Bearer {KEY}"}
    caption = keyed_server.get(f"/v1/jobs/{tab.job_id()}/files/caption.txt", headers=headers).text.strip()
    assert _shown_result(tab.page)["caption"] == caption
    assert tab.errors == [] and tab.blocked == []
    assert all("status of 401" in message for message in tab.console), tab.console
    tab.context.close()
