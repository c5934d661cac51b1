"""deploy/k8s, checked offline: the generated base is up to date, both overlays build with
kustomize (`kubectl kustomize`), every core object validates against Kubernetes' own schema
(kubernetes-validate), the operators' resources have the shape their CRDs ask for, and the
manifests say what the platform needs: every service runs from the one image with its
command, probed on its real health endpoints and ports, with resources, a disruption budget,
an autoscaler and its migrations first; only the gateway is reachable from outside; the
services only from the gateway; the database and the broker only from the services; no secret
value outside the development overlay."""

from __future__ import annotations

import base64
import functools
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from deploy import k8s
from deploy.rabbitmq import users
from shared import grants, sessions
from shared.runtime import CONSUMER_QUEUES, add_health_routes, new_app
from shared.services import SERVICES, Service
from shared.settings import ROOT, Settings
from tests.support.platform import BUILDERS, make_settings

KUBECTL = Path(sys.executable).parent / "kubectl"
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
# The oldest Kubernetes whose schemas kubernetes-validate bundles (1.34): what the manifests
# use (the preStop sleep action among them) is there.
KUBERNETES_VERSION = "1.34.0"
GATEWAY = next(s for s in SERVICES if s.public)

Doc = dict[str, Any]


def _build(overlay: str) -> list[Doc]:
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(OVERLAYS / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="module")
def built() -> dict[str, list[Doc]]:
    return {overlay: _build(overlay) for overlay in ("development", "production")}


def _all(built: dict[str, list[Doc]]) -> Iterator[tuple[str, list[Doc]]]:
    yield from built.items()


def _of(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _is_core(doc: Doc) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return group == "" or "." not in group or group.endswith(".k8s.io")


def test_the_base_is_generated_from_the_list_of_services() -> None:
    assert k8s.stale() == [], "deploy/k8s/base is stale: run python -m deploy.k8s"
    assert k8s.main(["--check"]) == 0


def test_core_objects_are_valid_kubernetes(
    built: dict[str, list[Doc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # kubernetes-validate reads (and parses) its schema files again for every object: once is
    # enough here (they are only read).
    monkeypatch.setattr(
        kubernetes_validate.utils,
        "schema_contents",
        functools.lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents),
    )
    for overlay, docs in _all(built):
        core = [d for d in docs if _is_core(d)]
        assert {d["kind"] for d in core} >= {
            "Namespace",
            "ConfigMap",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "NetworkPolicy",
            "Ingress",
        }
        for doc in core:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                name = f"{overlay}: {doc['kind']}/{doc['metadata']['name']}"
                pytest.fail(f"{name}: {'.'.join(map(str, error.path))}: {error.message}")
            assert doc["metadata"].get("namespace", k8s.NAMESPACE) == k8s.NAMESPACE


# The fields of the operators' resources that the manifests use, as their CRDs define them
# (RabbitMQ Cluster Operator and messaging topology operator rabbitmq.com/v1beta1, KEDA
# keda.sh/v1alpha1, CloudNativePG postgresql.cnpg.io/v1): a misspelt or misplaced field fails.
_NAME_REF = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}},
    "additionalProperties": False,
}
_KEY_REF = {
    "type": "object",
    "required": ["name", "key"],
    "properties": {"name": {"type": "string"}, "key": {"type": "string"}},
    "additionalProperties": False,
}
_QUANTITIES = {"type": "object", "additionalProperties": {"type": "string"}}
_RESOURCES = {
    "type": "object",
    "properties": {"requests": _QUANTITIES, "limits": _QUANTITIES},
    "additionalProperties": False,
}


def _spec(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": required,
                "properties": properties,
                "additionalProperties": False,
            }
        },
    }


