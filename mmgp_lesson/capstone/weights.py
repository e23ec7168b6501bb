"""Where real checkpoints live: a folder given by the user, or the local Hugging Face cache.

Nothing here touches the network. :func:`locate` finds each stage's checkpoint folder;
:func:`missing_weights_message` is the one message a user gets when real mode was asked for and
weights are missing: the exact ``hf download`` commands to run on a machine with internet.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import snapshot_download

from mmgp_lesson.capstone.errors import CapstoneError

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
