"""The real-size builders reproduce the published parameter counts (built on the meta device: no memory)."""

import pytest
import torch

from mmgp_lesson.capstone.realsize import parameter_count, real_size_amused, real_size_ltx, real_size_smolvlm


@pytest.fixture(scope="module")
def models():
    with torch.device("meta"):
        return real_size_amused(), real_size_smolvlm()[0], real_size_ltx()


def test_smolvlm2_256m_counts_as_its_name_says(models):
    model = models[1]
    # Names round to the nearest million or so: allow 1 %.
    assert parameter_count(model) == pytest.approx(256e6, rel=0.01)
    assert parameter_count(model.model.text_model) == pytest.approx(135e6, rel=0.01)  # SmolLM2-135M


def test_amused_256_parts(models):
    amused = models[0]
    # CLIP ViT-L/14's text tower with its projection is 123.65M in every published count.
    assert parameter_count(amused.text_encoder) == pytest.approx(123.65e6, rel=0.001)
    generator = parameter_count(amused.transformer) + parameter_count(amused.vqvae)
    assert 600e6 <= generator <= 800e6  # the range of published figures for U-ViT + VQ-GAN (COURSE.md)


def test_ltx_video_is_a_2b_dit_with_a_t5_xxl_encoder(models):
    ltx = models[2]
    assert 1.9e9 <= parameter_count(ltx.transformer) <= 2.0e9  # "about 2B" (LTX-Video model card)
    assert parameter_count(ltx.text_encoder) == pytest.approx(4.76e9, rel=0.01)  # T5 v1.1 XXL encoder
    assert ltx.text_encoder.config.d_model == ltx.transformer.config.caption_channels
