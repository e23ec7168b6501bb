"""One execution per notebook: nbval's outputs reach the book's cache under myst-nb's own key."""

import subprocess
import sys

from jupyter_cache import get_cache
from myst_nb.core.read import read_myst_markdown_notebook
from myst_parser.config.main import MdParserConfig

from mmgp_lesson.executed import BOOK_CACHE, EXECUTED, fill_book_cache
from mmgp_lesson.notebooks import ipynb_text

LESSON = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A lesson

```{code-cell} ipython3
print("hello from nbval")
```

```{code-cell} ipython3
6 * 7
```
"""


def as_myst_nb_reads(md_path):
    return read_myst_markdown_notebook(md_path.read_text(), MdParserConfig(), add_source_map=True, path=md_path)


def run_nbval(root, *notebooks):
    command = [sys.executable, "-m", "pytest", "-p", "mmgp_lesson.executed", "-p", "no:cacheprovider",
               "--nbval-lax", "--nbval-current-env", "--rootdir", str(root), *map(str, notebooks)]
    return subprocess.run(command, cwd=root, capture_output=True, text=True)


def test_nbval_outputs_are_what_the_book_reads(tmp_path):
    md_path = tmp_path / "notebooks" / "lesson.md"
    md_path.parent.mkdir()
    md_path.write_text(LESSON)
    md_path.with_suffix(".ipynb").write_text(ipynb_text(md_path))
    result = run_nbval(tmp_path, md_path.with_suffix(".ipynb"))
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / EXECUTED / "notebooks" / "lesson.ipynb").exists()

    cache = get_cache(str(tmp_path / BOOK_CACHE))
    record = cache.match_cache_notebook(as_myst_nb_reads(md_path))  # the key myst-nb computes from the .md
    cached = cache.get_cache_bundle(record.pk).nb
    first, second = [cell for cell in cached.cells if cell.cell_type == "code"]
    assert first.outputs[0].text == "hello from nbval\n"
    assert second.outputs[0].data["text/plain"] == "42" and second.execution_count == 2


def test_a_lesson_edited_after_its_run_is_left_for_the_book_to_execute(tmp_path):
    md_path = tmp_path / "notebooks" / "lesson.md"
    md_path.parent.mkdir()
    md_path.write_text(LESSON)
    md_path.with_suffix(".ipynb").write_text(ipynb_text(md_path))
    assert run_nbval(tmp_path, md_path.with_suffix(".ipynb")).returncode == 0
    md_path.write_text(LESSON.replace("6 * 7", "6 * 9"))
    assert fill_book_cache(tmp_path) == []


def test_a_failing_notebook_is_not_stored(tmp_path):
    md_path = tmp_path / "notebooks" / "lesson.md"
    md_path.parent.mkdir()
    md_path.write_text(LESSON.replace("6 * 7", "1 / 0"))
    md_path.with_suffix(".ipynb").write_text(ipynb_text(md_path))
    assert run_nbval(tmp_path, md_path.with_suffix(".ipynb")).returncode != 0
    assert not (tmp_path / EXECUTED).exists() and fill_book_cache(tmp_path) == []
