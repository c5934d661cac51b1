"""deploy/k8s/base, generated from the list of services (shared/services.py), the settings
(shared/settings.py) and the broker's users (deploy/rabbitmq.py).

python -m deploy.k8s          writes deploy/k8s/base/*.yaml
python -m deploy.k8s --check  fails when a file differs from what those give

The overlays (deploy/k8s/overlays/development, production) are written by hand and patch the
base; `kubectl kustomize deploy/k8s/overlays/<name>` builds either
(tests/unit/test_k8s_manifests.py builds and checks both).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from deploy.rabbitmq import VHOST, users
from shared.runtime import subscriptions_of
from shared.services import GATEWAY_UPSTREAMS, SERVICES, Service
from shared.settings import Settings

BASE = Path(__file__).resolve().parent / "k8s" / "base"
# The Kubernetes namespace, and EBOK_NAMESPACE (the prefix of databases, roles, queues and
# broker users): the same word. KEDA's operator reaches the broker from its own namespace by
# the fully qualified name below, so the overlays keep it.
NAMESPACE = "ebok"
IMAGE = "ebok"  # the overlays set the registry and the tag (kustomize `images`)
# The image's numeric user (deploy/Dockerfile: useradd --uid 10001).
USER_ID = 10001
RABBITMQ = "ebok-rabbitmq"  # the RabbitmqCluster; its client Service has the same name
POSTGRES = "ebok-db"  # the CloudNativePG Cluster; `<name>-rw` is the primary's Service
PROVISIONER = "ebok_provisioner"  # CNPG managed role: CREATEDB CREATEROLE, no superuser
AMQP_HOST = f"{RABBITMQ}.{NAMESPACE}.svc"
GATEWAY_OPS_PORT: int = Settings.model_fields["gateway_ops_port"].default
LABEL = "app.kubernetes.io/name"
PART_OF = {"app.kubernetes.io/part-of": "ebok"}

# Where the platform's neighbours run (the operators' and tools' usual namespaces): the
# NetworkPolicies admit them by `kubernetes.io/metadata.name`. Change here if yours differ.
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
CNPG_NAMESPACE = "cnpg-system"
RABBITMQ_OPERATOR_NAMESPACE = "rabbitmq-system"
KEDA_NAMESPACE = "keda"
# Pods of the utility's own systems (ERP, reading system, back office) wear this label to reach
# the broker, and the back office to fetch attachments from correspondence.
ACCESS_LABEL = "ebok.example/access"

# The queues KEDA scales each service on: those its instances share (competing consumers).
# A queue whose order matters (Subscription in_order) has a single active consumer: one more
# instance would not drain it faster, so it is left out.
SCALE_ON_QUEUES: dict[str, tuple[str, ...]] = {
    service.name: purposes
    for service in SERVICES
    if (purposes := tuple(s.purpose for s in subscriptions_of(service.name) if not s.in_order))
}
# Messages waiting per instance before KEDA adds one: a consumer holds EBOK_AMQP_PREFETCH (500)
# and handles a batch of up to 250 in one transaction, so twice the prefetch is a backlog.
QUEUE_DEPTH_PER_INSTANCE = 1000

# Requests and limits per service. Identity hashes passwords with argon2 (64 MiB each,
# EBOK_PASSWORD_HASH_CONCURRENCY = 8 at once) and renders CAPTCHA sounds in 2 worker processes.
RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "identity": {
        "requests": {"cpu": "250m", "memory": "640Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    },
    "gateway": {
        "requests": {"cpu": "200m", "memory": "192Mi"},
        "limits": {"cpu": "1", "memory": "384Mi"},
    },
}
DEFAULT_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "192Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
MIGRATION_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "96Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}
# The root file system is read-only; the pod's own emptyDir is its /tmp.
TMP = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108
MIN_REPLICAS = 2
MAX_REPLICAS = 6
# PostgreSQL connections: each instance of a service holds up to EBOK_DB_POOL_MAX in its pool
# and one LISTEN connection per background loop woken by NOTIFY (outbox relay, revocations,
# billing's e-invoices, notifications' sender: up to 3; one more kept for a leader's lock).
# max_connections covers every service at its autoscaler's maximum
# (tests/unit/test_k8s_manifests.py checks it for the production overlay).
DB_POOL_MAX = 8
CONNECTIONS_BESIDES_POOL = 4
MAX_CONNECTIONS = 600
RESERVED_CONNECTIONS = 20  # superuser, replication, the operator, an operator's psql

# Which secret files each service mounts (the private key only where tokens are signed; the
# sealing key only where event secrets are sealed or opened, docs/operations.md "Keys").
# Volume → (Secret, file in it, the setting that points at the file).
KEY_SECRETS = {
    "jwt-private": ("ebok-jwt-private", "jwt-private.pem", "EBOK_JWT_PRIVATE_KEY_FILE"),
    "jwt-public": ("ebok-jwt-public", "jwt-public.pem", "EBOK_JWT_PUBLIC_KEY_FILE"),
    "sealing": ("ebok-sealing", "sealing.key", "EBOK_SEALING_KEY_FILE"),
}
SIGNS_TOKENS = {"identity"}
SEALS = {"identity", "billing", "notifications"}
# Settings only one service reads, from a Secret of its own (`optional`: the service starts
# without it, as documented).
SERVICE_SECRETS: dict[str, list[tuple[str, bool]]] = {
    "payments": [("ebok-payments-p24", False)],
    "correspondence": [("ebok-backoffice-token", True)],
    "notifications": [("ebok-smtp-credentials", True)],
}


def uses_broker(service: Service) -> bool:
    return service.name != "gateway"  # the gateway speaks HTTP only


def amqp_secret(who: str) -> str:
    """The Secret with `username` and `password` of the broker user `ebok-<who>` (imported by
    the messaging topology operator's User; read by the service and by KEDA)."""
    return f"ebok-{who}-amqp"


def key_volumes(service: Service) -> list[str]:
    found = []
    if service.name in SIGNS_TOKENS:
        found.append("jwt-private")
    if service.name != "notifications":  # every service with routes checks access tokens
        found.append("jwt-public")
    if service.name in SEALS:
        found.append("sealing")
    return found


def config_map() -> dict[str, Any]:
    ports = {s.name: s.port for s in SERVICES}
    data = {
        "EBOK_ENV": "production",
        "EBOK_NAMESPACE": NAMESPACE,
        "EBOK_LOG_FORMAT": "json",
        "EBOK_LOG_LEVEL": "INFO",
        # In a pod every listener binds all addresses; NetworkPolicies decide who reaches which.
        "EBOK_BIND_HOST": "0.0.0.0",
        "EBOK_INTERNAL_BIND_HOST": "0.0.0.0",
        "EBOK_GATEWAY_OPS_PORT": str(GATEWAY_OPS_PORT),
        **{
            f"EBOK_{name.upper()}_URL": f"http://{name}:{ports[name]}" for name in GATEWAY_UPSTREAMS
        },
        "EBOK_PUBLIC_URL": "https://ebok.example.invalid",
        # The ingress controller's pods (their network): the overlays set the real range.
        "EBOK_TRUSTED_PROXIES": "",
        "EBOK_QUEUE_TYPE": "quorum",
        "EBOK_SMTP_HOST": "smtp.example.invalid",
        "EBOK_SMTP_PORT": "587",
        "EBOK_MAIL_FROM": "e-BOK <ebok@example.invalid>",
        "EBOK_DB_POOL_MAX": str(DB_POOL_MAX),
        **{
            setting: f"/keys/{volume}/{filename}"
            for volume, (_, filename, setting) in KEY_SECRETS.items()
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ebok-config"},
        "data": data,
    }


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def database_environment(*, provisioning: bool) -> list[dict[str, Any]]:
    """The database settings of a container. The `migrate` init container logs in as the
    provisioning role (it creates the database, roles and tables); the service itself only as
    its runtime role (EBOK_DATABASE_APP_PASSWORD), with EBOK_MIGRATE_ON_START=false: it checks
    that its init container migrated, and never holds the provisioning password."""
    app_password = _secret_env("EBOK_DATABASE_APP_PASSWORD", "ebok-database", "app-password")
    if not provisioning:
        return [
            {"name": "EBOK_DATABASE_URL", "value": f"postgresql://{POSTGRES}-rw:5432/postgres"},
            {"name": "EBOK_MIGRATE_ON_START", "value": "false"},
            app_password,
        ]
    return [
        _secret_env("DATABASE_USERNAME", "ebok-database", "username"),
        _secret_env("DATABASE_PASSWORD", "ebok-database", "password"),
        {
            "name": "EBOK_DATABASE_URL",
            "value": "postgresql://$(DATABASE_USERNAME):$(DATABASE_PASSWORD)"
            f"@{POSTGRES}-rw:5432/postgres",
        },
        app_password,
    ]


def environment(service: Service) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(envFrom, env) of the service's container. Credentials come from Secrets; the URLs are
    put together by Kubernetes ($(VAR)), so passwords must be URL-safe (hex)."""
    env_from: list[dict[str, Any]] = [
        {"configMapRef": {"name": "ebok-config"}},
        {"secretRef": {"name": "ebok-internal-token"}},
    ]
    for secret, optional in SERVICE_SECRETS.get(service.name, []):
        env_from.append({"secretRef": {"name": secret, **({"optional": True} if optional else {})}})
    env: list[dict[str, Any]] = [{"name": "EBOK_HEALTH_PORT", "value": str(service.port)}]
    if service.owns_database:
        env += database_environment(provisioning=False)
    if uses_broker(service):
        env += [
            _secret_env("AMQP_USERNAME", amqp_secret(service.name), "username"),
            _secret_env("AMQP_PASSWORD", amqp_secret(service.name), "password"),
            {
                "name": "EBOK_AMQP_URL",
                "value": f"amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@{RABBITMQ}:5672/",
            },
        ]
    return env_from, env


def _http_get(path: str, port: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def deployment(service: Service) -> dict[str, Any]:
    labels = {LABEL: service.name}
    env_from, env = environment(service)
    container_security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = [TMP] + [
        {"name": key, "mountPath": f"/keys/{key}", "readOnly": True} for key in key_volumes(service)
    ]
    ports = [{"name": "http", "containerPort": service.port}]
    # The gateway answers readiness and metrics on its operations port only.
    ready_port = "http"
    if service.public:
        ports.append({"name": "ops", "containerPort": GATEWAY_OPS_PORT})
        ready_port = "ops"
    container = {
        "name": service.name,
        "image": IMAGE,
        "command": ["python", "-m", service.module],
        "ports": ports,
        "envFrom": env_from,
        "env": env,
        "resources": RESOURCES.get(service.name, DEFAULT_RESOURCES),
        "securityContext": container_security,
        "volumeMounts": mounts,
        # The listener answers once the database and broker are connected (up to
        # EBOK_BROKER_CONNECT_TIMEOUT_SECONDS, 60 s): the startup probe allows 150 s.
        "startupProbe": _http_get("/health/live", "http", 5, 30),
        "livenessProbe": _http_get("/health/live", "http", 10, 3),
        "readinessProbe": _http_get("/health/ready", ready_port, 5, 2),
        # Out of the Service's endpoints before SIGTERM: no new request reaches a pod that stops.
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
    }
    init_containers = []
    if service.owns_database:
        init_containers.append(
            {
                "name": "migrate",
                "image": IMAGE,
                "command": ["python", "-m", "deploy.migrate", service.name],
                "envFrom": env_from,
                # The provisioning role's database settings; it never speaks to the broker.
                "env": [
                    {"name": "EBOK_HEALTH_PORT", "value": str(service.port)},
                    *database_environment(provisioning=True),
                ],
                "resources": MIGRATION_RESOURCES,
                "securityContext": container_security,
                "volumeMounts": [TMP],
            }
        )
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    for key in key_volumes(service):
        secret = KEY_SECRETS[key][0]
        volumes.append({"name": key, "secret": {"secretName": secret, "defaultMode": 0o440}})
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "runAsGroup": USER_ID,
            "fsGroup": USER_ID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # aiohttp's shutdown (20 s) plus the background loops' (15 s) plus the preStop sleep.
        "terminationGracePeriodSeconds": 45,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": labels},
            }
        ],
        **({"initContainers": init_containers} if init_containers else {}),
        "containers": [container],
        "volumes": volumes,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service.name, "labels": labels},
        "spec": {
            # No `replicas`: the HorizontalPodAutoscaler (or KEDA's) owns the count.
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": labels},
            # One new pod at a time, none taken away before its successor is ready.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(
                            GATEWAY_OPS_PORT if service.public else service.port
                        ),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def kube_service(service: Service) -> dict[str, Any]:
    ports = [{"name": "http", "port": service.port, "targetPort": "http"}]
    if service.public:
        ports.append({"name": "ops", "port": GATEWAY_OPS_PORT, "targetPort": "ops"})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service.name, "labels": {LABEL: service.name}},
        "spec": {"selector": {LABEL: service.name}, "ports": ports},
    }


def disruption_budget(service: Service) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": service.name},
        # One pod at a time may be evicted (a drain), whatever the replica count.
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {LABEL: service.name}}},
    }


def _scale_down_slowly() -> dict[str, Any]:
    return {
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        }
    }


def autoscaler(service: Service) -> list[dict[str, Any]]:
    """The gateway scales on CPU (HorizontalPodAutoscaler). A service with consumers scales on
    its queues' depth and on CPU through a KEDA ScaledObject (which makes the HPA itself)."""
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name}
    cpu = {"type": "Utilization", "averageUtilization": 70}
    queues = SCALE_ON_QUEUES.get(service.name, ())
    if not queues:
        return [
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": service.name},
                "spec": {
                    "scaleTargetRef": target,
                    "minReplicas": MIN_REPLICAS,
                    "maxReplicas": MAX_REPLICAS,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": cpu}}],
                    "behavior": _scale_down_slowly(),
                },
            }
        ]
    auth = f"{service.name}-rabbitmq"
    triggers: list[dict[str, Any]] = [
        {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
    ]
    for purpose in queues:
        triggers.append(
            {
                "type": "rabbitmq",
                "name": purpose,
                "metadata": {
                    "protocol": "amqp",
                    "host": f"amqp://{AMQP_HOST}:5672/",
                    "vhostName": VHOST,
                    "queueName": f"{NAMESPACE}.{service.name}.{purpose}",
                    "mode": "QueueLength",
                    "value": str(QUEUE_DEPTH_PER_INSTANCE),
                },
                "authenticationRef": {"name": auth},
            }
        )
    return [
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "TriggerAuthentication",
            "metadata": {"name": auth},
            "spec": {
                "secretTargetRef": [
                    {"parameter": p, "name": amqp_secret(service.name), "key": p}
                    for p in ("username", "password")
                ]
            },
        },
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": service.name},
            "spec": {
                "scaleTargetRef": {"name": service.name},
                "minReplicaCount": MIN_REPLICAS,
                "maxReplicaCount": MAX_REPLICAS,
                "pollingInterval": 15,
                "cooldownPeriod": 300,
                "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _scale_down_slowly()}},
                "triggers": triggers,
            },
        },
    ]


