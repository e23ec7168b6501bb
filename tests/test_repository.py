"""Where the course lives, written once: ``repository.url`` of ``book/_config.yml``.

The book takes the address from there (the header's repository, issue and edit links, the launch buttons,
and every ``{{ repository_url }}`` in a page: see ``book/_ext/course_site.py``). CITATION.cff and README.md
are read as they are, by GitHub and by people, so they cannot derive it: these tests hold them to the same
repository and to the GitHub Pages site it publishes, so the copies cannot drift apart. CI's install is
checked here too: it takes torch from the same CPU wheel index as Binder.
"""

import re

import pytest
import yaml

from .conftest import ROOT

URL = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())["repository"]["url"]
REPOSITORY = re.compile(r"https://github\.com/([\w.-]+)/([\w.-]+)")
PAGES_SITE = re.compile(r"https://[\w-]+\.github\.io/[\w.-]+/")


def pages_site(url: str) -> str:
    """The address GitHub Pages serves a repository's site at: ``https://OWNER.github.io/NAME/``."""
    owner, name = REPOSITORY.fullmatch(url).groups()
    return f"https://{owner}.github.io/{name}/"


def test_the_config_names_a_github_repository():
    assert REPOSITORY.fullmatch(URL), f"repository.url of book/_config.yml is not a GitHub repository: {URL}"


def test_citation_carries_the_repository_and_its_site():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["repository-code"] == URL, "CITATION.cff names another repository than book/_config.yml"
    assert citation["url"] == pages_site(URL), "CITATION.cff names another site than the repository's Pages"


def test_readme_links_the_repository_and_its_site_and_no_other_copy():
    readme = (ROOT / "README.md").read_text()
    course = [f"https://github.com/{owner}/{name}" for owner, name in REPOSITORY.findall(readme)
              if name == REPOSITORY.fullmatch(URL)[2]]
    assert course and set(course) == {URL}, f"README.md links the course's repository as {set(course)}, not {URL}"
    assert set(PAGES_SITE.findall(readme)) == {pages_site(URL)}, "README.md links another site"


@pytest.mark.parametrize("folder", ["book", "notebooks", "solutions"])
def test_pages_take_the_address_from_the_config(folder):
    """A page that names the repository writes {{ repository_url }}, never a copy of the address."""
    copies = [str(path.relative_to(ROOT)) for path in (ROOT / folder).glob("*.md") if URL in path.read_text()]
    assert copies == [], f"pages with the repository's address written out (use {{{{ repository_url }}}}): {copies}"


def test_ci_installs_torch_from_the_cpu_wheel_index_binder_uses():
    """On a plain runner torch==X resolves to the CUDA build; PyTorch's CPU index offers X+cpu, which pip prefers."""
    binder = re.search(r"^--extra-index-url (\S+)$", (ROOT / "binder" / "requirements.txt").read_text(), re.M)
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    make_test = next(step for step in workflow["jobs"]["test"]["steps"] if step.get("run") == "make test")
    assert binder and make_test.get("env", {}).get("PIP_EXTRA_INDEX_URL") == binder[1], (
        "CI's `make test` step must install from PyTorch's CPU wheel index (PIP_EXTRA_INDEX_URL), as Binder does")
