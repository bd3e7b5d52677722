"""Speaks Run:ai: an async client for the inference API, its models and its errors.

    from bot.runai import RunaiClient, errors, models

    async with RunaiClient(url, client_id, client_secret) as runai:
        created = await runai.create_inference(models.InferenceCreationRequest(
            name="llama", project_id="1", cluster_id=cluster,
            spec=models.InferenceSpecSpec(image=image,
                                          serving_port=models.ServingPort(container=8000))))
        try:
            workload = await runai.get_workload(created.workload_id)
        except errors.NotFoundError:
            ...

Errors: `errors.RunaiError` (code, message, details) and one subclass per kind:
Unauthorized 401 · Forbidden 403 · NotFound 404 (ModelInfoUnavailable: no model-info
route) · Conflict 409 · InvalidRequest 400/422 · Unavailable 5xx, timeouts, connection
errors (after retries). `RunaiCalls`: the calls the app makes, as a protocol. Nothing in
this package knows Slack exists.
"""

from bot.runai import errors, models
from bot.runai.calls import RunaiCalls
from bot.runai.client import RunaiClient

__all__ = ["RunaiCalls", "RunaiClient", "errors", "models"]