def _from_namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _from_pods(names: Iterable[str]) -> dict[str, Any]:
    return {
        "podSelector": {
            "matchExpressions": [{"key": LABEL, "operator": "In", "values": sorted(names)}]
        }
    }


def _from_access(value: str) -> dict[str, Any]:
    """Pods of the utility's own systems, in any namespace, labelled for `value`."""
    return {"namespaceSelector": {}, "podSelector": {"matchLabels": {ACCESS_LABEL: value}}}


def _tcp(*ports: int | str) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _policy(name: str, selector: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {"podSelector": selector, "policyTypes": ["Ingress"], "ingress": rules},
    }


def network_policies() -> list[dict[str, Any]]:
    """Nothing reaches a pod of the namespace unless a policy admits it: the gateway from the
    ingress controller, each service from the gateway, the database and the broker from the
    services (and their operators), every /metrics port from Prometheus."""
    gateway = next(s for s in SERVICES if s.public)
    monitoring = _from_namespace(MONITORING_NAMESPACE)
    policies = [_policy("default-deny-ingress", {}, [])]
    policies.append(
        _policy(
            gateway.name,
            {"matchLabels": {LABEL: gateway.name}},
            [
                {"from": [_from_namespace(INGRESS_NAMESPACE)], "ports": _tcp(gateway.port)},
                {"from": [monitoring], "ports": _tcp(GATEWAY_OPS_PORT)},
            ],
        )
    )
    for service in SERVICES:
        if service.public:
            continue
        rules = []
        if service.upstream:
            rules.append({"from": [_from_pods([gateway.name])], "ports": _tcp(service.port)})
        if service.name == "correspondence":
            # The back office fetches attachments (docs/operations.md, "Correspondence").
            rules.append({"from": [_from_access("backoffice")], "ports": _tcp(service.port)})
        rules.append({"from": [monitoring], "ports": _tcp(service.port)})
        policies.append(_policy(service.name, {"matchLabels": {LABEL: service.name}}, rules))
    with_database = [s.name for s in SERVICES if s.owns_database]
    with_broker = [s.name for s in SERVICES if uses_broker(s)]
    postgres_pods = {"matchLabels": {"cnpg.io/cluster": POSTGRES}}
    policies.append(
        _policy(
            POSTGRES,
            postgres_pods,
            [
                {"from": [_from_pods(with_database)], "ports": _tcp(5432)},
                # Replication between the instances; the operator's instance manager.
                {"from": [{"podSelector": postgres_pods}], "ports": _tcp(5432, 8000)},
                {"from": [_from_namespace(CNPG_NAMESPACE)], "ports": _tcp(5432, 8000)},
                {"from": [monitoring], "ports": _tcp(9187)},
            ],
        )
    )
    rabbitmq_pods = {"matchLabels": {"app.kubernetes.io/name": RABBITMQ}}
    policies.append(
        _policy(
            RABBITMQ,
            rabbitmq_pods,
            [
                {"from": [_from_pods(with_broker)], "ports": _tcp(5672)},
                # The ERP, the reading system and the back office, with their own users.
                {"from": [_from_access("broker")], "ports": _tcp(5672)},
                # KEDA reads the queues' depth.
                {"from": [_from_namespace(KEDA_NAMESPACE)], "ports": _tcp(5672)},
                # The nodes of the cluster among themselves (epmd, distribution, CLI tools).
                {
                    "from": [{"podSelector": rabbitmq_pods}],
                    "ports": [
                        *_tcp(4369, 5672, 15672, 25672),
                        {"protocol": "TCP", "port": 35672, "endPort": 35682},
                    ],
                },
                # The cluster and topology operators use the management API.
                {"from": [_from_namespace(RABBITMQ_OPERATOR_NAMESPACE)], "ports": _tcp(15672)},
                {"from": [monitoring], "ports": _tcp(15692)},
            ],
        )
    )
    return policies


