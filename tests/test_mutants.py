"""The planted-bug catalogue stays applicable: every bug's text occurs exactly once in the package."""

from pathlib import Path

import pytest

from mutants.catalogue import MUTANTS
from mutants.run import apply, main, unapplicable

ROOT = Path(__file__).resolve().parents[1]


def test_every_planted_bug_applies_exactly_once():
    assert unapplicable(MUTANTS, ROOT / "mmgp_lesson") == []  # a moved line must be retargeted in mutants/catalogue.py


def test_catalogue_covers_every_module_with_named_bugs():
    assert len(MUTANTS) >= 25 and len({mutant.name for mutant in MUTANTS}) == len(MUTANTS)
    modules = {mutant.module.split(".")[0] for mutant in MUTANTS}
    assert {"toys", "paths", "sde", "stats", "latent", "nets", "masked_tokens", "latent_flow", "ltx_shape", "capstone",
            "families", "sample_quality", "scaling"} <= modules
    for mutant in MUTANTS:
        assert (ROOT / "notebooks" / f"{mutant.lesson}.md").is_file() and all((ROOT / test).is_file() for test in mutant.tests)


def test_apply_changes_only_the_copy_and_fails_loudly_on_missing_text(tmp_path):
    mutant = MUTANTS[0]
    (tmp_path / mutant.file).parent.mkdir(parents=True, exist_ok=True)
    original = (ROOT / "mmgp_lesson" / mutant.file).read_text()
    (tmp_path / mutant.file).write_text(original)
    apply(mutant, tmp_path)
    assert mutant.replace in (tmp_path / mutant.file).read_text()
    assert (ROOT / "mmgp_lesson" / mutant.file).read_text() == original  # the working tree is untouched
    with pytest.raises(ValueError, match="retarget"):
        apply(mutant, tmp_path)  # the text is gone now: the bug cannot be planted twice


def test_unknown_name_is_one_line_and_exit_status_two(capsys):
    assert main(["--only", "no such bug"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "unknown bug" in error
