"""A/B assignment: which jobs run the variant, decided from the job id alone.

A job id is a uuid4 in hex: its first 32 bits are uniform, so ``int(id[:8], 16) / 2**32 < F`` puts a
fraction F of the jobs in variant "B", the same job always in the same variant (a restart or a
replay of the store cannot move a job between the arms).
"""

from __future__ import annotations

def variant(job_id: str, fraction: float) -> str:
    """``"B"`` (the variant: ``--ab-image-steps``) for a fraction ``fraction`` of job ids, ``"A"`` (the
    control: the request's own image steps) for the rest."""
    return "B" if int(job_id[:8], 16) / 2**32 < fraction else "A"