CUSTOM_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): _spec(
        {
            "replicas": {"type": "integer", "minimum": 1},
            "image": {"type": "string"},
            "resources": _RESOURCES,
            "persistence": {
                "type": "object",
                "properties": {"storage": {"type": "string"}, "storageClassName": {}},
                "additionalProperties": False,
            },
            "rabbitmq": {
                "type": "object",
                "properties": {
                    "additionalConfig": {"type": "string"},
                    "additionalPlugins": {"type": "array"},
                },
                "additionalProperties": False,
            },
            "affinity": {"type": "object"},
        },
        ["replicas"],
    ),
    ("rabbitmq.com/v1beta1", "User"): _spec(
        {
            "tags": {"type": "array", "items": {"type": "string"}},
            "rabbitmqClusterReference": _NAME_REF,
            "importCredentialsSecret": _NAME_REF,
        },
        ["rabbitmqClusterReference"],
    ),
    ("rabbitmq.com/v1beta1", "Permission"): _spec(
        {
            "vhost": {"type": "string"},
            "user": {"type": "string"},
            "userReference": _NAME_REF,
            "permissions": {
                "type": "object",
                "required": ["configure", "write", "read"],
                "properties": {k: {"type": "string"} for k in ("configure", "write", "read")},
                "additionalProperties": False,
            },
            "rabbitmqClusterReference": _NAME_REF,
        },
        ["vhost", "permissions", "rabbitmqClusterReference"],
    ),
    ("keda.sh/v1alpha1", "ScaledObject"): _spec(
        {
            "scaleTargetRef": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "kind": {}, "apiVersion": {}},
                "additionalProperties": False,
            },
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer"},
            "cooldownPeriod": {"type": "integer"},
            "advanced": {"type": "object"},
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["type", "metadata"],
                    "properties": {
                        "type": {"enum": ["cpu", "memory", "rabbitmq"]},
                        "name": {"type": "string"},
                        "metricType": {"enum": ["Utilization", "AverageValue", "Value"]},
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                        "authenticationRef": _NAME_REF,
                    },
                    "additionalProperties": False,
                },
            },
        },
        ["scaleTargetRef", "triggers"],
    ),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): _spec(
        {
            "secretTargetRef": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["parameter", "name", "key"],
                    "additionalProperties": False,
                    "properties": {k: {"type": "string"} for k in ("parameter", "name", "key")},
                },
            }
        },
        [],
    ),
    ("postgresql.cnpg.io/v1", "Cluster"): _spec(
        {
            "instances": {"type": "integer", "minimum": 1},
            "imageName": {"type": "string", "pattern": r":\d+\.\d+"},
            "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
            "storage": {
                "type": "object",
                "required": ["size"],
                "properties": {"size": {"type": "string"}, "storageClass": {}},
                "additionalProperties": False,
            },
            "resources": _RESOURCES,
            "postgresql": {
                "type": "object",
                "properties": {
                    "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
                    "synchronous": {
                        "type": "object",
                        "required": ["method", "number"],
                        "properties": {"method": {"enum": ["any", "first"]}, "number": {}},
                    },
                },
                "additionalProperties": False,
            },
            "managed": {
                "type": "object",
                "properties": {
                    "roles": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "ensure": {"enum": ["present", "absent"]},
                                "login": {"type": "boolean"},
                                "createdb": {"type": "boolean"},
                                "createrole": {"type": "boolean"},
                                "superuser": {"type": "boolean"},
                                "passwordSecret": _NAME_REF,
                            },
                            "additionalProperties": False,
                        },
                    }
                },
                "additionalProperties": False,
            },
            "backup": {
                "type": "object",
                "properties": {
                    "retentionPolicy": {"type": "string", "pattern": r"^\d+[dwm]$"},
                    "barmanObjectStore": {
                        "type": "object",
                        "required": ["destinationPath"],
                        "properties": {
                            "destinationPath": {"type": "string"},
                            "s3Credentials": {
                                "type": "object",
                                "properties": {
                                    "accessKeyId": _KEY_REF,
                                    "secretAccessKey": _KEY_REF,
                                },
                                "additionalProperties": False,
                            },
                            "wal": {"type": "object"},
                            "data": {"type": "object"},
                        },
                        "additionalProperties": False,
                    },
                },
                "additionalProperties": False,
            },
            "affinity": {
                "type": "object",
                "properties": {"enablePodAntiAffinity": {"type": "boolean"}, "topologyKey": {}},
                "additionalProperties": False,
            },
        },
        ["instances", "storage"],
    ),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): _spec(
        {
            # CloudNativePG's schedule has six fields: seconds first.
            "schedule": {"type": "string", "pattern": r"^\S+( \S+){5}$"},
            "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
            "cluster": _NAME_REF,
        },
        ["schedule", "cluster"],
    ),
}


