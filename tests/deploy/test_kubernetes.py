"""The Kustomize base in deploy/kubernetes, checked without a cluster, kubectl or kustomize.

Each check is a function that returns the problems it finds, run once on the shipped
base (no problems) and once on a copy broken on purpose (the problem is found), so no
check can pass by not looking. Where kubectl happens to be installed, its own build is
compared with what the checks read; nothing else needs it.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from bot.config import Settings
from bot.ops import READY_TIMEOUT_SECONDS
from bot.policy.load import parse_policy
from bot.policy.model import Action

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"

# Variables the Deployment may set that are not bot settings, each with the library that
# reads it (test_library_variables_are_read proves the library does).
LIBRARY_ENV = {"MPLCONFIGDIR": "matplotlib"}

# Fixed parts of the shutdown, beside SHUTDOWN_GRACE_SECONDS: uvicorn's
# timeout_graceful_shutdown (bot/serving.py) and the wait for the poller to go idle
# (WatchRuntime.stop in bot/watch/runtime.py).
UVICORN_GRACEFUL_SECONDS = 5
POLLER_IDLE_SECONDS = 10
# Leader RSS watching 10,000 workloads (README, "Benchmarks", bench/poll_scale.py).
BUSY_RSS_BYTES = 170 * 10**6

Doc = dict[str, Any]


@dataclass
class Base:
    """A Kustomize base as kustomize would see it: resources plus generated ConfigMaps."""

    root: Path
    kustomization: Doc
    resources: dict[str, list[Doc]] = field(default_factory=dict)
    generated: list[Doc] = field(default_factory=list)

    def objects(self) -> list[Doc]:
        """Every object the base would apply."""
        return [d for docs in self.resources.values() for d in docs] + self.generated

    def of_kind(self, kind: str) -> list[Doc]:
        """Every object of one kind."""
        return [o for o in self.objects() if o.get("kind") == kind]

    def deployment(self) -> Doc:
        """The one Deployment."""
        (found,) = self.of_kind("Deployment")
        return found

    def container(self) -> Doc:
        """The bot's container (the only one)."""
        (found,) = self.deployment()["spec"]["template"]["spec"]["containers"]
        return found

    def pod_labels(self) -> dict[str, str]:
        """The labels of the Deployment's pods."""
        labels: dict[str, str] = self.deployment()["spec"]["template"]["metadata"]["labels"]
        return labels


def _generator_files(kustomization: Doc) -> list[tuple[str, str]]:
    """(ConfigMap name, file) for every file of every configMapGenerator."""
    return [
        (gen["name"], entry)
        for gen in kustomization.get("configMapGenerator", [])
        for entry in gen.get("files", [])
    ]


def load_base(root: Path) -> Base:
    """Read kustomization.yaml, its resources and what its generators make."""
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    base = Base(root, kustomization)
    for name in kustomization.get("resources", []):
        path = root / name
        if path.is_file():
            base.resources[name] = [d for d in yaml.safe_load_all(path.read_text()) if d]
    made: dict[str, Doc] = {}
    for name, entry in _generator_files(kustomization):
        key, _, file = entry.rpartition("=") if "=" in entry else (entry, "", entry)
        path = root / file
        cm = made.setdefault(
            name,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}},
        )
        cm["data"][Path(key).name] = path.read_text() if path.is_file() else ""
    base.generated = list(made.values())
    return base


def settings_env_names() -> set[str]:
    """The environment variables `Settings` reads (pydantic-settings: upper-cased names)."""
    prefix = str(Settings.model_config.get("env_prefix") or "")
    assert Settings.model_config.get("case_sensitive") is False
    return {(prefix + name).upper() for name in Settings.model_fields}


