"""Checks for lesson 08: the capstone (LTX frame counts, the timing summary, the manifest validator)."""

from __future__ import annotations

import copy

from mmgp_lesson.capstone.weights import MODEL_IDS
from mmgp_lesson.capstone.app import STAGES, timing_summary
from mmgp_lesson.checks import AnswerRaised, CheckFailed, call_answer, exercise, passed, require, rng
from mmgp_lesson.checks.lesson06 import frames_for_seconds


@exercise("08-1", answer="frames_for", references=("mmgp_lesson.ltx_shape:frames_for",))
def ltx_frames(frames_for) -> None:
    """Exercise 08.1: lesson 06's frame rule again, checked by the same cases (one meaning of duration: F/fps)."""
    frames_for_seconds(frames_for)


def _runs() -> list[dict[str, float]]:
    """Five timed runs with one slow outlier per stage, so a mean and a median differ (drawn at grading time)."""
    drawn = rng(82)
    base = {"read": 0.03, "understand": 0.4, "image": 1.2, "video": 0.5}
    base = {stage: seconds * float(drawn.uniform(0.5, 2.0)) for stage, seconds in base.items()}
    factors = (1.0, 1.1, 0.9, 3.0, 1.05)
    return [{stage: value * factor * (1 + 0.01 * index) for index, (stage, value) in enumerate(base.items())} for factor in factors]


@exercise("08-2", answer="summarise", references=("mmgp_lesson.capstone.app:timing_summary",))
def timing_table(summarise) -> None:
    """Exercise 08.2: per stage median, min, max and share of the summed medians (float64: to 1e-12)."""
    runs = _runs()
    value = call_answer(summarise, copy.deepcopy(runs), returns="a dict of stages")
    exact = timing_summary(runs)
    require(isinstance(value, dict), f"return a dict of stages, not {type(value).__name__}")
    require(list(value) == list(exact), f"your stages are {list(value)}; they should be {list(exact)}, in the order the runs list them")
    for stage, row in exact.items():
        require(isinstance(value[stage], dict) and set(value[stage]) >= set(row), f"give each stage the keys {sorted(row)}")
        for key in ("min", "max", "median", "share"):
            if abs(value[stage][key] - row[key]) > 1e-12:
                mean = sum(run[stage] for run in runs) / len(runs)
                if key == "median" and abs(value[stage][key] - mean) < 1e-12:
                    raise CheckFailed(f"your {stage} median is the mean: use the median, which one slow run does not move")
                if key == "share":
                    total_of_means = sum(sum(run[s] for run in runs) / len(runs) for s in exact)
                    if abs(value[stage][key] - row["share"] * 100) < 1e-9:
                        raise CheckFailed("your shares are percentages: give them as fractions that sum to 1")
                    if abs(value[stage][key] - (sum(run[stage] for run in runs) / len(runs)) / total_of_means) < 1e-12:
                        raise CheckFailed("your shares use means: divide each stage's median by the sum of the medians")
                raise CheckFailed(f"your {stage} {key} is {value[stage][key]:.6g}; it should be {row[key]:.6g}")
    passed("the timing summary matches: medians, ranges and shares of the summed medians")


def _valid_manifest() -> dict:
    """A manifest of the shape ``MMGPPipeline`` writes, for a tiny run."""
    return {
        "mode": "tiny",
        "seed": 0,
        "models": {stage: {"id": model_id, "weights": "tiny random weights (seed 0)"} for stage, model_id in MODEL_IDS.items()},
        "video": {"steps": 4, "frames": 49, "height": 64, "width": 64, "fps": 24},
        "seconds": {stage: 0.1 for stage in STAGES},
        "versions": {"torch": "2.13.0", "diffusers": "0.42.1"},
    }


def _broken_manifests() -> dict[str, dict]:
    """Each flaw the validator must report, as a description and a manifest that has only that flaw."""
    cases = {}

    def broken(description, edit):
        manifest = _valid_manifest()
        edit(manifest)
        cases[description] = manifest

    broken("48 video frames (not 8k + 1)", lambda m: m["video"].update(frames=48))
    broken("a height of 100 (not a multiple of 32)", lambda m: m["video"].update(height=100))
    broken("the seed as a string '0'", lambda m: m.update(seed="0"))
    broken("no 'models' entry for the video stage", lambda m: m["models"].pop("video"))
    broken("the wrong model id for the image stage", lambda m: m["models"]["image"].update(id="amused/amused-512"))
    broken("a negative time for the image stage", lambda m: m["seconds"].update(image=-0.5))
    broken("no time for the understand stage", lambda m: m["seconds"].pop("understand"))
    broken("mode 'fast' (not 'tiny' or 'real')", lambda m: m.update(mode="fast"))
    broken("no library versions", lambda m: m.pop("versions"))
    return cases


@exercise("08-3", answer="problems_of", references=("mmgp_lesson.capstone.app:manifest_problems",))
def manifest_validator(problems_of) -> None:
    """Exercise 08.3: ``problems_of(manifest)`` is empty for a valid manifest and names every flaw."""
    value = call_answer(problems_of, _valid_manifest(), returns="a list of problems")
    require(isinstance(value, list), f"return a list of problems, not {type(value).__name__}")
    require(value == [], f"a valid manifest got problems {value}: return an empty list when nothing is wrong")
    for description, manifest in _broken_manifests().items():
        try:
            found = call_answer(problems_of, manifest, returns="a list of problems")
        except AnswerRaised as error:
            if error.error_type not in ("KeyError", "TypeError", "AttributeError"):
                raise
            raise CheckFailed(f"your validator raised {error.error_type} ({error.message}) on a manifest with {description}: report the flaw instead, e.g. read keys with .get") from None
        require(isinstance(found, list), f"return a list of problems, not {type(found).__name__}")
        if not found:
            raise CheckFailed(f"a manifest with {description} passed your validator: report it")
    passed(f"the validator accepts a valid manifest and catches all {len(_broken_manifests())} flaws")
