"""The tiny models: real library classes, offline tokenizers, seeded weights."""

import torch

from mmgp_lesson.capstone.tiny import tiny_amused, tiny_ltx, tiny_smolvlm
from mmgp_lesson.capstone.tokenizers import SMOLVLM_SPECIAL_TOKENS, TINY_TEXT_LENGTH, tiny_clip_tokenizer, tiny_t5_tokenizer


def test_clip_tokenizer_knows_the_words_and_pads_to_its_length():
    tokenizer = tiny_clip_tokenizer()
    ids = tokenizer("a red dog", padding="max_length", truncation=True).input_ids
    assert len(ids) == TINY_TEXT_LENGTH
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.convert_ids_to_tokens(ids[1:4]) == ["a</w>", "red</w>", "dog</w>"]
    long = tokenizer("dog " * 100, truncation=True).input_ids
    assert len(long) == TINY_TEXT_LENGTH  # model_max_length keeps it inside the position table


def test_t5_tokenizer_appends_eos_and_matches_the_ltx_text_width():
    tokenizer = tiny_t5_tokenizer()
    ids = tokenizer("a red dog").input_ids
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.unk_token_id not in ids
    pipe = tiny_ltx()
    assert pipe.text_encoder.config.d_model == pipe.transformer.config.caption_channels


def test_smolvlm_tokenizer_keeps_each_special_token_whole():
    _, _, tokenizer = tiny_smolvlm()
    for token in SMOLVLM_SPECIAL_TOKENS:
        ids = tokenizer(token, add_special_tokens=False).input_ids
        assert ids == [tokenizer.convert_tokens_to_ids(token)]
    assert len(tokenizer("<image><image><image>", add_special_tokens=False).input_ids) == 3


def weights(module) -> torch.Tensor:
    return torch.cat([parameter.detach().flatten() for parameter in module.parameters()])


def test_same_seed_same_weights_other_seed_other_weights():
    for build, part in ((tiny_amused, "transformer"), (tiny_ltx, "transformer")):
        assert torch.equal(weights(getattr(build(0), part)), weights(getattr(build(0), part)))
        assert not torch.equal(weights(getattr(build(0), part)), weights(getattr(build(1), part)))
    assert torch.equal(weights(tiny_smolvlm(0)[0]), weights(tiny_smolvlm(0)[0]))


def test_building_does_not_disturb_the_callers_random_stream():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_amused()
    assert torch.equal(torch.rand(3), expected)


def test_tiny_vae_keeps_the_real_compression():
    pipe = tiny_ltx()
    # LTX-Video: 32x32 pixels and 8 frames per latent; the tiny VAE must agree or the lessons' shapes lie.
    assert (pipe.vae_spatial_compression_ratio, pipe.vae_temporal_compression_ratio) == (32, 8)
    amused = tiny_amused()
    assert 64 // amused.vae_scale_factor == 16  # a 64-pixel image is a 16x16 token grid, like amused-256



def test_only_the_known_amused_deprecation_warning_is_dropped():
    import logging

    import mmgp_lesson.capstone.models  # noqa: F401  (installs the filter)

    logger = logging.getLogger("diffusers.pipelines.pipeline_utils")

    def shown(message):
        return bool(logger.filter(logger.makeRecord(logger.name, logging.WARNING, __file__, 0, message, (), None)))

    assert not shown("The AmusedPipeline has been deprecated and will not receive bug fixes ...")
    assert shown("The LTXPipeline needs more memory")


def test_building_a_model_leaves_the_callers_random_state_alone():
    from mmgp_lesson.capstone.realsize import real_size_ltx

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_amused(seed=5)
    with torch.device("meta"):
        real_size_ltx(seed=5)
    assert torch.equal(torch.rand(3), expected)  # the builders draw from a forked generator, never the caller's
