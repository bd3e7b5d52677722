"""Model info: what it takes to serve a Hugging Face model, whoever answers.

Knows nothing of Slack. `memory` (the minimum-GPU-memory rule) and `vllm` (architectures →
vLLM releases, a data file shipped with the bot) are shared with the emulator; `hub` reads
the Hugging Face Hub through `huggingface_hub`; `source` picks Run:ai, the Hub, or Run:ai
with the Hub as fallback (`MODEL_INFO_SOURCE`).
"""
