"""A/B assignment: which jobs run the variant, decided from the job id alone.

A job id is a uuid4 in hex: its first 32 bits are uniform, so ``int(id[:8], 16) / 2**32 < F`` puts a
fraction F of the jobs in variant "B", the same job always in the same variant (a restart or a
replay of the store cannot move a job between the arms).
"""

from __future__ import annotations

VARIANTS = ("A", "B")
"""``"A"``: the control (the request's own image steps); ``"B"``: the variant (``--ab-image-steps``)."""


def variant(job_id: str, fraction: float) -> str:
    """``"B"`` for a fraction ``fraction`` of job ids, ``"A"`` for the rest."""
    return "B" if int(job_id[:8], 16) / 2**32 < fraction else "A"