def rabbitmq() -> list[dict[str, Any]]:
    """Three nodes; the services declare quorum queues (EBOK_QUEUE_TYPE). Users and permissions
    as deploy/rabbitmq.py has them, applied by the messaging topology operator; each user's
    password comes from the Secret `ebok-<who>-amqp` (username `ebok-<who>`, password)."""
    cluster_ref = {"name": RABBITMQ}
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "RabbitmqCluster",
            "metadata": {"name": RABBITMQ},
            "spec": {
                "replicas": 3,
                "image": "rabbitmq:3.13.7-management",
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                    "limits": {"cpu": "2", "memory": "1Gi"},
                },
                "persistence": {"storage": "20Gi"},
                "rabbitmq": {
                    # A node cut off from the majority stops rather than diverging; quorum
                    # queues keep going on the majority.
                    "additionalConfig": "cluster_partition_handling = pause_minority\n"
                    "vm_memory_high_watermark.relative = 0.8\n",
                },
                "affinity": {
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {
                                    "matchLabels": {"app.kubernetes.io/name": RABBITMQ}
                                },
                            }
                        ]
                    }
                },
            },
        }
    ]
    for name, permissions in users(NAMESPACE).items():
        who = name.removeprefix(f"{NAMESPACE}-")
        documents.append(
            {
                "apiVersion": "rabbitmq.com/v1beta1",
                "kind": "User",
                "metadata": {"name": name},
                "spec": {
                    "tags": [],
                    "rabbitmqClusterReference": cluster_ref,
                    "importCredentialsSecret": {"name": amqp_secret(who)},
                },
            }
        )
        documents.append(
            {
                "apiVersion": "rabbitmq.com/v1beta1",
                "kind": "Permission",
                "metadata": {"name": name},
                "spec": {
                    "vhost": VHOST,
                    "userReference": {"name": name},
                    "permissions": vars(permissions),
                    "rabbitmqClusterReference": cluster_ref,
                },
            }
        )
    return documents


