#!/usr/bin/env python3
"""Checks deploy/kubernetes without a cluster (issue 25): every object the
kustomization makes is valid for its kind (Kubernetes' own schemas through
kubernetes-validate, strict; the SpinApp against schema/spinapp-v1alpha1.json,
written from spin-operator's CRD), and the manifests agree with spin.toml
and with each other. Then each rule is shown to fail on a manifest broken
on purpose, so that no check here is one that cannot fail.

Run by deploy/check (CI): python check.py  (needs kubernetes-validate).
`python check.py --variables` prints the SpinApp's variables as JSON: the
tests start spin.toml with them on each Spin (tests/api/kubernetes.rs)."""

import copy
import json
import pathlib
import sys
import tomllib
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import yaml

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
KUBERNETES = "1.33.0"
CLUSTER_DOMAIN = "svc.cluster.local"


def env_file(path):
    """`key=value` lines, as kustomize's generators read them."""
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def build(secrets_env="secrets.env.example"):
    """What `kubectl apply -k` would apply: the resources and generated
    objects, with the namespace and labels set (secrets.env read from its
    example, as a newcomer fills it in)."""
    kustomization = yaml.safe_load((HERE / "kustomization.yaml").read_text())
    objects = []
    for resource in kustomization["resources"]:
        objects += [o for o in yaml.safe_load_all((HERE / resource).read_text()) if o]
    for kind, field, generators in [
        ("ConfigMap", "data", kustomization.get("configMapGenerator", [])),
        ("Secret", "stringData", kustomization.get("secretGenerator", [])),
    ]:
        for generator in generators:
            data = {}
            for env in generator.get("envs", []):
                data.update(env_file(HERE / (secrets_env if env == "secrets.env" else env)))
            for file in generator.get("files", []):
                data[pathlib.Path(file).name] = (HERE / file).read_text()
            objects.append({"apiVersion": "v1", "kind": kind,
                            "metadata": {"name": generator["name"]}, field: data})
    labels = {}
    for entry in kustomization.get("labels", []):
        labels.update(entry["pairs"])
    for o in objects:
        meta = o.setdefault("metadata", {})
        if o["kind"] != "Namespace":
            meta["namespace"] = kustomization["namespace"]
        meta.setdefault("labels", {}).update(labels)
    return objects


def spin_manifest():
    return tomllib.loads((REPO / "spin.toml").read_text())


def find(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind
             and (name is None or o["metadata"]["name"] == name)]
    return found


def origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.hostname else ""


