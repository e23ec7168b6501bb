"""Execute each notebook once: the outputs nbval produced become the book's.

``make test`` runs every lesson and solution through nbval, and the book shows the same notebooks
executed. Rather than run them twice, this pytest plugin (``pytest -p mmgp_lesson.executed``)
keeps the outputs of every cell nbval ran. When all code cells of a notebook passed, the notebook
with those outputs is written under ``book/_build/executed/``. At the end of the session the
controlling process stores each one in the jupyter-cache that myst-nb reads
(``book/_build/.jupyter_cache``), under the key myst-nb itself computes from the ``.md`` source, so
``jupyter-book build`` finds every notebook already executed and runs none of them again. A
notebook whose source changed after its run, or whose run failed or skipped a cell, is not stored:
the book then executes it itself, as it always did.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

EXECUTED = Path("book") / "_build" / "executed"
BOOK_CACHE = Path("book") / "_build" / ".jupyter_cache"

_outputs: dict[Path, dict[int, list]] = {}
_incomplete: set[Path] = set()


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _is_nbval_cell(item) or call.when != "call":
        return
    notebook = Path(str(item.parent.fspath))
    if outcome.get_result().passed and item.test_outputs is not None:
        _outputs.setdefault(notebook, {})[item.cell_num] = item.test_outputs
    else:
        _incomplete.add(notebook)


def pytest_runtest_teardown(item, nextitem):
    if not _is_nbval_cell(item) or (nextitem is not None and nextitem.parent is item.parent):
        return
    notebook = Path(str(item.parent.fspath))
    outputs = _outputs.pop(notebook, {})
    if notebook in _incomplete:
        return
    executed = copy.deepcopy(item.parent.nb)  # the notebook exactly as nbval read and ran it
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    if sorted(outputs) != list(range(len(code_cells))):
        return
    for count, cell in enumerate(code_cells, start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(dict(output)) for output in outputs[count - 1]]
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = count
    root = Path(str(item.config.rootpath))
    target = root / EXECUTED / notebook.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    nbformat.write(executed, temporary)
    temporary.replace(target)


def fill_book_cache(root: Path) -> list[Path]:
    """Store every executed notebook whose code still matches its ``.md`` in the book's cache.

    The notebook is read from the ``.md`` exactly as myst-nb reads it (so the cache key matches) and
    given the executed outputs cell by cell. Returns the ``.md`` files stored.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    stored = []
    cache = None
    for executed_path in sorted((root / EXECUTED).rglob("*.ipynb")):
        md_path = root / executed_path.relative_to(root / EXECUTED).with_suffix(".md")
        if not md_path.exists():
            continue
        text = md_path.read_text()
        source = read_myst_markdown_notebook(text, MdParserConfig(), add_source_map=True, path=md_path)
        executed = nbformat.read(executed_path, as_version=4)
        source_code = [cell for cell in source.cells if cell.cell_type == "code"]
        executed_code = [cell for cell in executed.cells if cell.cell_type == "code"]
        if [cell.source for cell in source_code] != [cell.source for cell in executed_code]:
            continue  # the lesson changed after nbval ran it: the book executes it itself
        for cell, ran in zip(source_code, executed_code):
            cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
        if cache is None:
            cache = get_cache(str(root / BOOK_CACHE))
        cache.cache_notebook_bundle(CacheBundleIn(source, str(md_path)), check_validity=False, overwrite=True)
        stored.append(md_path)
    return stored


def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller fills the cache once every worker is done
    root = Path(str(session.config.rootpath))
    if (root / EXECUTED).exists():
        stored = fill_book_cache(root)
        print(f"\nmmgp_lesson.executed: {len(stored)} executed notebooks stored for the book in {BOOK_CACHE}")
