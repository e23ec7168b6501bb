"""Where real checkpoints live: a folder given by the user, or the local Hugging Face cache.

Nothing here touches the network or imports a model library. :func:`locate` finds each stage's
checkpoint folder; :func:`resolve_checkpoints` decides the mode and opens every file a build will
read (configs parsed, safetensors headers checked), so a missing or damaged checkpoint is reported
before any model is built; :func:`missing_weights_message` is the one message a user gets when real
weights were asked for and are missing: the exact ``hf download`` commands to run on a machine with
internet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import snapshot_download
from safetensors import SafetensorError, safe_open

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.settings import MODES

MODEL_IDS = {
    "understand": "HuggingFaceTB/SmolVLM2-256M-Video-Instruct",
    "image": "amused/amused-256",
    "video": "Lightricks/LTX-Video",
}
"""The published checkpoint of each stage."""

_MARKERS = {"understand": "config.json", "image": "model_index.json", "video": "model_index.json"}
_INCLUDE = {
    # The LTX-Video repository also holds several multi-GB single-file checkpoints: fetch only the
    # diffusers-layout folders the pipeline loads.
    "video": ' --include "model_index.json" "scheduler/*" "text_encoder/*" "tokenizer/*" "transformer/*" "vae/*"',
}


def checkpoint_folder(stage: str, weights: str | Path | None = None) -> Path | None:
    """The folder holding ``stage``'s checkpoint, or ``None`` when it is not on this machine.

    With ``weights``, look only in ``weights/<model id>`` (e.g. ``weights/amused/amused-256``);
    otherwise in the Hugging Face cache (``HF_HUB_CACHE``, by default ``~/.cache/huggingface/hub``).
    """
    model_id = MODEL_IDS[stage]
    if weights is not None:
        folder = Path(weights) / model_id
    else:
        try:
            folder = Path(snapshot_download(model_id, local_files_only=True))
        except Exception:  # huggingface_hub raises several types for "not cached"
            return None
    return folder if (folder / _MARKERS[stage]).is_file() else None


def locate(weights: str | Path | None = None) -> dict[str, Path | None]:
    """Each stage's checkpoint folder, ``None`` for those not found."""
    return {stage: checkpoint_folder(stage, weights) for stage in MODEL_IDS}


def download_command(stages: list[str]) -> str:
    """The shell command that fetches the checkpoints of ``stages`` into the Hugging Face cache."""
    return " && ".join(f"hf download {MODEL_IDS[stage]}{_INCLUDE.get(stage, '')}" for stage in stages)


def missing_weights_message(folders: dict[str, Path | None], weights: str | Path | None) -> CapstoneError:
    """The error for real mode without weights: what is missing, where it looked, what to run."""
    missing = [stage for stage, folder in folders.items() if folder is None]
    where = f"under {weights}/<model id>" if weights is not None else "in the Hugging Face cache"
    names = ", ".join(MODEL_IDS[stage] for stage in missing)
    return CapstoneError(
        f"real weights for {names} are not {where}; on a machine with internet run: {download_command(missing)} "
        "(then copy its ~/.cache/huggingface/hub here), or use --mode tiny"
    )


@dataclass(frozen=True)
class Checkpoints:
    """The outcome of :func:`resolve_checkpoints`: ``real`` or tiny, each stage's folder, and a note for the user."""

    real: bool
    folders: dict[str, Path | None]
    note: str


def check_checkpoint_files(folders: dict[str, Path]) -> None:
    """Parse every JSON config and open every ``*.safetensors`` header under ``folders``; one line per damage found."""
    for stage, folder in folders.items():
        for path in sorted(folder.rglob("*")):
            try:
                if path.suffix == ".json":
                    json.loads(path.read_text())
                elif path.suffix == ".safetensors":
                    with safe_open(str(path), framework="numpy"):
                        pass
            except (OSError, ValueError, SafetensorError) as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise CapstoneError(
                    f"{path} is damaged ({reason}); re-download it: {download_command([stage])}"
                ) from None


def resolve_checkpoints(mode: str = "auto", weights: str | Path | None = None) -> Checkpoints:
    """Decide between real and tiny weights for ``mode`` and check the real files, without building anything.

    ``real`` needs all three checkpoints; ``auto`` takes them where all three are found, else tiny
    weights, except that an explicit ``weights`` folder is a request for real weights: one that is
    missing or incomplete is an error in ``auto`` too.
    """
    if mode not in MODES:
        raise CapstoneError(f"--mode {mode} is not one of {', '.join(MODES)}; pick one of them")
    if mode == "tiny":
        return Checkpoints(real=False, folders={}, note="tiny random weights")
    if weights is not None and not Path(weights).is_dir():
        raise CapstoneError(
            f"--weights {weights} is not a folder; pass the folder holding <model id>/ checkpoints, "
            "or leave --weights out to use the Hugging Face cache"
        )
    folders = locate(weights)
    found = all(folders.values())
    if not found and (mode == "real" or weights is not None):
        raise missing_weights_message(folders, weights)
    if found:
        check_checkpoint_files(folders)
        note = "real weights" + (" (all three checkpoints found)" if mode == "auto" else "")
        return Checkpoints(real=True, folders=folders, note=note)
    missing = ", ".join(MODEL_IDS[stage] for stage, folder in folders.items() if folder is None)
    return Checkpoints(real=False, folders=folders, note=f"tiny random weights (not found: {missing}; --mode real says how to get them)")


def video_sampling(checkpoints: Checkpoints):
    """The frame sampling of the understand stage ``checkpoints`` builds: the real checkpoint's
    (:func:`frame_sampling`), or the tiny stage's."""
    from mmgp_lesson.capstone.media import TINY_SAMPLING  # PyAV: imported only when needed

    return frame_sampling(checkpoints.folders["understand"]) if checkpoints.real else TINY_SAMPLING


def frame_sampling(folder: Path):
    """The :class:`~mmgp_lesson.capstone.media.FrameSampling` a SmolVLM2 checkpoint states (``video_sampling``
    in its processor configs), else SmolVLM2's default."""
    from mmgp_lesson.capstone.media import SMOLVLM2_SAMPLING, FrameSampling  # PyAV: imported only when needed

    for name in ("video_preprocessor_config.json", "processor_config.json", "preprocessor_config.json"):
        path = Path(folder) / name
        if path.is_file():
            stated = json.loads(path.read_text()).get("video_sampling")
            if stated:
                return FrameSampling(fps=float(stated["fps"]), max_frames=int(stated["max_frames"]))
    return SMOLVLM2_SAMPLING
