"""The minimum-GPU-memory rule, written once (the emulator and the Hub path both use it).

    min_memory_mb = ceil(parameters * 2 bytes (bf16/fp16) * 1.2 / 2**20)

The weights in 16-bit plus 20% for activations, the CUDA context and a minimal KV cache.
The rule counts parameters, not the checkpoint's dtype: a model stored in fp32 is served
in 16-bit by vLLM's default `--dtype auto`.
"""

from __future__ import annotations

import math
from fractions import Fraction

BYTES_PER_PARAMETER = 2
OVERHEAD = Fraction(6, 5)  # 1.2, kept exact
MIB = 2**20


def min_memory_mb(parameters: int | None) -> int | None:
    """MiB of GPU memory needed to serve a model of `parameters`; None when unknown.

    Unknown means no count, or one that is not a positive integer (a Hub answer without
    safetensors metadata, or a malformed one): better to say "unknown" than 0 MiB.
    """
    if parameters is None or isinstance(parameters, bool) or not isinstance(parameters, int):
        return None
    if parameters <= 0:
        return None
    # Exact arithmetic: a float product loses integers past 2**53 and could round a
    # boundary 1 MiB the wrong way.
    return math.ceil(parameters * BYTES_PER_PARAMETER * OVERHEAD / MIB)