def readme_secret_command() -> tuple[str, list[str]]:
    """The Secret's name and keys in the README's `kubectl create secret generic` command."""
    readme = (ROOT / "README.md").read_text()
    part = readme.split("### On Kubernetes", 1)[1].split("\n## ", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", part)
    command = re.search(r"kubectl .*?create secret generic (\S+)(.*)", joined)
    assert command, "README's 'On Kubernetes' shows how to create the Secret"
    return command.group(1), re.findall(r"--from-literal=([A-Za-z0-9_]+)=", command.group(2))


def dockerfile_uid() -> int:
    """The uid of the user the Dockerfile's run stage creates."""
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    runs = " ".join(i["value"] for i in parser.structure if i["instruction"] == "RUN")
    found = re.search(r"useradd\b.*?--uid (\d+)", runs)
    assert found, "the Dockerfile creates its user with a fixed uid"
    return int(found.group(1))


def _env(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def _env_value(container: Doc, name: str) -> str | None:
    value = _env(container).get(name, {}).get("value")
    return None if value is None else str(value)


def _container_port(container: Doc, port: int | str) -> int | None:
    for p in container.get("ports", []):
        if port in (p.get("name"), p["containerPort"]):
            return int(p["containerPort"])
    return None


def _quantity(text: str | int) -> float:
    """A Kubernetes quantity (100m, 256Mi, 1) as a number of units."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    assert match, text
    return float(match.group(1)) * units.get(match.group(2), 1)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --- the checks ---------------------------------------------------------------------------


def layout_problems(root: Path) -> list[str]:
    """Every listed file exists, and every manifest here is listed (or a generator's)."""
    kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
    problems = []
    if kustomization.get("kind") != "Kustomization":
        problems.append("kustomization.yaml is not a Kustomization")
    listed = list(kustomization.get("resources", []))
    if len(set(listed)) != len(listed):
        problems.append(f"resources listed twice: {listed}")
    generated = [e.rpartition("=")[2] for _, e in _generator_files(kustomization)]
    problems += [
        f"{f} is listed but missing" for f in listed + generated if not (root / f).is_file()
    ]
    present = {p.name for p in root.iterdir() if p.suffix in {".yaml", ".yml"}}
    unlisted = present - set(listed) - set(generated) - {"kustomization.yaml"}
    problems += [f"{f} is not in kustomization.yaml" for f in sorted(unlisted)]
    return problems


def schema_problems(base: Base) -> list[str]:
    """Every object fits the Kubernetes schemas (strict: unknown fields are errors)."""
    problems = []
    for obj in base.objects():
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.absolute_path)
            problems.append(f"{where}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{where}: {exc.message}")
    return problems


def env_problems(base: Base) -> list[str]:
    """The Deployment sets only variables the bot (or a named library) reads."""
    container = base.container()
    known = settings_env_names() | set(LIBRARY_ENV)
    problems = [f"{name} is read by nothing" for name in _env(container) if name not in known]
    if container.get("envFrom"):
        problems.append("envFrom hides which variables are set: name each one")
    if "SLACK_APP_TOKEN" in _env(container):
        problems.append("SLACK_APP_TOKEN is set: the bot would use Socket Mode, not HTTP")
    port = _env_value(container, "PORT")
    if port is None or _container_port(container, int(port)) is None:
        problems.append(f"PORT={port} is not a port of the container")
    if "DATABASE_URL" not in _env(container):
        problems.append("DATABASE_URL is unset: the image's default is SQLite, one process only")
    return problems


def secret_problems(base: Base) -> list[str]:
    """No Secret with values is shipped; the one referenced is the README's, same keys."""
    problems = [
        f"Secret {o['metadata']['name']} ships values"
        for o in base.of_kind("Secret")
        if o.get("data") or o.get("stringData")
    ]
    refs = [
        e["valueFrom"]["secretKeyRef"]
        for e in _env(base.container()).values()
        if "secretKeyRef" in e.get("valueFrom", {})
    ]
    name, keys = readme_secret_command()
    problems += [
        f"refers to Secret {r['name']}, README creates {name}" for r in refs if r["name"] != name
    ]
    if sorted(r["key"] for r in refs) != sorted(keys):
        problems.append(f"Secret keys read {sorted(r['key'] for r in refs)}, README sets {keys}")
    problems += [
        f"README's key {k} is read by nothing" for k in keys if k not in settings_env_names()
    ]
    problems += [f"Secret key {r['key']} is optional" for r in refs if r.get("optional")]
    return problems


def probe_problems(base: Base) -> list[str]:
    """Liveness and startup on /healthz, readiness on /readyz, on the container's port."""
    container = base.container()
    problems = []
    wanted = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in wanted.items():
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path:
            problems.append(f"{probe} asks {get.get('path')}, not {path}")
        if _container_port(container, get.get("port", -1)) != int(
            _env_value(container, "PORT") or 0
        ):
            problems.append(f"{probe} is not on the port the bot serves (PORT)")
    timeout = container.get("readinessProbe", {}).get("timeoutSeconds", 1)
    if timeout <= READY_TIMEOUT_SECONDS:
        problems.append(f"readiness gives up after {timeout}s, before /readyz answers a 503")
    return problems


def security_problems(base: Base) -> list[str]:
    """Non-root as the image's user, read-only root, no capabilities, seccomp, no token."""
    pod = base.deployment()["spec"]["template"]["spec"]
    container = base.container()
    pod_sc, sc = pod.get("securityContext", {}), container.get("securityContext", {})
    problems = []
    if not (pod_sc.get("runAsNonRoot") or sc.get("runAsNonRoot")):
        problems.append("runAsNonRoot is not set")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) != dockerfile_uid():
        problems.append("runAsUser is not the Dockerfile's user")
    seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
    if seccomp.get("type") != "RuntimeDefault":
        problems.append(f"seccomp profile is {seccomp}")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("the root filesystem is writable")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("privilege escalation is allowed")
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"] or caps.get("add"):
        problems.append(f"capabilities are {caps}")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("a service account token is mounted")
    accounts = {a["metadata"]["name"]: a for a in base.of_kind("ServiceAccount")}
    account = accounts.get(pod.get("serviceAccountName", "default"))
    if account is None or account.get("automountServiceAccountToken") is not False:
        problems.append("the pods' ServiceAccount is not the base's own, token-less one")
    if pod.get("enableServiceLinks") is not False:
        problems.append("Service links would put {NAME}_PORT variables in the environment")
    # Where the process writes: /tmp, and matplotlib's font cache.
    empty = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    for path in ("/tmp", _env_value(container, "MPLCONFIGDIR")):
        if path is None or mounts.get(path) not in empty:
            problems.append(f"{path} is not a writable emptyDir")
    return problems


def selector_problems(base: Base) -> list[str]:
    """Deployment, Service, NetworkPolicy, PDB and spread constraints select the pods."""
    labels = base.pod_labels()
    deployment = base.deployment()
    selectors = {
        "Deployment": deployment["spec"]["selector"]["matchLabels"],
        **{
            f"Service/{s['metadata']['name']}": s["spec"]["selector"]
            for s in base.of_kind("Service")
        },
        **{
            f"NetworkPolicy/{n['metadata']['name']}": n["spec"]["podSelector"]["matchLabels"]
            for n in base.of_kind("NetworkPolicy")
        },
        **{
            f"PodDisruptionBudget/{p['metadata']['name']}": p["spec"]["selector"]["matchLabels"]
            for p in base.of_kind("PodDisruptionBudget")
        },
    }
    spread = deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
    for c in spread:
        selectors[f"spread over {c['topologyKey']}"] = c["labelSelector"]["matchLabels"]
    problems = [
        f"{who} selects {s}, pods are {labels}"
        for who, s in selectors.items()
        if not _selects(s, labels)
    ]
    for kind in ("Service", "NetworkPolicy", "PodDisruptionBudget"):
        if not base.of_kind(kind):
            problems.append(f"no {kind}")
    for svc in base.of_kind("Service"):
        for port in svc["spec"]["ports"]:
            if _container_port(base.container(), port["targetPort"]) is None:
                problems.append(f"Service port {port['port']} targets no container port")
    return problems


def placement_problems(base: Base) -> list[str]:
    """Two replicas, kept off one node, drained one at a time, stopped within the grace."""
    deployment = base.deployment()
    pod = deployment["spec"]["template"]["spec"]
    problems = []
    if deployment["spec"].get("replicas") != 2:
        problems.append(f"replicas: {deployment['spec'].get('replicas')}")
    hard_by_node = [
        c
        for c in pod.get("topologySpreadConstraints", [])
        if c["topologyKey"] == "kubernetes.io/hostname"
        and c["whenUnsatisfiable"] == "DoNotSchedule"
        and c["maxSkew"] == 1
    ]
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    hard_anti = [
        t
        for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
        if t["topologyKey"] == "kubernetes.io/hostname"
    ]
    if not (hard_by_node or hard_anti):
        problems.append("nothing keeps the two replicas on different nodes")
    for pdb in base.of_kind("PodDisruptionBudget"):
        if pdb["spec"].get("maxUnavailable") != 1 and pdb["spec"].get("minAvailable") != 1:
            problems.append("the PodDisruptionBudget does not keep one replica up")
    container = base.container()
    grace = float(
        _env_value(container, "SHUTDOWN_GRACE_SECONDS") or Settings().shutdown_grace_seconds
    )
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    sleep = pre_stop.get("sleep", {}).get("seconds") or int(
        next((a for a in pre_stop.get("exec", {}).get("command", []) if str(a).isdigit()), 0)
    )
    needed = sleep + UVICORN_GRACEFUL_SECONDS + grace + POLLER_IDLE_SECONDS
    termination = pod.get("terminationGracePeriodSeconds", 30)
    if termination <= needed:
        problems.append(
            f"terminationGracePeriodSeconds {termination} <= {needed:g} the shutdown takes"
        )
    return problems


def resource_problems(base: Base) -> list[str]:
    """Requests and limits for CPU and memory, requests covering a busy leader."""
    resources = base.container().get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    problems = [
        f"no {kind} {what}"
        for kind, values in (("requests", requests), ("limits", limits))
        for what in ("cpu", "memory")
        if what not in values
    ]
    for what in set(requests) & set(limits):
        if _quantity(requests[what]) > _quantity(limits[what]):
            problems.append(f"{what} request above its limit")
    if "memory" in requests and _quantity(requests["memory"]) < BUSY_RSS_BYTES:
        problems.append("the memory request is below a busy leader's measured RSS")
    return problems


def network_problems(base: Base) -> list[str]:
    """In: the bot's port. Out: DNS, HTTPS and PostgreSQL, nothing else."""
    problems = []
    for policy in base.of_kind("NetworkPolicy"):
        spec = policy["spec"]
        if sorted(spec.get("policyTypes", [])) != ["Egress", "Ingress"]:
            problems.append(f"policyTypes {spec.get('policyTypes')}")

        def ports(rules: list[Doc]) -> set[tuple[int, str]]:
            found = set()
            for rule in rules:
                if not rule.get("ports"):
                    problems.append("a rule without ports allows every port")
                for p in rule.get("ports", []):
                    found.add((p["port"], p.get("protocol", "TCP")))
            return found

        port = int(_env_value(base.container(), "PORT") or 0)
        if ports(spec.get("ingress", [])) != {(port, "TCP")}:
            problems.append("ingress is not the bot's port alone")
        want = {(53, "UDP"), (53, "TCP"), (443, "TCP"), (5432, "TCP")}
        if ports(spec.get("egress", [])) != want:
            problems.append(f"egress is not {sorted(want)}")
    return problems


def policy_problems(base: Base) -> list[str]:
    """POLICY_FILE names a file mounted from a ConfigMap the base makes, and it parses."""
    pod = base.deployment()["spec"]["template"]["spec"]
    container = base.container()
    path = _env_value(container, "POLICY_FILE")
    if not path:
        return ["POLICY_FILE is unset: everyone may do everything"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        directory = mount["mountPath"].rstrip("/") + "/"
        cm = volumes.get(mount["name"], {}).get("configMap")
        if cm and path.startswith(directory):
            made = {c["metadata"]["name"]: c for c in base.of_kind("ConfigMap")}
            key = path[len(directory) :]
            if cm["name"] not in made or key not in made[cm["name"]].get("data", {}):
                return [f"{path}: ConfigMap {cm['name']} has no key {key}"]
            policy = parse_policy(made[cm["name"]]["data"][key], path)
            writes = [a for a in Action if a is not Action.READ and policy.default.who(a)]
            if policy.open or writes:
                return ["the shipped policy lets anyone change workloads"]
            return []
    return [f"{path} is not on a ConfigMap volume"]


def image_problems(base: Base) -> list[str]:
    """The image is the one the images: entry retags, at the project's version."""
    images = {i["name"]: i for i in base.kustomization.get("images", [])}
    image = base.container()["image"]
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    if image not in images:
        return [f"image {image} has no images: entry"]
    if images[image].get("newTag") != version.group(1):
        return [f"image tag {images[image].get('newTag')} is not version {version.group(1)}"]
    return []


CHECKS: dict[str, Callable[[Base], list[str]]] = {
    "schema": schema_problems,
    "env": env_problems,
    "secret": secret_problems,
    "probe": probe_problems,
    "security": security_problems,
    "selector": selector_problems,
    "placement": placement_problems,
    "resource": resource_problems,
    "network": network_problems,
    "policy": policy_problems,
    "image": image_problems,
}


# --- the shipped base ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> Base:
    return load_base(BASE)


def test_every_manifest_is_listed_and_every_listed_file_exists() -> None:
    assert layout_problems(BASE) == []


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_the_base(base: Base, check: str) -> None:
    assert CHECKS[check](base) == []


def test_readme_secret_keys_are_settings() -> None:
    name, keys = readme_secret_command()
    assert name == "inference-bot"
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL"} <= set(keys)


def test_library_variables_are_read(tmp_path: Path) -> None:
    """MPLCONFIGDIR really moves matplotlib's cache (the bot's home is read-only)."""
    assert set(LIBRARY_ENV) == {"MPLCONFIGDIR"}
    where = tmp_path / "mpl"
    done = subprocess.run(
        [sys.executable, "-c", "import matplotlib; print(matplotlib.get_cachedir())"],
        env={"MPLCONFIGDIR": str(where), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(where)


# --- each check finds what it is for ------------------------------------------------------


def _container(d: Base) -> Doc:
    return d.container()


def _pod(d: Base) -> Doc:
    return d.deployment()["spec"]["template"]["spec"]


def _set_env(d: Base, name: str, value: str) -> None:
    _container(d)["env"] = [e for e in _container(d)["env"] if e["name"] != name]
    _container(d)["env"].append({"name": name, "value": value})


def _secret(d: Base) -> None:
    d.resources["secret.yaml"] = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"a": "b"}}
    ]


BREAKS: dict[str, tuple[str, Callable[[Base], None]]] = {
    "unknown field": ("schema", lambda d: _container(d).update(readOnly=True)),
    "wrong type": ("schema", lambda d: d.deployment()["spec"].update(replicas="two")),
    "typo in a field": ("schema", lambda d: _pod(d).update(terminationGracePeriod=40)),
    "not a setting": ("env", lambda d: _set_env(d, "POLL_INTERVAL", "5")),
    "socket mode": ("env", lambda d: _set_env(d, "SLACK_APP_TOKEN", "xapp-1")),
    "wrong port": ("env", lambda d: _set_env(d, "PORT", "8080")),
    "secret shipped": ("secret", _secret),
    "secret key dropped": ("secret", lambda d: _container(d)["env"].pop()),
    "liveness on readyz": (
        "probe",
        lambda d: _container(d)["livenessProbe"]["httpGet"].update(path="/readyz"),
    ),
    "readiness elsewhere": (
        "probe",
        lambda d: _container(d)["readinessProbe"]["httpGet"].update(port=8080),
    ),
    "readiness impatient": (
        "probe",
        lambda d: _container(d)["readinessProbe"].update(timeoutSeconds=2),
    ),
    "writable root": (
        "security",
        lambda d: _container(d)["securityContext"].update(readOnlyRootFilesystem=False),
    ),
    "a capability": (
        "security",
        lambda d: _container(d)["securityContext"]["capabilities"].update(add=["NET_RAW"]),
    ),
    "root user": ("security", lambda d: _pod(d)["securityContext"].update(runAsUser=0)),
    "no seccomp": ("security", lambda d: _pod(d)["securityContext"].pop("seccompProfile")),
    "no /tmp": (
        "security",
        lambda d: _container(d).update(
            volumeMounts=[m for m in _container(d)["volumeMounts"] if m["mountPath"] != "/tmp"]
        ),
    ),
    "service links": ("security", lambda d: _pod(d).pop("enableServiceLinks")),
    "default account": ("security", lambda d: _pod(d).pop("serviceAccountName")),
    "service selector": (
        "selector",
        lambda d: d.of_kind("Service")[0]["spec"].update(selector={"app": "other"}),
    ),
    "pdb selector": (
        "selector",
        lambda d: d.of_kind("PodDisruptionBudget")[0]["spec"]["selector"].update(
            matchLabels={"app": "other"}
        ),
    ),
    "networkpolicy selector": (
        "selector",
        lambda d: d.of_kind("NetworkPolicy")[0]["spec"]["podSelector"].update(
            matchLabels={"app.kubernetes.io/name": "other"}
        ),
    ),
    "one replica": ("placement", lambda d: d.deployment()["spec"].update(replicas=1)),
    "same node allowed": ("placement", lambda d: _pod(d).pop("topologySpreadConstraints")),
    "grace too short": ("placement", lambda d: _set_env(d, "SHUTDOWN_GRACE_SECONDS", "30")),
    "no limits": ("resource", lambda d: _container(d)["resources"].pop("limits")),
    "too little memory": (
        "resource",
        lambda d: _container(d)["resources"]["requests"].update(memory="128Mi"),
    ),
    "egress open": (
        "network",
        lambda d: d.of_kind("NetworkPolicy")[0]["spec"]["egress"].append({}),
    ),
    "egress to http": (
        "network",
        lambda d: d.of_kind("NetworkPolicy")[0]["spec"]["egress"].append({"ports": [{"port": 80}]}),
    ),
    "no policy file": (
        "policy",
        lambda d: _container(d).update(
            env=[e for e in _container(d)["env"] if e["name"] != "POLICY_FILE"]
        ),
    ),
    "open policy": (
        "policy",
        lambda d: d.generated[0]["data"].update({"policy.yaml": "default: {create: ['*']}"}),
    ),
    "untagged image": ("image", lambda d: d.kustomization.pop("images")),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_check_finds_its_break(base: Base, name: str) -> None:
    check, breaking = BREAKS[name]
    broken = copy.deepcopy(base)
    breaking(broken)
    assert CHECKS[check](broken), f"{check} did not notice: {name}"


@pytest.mark.parametrize("how", ["unlisted", "missing", "generator file missing"])
def test_layout_finds_its_break(tmp_path: Path, how: str) -> None:
    root = tmp_path / "kubernetes"
    shutil.copytree(BASE, root)
    if how == "unlisted":
        (root / "ingress.yaml").write_text("kind: Ingress\n")
    elif how == "missing":
        (root / "service.yaml").unlink()
    else:
        (root / "policy.yaml").unlink()
    assert layout_problems(root)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl (the checks need none)")
def test_kubectl_kustomize_builds_what_the_checks_read(base: Base) -> None:
    """Where kubectl is installed, its build is what load_base reads, and passes the checks."""
    built = subprocess.run(
        ["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    objects = [d for d in yaml.safe_load_all(built) if d]
    generated = {g["metadata"]["name"] for g in base.generated}

    def unhashed(name: str) -> str:
        stem = name.rsplit("-", 1)[0]
        return stem if stem in generated else name

    assert sorted((o["kind"], unhashed(o["metadata"]["name"])) for o in objects) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in base.objects()
    )
    as_built = Base(BASE, base.kustomization, {"built": objects})
    for name, check in CHECKS.items():
        if name != "image":  # the build has applied the images: entry already
            assert check(as_built) == [], name
    (version,) = [i["newTag"] for i in base.kustomization["images"]]
    assert as_built.container()["image"] == f"inference-bot:{version}"
