"""Every callback_id, action_id and block_id the app uses, in one place."""

from __future__ import annotations

from enum import StrEnum


class Callback(StrEnum):
    """`callback_id` of each modal."""

    LOADING = "inference_loading"
    CREATE = "inference_create"
    SCALE = "inference_scale"
    UPDATE = "inference_update"
    HF_TOKEN = "inference_hf_token"
    RESULT = "inference_result"
    APPROVAL_DENY = "inference_approval_deny"


class Action(StrEnum):
    """`action_id` of each button (and of each modal input, see `Field`)."""

    DEPLOY = "inference_deploy"
    ENTER_HF_TOKEN = "inference_enter_hf_token"
    CHOOSE_WORKLOAD = "inference_choose_workload"
    CONFIRM_DELETE = "inference_confirm_delete"
    CANCEL_DELETE = "inference_cancel_delete"
    LIST_PAGE = "inference_list_page"
    OPEN_URL = "inference_open_url"
    # The idle nudge's buttons (value: the workload id) and a schedule's Remove (its id).
    IDLE_SCALE_TO_ZERO = "inference_idle_scale_to_zero"
    IDLE_DELETE = "inference_idle_delete"
    IDLE_KEEP = "inference_idle_keep"
    REMOVE_SCHEDULE = "inference_remove_schedule"
    # An alert's buttons, Why?, and a revision's Roll back.
    SNOOZE_1H = "inference_alert_snooze_1h"
    SNOOZE_24H = "inference_alert_snooze_24h"
    WHY = "inference_why"
    REMOVE_ALERT = "inference_alert_remove"
    ROLLBACK = "inference_rollback"
    CONFIRM_ROLLBACK = "inference_confirm_rollback"
    CANCEL_ROLLBACK = "inference_cancel_rollback"
    # An approval request's buttons (value: the request id) and the Home's.
    APPROVE = "inference_approve"
    DENY = "inference_deny"
    HOME_DEPLOY = "inference_home_deploy"
    HOME_STATUS = "inference_home_status"
    HOME_SCALE = "inference_home_scale"
    HOME_METRICS = "inference_home_metrics"


class Field(StrEnum):
    """`block_id` of each modal input; its element's `action_id` is the same string.

    Inline errors (`response_action: errors`) are keyed by these.
    """

    NAME = "f_name"
    PROJECT = "f_project"
    CLUSTER = "f_cluster"
    IMAGE = "f_image"
    COMMAND = "f_command"
    ARGS = "f_args"
    PORT = "f_port"
    GPU_DEVICES = "f_gpu_devices"
    GPU_PORTION = "f_gpu_portion"
    GPU_MEMORY = "f_gpu_memory"
    CPU_CORES = "f_cpu_cores"
    CPU_MEMORY = "f_cpu_memory"
    ENV = "f_env"
    MIN_REPLICAS = "f_min_replicas"
    MAX_REPLICAS = "f_max_replicas"
    METRIC = "f_metric"
    THRESHOLD = "f_threshold"
    RETENTION = "f_retention"
    HF_TOKEN = "f_hf_token"
    REASON = "f_reason"


class Block(StrEnum):
    """`block_id` prefixes of message blocks that handlers look for."""

    ACTIONS = "b_actions"
    SCHEDULE = "b_schedule"  # `b_schedule_<id>`: one row of the schedules list
    ERROR = "b_error"
    APPROVAL = "b_approval"  # `b_approval_<id>`: an approval request's message
    HOME = "b_home"  # `b_home_<section>`: the App Home's sections