def problems(objects):
    """Every rule broken by `objects`, as sentences."""
    out = []
    manifest = spin_manifest()
    # Each object against its kind's schema.
    spinapp_schema = json.loads((HERE / "schema/spinapp-v1alpha1.json").read_text())
    for o in objects:
        what = f"{o['kind']}/{o['metadata'].get('name')}"
        if o["kind"] == "SpinApp":
            errors = jsonschema.Draft202012Validator(spinapp_schema).iter_errors(o)
            out += [f"{what}: {e.json_path}: {e.message}" for e in errors]
            if o["spec"].get("enableAutoscaling") and "replicas" in o["spec"]:
                out.append(f"{what}: replicas cannot be set with enableAutoscaling")
        else:
            try:
                kubernetes_validate.validate(o, KUBERNETES, strict=True)
            except kubernetes_validate.ValidationError as e:
                out.append(f"{what}: {e.message}")
    apps = find(objects, "SpinApp")
    if len(apps) != 1:
        return out + [f"one SpinApp expected, {len(apps)} found"]
    app = apps[0]
    name, spec = app["metadata"]["name"], app["spec"]
    namespace = app["metadata"]["namespace"]

    # The image is the app's, at its version.
    version = manifest["application"]["version"]
    if not spec.get("image", "").endswith(f"/{manifest['application']['name']}:{version}"):
        out.append(f"image {spec.get('image')} is not order-service:{version}")

    # Every variable spin.toml declares, from the right kind of object.
    declared = manifest["variables"]
    given = [v["name"] for v in spec.get("variables", [])]
    if sorted(given) != sorted(declared) or len(set(given)) != len(given):
        out.append(f"variables differ from spin.toml: missing {sorted(set(declared) - set(given))}, "
                   f"unknown {sorted(set(given) - set(declared))}")
    values = {}
    for variable in spec.get("variables", []):
        secret = declared.get(variable["name"], {}).get("secret", False)
        source = variable.get("valueFrom", {})
        ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
        kind = "Secret" if "secretKeyRef" in source else "ConfigMap"
        if secret and "secretKeyRef" not in source:
            out.append(f"secret variable {variable['name']} does not come from a Secret")
            continue
        if not secret and "secretKeyRef" in source:
            out.append(f"variable {variable['name']} is not secret in spin.toml but comes from a Secret")
        if ref is None:
            values[variable["name"]] = variable.get("value", "")
            continue
        holder = find(objects, kind, ref.get("name"))
        data = holder[0].get("stringData" if kind == "Secret" else "data", {}) if holder else None
        if data is None or ref["key"] not in data:
            out.append(f"{variable['name']}: {kind} {ref.get('name')} has no key {ref['key']}")
        else:
            values[variable["name"]] = data[ref["key"]]

    # Outbound hosts: what spin.toml allows is what the settings name.
    allowed = manifest["component"]["order-service"]["allowed_outbound_hosts"]
    for template in allowed:
        value = values.get(template.strip("{} "), "")
        if value and origin(value) == "":
            out.append(f"allowed_outbound_hosts entry {template} is {value!r}, not scheme://host:port")
    # A peer in use: its *_host is its URL's origin. A peer not in use: its
    # *_host is spin.toml's default, never empty, for the shim's Spin 3.6.3
    # denies every outbound request when one entry resolves to nothing.
    pairs = [("database_url", "database_host"), ("events_redis_url", "events_redis_host"),
             ("jwt_jwks_url", "jwt_jwks_host")]
    for url, host in pairs:
        expected = origin(values.get(url, "")) or manifest["variables"][host].get("default")
        if values.get(host, "") != expected:
            out.append(f"{host} ({values.get(host)!r}) is not {expected!r} "
                       f"({'the origin of ' + url if values.get(url) else 'spin.toml default: no ' + url})")
    services = {f"{s['metadata']['name']}.{namespace}.{CLUSTER_DOMAIN}"
                for s in find(objects, "Service")}
    for host_variable in ["database_host", "events_redis_host"]:
        host = urlsplit(values.get(host_variable, "")).hostname
        if host not in services:
            out.append(f"{host_variable} names {host}, not a Service of these manifests")
    if not values.get("catalog_url", "").startswith("http"):
        out.append("catalog_url is not an http(s) URL")

    # Several replicas need PostgreSQL: SQLite is one file per pod.
    hpas = [h for h in find(objects, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                               "name": name}]
    if spec.get("enableAutoscaling"):
        least = hpas[0]["spec"].get("minReplicas", 1) if hpas else 0
        if not hpas:
            out.append("enableAutoscaling without a HorizontalPodAutoscaler of the app's Deployment")
    else:
        least = spec.get("replicas", 1)
    if least < 2:
        out.append(f"at least 2 replicas expected, {least} found")
    if least > 1:
        if not values.get("database_url", "").startswith("postgres://"):
            out.append("several replicas on SQLite: database_url must name the shared PostgreSQL")
        runtime = find(objects, "Secret", spec.get("runtimeConfig", {}).get("loadFromSecret"))
        toml = tomllib.loads(runtime[0]["stringData"].get("runtime-config.toml", "")) if runtime else {}
        if not runtime:
            out.append("runtimeConfig.loadFromSecret names no Secret of these manifests")
        elif "sqlite_database" in toml:
            out.append("several replicas with a sqlite_database in the runtime config")

    # Probes on the service's health route; selectors on the operator's pod label.
    for probe in ["liveness", "readiness"]:
        path = spec.get("checks", {}).get(probe, {}).get("httpGet", {}).get("path")
        if path != "/orders/health/":
            out.append(f"{probe} probe is not /orders/health/: {path}")
    pod_label = {"core.spinkube.dev/app-name": name}
    for kind in ["PodDisruptionBudget"]:
        for o in find(objects, kind):
            if o["spec"]["selector"].get("matchLabels") != pod_label:
                out.append(f"{kind} does not select the app's pods")
    for o in find(objects, "NetworkPolicy"):
        if o["spec"]["podSelector"].get("matchLabels") != pod_label:
            out.append("NetworkPolicy does not select the app's pods")

    # The gateway: the project's NGINX config, pointed at the app's Service,
    # and the only way in from outside.
    ours = (REPO / "deploy/nginx/nginx.conf").read_text().splitlines()
    config = find(objects, "ConfigMap", "gateway-nginx")
    theirs = config[0]["data"]["nginx.conf"].splitlines() if config else []
    differing = [(a.strip(), b.strip()) for a, b in zip(ours, theirs) if a != b]
    upstream = f"server {name}.{namespace}.{CLUSTER_DOMAIN}:80;"
    allowed_changes = {"server order-service:8080;": upstream, "listen 80;": "listen 8080;"}
    if len(ours) != len(theirs) or any(
            b.split("#")[0].strip() != allowed_changes.get(a) for a, b in differing):
        out.append(f"gateway nginx.conf differs from deploy/nginx/nginx.conf: {differing}")
    # The operator pass on a schedule, at the app's Service, with the
    # Secret's admin token: what expires unpaid orders without traffic.
    jobs = find(objects, "CronJob", "order-service-reconcile")
    if not jobs:
        out.append("no CronJob calls the operator pass")
    for job in jobs:
        container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        url = f"http://{name}.{namespace}.{CLUSTER_DOMAIN}/orders/admin/reconcile/"
        if url not in container.get("args", []):
            out.append(f"the reconcile CronJob does not call {url}")
        token = [e for e in container.get("env", []) if e["name"] == "ADMIN_TOKEN"]
        if not token or token[0].get("valueFrom", {}).get("secretKeyRef", {}).get("key") != "admin_token":
            out.append("the reconcile CronJob's token is not the Secret's admin_token")
    exposed = [s["metadata"]["name"] for s in find(objects, "Service")
               if s["spec"].get("type") in ("LoadBalancer", "NodePort")]
    if exposed != ["gateway"]:
        out.append(f"only the gateway may be reachable from outside, not {exposed}")
    return out


