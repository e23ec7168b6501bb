"""Offline tokenizers for the capstone's models, built from one small English word list (:data:`WORDS`).

The hub tokenizers the libraries' tests download are replaced by tokenizers built here, so a tiny
caption is made of words the tiny CLIP and T5 tokenizers know, and nothing is downloaded:

- CLIP: a byte-pair tokenizer from a written ``vocab.json`` and ``merges.txt`` (``model_max_length``
  set, or it would accept any length and overflow the position table);
- T5: a word-level ``PreTrainedTokenizerFast`` that appends ``</s>`` like T5's; the encoder's
  ``d_model`` equals the LTX transformer's ``caption_channels``;
- SmolVLM: a word-level tokenizer holding SmolVLM's special tokens (``<image>``,
  ``<fake_token_around_image>``, ``<global-img>``, ``<end_of_utterance>``, ``<|im_start|>``).

The published-size models of :mod:`~mmgp_lesson.capstone.realsize` use them too: only the token
ids they produce reach the models.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import CLIPTokenizer, PreTrainedTokenizerFast

WORDS = tuple(
    """a an the of and in on at with to from into over under near by is are it its this that
    video frame frames scene shows showing image picture clip moving moves across left right up down
    red orange yellow green blue purple pink white black grey brown dark bright light
    sky sun moon cloud clouds star rain snow water sea river lake beach sand grass tree trees forest
    flower field mountain hill road street city house building window door room wall floor table
    car bus train boat plane bike ball disc circle square line shape shapes
    dog cat bird fish horse person man woman child people hand face
    small big large tall round slow fast quiet happy old new
    walking running flying falling rolling sitting standing jumping swimming playing
    day night morning evening sunset background foreground middle center top bottom side
    you are provided following series from h mm ss user assistant describe what happens sentence
    0 1 2 3 4 5 6 7 8 9 one two three four five six seven eight nine ten""".split()
)
"""The vocabulary every tiny tokenizer shares; ``.`` ``,`` ``:`` ``[`` ``]`` are added as symbols."""

SYMBOLS = (".", ",", ":", "[", "]", "!", "?", "-")
SMOLVLM_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<unk>",
    "<|im_start|>",
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<global-img>",
    "<image>",
)
TINY_TEXT_LENGTH = 32
"""The most tokens the tiny CLIP and T5 encoders read."""


def _word_level(vocab: dict[str, int], unk: str, append: str | None = None) -> Tokenizer:
    """A tokenizers ``Tokenizer`` mapping whole lower-case words (and punctuation) to ids."""
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tokenizer.normalizer = None
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    if append is not None:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"$A {append}", special_tokens=[(append, vocab[append])]
        )
    return tokenizer


def tiny_clip_tokenizer(max_length: int = TINY_TEXT_LENGTH) -> CLIPTokenizer:
    """A CLIP byte-pair tokenizer whose merges rebuild every word of :data:`WORDS`.

    Its vocabulary holds single characters, their word-final forms (``a</w>``) and every prefix of
    every word; ``merges.txt`` joins each word left to right. Merges of different words compete, so
    a known word becomes one or a few tokens, and an unknown word falls apart into characters
    instead of failing.
    """
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    merges = []
    for char in "abcdefghijklmnopqrstuvwxyz0123456789" + "".join(SYMBOLS):
        tokens += [char, char + "</w>"]
    for word in WORDS:
        for end in range(2, len(word) + 1):
            left, right = word[: end - 1], word[end - 1]
            suffix = "</w>" if end == len(word) else ""
            merges.append(f"{left} {right}{suffix}")
            tokens.append(word[:end] + suffix)
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "vocab.json").write_text(json.dumps(vocab))
        (Path(folder) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
        return CLIPTokenizer(
            str(Path(folder) / "vocab.json"), str(Path(folder) / "merges.txt"), model_max_length=max_length
        )


def tiny_t5_tokenizer(max_length: int = TINY_TEXT_LENGTH) -> PreTrainedTokenizerFast:
    """A word-level tokenizer with T5's special tokens that ends every text with ``</s>``."""
    vocab = {token: index for index, token in enumerate(("<pad>", "</s>", "<unk>") + WORDS + SYMBOLS)}
    return PreTrainedTokenizerFast(
        tokenizer_object=_word_level(vocab, unk="<unk>", append="</s>"),
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=max_length,
    )


def tiny_smolvlm_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer holding SmolVLM's special image and chat tokens as single tokens."""
    capitalised = ("User", "Assistant", "You", "Frame", "H", "MM", "SS", "Describe")
    clock = tuple(f"{number:02d}" for number in range(60))  # the MM and SS of "Frame from 00:01:"
    vocab = {
        token: index
        for index, token in enumerate(dict.fromkeys(SMOLVLM_SPECIAL_TOKENS + WORDS + capitalised + clock + SYMBOLS))
    }
    return PreTrainedTokenizerFast(
        tokenizer_object=_word_level(vocab, unk="<unk>"),
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        eos_token="<end_of_utterance>",
        extra_special_tokens=list(SMOLVLM_SPECIAL_TOKENS[2:]),
    )
