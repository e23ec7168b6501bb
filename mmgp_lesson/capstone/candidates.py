r"""Best-of-N for the image stage: draw N aMUSEd candidates, keep the one SmolVLM2 rates best (lesson 10).

The verifier's score of image :math:`x` for caption :math:`c = (c_1, \dots, c_m)` is the mean per-token
log-likelihood SmolVLM2 gives the caption as its answer to "Describe this image in one sentence.":

.. math:: r(x, c) = \frac1m \sum_{j=1}^m \log p_{\text{VLM}}(c_j \mid x, \text{prompt}, c_{<j}) .

It needs no words beyond the caption's own, so it works with the tiny word-level tokenizer as with the
real one (a "yes"-probability verifier needs "yes" and "no" in the vocabulary, which the tiny one lacks).
All N candidates are drawn in one batched ``AmusedPipeline`` call and scored in one batched forward pass;
:func:`best_of_n` records every score and both costs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from PIL import Image

from mmgp_lesson.capstone.errors import CapstoneError
from mmgp_lesson.capstone.understand import UnderstandStage, frame_placeholder

IMAGE_QUESTION = "Describe this image in one sentence."


def image_prompt(image_seq_len: int, question: str = IMAGE_QUESTION) -> str:
    """SmolVLM's chat prompt for one image (global image only, no splitting), generation prompt appended."""
    return f"<|im_start|>User:{frame_placeholder(image_seq_len)}{question}<end_of_utterance>\nAssistant:"


@torch.inference_mode()
def caption_scores(stage: UnderstandStage, images: list[Image.Image], caption: str) -> list[float]:
    """:math:`r(x, c)` for each image, all images in one forward pass of ``stage.model``."""
    prompt = stage.tokenizer(image_prompt(stage.image_seq_len), add_special_tokens=False)["input_ids"]
    answer = stage.tokenizer(" " + caption.strip(), add_special_tokens=False)["input_ids"]
    if not answer:
        raise CapstoneError("the caption is empty: there is nothing to score the candidates against")
    ids = torch.tensor([prompt + answer] * len(images))
    pixels = stage.image_processor(images=[[image.convert("RGB")] for image in images], do_image_splitting=False,
                                   size={"longest_edge": stage.frame_size}, return_tensors="pt")
    model = stage.model
    logits = model(input_ids=ids.to(model.device), attention_mask=torch.ones_like(ids).to(model.device),
                   pixel_values=pixels["pixel_values"].to(model.device, model.dtype),
                   pixel_attention_mask=pixels["pixel_attention_mask"].to(model.device)).logits
    start = len(prompt)
    log_probs = torch.log_softmax(logits[:, start - 1 : -1].float(), -1)  # position j predicts token j + 1
    targets = ids[:, start:].to(log_probs.device)
    return log_probs.gather(-1, targets[..., None]).squeeze(-1).mean(1).tolist()


@dataclass
class Candidates:
    """The outcome of :func:`best_of_n`: every candidate, its score, the kept index and the costs in seconds."""

    images: list[Image.Image]
    scores: list[float]
    best: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def image(self) -> Image.Image:
        return self.images[self.best]

    def manifest(self) -> dict:
        """What the run's manifest records: the number of candidates, every score, the kept one, the costs."""
        return {"count": len(self.scores), "scores": self.scores, "kept": self.best, "seconds": self.seconds}


def best_of_n(image_stage, verifier: UnderstandStage, prompt: str, count: int, seed: int = 0) -> Candidates:
    """Draw ``count`` images for ``prompt`` in one batched call (seeded by ``seed``), score each against
    ``prompt`` with :func:`caption_scores` and keep the highest."""
    if count < 1:
        raise CapstoneError(f"--candidates must be at least 1, got {count}")
    start = time.perf_counter()
    images = image_stage([prompt] * count, seed=seed)
    drawn = time.perf_counter()
    scores = caption_scores(verifier, images, prompt)
    scored = time.perf_counter()
    best = max(range(count), key=scores.__getitem__)
    return Candidates(images, scores, best, {"generate": drawn - start, "verify": scored - drawn})
