"""A fake Hugging Face Hub for tests: the Hub's model-info JSON from the offline catalog.

    app = create_app()                       # any `hf_…` token may read every gated repo
    app = create_app(tokens={"hf_a": {"meta-llama/Llama-3.1-8B-Instruct"}, "hf_b": set()})
    async with serve(app) as hub:            # bot.serving.serve
        HfApi(endpoint=hub.url).model_info("Qwen/Qwen2.5-7B-Instruct", token=False)

See `app.py` for the routes and the answers `huggingface_hub` turns into its errors.
"""

from bot.fakehub.app import FakeHubState, create_app, model_json

__all__ = ["FakeHubState", "create_app", "model_json"]
