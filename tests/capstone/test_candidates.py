"""Best-of-N aMUSEd candidates scored by SmolVLM2 (tiny stages): batched scores equal single ones."""

import pytest

from mmgp_lesson.capstone.candidates import best_of_n, caption_scores, image_prompt
from mmgp_lesson.capstone.errors import CapstoneError

CAPTION = "a red car on the road"


def test_batched_scores_equal_one_image_at_a_time_and_the_best_is_kept(image_stage, understand):
    chosen = best_of_n(image_stage, understand, CAPTION, 3, seed=0)
    single = [caption_scores(understand, [image], CAPTION)[0] for image in chosen.images]
    assert chosen.scores == pytest.approx(single, abs=1e-4)  # float32 batched vs single: round-off only
    assert chosen.best == max(range(3), key=chosen.scores.__getitem__) and chosen.image is chosen.images[chosen.best]
    record = chosen.manifest()
    assert record["count"] == 3 and len(record["scores"]) == 3 and set(record["seconds"]) == {"generate", "verify"}
    again = best_of_n(image_stage, understand, CAPTION, 3, seed=0)
    assert again.scores == chosen.scores  # same seed, same candidates, same scores


def test_scores_are_mean_log_probabilities_and_differ_between_images(image_stage, understand):
    images = image_stage([CAPTION] * 2, seed=1)
    scores = caption_scores(understand, images, CAPTION)
    assert all(score < 0 for score in scores) and scores[0] != scores[1]
    assert image_prompt(4).count("<image>") == 4


def test_zero_candidates_and_empty_captions_are_refused(image_stage, understand):
    with pytest.raises(CapstoneError, match="at least 1"):
        best_of_n(image_stage, understand, CAPTION, 0)
    with pytest.raises(CapstoneError, match="empty"):
        caption_scores(understand, image_stage(CAPTION), "  ")


def test_run_with_candidates_records_every_score_in_the_manifest(sample_video, tmp_path, capsys):
    import json

    from mmgp_lesson.cli import main

    status = main(["run", str(sample_video), "--out", str(tmp_path), "--mode", "tiny", "--frames", "9", "--candidates", "3"])
    capsys.readouterr()
    assert status == 0
    record = json.loads((tmp_path / "manifest.json").read_text())["image"]["candidates"]
    assert record["count"] == 3 and len(record["scores"]) == 3
    assert record["kept"] == max(range(3), key=record["scores"].__getitem__)


def test_candidates_work_in_real_mode_from_saved_checkpoints(sample_video, tmp_path_factory, capsys):
    """Real mode loads checkpoints saved with save_pretrained and keeps the best-scored of N images."""
    import json
    import math

    from PIL import Image

    from mmgp_lesson.capstone.tiny import save_tiny_checkpoints
    from mmgp_lesson.cli import main

    weights = save_tiny_checkpoints(tmp_path_factory.mktemp("candidate-weights"))
    out = tmp_path_factory.mktemp("candidates-real")
    status = main(["run", str(sample_video), "--out", str(out), "--mode", "real", "--weights", str(weights),
                   "--frames", "9", "--candidates", "2"])
    capsys.readouterr()
    assert status == 0
    manifest = json.loads((out / "manifest.json").read_text())
    record = manifest["image"]["candidates"]
    assert manifest["mode"] == "real" and record["count"] == 2 and all(math.isfinite(s) for s in record["scores"])
    assert record["kept"] == max(range(2), key=record["scores"].__getitem__)
    assert Image.open(out / "image.png").size == (256, 256)  # real mode draws at aMUSEd-256's resolution