def test_custom_resources_have_the_shape_their_operators_expect(
    built: dict[str, list[Doc]],
) -> None:
    for overlay, docs in _all(built):
        custom = [d for d in docs if not _is_core(d)]
        kinds = {d["kind"] for d in custom}
        assert kinds >= {
            "RabbitmqCluster",
            "User",
            "Permission",
            "Cluster",
            "ScaledObject",
            "TriggerAuthentication",
        }, overlay
        for doc in custom:
            schema = CUSTOM_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
            assert schema is not None, f"{doc['apiVersion']} {doc['kind']} has no schema here"
            jsonschema.validate(doc, schema)
        names = {(d["kind"], d["metadata"]["name"]) for d in docs}
        for doc in custom:
            spec = doc["spec"]
            for ref in ("rabbitmqClusterReference",):
                if ref in spec:
                    assert ("RabbitmqCluster", spec[ref]["name"]) in names
            if doc["kind"] == "Permission":
                assert ("User", spec["userReference"]["name"]) in names
            if doc["kind"] == "ScaledObject":
                assert ("Deployment", spec["scaleTargetRef"]["name"]) in names
                for trigger in spec["triggers"]:
                    if "authenticationRef" in trigger:
                        auth = ("TriggerAuthentication", trigger["authenticationRef"]["name"])
                        assert auth in names
            if doc["kind"] == "ScheduledBackup":
                assert ("Cluster", spec["cluster"]["name"]) in names