def broken_on_purpose():
    """(what, how) pairs: each must make `problems` say something."""
    def app(o):
        return find(o, "SpinApp")[0]

    def config(o):
        return find(o, "ConfigMap", "order-service-config")[0]["data"]

    def secrets(o):
        return find(o, "Secret", "order-service-secrets")[0]["stringData"]

    def mutate(f):
        objects = build()
        f(objects)
        return objects
    return [
        ("no executor", lambda o: app(o)["spec"].pop("executor")),
        ("an unknown SpinApp field", lambda o: app(o)["spec"].update(replica=2)),
        ("replicas with autoscaling", lambda o: app(o)["spec"].update(replicas=2)),
        ("a variable missing", lambda o: app(o)["spec"]["variables"].pop()),
        ("a secret from the ConfigMap", lambda o: app(o)["spec"]["variables"][1].update(
            valueFrom={"configMapKeyRef": {"name": "order-service-config", "key": "jwt_algorithm"}})),
        ("a key the Secret lacks", lambda o: secrets(o).pop("admin_token")),
        ("an empty jwt_jwks_host", lambda o: config(o).update(jwt_jwks_host="")),
        ("database_host elsewhere", lambda o: config(o).update(
            database_host="postgres://other.shop.svc.cluster.local:5432")),
        ("SQLite with replicas", lambda o: secrets(o).update(database_url="")),
        ("one replica", lambda o: find(o, "HorizontalPodAutoscaler")[0]["spec"].update(minReplicas=1)),
        ("a bad Deployment field", lambda o: find(o, "Deployment", "gateway")[0]["spec"].update(replica=2)),
        ("a bad quantity", lambda o: app(o)["spec"]["resources"]["limits"].update(memory="lots")),
        ("the app exposed", lambda o: find(o, "Service", "orders-redis")[0]["spec"].update(
            type="LoadBalancer")),
        ("the reconcile CronJob elsewhere", lambda o: find(o, "CronJob")[0]["spec"]["jobTemplate"][
            "spec"]["template"]["spec"]["containers"][0]["args"].__setitem__(-1, "http://x/")),
        ("nginx.conf drifted", lambda o: find(o, "ConfigMap", "gateway-nginx")[0]["data"].update(
            {"nginx.conf": find(o, "ConfigMap", "gateway-nginx")[0]["data"]["nginx.conf"]
             .replace("return 404;", "return 200;")})),
    ], mutate


def variables(objects):
    """The value of each of the SpinApp's variables, from the ConfigMap and
    the Secret (its example): what the shim's Spin resolves the app with."""
    app = find(objects, "SpinApp")[0]
    values = {}
    for variable in app["spec"]["variables"]:
        source = variable.get("valueFrom", {})
        ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
        if ref is None:
            values[variable["name"]] = variable.get("value", "")
            continue
        kind, field = ("Secret", "stringData") if "secretKeyRef" in source else ("ConfigMap", "data")
        values[variable["name"]] = find(objects, kind, ref["name"])[0][field][ref["key"]]
    return values


def main():
    objects = build()
    if sys.argv[1:] == ["--variables"]:
        print(json.dumps(variables(objects)))
        return 0
    found = problems(objects)
    for problem in found:
        print(f"deploy/kubernetes: {problem}")
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    if found:
        return 1
    print(f"deploy/kubernetes: ok ({len(objects)} objects: {', '.join(kinds)})")
    cases, mutate = broken_on_purpose()
    silent = [what for what, how in cases if not problems(mutate(how))]
    if silent:
        print(f"deploy/kubernetes: these breakages went unnoticed: {silent}")
        return 1
    print(f"deploy/kubernetes: each of {len(cases)} deliberate breakages was caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
