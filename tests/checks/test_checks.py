"""The checks' calling protocol: the learner's function called the same way in a notebook and in the
grader, fresh seeded inputs, the registry, and a failed check shown as one line in IPython."""

import pytest
import torch

import mmgp_lesson.checks as checks
from mmgp_lesson.checks import AnswerRaised, CheckFailed, call_answer, exercises_of, generator, seeded


def test_a_stub_a_raise_a_missing_return_and_an_object_each_get_their_sentence():
    def stub(x):
        raise NotImplementedError("Exercise")

    def broken(x):
        return {}["missing"]

    def forgets(x):
        x + 1

    def lies(x):
        return object()

    with pytest.raises(CheckFailed, match="still raises NotImplementedError"):
        call_answer(stub, 1)
    with pytest.raises(AnswerRaised, match="your broken raised KeyError: 'missing'") as raised:
        call_answer(broken, 1)
    assert raised.value.error_type == "KeyError"
    with pytest.raises(CheckFailed, match=r"your forgets returns None: did you forget `return`\?"):
        call_answer(forgets, 1)
    with pytest.raises(CheckFailed, match="your lies returns an object object; it should return an int"):
        call_answer(lies, 1, returns="an int")


def test_calling_a_declared_reference_is_caught_however_it_was_imported():
    from mmgp_lesson.latent import gaussian_kl as renamed

    @checks.exercise("99-1", answer="kl", references=("mmgp_lesson.latent:gaussian_kl",))
    def judge(kl):
        return call_answer(kl, torch.zeros(1, 2), torch.eye(2), torch.zeros(1, 2), torch.eye(2))

    try:
        with pytest.raises(CheckFailed, match="calls the course's own gaussian_kl"):
            judge(lambda *args: renamed(*args))
        assert judge(lambda mq, cq, mp, cp: torch.zeros(1)).tolist() == [0.0]  # writing it yourself is fine
    finally:
        del checks.EXERCISES["99-1"]


def test_inputs_repeat_at_one_seed_and_change_with_the_seed():
    def draw():
        return torch.randn(4, generator=generator(3))

    assert torch.equal(draw(), torch.randn(4, generator=torch.Generator().manual_seed(3)))  # seed 0: the notebooks'
    with seeded(17):
        first = draw()
    with seeded(17):
        assert torch.equal(draw(), first)
    with seeded(18):
        assert not torch.equal(draw(), first)


def test_every_lesson_registers_its_exercises_in_order():
    for lesson in ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"):
        keys = [e.key for e in exercises_of(lesson)]
        assert keys == [f"{lesson}-{k}" for k in range(1, len(keys) + 1)] and len(keys) >= 3 - (lesson == "00")
        for e in exercises_of(lesson):
            for reference in e.references:
                assert callable(checks.resolve(reference)), reference


def test_a_failed_check_shows_one_line_in_ipython(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        checks._install_notebook_handler()
        shell.run_cell("from mmgp_lesson.checks import CheckFailed\nraise CheckFailed('your KL is twice the exact one')")
        lines = [line for line in capsys.readouterr().out.strip().splitlines() if line]
        assert len(lines) == 1 and lines[0].endswith("CheckFailed\x1b[0m: your KL is twice the exact one"), lines
    finally:
        InteractiveShell.clear_instance()


def test_an_exercise_notebook_shows_the_feedback_sentence_not_a_traceback():
    import nbformat
    from nbclient import NotebookClient

    from tests.conftest import ROOT

    notebook = nbformat.read(ROOT / "exercises" / "00_notation.ipynb", as_version=4)
    NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3").execute()
    check = next(c for c in notebook.cells if "check-00-1" in c.metadata.get("tags", []))
    (error,) = [output for output in check.outputs if output.output_type == "error"]
    assert error.ename in ("CheckFailed", "AnswerRaised") and error.traceback == [f"\x1b[31mCheckFailed\x1b[0m: {error.evalue}"]
    assert "replace the stub with your code" in error.evalue