def test_broker_and_database_are_clustered(built: dict[str, list[Doc]]) -> None:
    production = built["production"]
    broker = _of(production, "RabbitmqCluster")[k8s.RABBITMQ]["spec"]
    assert broker["replicas"] == 3
    # Three nodes on three machines, or one machine's loss takes two.
    anti = broker["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    database = _of(production, "Cluster")[k8s.POSTGRES]["spec"]
    assert database["instances"] >= 2  # a primary and at least one standby
    assert database["postgresql"]["synchronous"]["number"] >= 1
    assert "barmanObjectStore" in database["backup"]
    # The base, too, has a standby; the queues are quorum queues everywhere.
    base_database = yaml.safe_load((k8s.BASE / "postgres.yaml").read_text())
    assert base_database["spec"]["instances"] >= 2
    for _overlay, docs in _all(built):
        assert _of(docs, "ConfigMap")["ebok-config"]["data"]["EBOK_QUEUE_TYPE"] == "quorum"
        role = _of(docs, "Cluster")[k8s.POSTGRES]["spec"]["managed"]["roles"][0]
        assert (role["createdb"], role["createrole"], role["superuser"]) == (True, True, False)


def test_the_database_takes_every_instance_at_the_autoscalers_maximum(
    built: dict[str, list[Doc]],
) -> None:
    for overlay, docs in _all(built):
        pool = int(_of(docs, "ConfigMap")["ebok-config"]["data"]["EBOK_DB_POOL_MAX"])
        scaled = _of(docs, "ScaledObject")
        autoscalers = _of(docs, "HorizontalPodAutoscaler")
        most = 0
        for service in SERVICES:
            if not service.owns_database:
                continue
            if service.name in scaled:
                instances = scaled[service.name]["spec"]["maxReplicaCount"]
            else:
                instances = autoscalers[service.name]["spec"]["maxReplicas"]
            # A rolling update adds one pod (maxSurge) whose init container migrates.
            most += (instances + 1) * (pool + k8s.CONNECTIONS_BESIDES_POOL)
        parameters = _of(docs, "Cluster")[k8s.POSTGRES]["spec"]["postgresql"]["parameters"]
        assert most + k8s.RESERVED_CONNECTIONS <= int(parameters["max_connections"]), overlay


def test_broker_users_and_permissions_are_deploy_rabbitmq_s(built: dict[str, list[Doc]]) -> None:
    wanted = users(k8s.NAMESPACE)
    for overlay, docs in _all(built):
        found = {name: doc["spec"]["permissions"] for name, doc in _of(docs, "Permission").items()}
        assert found == {name: vars(p) for name, p in wanted.items()}, overlay
        for name, user in _of(docs, "User").items():
            secret = user["spec"]["importCredentialsSecret"]["name"]
            assert secret == k8s.amqp_secret(name.removeprefix(f"{k8s.NAMESPACE}-"))
    # The development Secrets carry the user names the permissions are for.
    secrets = _of(built["development"], "Secret")
    for name in wanted:
        who = name.removeprefix(f"{k8s.NAMESPACE}-")
        data = secrets[k8s.amqp_secret(who)]["data"]
        assert _decoded(data["username"]) == name


def _decoded(value: str) -> str:
    return base64.b64decode(value).decode()


def _deployment(docs: list[Doc], service: Service) -> Doc:
    return _of(docs, "Deployment")[service.name]


def _port_number(container: Doc, port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def test_health_paths_are_the_ones_services_serve(keys: Path) -> None:
    settings = make_settings("postgresql://x/y", "amqp://x", keys)
    ops = new_app(settings)
    add_health_routes(ops, {})
    paths = {r.resource.canonical for r in ops.router.routes() if r.resource}
    assert {"/health/live", "/health/ready", "/metrics"} <= paths
    for name, build in BUILDERS.items():
        app = build(settings)
        served = {r.resource.canonical for r in app.router.routes() if r.resource}
        assert "/health/live" in served, name
        if name != GATEWAY.name:  # the gateway: on its operations listener (above)
            assert {"/health/ready", "/metrics"} <= served, name


def _dockerfile_user() -> int:
    """The numeric id of the user the image runs as (`USER 10001` or `USER ebok` made by
    `useradd --uid 10001 ebok`): the pods run as that id (runAsUser), so the kubelet can check
    runAsNonRoot either way."""
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    users_made = {
        name: int(uid) for uid, name in re.findall(r"useradd [^\n]*--uid (\d+)[^\n]* (\w+)\s", text)
    }
    found = re.findall(r"^USER (\w+)", text, re.M)
    assert found, "deploy/Dockerfile names the user it runs as"
    user = found[-1].split(":")[0]
    uid = int(user) if user.isdigit() else users_made.get(user)
    assert uid is not None and uid != 0, f"deploy/Dockerfile's USER {user} has no known uid"
    return uid


def test_every_service_runs_probed_bounded_and_unprivileged(built: dict[str, list[Doc]]) -> None:
    user = _dockerfile_user()
    for overlay, docs in _all(built):
        images = set()
        for service in SERVICES:
            deployment = _deployment(docs, service)
            pod = deployment["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            assert container["command"] == ["python", "-m", service.module]
            images.add(container["image"])
            live = container["livenessProbe"]["httpGet"]
            ready = container["readinessProbe"]["httpGet"]
            startup = container["startupProbe"]["httpGet"]
            assert live["path"] == startup["path"] == "/health/live"
            assert ready["path"] == "/health/ready"
            assert _port_number(container, live["port"]) == service.port
            ready_port = k8s.GATEWAY_OPS_PORT if service.public else service.port
            assert _port_number(container, ready["port"]) == ready_port
            for container_or_init in [container, *pod.get("initContainers", [])]:
                resources = container_or_init["resources"]
                for bound in ("requests", "limits"):
                    assert set(resources[bound]) == {"cpu", "memory"}, service.name
                security = container_or_init["securityContext"]
                assert security["allowPrivilegeEscalation"] is False
                assert security["readOnlyRootFilesystem"] is True
                assert security["capabilities"]["drop"] == ["ALL"]
                images.add(container_or_init["image"])
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] == user
            assert pod["automountServiceAccountToken"] is False
            # Migrations first, by the same image, for a service with a database.
            init = pod.get("initContainers", [])
            if service.owns_database:
                assert [c["command"] for c in init] == [
                    ["python", "-m", "deploy.migrate", service.name]
                ]
                env = {e["name"] for e in init[0]["env"]}
                assert {"EBOK_DATABASE_URL", "EBOK_DATABASE_APP_PASSWORD"} <= env
                assert not {n for n in env if "AMQP" in n}
            else:
                assert init == []
            # Zero downtime: a new pod is ready before an old one goes.
            rolling = deployment["spec"]["strategy"]["rollingUpdate"]
            assert rolling == {"maxSurge": 1, "maxUnavailable": 0}
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            budget = _of(docs, "PodDisruptionBudget")[service.name]["spec"]
            assert budget["selector"]["matchLabels"].items() <= labels.items()
            kube_service = _of(docs, "Service")[service.name]["spec"]
            assert kube_service["selector"].items() <= labels.items()
            assert service.port in {p["port"] for p in kube_service["ports"]}
        # One image for every service; production names a release, never `latest`.
        assert len(images) == 1, (overlay, images)
        (image,) = images
        if overlay == "production":
            assert re.fullmatch(r"[\w.\-/:]+:[\w.\-]+", image) and not image.endswith(":latest")


def test_gateway_scales_on_cpu_and_consumers_on_their_queues(
    built: dict[str, list[Doc]], keys: Path
) -> None:
    settings = make_settings("postgresql://x/y", "amqp://x", keys, namespace=k8s.NAMESPACE)
    in_order = {s.purpose: s.in_order for s in (sessions.SUBSCRIPTION, grants.SUBSCRIPTION)}
    for service in SERVICES:
        queues = BUILDERS[service.name](settings).get(CONSUMER_QUEUES, [])
        if queues:
            handlers = importlib.import_module(f"{service.module}.handlers")
            order = {**in_order, **{s.purpose: s.in_order for s in handlers.SUBSCRIPTIONS}}
            queues = [q for q in queues if not order[q.rsplit(".", 1)[1]]]
        wanted = {
            f"{k8s.NAMESPACE}.{service.name}.{p}" for p in k8s.SCALE_ON_QUEUES.get(service.name, ())
        }
        assert set(queues) == wanted, f"deploy/k8s.py SCALE_ON_QUEUES[{service.name!r}] is stale"
    for overlay, docs in _all(built):
        autoscalers = _of(docs, "HorizontalPodAutoscaler")
        scaled = _of(docs, "ScaledObject")
        for service in SERVICES:
            if service.name not in k8s.SCALE_ON_QUEUES:
                hpa = autoscalers[service.name]["spec"]
                assert hpa["scaleTargetRef"]["name"] == service.name
                assert hpa["metrics"][0]["resource"]["name"] == "cpu"
                assert service.name not in scaled
                continue
            # KEDA makes the HPA itself: one autoscaler per Deployment, never two.
            assert service.name not in autoscalers
            spec = scaled[service.name]["spec"]
            on_queues = {
                t["metadata"]["queueName"] for t in spec["triggers"] if t["type"] == "rabbitmq"
            }
            assert on_queues == {
                f"{k8s.NAMESPACE}.{service.name}.{p}" for p in k8s.SCALE_ON_QUEUES[service.name]
            }
            assert any(t["type"] == "cpu" for t in spec["triggers"])
            for trigger in spec["triggers"]:
                host = trigger["metadata"].get("host", "")
                assert "@" not in host  # credentials come from the TriggerAuthentication
                if trigger["type"] == "rabbitmq":
                    # KEDA's operator runs in its own namespace: the broker by its full name.
                    assert host.startswith(f"amqp://{k8s.RABBITMQ}.{k8s.NAMESPACE}.svc:")
            if overlay == "production":
                assert spec["minReplicaCount"] >= 2


def _environment(docs: list[Doc], service: Service) -> dict[str, str]:
    """The container's environment as Kubernetes makes it ($(VAR) expanded), each value from a
    Secret made up as `<secret>.<key>` (URL-safe, as the runbook asks of passwords)."""
    config = _of(docs, "ConfigMap")
    (container,) = _deployment(docs, service)["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            env.update(config[source["configMapRef"]["name"]]["data"])
        elif source["secretRef"]["name"] == "ebok-internal-token":
            env["EBOK_INTERNAL_TOKEN"] = "a" * 43
    for variable in container["env"]:
        if "value" in variable:
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env[m.group(1)], variable["value"]
            )
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            env[variable["name"]] = f"{ref['name']}.{ref['key']}"
    return env


def test_the_settings_a_service_gets_are_valid_and_point_at_the_cluster(
    built: dict[str, list[Doc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {f"EBOK_{name.upper()}" for name in Settings.model_fields}
    for overlay, docs in _all(built):
        for service in SERVICES:
            env = _environment(docs, service)
            unknown = {k for k in env if k.startswith("EBOK_")} - fields - {"EBOK_HEALTH_PORT"}
            assert not unknown, (overlay, service.name, unknown)
            for key in [k for k in os.environ if k.startswith("EBOK_")]:
                monkeypatch.delenv(key)
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            settings = Settings()
            assert settings.start_problem() is None
            assert settings.env == ("development" if overlay == "development" else "production")
            assert settings.service_bind_host(service.name) == "0.0.0.0"
            for upstream in SERVICES:
                if upstream.upstream:
                    assert settings.service_url(upstream.name) == (
                        f"http://{upstream.name}:{upstream.port}"
                    )
            if service.owns_database:
                # The service logs in as its runtime role only: the provisioning role's
                # password is its migrate init container's alone.
                assert settings.database_url == f"postgresql://{k8s.POSTGRES}-rw:5432/postgres"
                assert settings.migrate_on_start is False
                assert settings.service_dsn(service.name).endswith(f"/ebok_{service.name}")
                assert settings.database_app_password is not None
                assert "ebok-database.password" not in env.values()
                (migrate,) = _deployment(docs, service)["spec"]["template"]["spec"][
                    "initContainers"
                ]
                migrate_env = {e["name"]: e for e in migrate["env"]}
                assert migrate_env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
                    "name": "ebok-database",
                    "key": "password",
                }
                assert "EBOK_MIGRATE_ON_START" not in migrate_env
            if k8s.uses_broker(service):
                secret = k8s.amqp_secret(service.name)
                assert settings.amqp_url == (
                    f"amqp://{secret}.username:{secret}.password@{k8s.RABBITMQ}:5672/"
                )
            # The key files are where the Secrets are mounted.
            (container,) = _deployment(docs, service)["spec"]["template"]["spec"]["containers"]
            mounted = {m["mountPath"] for m in container["volumeMounts"]}
            needs = {"/keys/jwt-public"} if service.name != "notifications" else set()
            if service.name == "identity":
                needs |= {"/keys/jwt-private"}
                assert str(settings.jwt_private_key_file).startswith("/keys/jwt-private/")
            if service.name in ("identity", "billing", "notifications"):
                needs |= {"/keys/sealing"}
                assert str(settings.sealing_key_file).startswith("/keys/sealing/")
            assert str(settings.jwt_public_key_file).startswith("/keys/jwt-public/")
            assert mounted - {k8s.TMP["mountPath"]} == needs, service.name


SECRET_WORDS = re.compile(r"PASSWORD|TOKEN|CRC|API_KEY|SECRET", re.I)


def _referenced_secrets(docs: list[Doc]) -> set[str]:
    found: set[str] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("secretKeyRef", "secretRef", "importCredentialsSecret", "passwordSecret"):
                    found.add(v["name"])
                elif k == "secret" and isinstance(v, dict) and "secretName" in v:
                    found.add(v["secretName"])
                elif k == "secretTargetRef":
                    found.update(ref["name"] for ref in v)
                elif k in ("accessKeyId", "secretAccessKey"):
                    found.add(v["name"])
                elif k == "tls":
                    found.update(t["secretName"] for t in v)
                else:
                    walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)

    walk(docs)
    return found


def test_no_secret_value_outside_the_development_overlay(built: dict[str, list[Doc]]) -> None:
    base_text = "\n".join(p.read_text() for p in sorted(k8s.BASE.glob("*.yaml")))
    assert "kind: Secret" not in base_text
    assert "secretGenerator" not in base_text
    production = built["production"]
    assert not _of(production, "Secret")
    for overlay, docs in _all(built):
        for name in _of(docs, "ConfigMap")["ebok-config"]["data"]:
            if name.endswith("_FILE"):
                continue  # paths to mounted Secrets
            assert not SECRET_WORDS.search(name), (overlay, name, "belongs in a Secret")
        for deployment in _of(docs, "Deployment").values():
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                for variable in container.get("env", []):
                    if "value" in variable:
                        # Only URLs put together from secret references carry credentials.
                        assert "@" not in variable["value"] or "$(" in variable["value"]
    # What production refers to, the runbook's list (the overlay's header) names; the
    # development overlay makes all of them but the keys, which are made by deploy.keys.
    header = (OVERLAYS / "production" / "kustomization.yaml").read_text()
    listed = set(re.findall(r"ebok-[a-z0-9<>-]+", header))
    for secret in _referenced_secrets(production):
        generic = re.sub(r"^ebok-(.+)-amqp$", "ebok-<who>-amqp", secret)
        assert secret in listed or generic in listed, f"{secret} is not in the runbook's list"
    development_secrets = _of(built["development"], "Secret")
    optional = {"ebok-backoffice-token", "ebok-smtp-credentials"}
    keys = {secret for secret, _, _ in k8s.KEY_SECRETS.values()}
    missing = _referenced_secrets(built["development"]) - set(development_secrets)
    assert missing == keys | optional, missing
    for name, secret in development_secrets.items():
        for key, value in secret["data"].items():
            text = _decoded(value)
            obviously_fake = text in ("", "0") or "dev" in text or key == "username"
            assert obviously_fake, (name, key)
    assert not optional & set(development_secrets)


# NetworkPolicy semantics, as a CNI applies them to TCP connections within the cluster.
Pod = tuple[str, dict[str, str]]  # (namespace, labels)


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = labels.get(expression["key"])
        if expression["operator"] == "In" and present not in expression["values"]:
            return False
        if expression["operator"] == "NotIn" and present in expression["values"]:
            return False
        if expression["operator"] == "Exists" and present is None:
            return False
    return True


def _peer_admits(peer: Doc, source: Pod, namespace: str) -> bool:
    source_namespace, source_labels = source
    if "namespaceSelector" in peer:
        labels = {"kubernetes.io/metadata.name": source_namespace}
        if not _selects(peer["namespaceSelector"], labels):
            return False
    elif source_namespace != namespace:
        return False
    return "podSelector" not in peer or _selects(peer["podSelector"], source_labels)


def _admitted(policies: list[Doc], source: Pod, target: Pod, port: int) -> bool:
    namespace, labels = target
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace", namespace) == namespace
        and _selects(p["spec"]["podSelector"], labels)
    ]
    if not selecting:
        return True  # no policy isolates the pod
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])] or [port]
            if port in ports and any(
                _peer_admits(peer, source, namespace) for peer in rule["from"]
            ):
                return True
    return False