def postgres() -> dict[str, Any]:
    """A primary and a standby (streaming replication; CloudNativePG fails over to it). The
    services' databases and roles are made by the provisioning role (docs/operations.md,
    "Database roles"), a managed role with CREATEDB CREATEROLE, not a superuser."""
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": POSTGRES},
        "spec": {
            "instances": 2,
            "imageName": "ghcr.io/cloudnative-pg/postgresql:16.6",
            "primaryUpdateStrategy": "unsupervised",
            "storage": {"size": "20Gi"},
            "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "2", "memory": "2Gi"},
            },
            "postgresql": {"parameters": {"max_connections": str(MAX_CONNECTIONS)}},
            "managed": {
                "roles": [
                    {
                        "name": PROVISIONER,
                        "ensure": "present",
                        "login": True,
                        "createdb": True,
                        "createrole": True,
                        "superuser": False,
                        "passwordSecret": {"name": "ebok-database"},
                    }
                ]
            },
            "affinity": {"enablePodAntiAffinity": True, "topologyKey": "kubernetes.io/hostname"},
        },
    }


def ingress() -> dict[str, Any]:
    """The gateway serves the API under /api and the web app at /: one host, both paths."""
    gateway = next(s for s in SERVICES if s.public)
    backend = {"service": {"name": gateway.name, "port": {"name": "http"}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "ebok",
            "annotations": {
                # Attachments: up to 10 MB, streamed (docs/operations.md, "Correspondence").
                "nginx.ingress.kubernetes.io/proxy-body-size": "12m",
                "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
            },
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "ebok.example.invalid",
                    "http": {
                        "paths": [
                            {"path": "/api", "pathType": "Prefix", "backend": backend},
                            {"path": "/", "pathType": "Prefix", "backend": backend},
                        ]
                    },
                }
            ],
        },
    }


def namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {
                # The services meet `restricted`; the operators' pods (PostgreSQL, RabbitMQ)
                # need `baseline`.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    }


HEADER = (
    "# Generated by `python -m deploy.k8s` (deploy/k8s.py) from shared/services.py,\n"
    "# shared/settings.py and deploy/rabbitmq.py: edit those, not this file.\n"
)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # every value written out: no &anchors for a reader to chase


def _dump(documents: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(
        yaml.dump(d, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for d in documents
    )


def render() -> dict[str, str]:
    """File name (under deploy/k8s/base) → content."""
    files = {
        "namespace.yaml": _dump([namespace()]),
        "config.yaml": _dump([config_map()]),
        "network-policies.yaml": _dump(network_policies()),
        "rabbitmq.yaml": _dump(rabbitmq()),
        "postgres.yaml": _dump([postgres()]),
        "ingress.yaml": _dump([ingress()]),
    }
    for service in SERVICES:
        files[f"{service.name}.yaml"] = _dump(
            [
                deployment(service),
                kube_service(service),
                disruption_budget(service),
                *autoscaler(service),
            ]
        )
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "labels": [{"pairs": PART_OF}],
        "resources": list(files),
    }
    files["kustomization.yaml"] = _dump([kustomization])
    return files


def stale() -> list[str]:
    wanted = render()
    found = {p.name for p in BASE.glob("*.yaml")} if BASE.exists() else set()
    differ = [
        n for n, text in wanted.items() if not (BASE / n).exists() or (BASE / n).read_text() != text
    ]
    return sorted(differ + sorted(found - set(wanted)))


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if problems := stale():
            print(
                f"out of date in deploy/k8s/base: {', '.join(problems)} (run python -m deploy.k8s)"
            )
            return 1
        return 0
    BASE.mkdir(parents=True, exist_ok=True)
    for leftover in set(p.name for p in BASE.glob("*.yaml")) - set(render()):
        (BASE / leftover).unlink()
    for name, text in render().items():
        (BASE / name).write_text(text)
    print(f"wrote {BASE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