def test_network_policies_admit_only_what_they_should(built: dict[str, list[Doc]]) -> None:
    ns = k8s.NAMESPACE

    def pod(name: str) -> Pod:
        return (ns, {k8s.LABEL: name, **k8s.PART_OF})

    ingress_controller: Pod = (k8s.INGRESS_NAMESPACE, {"app.kubernetes.io/name": "ingress-nginx"})
    prometheus: Pod = (k8s.MONITORING_NAMESPACE, {"app.kubernetes.io/name": "prometheus"})
    stranger: Pod = ("default", {"app": "anything"})
    postgres: Pod = (ns, {"cnpg.io/cluster": k8s.POSTGRES})
    rabbitmq: Pod = (ns, {"app.kubernetes.io/name": k8s.RABBITMQ})
    backoffice: Pod = ("utility", {k8s.ACCESS_LABEL: "backoffice"})
    erp: Pod = ("utility", {k8s.ACCESS_LABEL: "broker"})
    keda: Pod = (k8s.KEDA_NAMESPACE, {"app": "keda-operator"})
    for overlay, docs in _all(built):
        policies = list(_of(docs, "NetworkPolicy").values())

        def admits(source: Pod, target: Pod, port: int, policies: list[Doc] = policies) -> bool:
            return _admitted(policies, source, target, port)

        gateway = pod(GATEWAY.name)
        # Only the gateway's public port, from the ingress controller; its operations port
        # only to Prometheus.
        assert admits(ingress_controller, gateway, GATEWAY.port)
        assert not admits(ingress_controller, gateway, k8s.GATEWAY_OPS_PORT)
        assert admits(prometheus, gateway, k8s.GATEWAY_OPS_PORT)
        assert not admits(stranger, gateway, GATEWAY.port)
        for service in SERVICES:
            if service.public:
                continue
            target = pod(service.name)
            assert admits(gateway, target, service.port) == service.upstream, service.name
            assert admits(prometheus, target, service.port), service.name
            for source in (ingress_controller, stranger, pod("billing"), pod("identity")):
                if source[1].get(k8s.LABEL) == service.name:
                    continue
                assert not admits(source, target, service.port), (source, service.name)
            assert admits(backoffice, target, service.port) == (service.name == "correspondence")
            # The database only from the services that have one, the broker only from those
            # that use it (and the utility's systems with their own users).
            assert admits(target, postgres, 5432) == service.owns_database
            assert admits(target, rabbitmq, 5672)
        for outsider in (gateway, ingress_controller, stranger, backoffice):
            assert not admits(outsider, postgres, 5432), outsider
            assert not admits(outsider, rabbitmq, 5672), outsider
        assert admits(erp, rabbitmq, 5672)
        assert admits(keda, rabbitmq, 5672)
        assert not admits(keda, postgres, 5432)
        # Replication between the database's own instances.
        assert admits(postgres, postgres, 5432)
        if overlay == "development":
            mailbox = pod("mailbox")
            assert admits(pod("notifications"), mailbox, 8025)
            assert not admits(pod("identity"), mailbox, 8025)


def test_the_ingress_sends_the_api_and_the_web_app_to_the_gateway(
    built: dict[str, list[Doc]],
) -> None:
    for overlay, docs in _all(built):
        (ingress,) = _of(docs, "Ingress").values()
        (rule,) = ingress["spec"]["rules"]
        paths = {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}
        assert set(paths) == {"/api", "/"}
        for backend in paths.values():
            assert backend == {"name": GATEWAY.name, "port": {"name": "http"}}
        gateway_ports = {
            p["name"]: p["port"] for p in _of(docs, "Service")["gateway"]["spec"]["ports"]
        }
        assert gateway_ports["http"] == GATEWAY.port
        if overlay == "production":
            assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
