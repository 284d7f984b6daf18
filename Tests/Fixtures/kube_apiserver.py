#!/usr/bin/env python3
"""A Kubernetes API server for tests. No real one runs here, so this one answers as a real kube-apiserver (1.36)
does for every call the mesh makes: Tests/Fixtures/kube-api-recordings holds a real server's answers, and
kube_api_fidelity.py replays them against this server and compares field by field (a test runs it).

  kube_apiserver.py --port P [--tls-cert F --tls-key F] [--token T] [--history N] [--bookmark-seconds S]
                    [--version V] [--gateway-api standard|experimental|none] [--load F] [--restore F]

What it keeps of the real API:
- kinds: the built-in kinds the mesh and its tests touch, and custom resources only while their
  CustomResourceDefinition exists (a group/version/resource not served is `404 text/plain "404 page not found"`);
  `--gateway-api` installs the Gateway API v1.2.1 CRDs (Tests/Fixtures/gateway-api) at start;
- one resourceVersion counter (an etcd revision) for every object; each write bumps it and records an event;
- objects as the API holds them: defaults filled in (Service cluster IPs, Pod defaults, the ServiceAccount token
  volume, Namespace phase and name label, custom resources' schema defaults), unknown fields of custom resources
  pruned (`fieldValidation=Strict` refuses them, the default warns), `metadata.generation` only on kinds that have
  one, `managedFields`, status written only through the status subresource (a Pod is created Pending);
- LIST: items of built-in kinds without kind/apiVersion (custom resources' items keep them, keys sorted), paging
  with real continue tokens (base64 of {"v","rv","start"}; every page at page one's version; `remainingItemCount`
  only without selectors and not on the last page; custom resources' lists say `continue: ""` when complete),
  label and field selectors, `resourceVersion` with `resourceVersionMatch=Exact`; after an etcd compaction an old
  continue token or version is 410 (the token case with a new inconsistent token);
- WATCH: one event per HTTP chunk; ADDED/MODIFIED/DELETED as a selector sees them (an object leaving a selector is
  DELETED with its previous state and the new version); bookmarks as zero-valued objects of the kind, about once a
  `--bookmark-seconds` and two seconds before `timeoutSeconds`; from a version the watch cache no longer holds (after
  a restart) HTTP 200 and one ERROR event with a 410 Status, then the end;
- deletion: a bound Pod is deleted gracefully (MODIFIED with deletionTimestamp, then a simulated kubelet's
  MODIFIED and DELETED), objects with finalizers wait for them, a Namespace goes Terminating, loses its contents and
  then goes; dependents (ownerReferences) are garbage-collected; every namespace gets a `default` ServiceAccount
  and the `kube-root-ca.crt` ConfigMap;
- authentication by bearer token (401 otherwise) and authorization by RBAC over the stored Roles, ClusterRoles and
  bindings (bootstrap `cluster-admin` for `system:masters`), `resourceNames` included (a list or watch with
  `fieldSelector=metadata.name=X` is authorized as X), with RBAC's escalation check on roles and bindings;
  SelfSubjectAccessReview and SubjectAccessReview answered by the same rules;
- the aggregation layer: an APIService with a `service` serves its group/version from that Service (its ready
  endpoints, as `--enable-aggregator-routing` does; 503 `service unavailable` without one): the request is
  authorized here by its RequestInfo (`/apis/G/V/watch/namespaces/NS/deployments/web/tap` is verb `watch` on
  `deployments/tap`), then proxied over TLS checked against `caBundle` for `SERVICE.NAMESPACE.svc`, with the front
  proxy's client certificate (`--proxy-client-cert-file`) and the user in `X-Remote-User`/`-Group`/`-Extra-*`
  (the caller's credentials removed), its answer streamed back; `/apis` lists the group, `/apis/G` is answered
  from the APIServices; kube-system/extension-apiserver-authentication holds `--requestheader-client-ca-file` and
  the header names, readable through the bootstrap Role `extension-apiserver-authentication-reader`, and the
  ClusterRole `system:auth-delegator` grants reviews;
- TokenReview for the tokens registered with `/_test/tokens`, checking audiences and that the ServiceAccount exists;
- mutating admission for Pods: each MutatingWebhookConfiguration webhook whose rules, namespaceSelector,
  objectSelector and CEL matchConditions (cel-python) match gets an AdmissionReview v1 as the real server sends it
  (no name for a generateName pod, full userInfo, `?timeout=Ns`), over TLS checked against `caBundle`
  (`clientConfig.url` only: a `service` reference has no cluster DNS here); JSONPatch applied, warnings passed on
  as `Warning` headers, failurePolicy honoured; then Pod Security admission (`pod-security.kubernetes.io/enforce`
  baseline and restricted);
- Status objects for errors as the real server words them (details with the plural, or the Kind for Invalid),
  and the real headers (Audit-Id, Cache-Control, the priority-and-fairness UIDs, chunked bodies above 2 KiB).

Test controls, outside the real API's paths (admin token only):
- `POST /_test/cut-watches`: ends every open watch abruptly (a load balancer's cut);
- `POST /_test/restart`: an API server restart: every watch ends and the watch cache starts again at the current
  version, so a watch from an older version gets the 410 ERROR event and the client must list again;
- `POST /_test/compact`: an etcd compaction at the current version: continue tokens and exact reads of older
  versions get 410; watches are still served from the cache;
- `GET /_test/stats`: how many lists and watches each resource was asked for (and watches without a version);
- `POST /_test/tokens` {token: {"username": "system:serviceaccount:NS:SA", "audiences": [...], "pod": NAME?}}:
  tokens TokenReview accepts (and the API itself, when one of the audiences is the API's);
- `POST /_test/users` {token: {"username": ..., "groups": [...]}}: more identities for the API's own
  authentication (the admin token is `system:masters`);
- `POST /_test/bulk` {"objects": [...], "delete": [...]}: many writes in one request, each its own event and each
  as a client would make it (create or replace, then the status subresource when the object carries a status);
- `GET /_test/admission`: every webhook call so far, in order;
- `GET /_test/protocols`: how many TLS connections chose each protocol by ALPN (`h2`, `http/1.1`).
"""
import argparse, base64, collections, copy, gzip, ipaddress, json, os, re, select, socket, ssl, sys, threading, time, uuid
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

HERE = os.path.dirname(os.path.abspath(__file__))
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
FLOWSCHEMA_UID = str(uuid.uuid4())
PRIORITY_LEVEL_UID = str(uuid.uuid4())


def now_text(offset=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def compact_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sorted_json(value):
    """A custom resource as the API server writes it: every map's keys in order (it is unstructured JSON)."""
    if isinstance(value, dict):
        return {k: sorted_json(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_json(v) for v in value]
    return value


# -- kinds


class Kind:
    def __init__(self, kind, group, version, plural, namespaced, generation=False, status=False, schema=None, crd=None):
        self.kind, self.group, self.version, self.plural = kind, group, version, plural
        self.namespaced, self.generation, self.status = namespaced, generation, status
        self.schema = schema  # a custom resource's openAPIV3Schema
        self.crd = crd  # the CRD's name, for a custom resource

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def custom(self):
        return self.crd is not None

    @property
    def qualified(self):
        """`services`, `customresourcedefinitions.apiextensions.k8s.io`: how messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


BUILTIN = [
    Kind("Namespace", "", "v1", "namespaces", False, status=True),
    Kind("Pod", "", "v1", "pods", True, generation=True, status=True),
    Kind("Service", "", "v1", "services", True, status=True),
    Kind("ServiceAccount", "", "v1", "serviceaccounts", True),
    Kind("ConfigMap", "", "v1", "configmaps", True),
    Kind("Secret", "", "v1", "secrets", True),
    Kind("Node", "", "v1", "nodes", False, status=True),
    Kind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", True, generation=True),
    Kind("Deployment", "apps", "v1", "deployments", True, generation=True, status=True),
    Kind("ReplicaSet", "apps", "v1", "replicasets", True, generation=True, status=True),
    Kind("StatefulSet", "apps", "v1", "statefulsets", True, generation=True, status=True),
    Kind("DaemonSet", "apps", "v1", "daemonsets", True, generation=True, status=True),
    Kind("Job", "batch", "v1", "jobs", True, generation=True, status=True),
    Kind("CronJob", "batch", "v1", "cronjobs", True, generation=True, status=True),
    Kind("ClusterRole", "rbac.authorization.k8s.io", "v1", "clusterroles", False),
    Kind("ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", "clusterrolebindings", False),
    Kind("Role", "rbac.authorization.k8s.io", "v1", "roles", True),
    Kind("RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", True),
    Kind("MutatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", False, generation=True),
    Kind("ValidatingWebhookConfiguration", "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", False, generation=True),
    Kind("CustomResourceDefinition", "apiextensions.k8s.io", "v1", "customresourcedefinitions", False, generation=True, status=True),
    Kind("PodDisruptionBudget", "policy", "v1", "poddisruptionbudgets", True, generation=True, status=True),
    Kind("APIService", "apiregistration.k8s.io", "v1", "apiservices", False, status=True),
]
BUILTIN_BY_PATH = {(k.group, k.version, k.plural): k for k in BUILTIN}
BUILTIN_BY_KIND = {k.kind: k for k in BUILTIN}
# What a bookmark carries besides its version: the kind's zero value, as Go serializes it.
ZERO = {
    "Pod": {"spec": {"containers": None}, "status": {}},
    "Service": {"spec": {}, "status": {"loadBalancer": {}}},
    "EndpointSlice": {"addressType": "", "endpoints": None, "ports": None},
    "Namespace": {"spec": {}, "status": {}},
    "Node": {"spec": {}, "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}}, "nodeInfo": {}}},
}
REVIEW_GROUPS = {
    ("authentication.k8s.io", "v1", "tokenreviews"): "TokenReview",
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews"): "SelfSubjectAccessReview",
    ("authorization.k8s.io", "v1", "subjectaccessreviews"): "SubjectAccessReview",
}


def status(code, reason, message, details=None, metadata=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {}, "status": "Failure", "message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class APIError(Exception):
    def __init__(self, code, body, content_type="application/json"):
        super().__init__(body if isinstance(body, str) else body.get("message"))
        self.code, self.body, self.content_type = code, body, content_type


def not_served():
    return APIError(404, "404 page not found\n", "text/plain; charset=utf-8")


def details_for(kind, name=None, use_kind=False):
    details = {}
    if name:
        details["name"] = name
    if kind.group:
        details["group"] = kind.group
    details["kind"] = kind.kind if use_kind else kind.plural
    return details


def not_found(kind, name):
    return APIError(404, status(404, "NotFound", f'{kind.qualified} "{name}" not found', details_for(kind, name)))


def invalid(kind, name, causes):
    """422 Invalid: causes are (field, message) pairs, worded as the real validation words them."""
    what = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
    joined = ", ".join(f"{field}: {message}" for field, message in causes)
    message = f'{what} "{name}" is invalid: ' + (f"[{joined}]" if len(causes) > 1 else joined)
    details = details_for(kind, name, use_kind=True)
    details["causes"] = [{"reason": "FieldValueInvalid" if message.startswith("Invalid value") else "FieldValueRequired" if message.startswith("Required") else "FieldValueInvalid",
                          "message": message, "field": field} for field, message in causes]
    return APIError(422, status(422, "Invalid", message, details))


# -- selectors


def parse_label_selector(text):
    """Requirements as (key, op, values); raises ValueError on a malformed selector."""
    requirements = []
    if not text:
        return requirements
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    for part in (p.strip() for p in parts):
        if not part:
            raise ValueError("empty requirement")
        for word, op in ((" notin ", "notin"), (" in ", "in")):
            if word in part:
                key, values = part.split(word, 1)
                values = values.strip()
                if not (values.startswith("(") and values.endswith(")")):
                    raise ValueError(f"bad set in {part!r}")
                requirements.append((key.strip(), op, {v.strip() for v in values[1:-1].split(",")}))
                break
        else:
            if "!=" in part:
                key, value = part.split("!=", 1)
                requirements.append((key.strip(), "!=", {value.strip()}))
            elif "==" in part:
                key, value = part.split("==", 1)
                requirements.append((key.strip(), "=", {value.strip()}))
            elif "=" in part:
                key, value = part.split("=", 1)
                requirements.append((key.strip(), "=", {value.strip()}))
            elif part.startswith("!"):
                requirements.append((part[1:].strip(), "!exists", set()))
            else:
                requirements.append((part, "exists", set()))
    return requirements


def labels_match(requirements, labels):
    for key, op, values in requirements:
        present = key in labels
        value = labels.get(key)
        if op == "=" and not (present and value in values):
            return False
        if op == "!=" and present and value in values:
            return False
        if op == "in" and not (present and value in values):
            return False
        if op == "notin" and present and value in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
    return True


FIELDS = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
    "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
    "spec.serviceAccountName": lambda o: (o.get("spec") or {}).get("serviceAccountName", ""),
}


def parse_field_selector(text):
    requirements = []
    if not text:
        return requirements
    for part in text.split(","):
        op = "!=" if "!=" in part else "="
        key, value = part.split("!=" if op == "!=" else ("==" if "==" in part else "="), 1)
        key = key.strip()
        if key not in FIELDS:
            raise ValueError(f'field label not supported: {key}')
        requirements.append((key, op, value.strip()))
    return requirements


def fields_match(requirements, obj):
    for key, op, value in requirements:
        actual = FIELDS[key](obj)
        if (op == "=") != (actual == value):
            return False
    return True


def selector_matches(selector, labels):
    """A metav1.LabelSelector (matchLabels and matchExpressions) against labels; an empty selector matches all."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], set(expression.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# -- patches


def pointer_tokens(path):
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]


def apply_json_patch(document, operations):
    """RFC 6902 add, remove, replace and test (what admission webhooks and JSON-patch clients send)."""
    for operation in operations:
        tokens = pointer_tokens(operation["path"])
        parent = document
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
        last = tokens[-1]
        op = operation["op"]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if op == "add":
                if index > len(parent):
                    raise ValueError(f"index {index} out of range at {operation['path']}")
                parent.insert(index, operation["value"])
            elif op == "remove":
                del parent[index]
            elif op == "replace":
                parent[index] = operation["value"]
            elif op == "test":
                if parent[index] != operation["value"]:
                    raise ValueError(f"test failed at {operation['path']}")
            else:
                raise ValueError(f"unsupported op {op}")
        else:
            if op in ("add", "replace"):
                if op == "replace" and last not in parent:
                    raise ValueError(f"replace of a missing member at {operation['path']}")
                parent[last] = operation["value"]
            elif op == "remove":
                if last not in parent:
                    raise ValueError(f"remove of a missing member at {operation['path']}")
                del parent[last]
            elif op == "test":
                if parent.get(last) != operation["value"]:
                    raise ValueError(f"test failed at {operation['path']}")
            else:
                raise ValueError(f"unsupported op {op}")
    return document


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


# -- managed fields


def fields_v1(value, depth=0, atomic_lists=False):
    """The shape of a managedFields entry's fieldsV1 for the fields `value` sets: maps below the top field carry ".",
    list items are keyed by their `name` (or port/protocol, uid); other lists, and a custom resource's, are atomic."""
    out = {}
    if depth > 1:
        out["."] = {}
    for key, item in value.items():
        if isinstance(item, dict) and item:
            out[f"f:{key}"] = fields_v1(item, depth + 1, atomic_lists)
        elif isinstance(item, list) and item and all(isinstance(i, dict) for i in item) and not atomic_lists:
            entries = {".": {}}
            for element in item:
                if "name" in element and key not in ("ownerReferences",):
                    element_key = {"name": element["name"]}
                elif "uid" in element:
                    element_key = {"uid": element["uid"]}
                elif "containerPort" in element:
                    element_key = {"containerPort": element["containerPort"], "protocol": element.get("protocol", "TCP")}
                elif "port" in element:
                    element_key = {"port": element["port"], "protocol": element.get("protocol", "TCP")}
                else:
                    entries = {}
                    break
                entries["k:" + compact_json(element_key)] = fields_v1(element, depth + 2)
            out[f"f:{key}"] = entries
        else:
            out[f"f:{key}"] = {}
    return out


def managed_entry(manager, operation, api_version, obj, custom=False):
    content = {}
    metadata = obj.get("metadata") or {}
    kept = {k: metadata[k] for k in ("generateName", "labels", "annotations", "ownerReferences", "finalizers") if k in metadata}
    if kept:
        content["metadata"] = kept
    for key, value in obj.items():
        if key not in ("kind", "apiVersion", "metadata", "status"):
            content[key] = value
    return {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now_text(), "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(content, 0, custom)}


# -- custom resources' schemas


def schema_prune(value, schema, path, unknown):
    """Removes what the structural schema does not declare (recording each path), as the API server prunes."""
    if schema is None or not isinstance(value, (dict, list)):
        return value
    if isinstance(value, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            properties = schema.get("properties") or {}
            for key in list(value):
                if key in properties:
                    value[key] = schema_prune(value[key], properties[key], f"{path}.{key}", unknown)
            return value
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        if properties is None and isinstance(additional, dict):
            for key in list(value):
                value[key] = schema_prune(value[key], additional, f"{path}.{key}", unknown)
            return value
        if properties is None and additional is True:
            return value
        for key in list(value):
            if path == "" and key in ("apiVersion", "kind", "metadata"):
                continue
            if key not in (properties or {}):
                unknown.append(f"{path}.{key}".lstrip("."))
                del value[key]
            else:
                value[key] = schema_prune(value[key], properties[key], f"{path}.{key}", unknown)
        return value
    items = schema.get("items")
    return [schema_prune(v, items, f"{path}[{i}]", unknown) for i, v in enumerate(value)]


def schema_default(value, schema):
    """Fills in `default`s top-down, as the API server does on read and write."""
    if schema is None:
        return value
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = schema_default(value[key], sub)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in value:
                value[key] = schema_default(value[key], additional)
    elif isinstance(value, list) and schema.get("items"):
        return [schema_default(v, schema["items"]) for v in value]
    return value


def go_value(value):
    if isinstance(value, str):
        return compact_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return compact_json(value)


def schema_validate(value, schema, path, errors):
    """The OpenAPI checks a CRD's schema makes (not its CEL rules), worded as the API server words them."""
    if schema is None:
        return
    field = path.lstrip(".") or "<root>"
    if value is None:
        if not schema.get("nullable"):
            errors.append((field, f'Invalid value: "null": {field} in body must be of type {schema.get("type", "object")}: "null"'))
        return
    expected = schema.get("type")
    types = {"string": str, "boolean": bool, "object": dict, "array": list}
    if expected == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, float) and value == int(value))
    elif expected == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected in types:
        ok = isinstance(value, types[expected])
    else:
        ok = True
    if not ok:
        actual = {str: "string", bool: "boolean", dict: "object", list: "array", int: "integer", float: "number"}.get(type(value), "unknown")
        errors.append((field, f'Invalid value: "{actual}": {field} in body must be of type {expected}: "{actual}"'))
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(compact_json(v) for v in schema["enum"])
        errors.append((field, f"Unsupported value: {go_value(value)}: supported values: {allowed}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "maximum" in schema and value > schema["maximum"]:
            errors.append((field, f"Invalid value: {go_value(value)}: {field} in body should be less than or equal to {go_value(schema['maximum'])}"))
        if "minimum" in schema and value < schema["minimum"]:
            errors.append((field, f"Invalid value: {go_value(value)}: {field} in body should be greater than or equal to {go_value(schema['minimum'])}"))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append((field, f"Too long: may not be more than {schema['maxLength']} bytes"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append((field, f"Invalid value: {go_value(value)}: {field} in body should be at least {schema['minLength']} chars long"))
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append((field, f"Invalid value: {go_value(value)}: {field} in body should match '{schema['pattern']}'"))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append((field, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append((field, f"Invalid value: {len(value)}: {field} in body should have at least {schema['minItems']} items"))
        for index, item in enumerate(value):
            schema_validate(item, schema.get("items"), f"{path}[{index}]", errors)
    if isinstance(value, dict):
        for required in schema.get("required") or []:
            if required not in value:
                errors.append((f"{path}.{required}".lstrip("."), "Required value"))
        properties = schema.get("properties") or {}
        for key, item in value.items():
            if path == "" and key in ("apiVersion", "kind", "metadata"):
                continue
            if key in properties:
                schema_validate(item, properties[key], f"{path}.{key}", errors)
            elif isinstance(schema.get("additionalProperties"), dict):
                schema_validate(item, schema["additionalProperties"], f"{path}.{key}", errors)


# -- built-in defaults and validation

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_MESSAGE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
                 "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MESSAGE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
                     "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DEFAULT_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
                        "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def validate_builtin(kind, obj):
    causes = []
    name = obj["metadata"].get("name", "")
    if kind.kind in ("Namespace", "Service"):
        if not DNS1123_LABEL.match(name) or len(name) > 63:
            causes.append(("metadata.name", f'Invalid value: "{name}": {LABEL_MESSAGE}'))
    elif kind.group != "rbac.authorization.k8s.io":
        if not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
            causes.append(("metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MESSAGE}'))
    if kind.kind == "Service":
        ip = (obj.get("spec") or {}).get("clusterIP")
        if ip and ip != "None":
            try:
                valid = ipaddress.ip_address(ip) in ServiceIPs.network
            except ValueError:
                valid = False
            if not valid:
                causes.append(("spec.clusterIPs", f'Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {ServiceIPs.network}'))
        for index, port in enumerate((obj.get("spec") or {}).get("ports") or []):
            number = port.get("port")
            if not isinstance(number, int) or not 1 <= number <= 65535:
                causes.append((f"spec.ports[{index}].port", f"Invalid value: {go_value(number)}: must be between 1 and 65535, inclusive"))
    if kind.kind == "Pod":
        if not (obj.get("spec") or {}).get("containers"):
            causes.append(("spec.containers", "Required value"))
    if kind.kind == "APIService":
        spec = obj.get("spec") or {}
        expected = f'{spec.get("version", "")}.{spec.get("group", "")}'
        if name != expected:
            causes.append(("metadata.name", f'Invalid value: "{name}": must be `spec.version+"."+spec.group`: "{expected}"'))
        if not 0 < (spec.get("groupPriorityMinimum") or 0) <= 20000:
            causes.append(("spec.groupPriorityMinimum", f'Invalid value: {go_value(spec.get("groupPriorityMinimum") or 0)}: must be positive and less than 20000'))
        if not 0 < (spec.get("versionPriority") or 0) <= 1000:
            causes.append(("spec.versionPriority", f'Invalid value: {go_value(spec.get("versionPriority") or 0)}: must be positive and less than 1000'))
        service = spec.get("service")
        if service is not None and not spec.get("insecureSkipTLSVerify") and not spec.get("caBundle"):
            causes.append(("spec.caBundle", "Required value: if insecureSkipTLSVerify is not true, caBundle must be set"))
    return causes


def image_pull_policy(image):
    tail = (image or "").rsplit("/", 1)[-1]
    return "Always" if ":" not in tail or tail.endswith(":latest") else "IfNotPresent"


def default_container(container):
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("imagePullPolicy", image_pull_policy(container.get("image")))
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


class ServiceIPs:
    network = ipaddress.ip_network("10.96.0.0/16")

    def __init__(self):
        self.used = set()

    def allocate(self):
        while True:
            candidate = str(self.network[int.from_bytes(os.urandom(2), "big") % (self.network.num_addresses - 2) + 1])
            if candidate not in self.used and candidate != "10.96.0.1":
                self.used.add(candidate)
                return candidate


# -- the store


class Store:
    def __init__(self, history, start_rv=1000):
        self.lock = threading.Condition()
        self.rv = start_rv
        self.objects = {}  # (group, plural) → {(ns, name): object, stored with kind and apiVersion}
        self.events = collections.deque()  # (rv, group, plural, type, object, previous)
        self.history = history
        self.watch_cache_oldest = start_rv  # a watch from an older version gets the 410 ERROR event
        self.compacted = 0  # continue tokens and exact reads older than this are 410
        self.closed_generation = 0  # bumped to cut every open watch
        self.stats = collections.defaultdict(lambda: {"list": 0, "watch": 0, "watch_without_version": 0})
        self.review_tokens = {}
        self.users = {}
        self.admission = []
        self.ips = ServiceIPs()
        self.custom = {}  # (group, version, plural) → Kind, from the stored CRDs
        self.pending = []  # (due, callable): what the simulated controllers do next
        self.protocols = {}  # TLS connections by the protocol ALPN chose

    # lookups

    def kind_for(self, group, version, plural):
        return BUILTIN_BY_PATH.get((group, version, plural)) or self.custom.get((group, version, plural))

    def kind_named(self, kind_name, api_version=None):
        if kind_name in BUILTIN_BY_KIND:
            return BUILTIN_BY_KIND[kind_name]
        for kind in self.custom.values():
            if kind.kind == kind_name and (api_version is None or kind.api_version == api_version):
                return kind
        return None

    def table(self, kind):
        return self.objects.setdefault((kind.group, kind.plural), {})

    def get(self, kind, namespace, name):
        return self.table(kind).get((namespace if kind.namespaced else None, name))

    def refresh_custom(self):
        custom = {}
        for crd in self.table(BUILTIN_BY_KIND["CustomResourceDefinition"]).values():
            spec = crd.get("spec") or {}
            names = spec.get("names") or {}
            for version in spec.get("versions") or []:
                if not version.get("served"):
                    continue
                custom[(spec["group"], version["name"], names["plural"])] = Kind(
                    names["kind"], spec["group"], version["name"], names["plural"], spec.get("scope") == "Namespaced", generation=True,
                    status="status" in (version.get("subresources") or {}), schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                    crd=crd["metadata"]["name"])
        self.custom = custom

    # history

    def record(self, kind, type_, obj, previous):
        self.events.append((self.rv, kind.group, kind.plural, type_, copy.deepcopy(obj), copy.deepcopy(previous)))
        while len(self.events) > self.history:
            dropped = self.events.popleft()
            self.watch_cache_oldest = max(self.watch_cache_oldest, dropped[0])
        self.lock.notify_all()

    def state_at(self, kind, rv):
        """The objects of a kind as they were at revision `rv` (for continue tokens and exact reads)."""
        state = {key: obj for key, obj in self.table(kind).items()}
        for event_rv, group, plural, type_, obj, previous in reversed(self.events):
            if event_rv <= rv:
                break
            if (group, plural) != (kind.group, kind.plural):
                continue
            key = (obj["metadata"].get("namespace") if kind.namespaced else None, obj["metadata"]["name"])
            if type_ == "ADDED":
                state.pop(key, None)
            else:
                state[key] = previous
        return state

    def oldest_known(self):
        return self.events[0][0] - 1 if self.events else self.rv

    # writes (the caller holds the lock)

    def bump(self):
        self.rv += 1
        return str(self.rv)

    def put(self, kind, obj, previous, type_):
        key = (obj["metadata"].get("namespace") if kind.namespaced else None, obj["metadata"]["name"])
        if type_ == "DELETED":
            self.table(kind).pop(key, None)
        else:
            self.table(kind)[key] = obj
        self.record(kind, type_, obj, previous)
        if kind.kind == "CustomResourceDefinition":
            self.refresh_custom()
        if kind.kind == "Namespace" and type_ == "ADDED":
            self.populate_namespace(obj["metadata"]["name"])
        if type_ == "DELETED":
            self.collect_dependents(obj["metadata"].get("uid"))

    def new_object(self, kind, obj, manager="kube-controller-manager"):
        """Stores an object as the API's own controllers create it (default ServiceAccounts, root CA ConfigMaps)."""
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = self.bump()
        meta["creationTimestamp"] = now_text()
        meta["managedFields"] = [managed_entry(manager, "Update", kind.api_version, obj)]
        stored = order_object(kind, obj)
        self.put(kind, stored, None, "ADDED")
        return stored

    def populate_namespace(self, namespace):
        sa = BUILTIN_BY_KIND["ServiceAccount"]
        if self.get(sa, namespace, "default") is None:
            self.new_object(sa, {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "default", "namespace": namespace}})
        cm = BUILTIN_BY_KIND["ConfigMap"]
        if self.get(cm, namespace, "kube-root-ca.crt") is None:
            self.new_object(cm, {"kind": "ConfigMap", "apiVersion": "v1",
                                 "metadata": {"name": "kube-root-ca.crt", "namespace": namespace,
                                              "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                                 "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n(test cluster)\n-----END CERTIFICATE-----\n"}})

    def collect_dependents(self, uid):
        """The garbage collector: what an owner deleted owned goes too (background propagation)."""
        if not uid:
            return
        for (group, plural), table in list(self.objects.items()):
            kind = next((k for k in list(BUILTIN) + list(self.custom.values()) if (k.group, k.plural) == (group, plural)), None)
            if kind is None:
                continue
            for key, obj in list(table.items()):
                if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []):
                    self.schedule(0.05, lambda kind=kind, obj=obj: self.delete_now(kind, obj))

    def delete_now(self, kind, obj):
        current = self.get(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if current is None or current["metadata"]["uid"] != obj["metadata"]["uid"]:
            return
        gone = copy.deepcopy(current)
        gone["metadata"]["resourceVersion"] = self.bump()
        self.put(kind, gone, current, "DELETED")

    def schedule(self, delay, action):
        self.pending.append((time.monotonic() + delay, action))
        self.lock.notify_all()

    def run_controllers(self):
        """The kubelet, namespace controller and garbage collector this server stands in for, on one thread."""
        while True:
            with self.lock:
                due = [p for p in self.pending if p[0] <= time.monotonic()]
                self.pending = [p for p in self.pending if p[0] > time.monotonic()]
                for _, action in sorted(due, key=lambda p: p[0]):
                    action()
                wait = min((p[0] for p in self.pending), default=time.monotonic() + 1) - time.monotonic()
                if wait > 0:
                    self.lock.wait(min(wait, 1.0))


METADATA_ORDER = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
                  "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
                  "managedFields"]


def order_object(kind, obj):
    """Keys in the order the API server writes them (kind, apiVersion, metadata in ObjectMeta's order, the rest,
    status last); a custom resource's keys sorted."""
    obj = dict(obj)
    obj["kind"], obj["apiVersion"] = kind.kind, kind.api_version
    meta = obj.get("metadata") or {}
    ordered_meta = {k: meta[k] for k in METADATA_ORDER if k in meta}
    ordered_meta.update({k: v for k, v in meta.items() if k not in ordered_meta})
    obj["metadata"] = ordered_meta
    if kind.custom:
        return sorted_json(obj)
    out = {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": ordered_meta}
    for key, value in obj.items():
        if key not in out and key != "status":
            out[key] = value
    if "status" in obj:
        out["status"] = obj["status"]
    return out


def list_item(kind, obj):
    """What a LIST shows of an object: built-in kinds lose kind and apiVersion (only the List says them)."""
    if kind.custom:
        return obj
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def continue_token(rv, start):
    raw = compact_json({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def read_continue(token):
    padded = token + "=" * (-len(token) % 4)
    decoded = json.loads(base64.urlsafe_b64decode(padded))
    if decoded.get("v") != "meta.k8s.io/v1" or "rv" not in decoded or "start" not in decoded:
        raise ValueError("bad token")
    return decoded


# -- identities and RBAC


class User:
    def __init__(self, name, groups, uid=None, extra=None):
        self.name, self.groups, self.uid, self.extra = name, list(groups), uid, extra or {}

    @property
    def masters(self):
        return "system:masters" in self.groups

    def describe(self):
        return f'User "{self.name}" '

    def info(self):
        info = {"username": self.name}
        if self.uid:
            info["uid"] = self.uid
        info["groups"] = self.groups
        if self.extra:
            info["extra"] = self.extra
        return info


def service_account_user(namespace, name, uid=None, extra=None):
    return User(f"system:serviceaccount:{namespace}:{name}", ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
                uid, extra)


BOOTSTRAP_RBAC = [
    {"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]},
    {"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]},
    {"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "rules": [{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
               {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}]},
    {"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:basic-user"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]},
    {"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "system:discovery", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "rules": [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]},
    {"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "system:discovery", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:discovery"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]},
    {"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "system:auth-delegator", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "rules": [{"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
               {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]}]},
]
# Made once kube-system exists: what an aggregated API server reads to trust the front proxy.
BOOTSTRAP_KUBE_SYSTEM = [
    {"kind": "Role", "apiVersion": "rbac.authorization.k8s.io/v1",
     "metadata": {"name": "extension-apiserver-authentication-reader", "namespace": "kube-system", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["extension-apiserver-authentication"], "verbs": ["get", "list", "watch"]}]},
]


def subject_matches(subject, user):
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user.name
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        return user.name == f"system:serviceaccount:{subject.get('namespace', '')}:{subject.get('name')}"
    return False


def describe_subject(subject):
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace")}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


def rule_allows(rule, verb, group, resource, subresource, name, path=None):
    verbs = rule.get("verbs") or []
    if verb not in verbs and "*" not in verbs:
        return False
    if path is not None:
        urls = rule.get("nonResourceURLs") or []
        return any(u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])) for u in urls)
    if "*" not in (rule.get("apiGroups") or []) and group not in (rule.get("apiGroups") or []):
        return False
    full = f"{resource}/{subresource}" if subresource else resource
    resources = rule.get("resources") or []
    if not ("*" in resources or full in resources or (subresource and f"*/{subresource}" in resources) or (not subresource and False)):
        return False
    names = rule.get("resourceNames") or []
    if names and (not name or name not in names):
        return False
    return True


class Authorizer:
    def __init__(self, store):
        self.store = store

    def roles(self, ref, namespace):
        kind = BUILTIN_BY_KIND["ClusterRole" if ref.get("kind") == "ClusterRole" else "Role"]
        role = self.store.get(kind, namespace, ref.get("name"))
        return (role or {}).get("rules") or []

    def authorize(self, user, verb, group="", resource="", subresource="", namespace=None, name=None, path=None):
        """(allowed, reason) as the API server's authorizers decide it: `system:masters` always, then RBAC."""
        if user.masters:
            return True, ""
        crb = BUILTIN_BY_KIND["ClusterRoleBinding"]
        for binding in sorted(self.store.table(crb).values(), key=lambda b: b["metadata"]["name"]):
            for subject in binding.get("subjects") or []:
                if not subject_matches(subject, user):
                    continue
                if any(rule_allows(r, verb, group, resource, subresource, name, path) for r in self.roles(binding["roleRef"], None)):
                    return True, (f'RBAC: allowed by ClusterRoleBinding "{binding["metadata"]["name"]}" of ClusterRole '
                                  f'"{binding["roleRef"]["name"]}" to {describe_subject(subject)}')
        if namespace and path is None:
            rb = BUILTIN_BY_KIND["RoleBinding"]
            for (ns, _), binding in sorted(self.store.table(rb).items()):
                if ns != namespace:
                    continue
                for subject in binding.get("subjects") or []:
                    if not subject_matches(subject, user):
                        continue
                    ref = binding["roleRef"]
                    if any(rule_allows(r, verb, group, resource, subresource, name) for r in self.roles(ref, None if ref.get("kind") == "ClusterRole" else ns)):
                        return True, (f'RBAC: allowed by RoleBinding "{binding["metadata"]["name"]}/{ns}" of {ref.get("kind")} '
                                      f'"{ref["name"]}" to {describe_subject(subject)}')
        return False, ""

    def forbidden(self, user, verb, kind_or_resource, group, namespace, name=None, subresource=""):
        resource = kind_or_resource
        full = f"{resource}/{subresource}" if subresource else resource
        qualified = f"{resource}.{group}" if group else resource
        what = f'{qualified} "{name}"' if name else qualified
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = f'{what} is forbidden: User "{user.name}" cannot {verb} resource "{full}" in API group "{group}" {where}'
        details = {}
        if name:
            details["name"] = name
        if group:
            details["group"] = group
        details["kind"] = resource
        return APIError(403, status(403, "Forbidden", message, details))

    def escalation(self, user, kind, obj):
        """RBAC's rule: a role may grant only what its author holds (or `escalate`); a binding only a role its author
        holds or may `bind`. Returns the permissions not held, as the error lists them."""
        namespace = obj["metadata"].get("namespace") if kind.namespaced else None
        if kind.kind in ("Role", "ClusterRole"):
            if self.authorize(user, "escalate", "rbac.authorization.k8s.io", kind.plural, "", namespace, obj["metadata"].get("name"))[0]:
                return []
            rules = obj.get("rules") or []
        else:
            ref = obj.get("roleRef") or {}
            plural = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
            if self.authorize(user, "bind", "rbac.authorization.k8s.io", plural, "", namespace, ref.get("name"))[0]:
                return []
            role_kind = BUILTIN_BY_KIND["ClusterRole" if ref.get("kind") == "ClusterRole" else "Role"]
            if self.store.get(role_kind, None if ref.get("kind") == "ClusterRole" else namespace, ref.get("name")) is None:
                # Without `bind`, the role's rules are needed to compare: a binding to a missing role is NotFound.
                raise not_found(role_kind, ref.get("name"))
            rules = self.roles(ref, None if ref.get("kind") == "ClusterRole" else namespace)
        missing = []
        for rule in rules:
            lacking = []
            for verb in rule.get("verbs") or []:
                if rule.get("nonResourceURLs"):
                    for url in rule["nonResourceURLs"]:
                        if not self.authorize(user, verb, path=url)[0]:
                            lacking.append(verb)
                    continue
                for group in rule.get("apiGroups") or []:
                    for resource in rule.get("resources") or []:
                        base, _, sub = resource.partition("/")
                        for name in (rule.get("resourceNames") or [None]):
                            if not self.authorize(user, verb, group, base, sub, namespace, name)[0]:
                                lacking.append(verb)
            if lacking:
                missing.append(rule)
        return missing


def go_quoted_list(values):
    return "[" + " ".join(compact_json(v) for v in values) + "]"


def describe_rule(rule):
    parts = []
    if rule.get("apiGroups") is not None:
        parts.append(f"APIGroups:{go_quoted_list(rule.get('apiGroups') or [])}")
    if rule.get("resources"):
        parts.append(f"Resources:{go_quoted_list(rule['resources'])}")
    if rule.get("resourceNames"):
        parts.append(f"ResourceNames:{go_quoted_list(rule['resourceNames'])}")
    if rule.get("nonResourceURLs"):
        parts.append(f"NonResourceURLs:{go_quoted_list(rule['nonResourceURLs'])}")
    parts.append(f"Verbs:{go_quoted_list(rule.get('verbs') or [])}")
    return "{" + ", ".join(parts) + "}"


# -- Pod Security admission


def pod_security_violations(pod, level):
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or []) + (spec.get("ephemeralContainers") or [])
    pod_context = spec.get("securityContext") or {}
    violations = []

    def names(cs):
        quoted = ", ".join(f'"{c.get("name")}"' for c in cs)
        return ("containers " if len(cs) > 1 else "container ") + quoted

    host = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if host:
        violations.append(f"host namespaces ({', '.join(host)})")
    privileged = [c for c in containers if (c.get("securityContext") or {}).get("privileged")]
    if privileged:
        violations.append(f"privileged ({names(privileged)} must not set securityContext.privileged=true)")
    if level == "baseline":
        added = []
        for c in containers:
            extra = [cap for cap in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or [] if cap not in DEFAULT_CAPABILITIES]
            if extra:
                added.append(f'container "{c.get("name")}" must not include {", ".join(compact_json(x) for x in extra)} in securityContext.capabilities.add')
        if added:
            violations.append(f"non-default capabilities ({'; '.join(added)})")
    host_paths = [v.get("name") for v in spec.get("volumes") or [] if "hostPath" in v]
    if host_paths:
        violations.append(f"hostPath volumes ({'volume' if len(host_paths) == 1 else 'volumes'} {', '.join(compact_json(n) for n in host_paths)})")
    if level == "restricted":
        escalation = [c for c in containers if (c.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False]
        if escalation:
            violations.append(f"allowPrivilegeEscalation != false ({names(escalation)} must set securityContext.allowPrivilegeEscalation=false)")
        capability_parts = []
        no_drop = [c for c in containers if "ALL" not in (((c.get("securityContext") or {}).get("capabilities") or {}).get("drop") or [])]
        if no_drop:
            capability_parts.append(f'{names(no_drop)} must set securityContext.capabilities.drop=["ALL"]')
        for c in containers:
            extra = [cap for cap in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or [] if cap != "NET_BIND_SERVICE"]
            if extra:
                capability_parts.append(f'container "{c.get("name")}" must not include {", ".join(compact_json(x) for x in extra)} in securityContext.capabilities.add')
        if capability_parts:
            violations.append(f"unrestricted capabilities ({'; '.join(capability_parts)})")
        non_root = [c for c in containers if (c.get("securityContext") or {}).get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True]
        if non_root:
            violations.append(f"runAsNonRoot != true (pod or {names(non_root)} must set securityContext.runAsNonRoot=true)")
        root = [c for c in containers if (c.get("securityContext") or {}).get("runAsUser", pod_context.get("runAsUser")) == 0]
        if root:
            violations.append(f"runAsUser=0 ({names(root)} must not set runAsUser=0)")

        def seccomp(c):
            profile = ((c.get("securityContext") or {}).get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
            return profile in ("RuntimeDefault", "Localhost")
        no_seccomp = [c for c in containers if not seccomp(c)]
        if no_seccomp:
            violations.append(f'seccompProfile (pod or {names(no_seccomp)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')
        allowed = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "name"}
        restricted_volumes = [v.get("name") for v in spec.get("volumes") or [] if set(v) - allowed and "hostPath" not in v]
        if restricted_volumes:
            violations.append(f"restricted volume types ({', '.join(compact_json(n) for n in restricted_volumes)})")
    return violations


# -- CEL match conditions


def evaluate_match_conditions(conditions, obj, request):
    """True when every matchCondition holds (Kubernetes' CEL, by cel-python); raises on an expression that does not
    compile or evaluate, as the API server does."""
    if not conditions:
        return True
    import celpy  # noqa: PLC0415 - only admission with matchConditions needs it
    from celpy import json_to_cel  # noqa: PLC0415
    environment = celpy.Environment()
    activation = {"object": json_to_cel(obj), "oldObject": json_to_cel(None), "request": json_to_cel(request)}
    for condition in conditions:
        program = environment.program(environment.compile(condition["expression"]))
        result = program.evaluate(activation)
        if isinstance(result, Exception) or not isinstance(result, (bool, celpy.celtypes.BoolType)):
            raise ValueError(f'expression {condition["name"]!r} resulted in error: {result}')
        if not bool(result):
            return False
    return True


# -- the API's verbs


def spec_of(obj):
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata", "status")}


class API:
    def __init__(self, store, options):
        self.store = store
        self.options = options
        self.rbac = Authorizer(store)

    # defaults

    def default_builtin(self, kind, obj, existing=None):
        meta = obj["metadata"]
        spec = obj.get("spec")
        if kind.kind == "Namespace":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        elif kind.kind == "Service":
            spec = obj.setdefault("spec", {})
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                if "targetPort" not in port and "port" in port:
                    port["targetPort"] = port["port"]
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if spec.get("type") != "ExternalName":
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
                spec.setdefault("internalTrafficPolicy", "Cluster")
        elif kind.kind == "Pod":
            spec = obj.setdefault("spec", {})
            for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                default_container(container)
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
            spec["serviceAccount"] = spec["serviceAccountName"]
            spec.setdefault("securityContext", {})
            spec.setdefault("schedulerName", "default-scheduler")
            if existing is None:
                tolerations = spec.setdefault("tolerations", [])
                for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
                    if not any(t.get("key") == key for t in tolerations):
                        tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
            spec.setdefault("priority", 0)
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        elif kind.kind == "Secret":
            obj.setdefault("type", "Opaque")
            if "stringData" in obj:
                data = obj.setdefault("data", {})
                for key, value in obj.pop("stringData").items():
                    data[key] = base64.b64encode(value.encode()).decode()
        elif kind.kind == "EndpointSlice":
            obj.setdefault("endpoints", None)
            obj.setdefault("ports", None)
        elif kind.kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for webhook in obj.get("webhooks") or []:
                webhook.setdefault("failurePolicy", "Fail")
                webhook.setdefault("matchPolicy", "Equivalent")
                webhook.setdefault("namespaceSelector", {})
                webhook.setdefault("objectSelector", {})
                webhook.setdefault("timeoutSeconds", 10)
                if kind.kind == "MutatingWebhookConfiguration":
                    webhook.setdefault("reinvocationPolicy", "Never")
                for rule in webhook.get("rules") or []:
                    rule.setdefault("scope", "*")
        elif kind.kind == "CustomResourceDefinition":
            spec = obj.setdefault("spec", {})
            spec.setdefault("conversion", {"strategy": "None"})
            names = spec.setdefault("names", {})
            names.setdefault("singular", names.get("kind", "").lower())
            names.setdefault("listKind", names.get("kind", "") + "List")

    def service_account_admission(self, pod, namespace):
        """What the ServiceAccount admission plugin does: the account must exist, and its token is mounted."""
        spec = pod["spec"]
        account = spec["serviceAccountName"]
        if self.store.get(BUILTIN_BY_KIND["ServiceAccount"], namespace, account) is None:
            raise APIError(403, status(403, "Forbidden",
                                       f'pods "{pod["metadata"].get("name") or pod["metadata"].get("generateName", "")}" is forbidden: error looking up service account {namespace}/{account}: serviceaccount "{account}" not found',
                                       {"name": pod["metadata"].get("name", ""), "kind": "pods"} if pod["metadata"].get("name") else {"kind": "pods"}))
        if spec.get("automountServiceAccountToken") is False:
            return
        if any(v.get("name", "").startswith("kube-api-access-") for v in spec.get("volumes") or []):
            return
        volume = f"kube-api-access-{uuid.uuid4().hex[:5]}"
        spec.setdefault("volumes", []).append({"name": volume, "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
            "defaultMode": 420}})
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            mounts = container.setdefault("volumeMounts", [])
            if not any(m.get("mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount" for m in mounts):
                mounts.append({"name": volume, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
        # Keys in the order the API writes them (volumes first).
        pod["spec"] = {"volumes": spec.pop("volumes"), **spec}

    def custom_schema(self, kind, obj, field_validation, warnings):
        unknown = []
        schema_prune(obj, kind.schema, "", unknown)
        if unknown:
            if field_validation == "Strict":
                fields = ", ".join(f'unknown field "{u}"' for u in unknown)
                raise APIError(400, status(400, "BadRequest",
                                           f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: strict decoding error: {fields}'))
            if field_validation != "Ignore":
                warnings.extend(f'unknown field "{u}"' for u in unknown)
        schema_default(obj, kind.schema)
        errors = []
        schema_validate(obj, kind.schema, "", errors)
        if errors:
            raise invalid(kind, obj["metadata"].get("name", ""), errors)

    # writes

    def check_namespace(self, kind, namespace, obj_name):
        if not kind.namespaced:
            return
        ns = self.store.get(BUILTIN_BY_KIND["Namespace"], None, namespace)
        if ns is None:
            raise APIError(404, status(404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}))
        if ns["metadata"].get("deletionTimestamp"):
            raise APIError(403, status(403, "Forbidden",
                                       f"{kind.qualified} \"{obj_name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                                       {"name": obj_name, "group": kind.group, "kind": kind.plural} if kind.group else {"name": obj_name, "kind": kind.plural},
                                       ))

    def prepare(self, kind, obj, namespace, path_name=None):
        if not isinstance(obj, dict):
            raise APIError(400, status(400, "BadRequest", "the body of the request was in an unknown format"))
        if obj.get("kind") not in (None, kind.kind) or obj.get("apiVersion") not in (None, kind.api_version):
            raise APIError(400, status(400, "BadRequest", f'the API version in the data ({obj.get("apiVersion")}) does not match the expected API version ({kind.api_version})'))
        obj = copy.deepcopy(obj)
        obj["kind"], obj["apiVersion"] = kind.kind, kind.api_version
        meta = obj.setdefault("metadata", {})
        if kind.namespaced:
            if meta.get("namespace", namespace) != namespace:
                raise APIError(400, status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"))
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if path_name is not None:
            if meta.get("name", path_name) != path_name:
                raise APIError(400, status(400, "BadRequest", "the name of the object does not match the name on the URL"))
            meta["name"] = path_name
        for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        return obj

    def create(self, user, kind, namespace, body, query, manager, warnings):
        allowed, _ = self.rbac.authorize(user, "create", kind.group, kind.plural, "", namespace)
        if not allowed:
            raise self.rbac.forbidden(user, "create", kind.plural, kind.group, namespace)
        obj = self.prepare(kind, body, namespace)
        meta = obj["metadata"]
        meta.pop("resourceVersion", None)
        name_for_messages = meta.get("name") or meta.get("generateName", "")
        self.check_namespace(kind, namespace, name_for_messages)
        if kind.custom:
            self.custom_schema(kind, obj, query.get("fieldValidation", "Warn"), warnings)
        else:
            self.default_builtin(kind, obj)
        if kind.status:
            obj.pop("status", None)
        # The field manager runs before admission: webhooks see the request's managedFields.
        obj["metadata"]["managedFields"] = [managed_entry(manager, "Update", kind.api_version, obj, kind.custom)]
        if kind.kind == "Pod":
            self.service_account_admission(obj, namespace)
            obj["status"] = {}
            obj = self.mutating_admission(user, kind, namespace, obj, warnings)
        if not meta.get("name"):
            if meta.get("generateName"):
                obj["metadata"]["name"] = obj["metadata"]["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise invalid(kind, "", [("metadata.name", "Required value: name or generateName is required")])
        meta = obj["metadata"]
        if not kind.custom:
            causes = validate_builtin(kind, obj)
            if causes:
                raise invalid(kind, meta["name"], causes)
        if kind.kind == "Pod":
            self.pod_security(obj, namespace)
        if kind.group == "rbac.authorization.k8s.io":
            self.check_escalation(user, kind, obj)
        with self.store.lock:
            if self.store.get(kind, namespace, meta["name"]) is not None:
                raise APIError(409, status(409, "AlreadyExists", f'{kind.qualified} "{meta["name"]}" already exists', details_for(kind, meta["name"])))
            meta["uid"] = str(uuid.uuid4())
            meta["resourceVersion"] = self.store.bump()
            meta["creationTimestamp"] = now_text()
            if kind.generation:
                meta["generation"] = 1
            if kind.kind == "Pod":
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            elif kind.kind == "Service":
                spec = obj["spec"]
                if spec.get("type") != "ExternalName" and "clusterIP" not in spec:
                    spec["clusterIP"] = self.store.ips.allocate()
                elif spec.get("clusterIP") not in (None, "None"):
                    if spec["clusterIP"] in self.store.ips.used:
                        raise invalid(kind, meta["name"], [("spec.clusterIPs", f'Invalid value: []string{{"{spec["clusterIP"]}"}}: failed to allocate IP {spec["clusterIP"]}: provided IP is already allocated')])
                    self.store.ips.used.add(spec["clusterIP"])
                if spec.get("clusterIP") and "clusterIPs" not in spec:
                    spec["clusterIPs"] = [spec["clusterIP"]]
                obj["status"] = {"loadBalancer": {}}
            elif kind.kind == "Namespace":
                obj["status"] = {"phase": "Active"}
            elif kind.kind == "CustomResourceDefinition":
                names = obj["spec"]["names"]
                stamp = now_text()
                obj["status"] = {"conditions": [
                    {"type": "NamesAccepted", "status": "True", "lastTransitionTime": stamp, "reason": "NoConflicts", "message": "no conflicts found"},
                    {"type": "Established", "status": "True", "lastTransitionTime": stamp, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}],
                    "acceptedNames": names, "storedVersions": [v["name"] for v in obj["spec"].get("versions") or [] if v.get("storage")]}
            stored = order_object(kind, obj)
            self.store.put(kind, stored, None, "ADDED")
            return 201, stored

    def check_escalation(self, user, kind, obj):
        missing = self.rbac.escalation(user, kind, obj)
        if missing:
            groups = go_quoted_list(user.groups)
            grants = "\n".join(describe_rule(r) for r in missing)
            message = (f'{kind.qualified} "{obj["metadata"]["name"]}" is forbidden: user "{user.name}" (groups={groups}) is attempting to grant RBAC '
                       f'permissions not currently held:\n{grants}')
            raise APIError(403, status(403, "Forbidden", message, details_for(kind, obj["metadata"]["name"])))

    def update(self, user, kind, namespace, name, body, query, manager, warnings, subresource=""):
        verb = "update"
        allowed, _ = self.rbac.authorize(user, verb, kind.group, kind.plural, subresource, namespace, name)
        if not allowed:
            raise self.rbac.forbidden(user, verb, kind.plural, kind.group, namespace, name, subresource)
        obj = self.prepare(kind, body, namespace, name)
        with self.store.lock:
            existing = self.store.get(kind, namespace, name)
            if existing is None:
                raise not_found(kind, name)
            version = obj["metadata"].get("resourceVersion")
            if version and version != existing["metadata"]["resourceVersion"]:
                raise APIError(409, status(409, "Conflict",
                                           f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has been modified; please apply your changes to the latest version and try again',
                                           details_for(kind, name)))
        return self.replace(user, kind, existing, obj, query, manager, warnings, subresource)

    def replace(self, user, kind, existing, obj, query, manager, warnings, subresource=""):
        name = existing["metadata"]["name"]
        if subresource == "status":
            updated = copy.deepcopy(existing)
            updated["status"] = obj.get("status") or {}
        else:
            if kind.custom:
                self.custom_schema(kind, obj, query.get("fieldValidation", "Warn"), warnings)
            else:
                self.default_builtin(kind, obj, existing)
            updated = obj
            if kind.status:
                if "status" in existing:
                    updated["status"] = copy.deepcopy(existing["status"])
                else:
                    updated.pop("status", None)
            if not kind.custom:
                causes = validate_builtin(kind, updated)
                if causes:
                    raise invalid(kind, name, causes)
            if kind.group == "rbac.authorization.k8s.io":
                self.check_escalation(user, kind, updated)
            if kind.kind == "Service":
                for key in ("clusterIP", "clusterIPs"):
                    if key in existing.get("spec", {}) and key not in updated.setdefault("spec", {}):
                        updated["spec"][key] = existing["spec"][key]
        meta = updated["metadata"]
        old = existing["metadata"]
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName"):
            if key in old:
                meta[key] = old[key]
        if subresource == "status":
            pass
        elif kind.generation:
            changed = spec_of(updated) != spec_of(existing)
            meta["generation"] = old.get("generation", 1) + (1 if changed else 0)
        meta["managedFields"] = old.get("managedFields") or []
        meta["resourceVersion"] = old["resourceVersion"]
        with self.store.lock:
            current = self.store.get(kind, existing["metadata"].get("namespace"), name)
            if current is None or current["metadata"]["uid"] != old["uid"]:
                raise not_found(kind, name)
            candidate = order_object(kind, updated)
            if self.same(candidate, current):
                return 200, current  # a write that changes nothing is not a change: no new version, no event
            entries = [e for e in candidate["metadata"].get("managedFields") or [] if not (e.get("manager") == manager and e.get("operation") == "Update" and e.get("subresource", "") == subresource)]
            entry = managed_entry(manager, "Update", kind.api_version, updated if subresource != "status" else {"status": updated.get("status")}, kind.custom)
            if subresource:
                entry["subresource"] = subresource
            entries.append(entry)
            candidate["metadata"]["managedFields"] = entries
            candidate["metadata"]["resourceVersion"] = self.store.bump()
            candidate = order_object(kind, candidate)
            if candidate["metadata"].get("deletionTimestamp") and not candidate["metadata"].get("finalizers"):
                self.store.put(kind, candidate, current, "DELETED")  # the last finalizer removed: the object goes
            else:
                self.store.put(kind, candidate, current, "MODIFIED")
            return 200, candidate

    @staticmethod
    def same(a, b):
        def strip(o):
            o = copy.deepcopy(o)
            o["metadata"].pop("managedFields", None)
            o["metadata"].pop("resourceVersion", None)
            return o
        return strip(a) == strip(b)

    def patch(self, user, kind, namespace, name, body_bytes, content_type, query, manager, warnings, subresource=""):
        allowed, _ = self.rbac.authorize(user, "patch", kind.group, kind.plural, subresource, namespace, name)
        if not allowed:
            raise self.rbac.forbidden(user, "patch", kind.plural, kind.group, namespace, name, subresource)
        with self.store.lock:
            existing = self.store.get(kind, namespace, name)
            if existing is None:
                raise not_found(kind, name)
            base = copy.deepcopy(existing)
        try:
            patch = json.loads(body_bytes or b"null")
            if content_type.startswith("application/json-patch+json"):
                patched = apply_json_patch(base, patch)
            elif content_type.startswith(("application/merge-patch+json", "application/strategic-merge-patch+json")):
                patched = merge_patch(base, patch)
            else:
                raise APIError(415, status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"))
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise APIError(422, status(422, "Invalid", f"the server rejected our request due to an error in our request: {error}"))
        version = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
        if version and version != existing["metadata"]["resourceVersion"]:
            raise APIError(409, status(409, "Conflict",
                                       f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has been modified; please apply your changes to the latest version and try again',
                                       details_for(kind, name)))
        obj = self.prepare(kind, patched, namespace, name)
        return self.replace(user, kind, existing, obj, query, manager, warnings, subresource)

    def bind(self, user, namespace, name, body, manager):
        pods = BUILTIN_BY_KIND["Pod"]
        allowed, _ = self.rbac.authorize(user, "create", "", "pods", "binding", namespace, name)
        if not allowed:
            raise self.rbac.forbidden(user, "create", "pods", "", namespace, name, "binding")
        with self.store.lock:
            existing = self.store.get(pods, namespace, name)
            if existing is None:
                raise not_found(pods, name)
            if existing["spec"].get("nodeName"):
                raise APIError(409, status(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is already assigned to node "{existing["spec"]["nodeName"]}"', {"name": name, "kind": "pods/binding"}))
            updated = copy.deepcopy(existing)
            updated["spec"]["nodeName"] = ((body or {}).get("target") or {}).get("name", "")
            conditions = [c for c in updated.setdefault("status", {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
            conditions.insert(0, {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now_text()})
            updated["status"] = {"phase": updated["status"].get("phase", "Pending"), "conditions": conditions,
                                 **{k: v for k, v in updated["status"].items() if k not in ("phase", "conditions")}}
            updated["metadata"]["resourceVersion"] = self.store.bump()
            self.store.put(pods, updated, existing, "MODIFIED")
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def delete(self, user, kind, namespace, name, options):
        allowed, _ = self.rbac.authorize(user, "delete", kind.group, kind.plural, "", namespace, name)
        if not allowed:
            raise self.rbac.forbidden(user, "delete", kind.plural, kind.group, namespace, name)
        with self.store.lock:
            existing = self.store.get(kind, namespace, name)
            if existing is None:
                raise not_found(kind, name)
            preconditions = options.get("preconditions") or {}
            if preconditions.get("uid") and preconditions["uid"] != existing["metadata"]["uid"]:
                raise APIError(409, status(409, "Conflict", f'Operation cannot be fulfilled on {kind.qualified} "{name}": Precondition failed: UID in precondition: {preconditions["uid"]}, UID in object meta: {existing["metadata"]["uid"]}', details_for(kind, name)))
            grace = options.get("gracePeriodSeconds")
            meta = existing["metadata"]
            if kind.kind == "Pod" and existing["spec"].get("nodeName"):
                if grace is None:
                    grace = existing["spec"].get("terminationGracePeriodSeconds", 30)
                if meta.get("deletionTimestamp") and grace != 0:
                    return 200, existing
                if grace > 0:
                    updated = copy.deepcopy(existing)
                    updated["metadata"]["deletionTimestamp"] = now_text(grace)
                    updated["metadata"]["deletionGracePeriodSeconds"] = grace
                    updated["metadata"]["generation"] = meta.get("generation", 1) + 1
                    updated["metadata"]["resourceVersion"] = self.store.bump()
                    updated = order_object(kind, updated)
                    self.store.put(kind, updated, existing, "MODIFIED")
                    if self.options.kubelet_seconds > 0:
                        self.store.schedule(self.options.kubelet_seconds, lambda: self.force_delete_pod(namespace, name, updated["metadata"]["uid"]))
                    return 200, updated
                return 200, self.force_delete_pod(namespace, name, meta["uid"])
            if kind.kind == "Namespace":
                if meta.get("deletionTimestamp"):
                    return 200, existing
                updated = copy.deepcopy(existing)
                updated["metadata"]["deletionTimestamp"] = now_text()
                updated["status"] = {"phase": "Terminating"}
                updated["metadata"]["resourceVersion"] = self.store.bump()
                updated = order_object(kind, updated)
                self.store.put(kind, updated, existing, "MODIFIED")
                self.store.schedule(0.05, lambda: self.finish_namespace(name))
                return 200, updated
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return 200, existing
                updated = copy.deepcopy(existing)
                updated["metadata"]["deletionTimestamp"] = now_text()
                updated["metadata"]["deletionGracePeriodSeconds"] = 0
                if kind.generation:
                    updated["metadata"]["generation"] = meta.get("generation", 1) + 1
                updated["metadata"]["resourceVersion"] = self.store.bump()
                updated = order_object(kind, updated)
                self.store.put(kind, updated, existing, "MODIFIED")
                return 200, updated
            gone = copy.deepcopy(existing)
            gone["metadata"]["resourceVersion"] = self.store.bump()
            self.store.put(kind, gone, existing, "DELETED")
            if kind.kind == "Pod":
                return 200, gone
            details = {"name": name}
            if kind.group:
                details["group"] = kind.group
            details["kind"] = kind.plural
            details["uid"] = meta["uid"]
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def force_delete_pod(self, namespace, name, uid):
        """The kubelet's last word on a pod (or a delete with grace 0): MODIFIED with the grace at 0, then DELETED."""
        kind = BUILTIN_BY_KIND["Pod"]
        existing = self.store.get(kind, namespace, name)
        if existing is None or existing["metadata"]["uid"] != uid:
            return None
        updated = copy.deepcopy(existing)
        if not updated["metadata"].get("deletionTimestamp"):
            updated["metadata"]["generation"] = updated["metadata"].get("generation", 1) + 1
        updated["metadata"]["deletionTimestamp"] = now_text()
        updated["metadata"]["deletionGracePeriodSeconds"] = 0
        updated["metadata"]["resourceVersion"] = self.store.bump()
        updated = order_object(kind, updated)
        self.store.put(kind, updated, existing, "MODIFIED")
        gone = copy.deepcopy(updated)
        gone["metadata"]["resourceVersion"] = self.store.bump()
        self.store.put(kind, gone, updated, "DELETED")
        return gone

    def finish_namespace(self, name):
        """The namespace controller: the namespace's contents go, its conditions say so, then it goes."""
        ns_kind = BUILTIN_BY_KIND["Namespace"]
        for (group, plural), table in list(self.store.objects.items()):
            for (ns, _), obj in list(table.items()):
                if ns == name:
                    kind = self.store.kind_named(obj["kind"], obj["apiVersion"])
                    if kind is not None:
                        self.store.delete_now(kind, obj)
        existing = self.store.get(ns_kind, None, name)
        if existing is None:
            return
        stamp = now_text()
        updated = copy.deepcopy(existing)
        updated["status"]["conditions"] = [
            {"type": "NamespaceDeletionDiscoveryFailure", "status": "False", "lastTransitionTime": stamp, "reason": "ResourcesDiscovered", "message": "All resources successfully discovered"},
            {"type": "NamespaceDeletionGroupVersionParsingFailure", "status": "False", "lastTransitionTime": stamp, "reason": "ParsedGroupVersions", "message": "All legacy kube types successfully parsed"},
            {"type": "NamespaceDeletionContentFailure", "status": "False", "lastTransitionTime": stamp, "reason": "ContentDeleted", "message": "All content successfully deleted, may be waiting on finalization"},
            {"type": "NamespaceContentRemaining", "status": "False", "lastTransitionTime": stamp, "reason": "ContentRemoved", "message": "All content successfully removed"},
            {"type": "NamespaceFinalizersRemaining", "status": "False", "lastTransitionTime": stamp, "reason": "ContentHasNoFinalizers", "message": "All content-preserving finalizers finished"}]
        updated["metadata"]["resourceVersion"] = self.store.bump()
        self.store.put(ns_kind, updated, existing, "MODIFIED")
        gone = copy.deepcopy(updated)
        gone["metadata"]["resourceVersion"] = self.store.bump()
        self.store.put(ns_kind, gone, updated, "DELETED")

    # admission

    def pod_security(self, pod, namespace):
        ns = self.store.get(BUILTIN_BY_KIND["Namespace"], None, namespace) or {}
        level = ((ns.get("metadata") or {}).get("labels") or {}).get("pod-security.kubernetes.io/enforce", "privileged")
        if level not in ("baseline", "restricted"):
            return
        violations = pod_security_violations(pod, level)
        if violations:
            name = pod["metadata"]["name"]
            raise APIError(403, status(403, "Forbidden", f'pods "{name}" is forbidden: violates PodSecurity "{level}:latest": {", ".join(violations)}',
                                       {"name": name, "kind": "pods"}))

    def mutating_admission(self, user, kind, namespace, obj, warnings):
        store = self.store
        with store.lock:
            configurations = [copy.deepcopy(o) for o in store.table(BUILTIN_BY_KIND["MutatingWebhookConfiguration"]).values()]
            ns_object = store.get(BUILTIN_BY_KIND["Namespace"], None, namespace)
            ns_labels = dict((ns_object or {}).get("metadata", {}).get("labels") or {})
        for configuration in sorted(configurations, key=lambda c: c["metadata"]["name"]):
            for webhook in configuration.get("webhooks") or []:
                if not any(("CREATE" in r.get("operations", []) or "*" in r.get("operations", []))
                           and ("" in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
                           and ("pods" in r.get("resources", []) or "*" in r.get("resources", [])) for r in webhook.get("rules") or []):
                    continue
                if not selector_matches(webhook.get("namespaceSelector"), ns_labels):
                    continue
                if not selector_matches(webhook.get("objectSelector"), obj.get("metadata", {}).get("labels") or {}):
                    continue
                failure = webhook.get("failurePolicy", "Fail")
                request = {"uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": "Pod"},
                           "resource": {"group": "", "version": "v1", "resource": "pods"},
                           "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
                           "requestResource": {"group": "", "version": "v1", "resource": "pods"}}
                if obj["metadata"].get("name"):
                    request["name"] = obj["metadata"]["name"]
                request.update({"namespace": namespace, "operation": "CREATE", "userInfo": user.info(), "object": obj, "oldObject": None,
                                "dryRun": False, "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}})
                try:
                    if not evaluate_match_conditions(webhook.get("matchConditions"), obj, request):
                        continue
                except Exception as error:  # noqa: BLE001 - a condition that fails to evaluate is the webhook's failure
                    with store.lock:
                        store.admission.append({"webhook": webhook["name"], "error": str(error)})
                    if failure == "Ignore":
                        continue
                    raise APIError(500, status(500, "InternalError", f'Internal error occurred: failed calling webhook "{webhook["name"]}": failed to evaluate match condition: {error}', {"causes": [{"message": str(error)}]}))
                review = {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}
                client = webhook.get("clientConfig", {})
                timeout = webhook.get("timeoutSeconds", 10)
                try:
                    if "url" not in client:
                        raise ValueError("clientConfig.service cannot be dialled here; give clientConfig.url")
                    context = ssl.create_default_context(cadata=base64.b64decode(client.get("caBundle", "")).decode())
                    url = client["url"] + ("&" if "?" in client["url"] else "?") + f"timeout={timeout}s"
                    http_request = urllib.request.Request(url, data=json.dumps(review).encode(), method="POST", headers={
                        "User-Agent": "kube-apiserver-admission", "Accept": "application/json, */*", "Content-Type": "application/json",
                        "Accept-Encoding": "gzip"})
                    with urllib.request.urlopen(http_request, context=context, timeout=timeout) as answer:
                        raw = answer.read()
                        if answer.headers.get("Content-Encoding") == "gzip":
                            raw = gzip.decompress(raw)
                        response = json.loads(raw).get("response") or {}
                    if response.get("uid") != request["uid"]:
                        raise ValueError("the answer's uid is not the request's")
                except Exception as error:  # noqa: BLE001 - any failure to call is the webhook's failure
                    with store.lock:
                        store.admission.append({"webhook": webhook["name"], "error": str(error)})
                    if failure == "Ignore":
                        continue
                    raise APIError(500, status(500, "InternalError", f'Internal error occurred: failed calling webhook "{webhook["name"]}": {error}'))
                with store.lock:
                    store.admission.append({"webhook": webhook["name"], "allowed": response.get("allowed"), "patched": "patch" in response,
                                            "warnings": response.get("warnings", []), "request": request})
                warnings.extend(response.get("warnings") or [])
                if not response.get("allowed"):
                    answer_status = response.get("status") or {}
                    code = answer_status.get("code") or 403
                    message = answer_status.get("message") or ""
                    raise APIError(code, status(code, answer_status.get("reason") or "Forbidden",
                                                f'admission webhook "{webhook["name"]}" denied the request' + (f": {message}" if message else "")))
                if "patch" in response:
                    if response.get("patchType") != "JSONPatch":
                        raise APIError(500, status(500, "InternalError", "the webhook's patchType is not JSONPatch"))
                    try:
                        obj = apply_json_patch(obj, json.loads(base64.b64decode(response["patch"])))
                    except Exception as error:  # noqa: BLE001
                        raise APIError(500, status(500, "InternalError", f'Internal error occurred: failed to apply the patch of webhook "{webhook["name"]}": {error}'))
        return obj

    # reviews

    def review(self, user, resource, body, manager):
        review_kind = REVIEW_GROUPS[resource]
        group, version, plural = resource
        if plural != "selfsubjectaccessreviews":
            allowed, _ = self.rbac.authorize(user, "create", group, plural)
            if not allowed:
                raise self.rbac.forbidden(user, "create", plural, group, None)
        spec = (body or {}).get("spec") or {}
        metadata = {"managedFields": [managed_entry(manager, "Update", f"{group}/{version}", {"spec": spec})]}
        if review_kind == "TokenReview":
            echoed = {"token": spec.get("token", "")}
            if spec.get("audiences"):
                echoed["audiences"] = spec["audiences"]
            result = self.token_review(spec)
        else:
            attributes = {k: v for k, v in (spec.get("resourceAttributes") or {}).items() if v not in ("", None)}
            ordered = {k: attributes[k] for k in ("namespace", "verb", "group", "version", "resource", "subresource", "name") if k in attributes}
            echoed = {"resourceAttributes": ordered}
            if plural == "selfsubjectaccessreviews":
                subject = user
            else:
                subject = User(spec.get("user", ""), spec.get("groups") or [])
                echoed["user"] = spec.get("user", "")
                if spec.get("groups"):
                    echoed["groups"] = spec["groups"]
            if spec.get("nonResourceAttributes"):
                echoed.pop("resourceAttributes") if not attributes else None
                path = spec["nonResourceAttributes"].get("path", "")
                allowed, reason = self.rbac.authorize(subject, spec["nonResourceAttributes"].get("verb", ""), path=path)
            else:
                allowed, reason = self.rbac.authorize(subject, attributes.get("verb", ""), attributes.get("group", ""), attributes.get("resource", ""),
                                                      attributes.get("subresource", ""), attributes.get("namespace"), attributes.get("name"))
            result = {"allowed": allowed}
            if allowed:
                result["reason"] = reason
        return 201, {"kind": review_kind, "apiVersion": f"{group}/{version}", "metadata": metadata, "spec": echoed, "status": result}

    def token_review(self, spec):
        entry = self.store.review_tokens.get(spec.get("token", ""))
        wanted = spec.get("audiences") or [API_AUDIENCE]
        if entry is None:
            return {"user": {}, "error": "invalid bearer token"}
        audiences = entry.get("audiences") or [API_AUDIENCE]
        if not set(wanted) & set(audiences):
            return {"user": {}, "error": f"[invalid bearer token, token audiences {go_quoted_list(audiences)} is invalid for the target audiences {go_quoted_list(wanted)}]"}
        parts = entry["username"].split(":")
        if len(parts) != 4 or parts[:2] != ["system", "serviceaccount"]:
            return {"user": {}, "error": "invalid bearer token"}
        namespace, name = parts[2], parts[3]
        account = self.store.get(BUILTIN_BY_KIND["ServiceAccount"], namespace, name)
        if account is None:
            return {"user": {}, "error": f'[invalid bearer token, serviceaccounts "{name}" not found]'}
        extra = {"authentication.kubernetes.io/credential-id": [f"JTI={entry.setdefault('jti', str(uuid.uuid4()))}"]}
        if entry.get("pod"):
            pod = self.store.get(BUILTIN_BY_KIND["Pod"], namespace, entry["pod"])
            if pod is None:
                return {"user": {}, "error": f'[invalid bearer token, pods "{entry["pod"]}" not found]'}
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                extra["authentication.kubernetes.io/node-name"] = [node]
                node_object = self.store.get(BUILTIN_BY_KIND["Node"], None, node)
                if node_object is not None:
                    extra["authentication.kubernetes.io/node-uid"] = [node_object["metadata"]["uid"]]
            extra["authentication.kubernetes.io/pod-name"] = [entry["pod"]]
            extra["authentication.kubernetes.io/pod-uid"] = [pod["metadata"]["uid"]]
        user = service_account_user(namespace, name, account["metadata"]["uid"], extra)
        return {"authenticated": True, "user": user.info(), "audiences": [a for a in audiences if a in wanted]}


# -- HTTP


def route(path):
    """(group, version, namespace, plural, name, subresource) for a resource path, or None for anything else."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        return group, version, None, "namespaces", rest[1], None
    if len(rest) > 3:
        return None
    return group, version, namespace, rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None


SPECIAL_VERBS = {"proxy", "watch"}


def request_info(method, path, query):
    """kube-apiserver's RequestInfo of a resource request (k8s.io/apiserver's requestinfo.go): (verb, group, namespace,
    resource, subresource, name), or None for a non-resource one (`/apis/{group}/{version}` is discovery)."""
    parts = path.strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "")
    if rest[0] in SPECIAL_VERBS:
        if len(rest) < 2:
            return None
        verb, rest = rest[0], rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in ("1", "true") else "list"
    if not name and verb == "delete":
        verb = "deletecollection"
    return verb, group, namespace, resource, subresource, name


def extension_authentication(options):
    """kube-system/extension-apiserver-authentication as kube-apiserver publishes it: how an aggregated API server
    recognises the front proxy (its client CA and allowed names) and reads the user from its headers."""
    with open(options.requestheader_client_ca_file) as f:
        ca = f.read()
    names = [n for n in options.requestheader_allowed_names.split(",") if n]
    return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
            "data": {"requestheader-allowed-names": compact_json(names), "requestheader-client-ca-file": ca,
                     "requestheader-extra-headers-prefix": compact_json(["X-Remote-Extra-"]),
                     "requestheader-group-headers": compact_json(["X-Remote-Group"]),
                     "requestheader-username-headers": compact_json(["X-Remote-User"])}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        # TLS is shaken hands here, in the connection's own thread; a client that chose h2 (ALPN, as client-go and
        # async-http-client do with a real API server) is served by the HTTP/2 bridge.
        connection = self.connection
        if isinstance(connection, ssl.SSLSocket):
            try:
                connection.do_handshake()
            except (ssl.SSLError, OSError):
                return
            protocol = connection.selected_alpn_protocol() or "http/1.1"
            with self.server.store.lock:
                self.server.store.protocols[protocol] = self.server.store.protocols.get(protocol, 0) + 1
            if protocol == "h2":
                H2Bridge(connection, self.server).run()
                return
        super().handle()

    @property
    def store(self):
        return self.server.store

    @property
    def api(self):
        return self.server.api

    # -- plumbing

    def head(self, code, content_type, length=None, extra=()):
        self.send_response_only(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", content_type)
        if code == 403 or content_type.startswith("text/plain"):
            self.send_header("X-Content-Type-Options", "nosniff")
        if code != 401:
            self.send_header("X-Kubernetes-Pf-Flowschema-Uid", FLOWSCHEMA_UID)
            self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", PRIORITY_LEVEL_UID)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Date", self.date_time_string())
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def send_body(self, code, body, content_type="application/json", warnings=()):
        data = body.encode() if isinstance(body, str) else compact_json(body).encode()
        extra = [("Warning", f'299 - {compact_json(w)}') for w in warnings]
        # Go's HTTP server sends a body it cannot buffer (over 2 KiB) chunked, without a Content-Length.
        if len(data) > 2048:
            self.head(code, content_type, None, extra)
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
        else:
            self.head(code, content_type, len(data), extra)
            self.wfile.write(data)

    def send_error_of(self, error, warnings=()):
        self.send_body(error.code, error.body, error.content_type, warnings)

    def read_raw(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def read_json(self):
        raw = self.read_raw()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise APIError(400, status(400, "BadRequest", "the body of the request was in an unknown format"))

    def user(self):
        """The request's identity by its bearer token (401 without a known one), or None after answering."""
        options = self.server.options
        header = self.headers.get("Authorization") or ""
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        if options.token is None:
            return User("kubernetes-admin", ["kubeadm:cluster-admins", "system:masters", "system:authenticated"])
        if token == options.token:
            return User("kubernetes-admin", ["kubeadm:cluster-admins", "system:masters", "system:authenticated"])
        with self.store.lock:
            if token in self.store.users:
                entry = self.store.users[token]
                return User(entry["username"], list(entry.get("groups") or []) + ["system:authenticated"])
            entry = self.store.review_tokens.get(token)
            if entry is not None and API_AUDIENCE in (entry.get("audiences") or [API_AUDIENCE]):
                parts = entry["username"].split(":")
                if len(parts) == 4:
                    account = self.store.get(BUILTIN_BY_KIND["ServiceAccount"], parts[2], parts[3])
                    if account is not None:
                        jti = entry.setdefault("jti", str(uuid.uuid4()))
                        return service_account_user(parts[2], parts[3], account["metadata"]["uid"],
                                                    {"authentication.kubernetes.io/credential-id": [f"JTI={jti}"]})
        self.send_body(401, status(401, "Unauthorized", "Unauthorized"))
        return None

    def manager(self):
        agent = self.headers.get("User-Agent") or "unknown"
        return agent.split("/")[0].split(" ")[0] or "unknown"

    def query(self):
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}

    def resolve(self, group, version, plural, namespace):
        with self.store.lock:
            kind = self.store.kind_for(group, version, plural)
        if kind is None or (namespace is not None and not kind.namespaced):
            raise not_served()
        return kind

    def dispatch(self, method):
        try:
            user = self.user()
            if user is None:
                return
            url = urlsplit(self.path)
            if url.path.startswith("/_test/"):
                if not user.masters:
                    raise APIError(403, status(403, "Forbidden", "test controls are for the admin"))
                return self.test_control(method, url.path)
            apiservice = self.aggregated(url.path)
            if apiservice is not None:
                return self.aggregate(user, method, url, apiservice)
            if method == "GET" and url.path in ("/version", "/api", "/apis", "/healthz", "/readyz", "/livez"):
                allowed, _ = self.api.rbac.authorize(user, "get", path=url.path)
                if not allowed:
                    raise APIError(403, status(403, "Forbidden", f'forbidden: User "{user.name}" cannot get path "{url.path}"', {}))
                return self.discovery(url.path)
            target = route(url.path)
            if target is None:
                raise not_served()
            group, version, namespace, plural, name, subresource = target
            if (group, version, plural) in REVIEW_GROUPS:
                if method != "POST":
                    raise APIError(405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
                code, body = self.api.review(user, (group, version, plural), self.read_json(), self.manager())
                return self.send_body(code, body)
            kind = self.resolve(group, version, plural, namespace)
            if kind.namespaced and plural == "namespaces":
                raise not_served()
            query = self.query()
            warnings = []
            if method == "GET":
                if name is None:
                    if query.get("watch") in ("1", "true"):
                        return self.watch(user, kind, namespace, query)
                    return self.list(user, kind, namespace, query)
                return self.get(user, kind, namespace, name, subresource)
            if method == "POST":
                if subresource == "binding" and kind.kind == "Pod":
                    code, body = self.api.bind(user, namespace, name, self.read_json(), self.manager())
                    return self.send_body(code, body)
                if name is not None:
                    raise APIError(405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
                body = self.read_json()
                code, result = self.api.create(user, kind, namespace, body, query, self.manager(), warnings)
                return self.send_body(code, result, warnings=warnings)
            if method == "PUT":
                if name is None or subresource not in (None, "status"):
                    raise not_served()
                code, result = self.api.update(user, kind, namespace, name, self.read_json(), query, self.manager(), warnings, subresource or "")
                return self.send_body(code, result, warnings=warnings)
            if method == "PATCH":
                if name is None or subresource not in (None, "status"):
                    raise not_served()
                code, result = self.api.patch(user, kind, namespace, name, self.read_raw(), self.headers.get("Content-Type") or "", query, self.manager(),
                                              warnings, subresource or "")
                return self.send_body(code, result, warnings=warnings)
            if method == "DELETE":
                if name is None:
                    raise APIError(405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
                options = self.read_json() or {}
                if "gracePeriodSeconds" in query:
                    options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
                code, result = self.api.delete(user, kind, namespace, name, options)
                return self.send_body(code, result)
            raise APIError(405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"))
        except APIError as error:
            self.send_error_of(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # -- the aggregation layer (kube-aggregator)

    def aggregated(self, path):
        """The APIService that serves `path` from a Service (`/apis/{group}/{version}/…`), or None. `/apis/{group}`
        of an aggregated group is answered here, as the aggregator does, from its APIServices."""
        parts = path.strip("/").split("/")
        if parts[:1] != ["apis"] or len(parts) < 2:
            return None
        apiservices = BUILTIN_BY_KIND["APIService"]
        with self.store.lock:
            served = [a for a in self.store.table(apiservices).values()
                      if (a.get("spec") or {}).get("group") == parts[1] and (a.get("spec") or {}).get("service")]
        if len(parts) == 2 and served:
            return {"group": served}
        for apiservice in served:
            if len(parts) >= 3 and apiservice["spec"].get("version") == parts[2]:
                return apiservice
        return None

    def service_endpoint(self, namespace, name, port):
        """A ready endpoint (address, port) of the Service's `port`, as the aggregator routes to endpoints (kube-apiserver
        --enable-aggregator-routing: this server has no cluster IPs to route through); None when there is none."""
        with self.store.lock:
            service = self.store.get(BUILTIN_BY_KIND["Service"], namespace, name)
            if service is None:
                return None
            ports = [p for p in (service.get("spec") or {}).get("ports") or [] if p.get("port") == port]
            if not ports:
                return None
            slices = [s for (ns, _), s in self.store.table(BUILTIN_BY_KIND["EndpointSlice"]).items()
                      if ns == namespace and (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name]
        for endpoint_slice in sorted(slices, key=lambda s: s["metadata"]["name"]):
            numbers = [p.get("port") for p in endpoint_slice.get("ports") or [] if (p.get("name") or "") == (ports[0].get("name") or "")]
            for endpoint in endpoint_slice.get("endpoints") or []:
                if numbers and (endpoint.get("conditions") or {}).get("ready") is not False and endpoint.get("addresses"):
                    return endpoint["addresses"][0], numbers[0]
        return None

    def aggregate(self, user, method, url, apiservice):
        """A request for an aggregated API: authorized here (its RequestInfo, as for any resource), then proxied to
        the APIService's Service over TLS checked against `caBundle` for `{service}.{namespace}.svc`, presenting the
        front proxy's client certificate, with the user in X-Remote-User/-Group/-Extra-* and without the caller's
        credentials. The answer streams back as it comes (a watch, a tap)."""
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        info = request_info(method, url.path, query)
        if info is None:
            verb = method.lower()
            allowed, _ = self.api.rbac.authorize(user, verb, path=url.path)
            if not allowed:
                raise APIError(403, status(403, "Forbidden", f'forbidden: User "{user.name}" cannot {verb} path "{url.path}"', {}))
        else:
            verb, group, namespace, resource, subresource, name = info
            allowed, _ = self.api.rbac.authorize(user, verb, group, resource, subresource, namespace or None, name or None)
            if not allowed:
                raise self.api.rbac.forbidden(user, verb, resource, group, namespace or None, name or None, subresource)
        if "group" in apiservice:
            group = apiservice["group"][0]["spec"]["group"]
            versions = [{"groupVersion": f'{group}/{a["spec"]["version"]}', "version": a["spec"]["version"]}
                        for a in sorted(apiservice["group"], key=lambda a: -(a["spec"].get("versionPriority") or 0))]
            return self.send_body(200, {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": versions[0]})
        spec = apiservice["spec"]
        ref = spec["service"]
        body = self.read_raw()
        endpoint = self.service_endpoint(ref.get("namespace"), ref.get("name"), ref.get("port") or 443)
        if endpoint is None:
            return self.send_body(503, "service unavailable\n", "text/plain; charset=utf-8")
        options = self.server.options
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if spec.get("insecureSkipTLSVerify"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context.load_verify_locations(cadata=base64.b64decode(spec["caBundle"]).decode())
        if options.proxy_client_cert_file:
            context.load_cert_chain(options.proxy_client_cert_file, options.proxy_client_key_file)
        context.set_alpn_protocols(["http/1.1"])
        try:
            upstream = context.wrap_socket(socket.create_connection(endpoint, timeout=30), server_hostname=f'{ref["name"]}.{ref["namespace"]}.svc')
        except ConnectionRefusedError:
            return self.send_body(503, f"dial tcp {endpoint[0]}:{endpoint[1]}: connect: connection refused\n", "text/plain; charset=utf-8")
        except (OSError, ssl.SSLError) as error:
            return self.send_body(503, f"{error}\n", "text/plain; charset=utf-8")
        with upstream:
            dropped = {"authorization", "host", "connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}
            lines = [f"{method} {self.path} HTTP/1.1", f"Host: {endpoint[0]}:{endpoint[1]}"]
            for name, value in self.headers.items():
                lowered = name.lower()
                if lowered in dropped or lowered.startswith("impersonate-") or lowered.startswith("x-remote-"):
                    continue
                lines.append(f"{name}: {value}")
            lines.append(f"X-Remote-User: {user.name}")
            lines += [f"X-Remote-Group: {g}" for g in user.groups]
            for key, values in (user.extra or {}).items():
                lines += [f"X-Remote-Extra-{urllib.request.quote(key, safe='')}: {v}" for v in values]
            lines += [f"X-Forwarded-For: {self.client_address[0]}", f"Content-Length: {len(body)}", "Connection: close"]
            upstream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            self.relay(upstream)
        self.close_connection = True

    def relay(self, upstream):
        """The backend's answer to the caller as it arrives; ends when either side does."""
        buffer = bytearray()

        def more():
            while True:
                readable = upstream.pending() > 0
                if not readable:
                    ready, _, _ = select.select([upstream, self.connection], [], [], 5)
                    if self.connection in ready and self.caller_gone():
                        raise ConnectionResetError("the caller left")
                    readable = upstream in ready
                if readable:
                    data = upstream.recv(65536)
                    buffer.extend(data)
                    return bool(data)

        while b"\r\n\r\n" not in buffer:
            if not more():
                return self.send_body(503, "the backend closed the connection\n", "text/plain; charset=utf-8")
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        buffer[:] = rest
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        code = int(status_line.split(" ")[1])
        headers = [tuple(h.split(": ", 1)) for h in header_lines if ": " in h]
        names = {n.lower() for n, _ in headers}
        chunked = any(n.lower() == "transfer-encoding" and "chunked" in v for n, v in headers)
        length = next((int(v) for n, v in headers if n.lower() == "content-length"), None)
        self.send_response_only(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        if "cache-control" not in names:
            self.send_header("Cache-Control", "no-cache, private")
        for name, value in headers:
            if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length", "date"):
                self.send_header(name, value)
        self.send_header("X-Kubernetes-Pf-Flowschema-Uid", FLOWSCHEMA_UID)
        self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", PRIORITY_LEVEL_UID)
        self.send_header("Date", self.date_time_string())
        try:
            if length is not None and not chunked:
                self.send_header("Content-Length", str(length))
                self.end_headers()
                while len(buffer) < length and more():
                    pass
                self.wfile.write(bytes(buffer[:length]))
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            while True:
                if chunked:
                    while buffer.find(b"\r\n") < 0:
                        if not more():
                            return
                    end = buffer.find(b"\r\n")
                    size = int(bytes(buffer[:end]).split(b";")[0].strip() or b"0", 16)
                    while len(buffer) < end + size + 4:
                        if not more():
                            return
                    data = bytes(buffer[end + 2:end + 2 + size])
                    del buffer[:end + size + 4]
                    if size == 0:
                        break
                else:
                    if not buffer and not more():
                        break
                    data, buffer[:] = bytes(buffer), b""
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (ConnectionResetError, BrokenPipeError, OSError):
            pass

    def caller_gone(self):
        """Whether the caller closed its side (it sends nothing more while a response streams)."""
        timeout = self.connection.gettimeout()
        try:
            self.connection.settimeout(0.2)
            return self.connection.recv(1) == b""
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return False
        except OSError:
            return True
        finally:
            self.connection.settimeout(timeout)

    # -- discovery

    def discovery(self, path):
        options = self.server.options
        if path == "/version":
            major, minor = options.version.split(".")[:2]
            return self.send_body(200, {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
                                        "minCompatibilityMajor": major, "minCompatibilityMinor": str(int(minor) - 1),
                                        "gitVersion": f"v{options.version}", "gitCommit": "$Format:%H$", "gitTreeState": "clean",
                                        "buildDate": "1970-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc", "platform": "linux/amd64"})
        if path == "/api":
            return self.send_body(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.server.server_address[1]}"}]})
        if path == "/apis":
            groups = collections.OrderedDict()
            with self.store.lock:
                kinds = list(BUILTIN) + list(self.store.custom.values())
            for (group, version, _) in REVIEW_GROUPS:
                groups.setdefault(group, [])
                if version not in groups[group]:
                    groups[group].append(version)
            for kind in kinds:
                if kind.group:
                    versions = groups.setdefault(kind.group, [])
                    if kind.version not in versions:
                        versions.append(kind.version)
            with self.store.lock:
                apiservices = list(self.store.table(BUILTIN_BY_KIND["APIService"]).values())
            for apiservice in sorted(apiservices, key=lambda a: -((a.get("spec") or {}).get("versionPriority") or 0)):
                spec = apiservice.get("spec") or {}
                if spec.get("service") and spec.get("group"):
                    versions = groups.setdefault(spec["group"], [])
                    if spec.get("version") not in versions:
                        versions.append(spec.get("version"))
            body = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": name, "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                 "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]}} for name, versions in groups.items()]}
            return self.send_body(200, body)
        return self.send_body(200, "ok", "text/plain; charset=utf-8")

    # -- reads

    def get(self, user, kind, namespace, name, subresource):
        if subresource not in (None, "status"):
            raise not_served()
        allowed, _ = self.api.rbac.authorize(user, "get", kind.group, kind.plural, subresource or "", namespace, name)
        if not allowed:
            raise self.api.rbac.forbidden(user, "get", kind.plural, kind.group, namespace, name, subresource or "")
        with self.store.lock:
            obj = self.store.get(kind, namespace, name)
        if obj is None:
            raise not_found(kind, name)
        self.send_body(200, obj)

    def authorize_collection(self, user, verb, kind, namespace, fields):
        named = next((value for key, op, value in fields if key == "metadata.name" and op == "="), None)
        allowed, _ = self.api.rbac.authorize(user, verb, kind.group, kind.plural, "", namespace, named)
        if not allowed:
            raise self.api.rbac.forbidden(user, verb, kind.plural, kind.group, namespace)

    def selectors(self, query):
        try:
            return parse_label_selector(query.get("labelSelector", "")), parse_field_selector(query.get("fieldSelector", ""))
        except ValueError as error:
            raise APIError(400, status(400, "BadRequest", f"unable to parse requirement: {error}"))

    def list(self, user, kind, namespace, query):
        store = self.store
        labels, fields = self.selectors(query)
        self.authorize_collection(user, "list", kind, namespace, fields)
        limit = int(query.get("limit") or 0)
        token = query.get("continue")
        with store.lock:
            if token:
                try:
                    decoded = read_continue(token)
                except (ValueError, TypeError):
                    raise APIError(400, status(400, "BadRequest", "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))
                rv, start = decoded["rv"], decoded["start"]
                if rv < max(store.compacted, store.oldest_known()):
                    inconsistent = continue_token(-1, start)
                    raise APIError(410, status(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                                           metadata={"continue": inconsistent}))
                state = store.state_at(kind, rv) if rv >= 0 else dict(store.table(kind))
            else:
                store.stats[(kind.group, kind.plural)]["list"] += 1
                start = None
                wanted = query.get("resourceVersion")
                if wanted and query.get("resourceVersionMatch") == "Exact":
                    rv = int(wanted)
                    if rv < max(store.compacted, store.oldest_known()):
                        raise APIError(410, status(410, "Expired", "The resourceVersion for the provided list is too old."))
                    state = store.state_at(kind, rv)
                else:
                    rv = store.rv
                    state = dict(store.table(kind))
            def key_text(key):
                ns, name = key
                if namespace is not None or not kind.namespaced:
                    return name
                return f"{ns}/{name}"
            items = []
            for key in sorted(state, key=key_text):
                obj = state[key]
                if obj is None:
                    continue
                if namespace is not None and key[0] != namespace:
                    continue
                if start is not None and key_text(key) < start:
                    continue
                if labels_match(labels, obj["metadata"].get("labels", {})) and fields_match(fields, obj):
                    items.append((key_text(key), obj))
            page, rest = (items[:limit], items[limit:]) if limit else (items, [])
            meta = {"resourceVersion": str(rv if rv >= 0 else store.rv)}
            if rest:
                meta["continue"] = continue_token(rv if rv >= 0 else store.rv, page[-1][0] + "\u0000")
                if not labels and not fields:
                    meta["remainingItemCount"] = len(rest)
            elif kind.custom:
                meta["continue"] = ""
            body = {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": meta,
                    "items": [list_item(kind, obj) for _, obj in page]}
        self.send_body(200, sorted_json(body) if kind.custom else body)

    def watch(self, user, kind, namespace, query):
        store = self.store
        options = self.server.options
        labels, fields = self.selectors(query)
        self.authorize_collection(user, "watch", kind, namespace, fields)
        since = query.get("resourceVersion") or "0"
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(query.get("timeoutSeconds") or 1800)
        started = time.monotonic()
        deadline = started + timeout
        next_bookmark = started + options.bookmark_seconds
        final_bookmark = deadline - 2 if timeout > 3 else None

        def visible(obj):
            if obj is None:
                return False
            if namespace is not None and obj["metadata"].get("namespace") != namespace:
                return False
            return labels_match(labels, obj["metadata"].get("labels", {})) and fields_match(fields, obj)

        def bookmark(rv):
            body = {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": {"resourceVersion": str(rv)}}
            if kind.custom:
                return {"type": "BOOKMARK", "object": {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"resourceVersion": str(rv)}}}
            body.update(copy.deepcopy(ZERO.get(kind.kind, {})))
            return {"type": "BOOKMARK", "object": body}

        def send(event):
            data = compact_json(event).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        with store.lock:
            store.stats[(kind.group, kind.plural)]["watch"] += 1
            generation = store.closed_generation
            if since == "0":
                store.stats[(kind.group, kind.plural)]["watch_without_version"] += 1
                position = store.rv
                initial = [{"type": "ADDED", "object": copy.deepcopy(o)} for o in store.table(kind).values() if visible(o)]
                expired = None
            else:
                position = int(since)
                initial = []
                expired = store.watch_cache_oldest if position < store.watch_cache_oldest else None
        self.head(200, "application/json")
        try:
            if expired is not None:
                send({"type": "ERROR", "object": status(410, "Expired", f"too old resource version: {since} ({expired})")})
                self.wfile.write(b"0\r\n\r\n")
                return
            for event in initial:
                send(event)
            cut = False
            while True:
                out = []
                with store.lock:
                    if store.closed_generation != generation:
                        cut = True
                        break
                    for rv, g, p, type_, obj, previous in store.events:
                        if rv <= position or (g, p) != (kind.group, kind.plural):
                            continue
                        now, before = visible(obj), visible(previous)
                        if type_ == "DELETED":
                            if before:
                                out.append({"type": "DELETED", "object": obj})
                        elif now and before:
                            out.append({"type": "MODIFIED", "object": obj})
                        elif now:
                            out.append({"type": "ADDED", "object": obj})
                        elif before:
                            # Leaving the selector: DELETED with the state it was seen in, at the new version.
                            gone = copy.deepcopy(previous)
                            gone["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
                            out.append({"type": "DELETED", "object": gone})
                    position = store.rv
                    if not out:
                        moment = time.monotonic()
                        wakes = [deadline]
                        if bookmarks:
                            wakes.append(next_bookmark)
                            if final_bookmark is not None:
                                wakes.append(final_bookmark)
                        wait = min(wakes) - moment
                        if wait > 0:
                            store.lock.wait(wait)
                    cut = store.closed_generation != generation
                    current = store.rv
                for event in out:
                    send(event)
                if cut:
                    break
                moment = time.monotonic()
                if moment >= deadline:
                    break
                if bookmarks and (moment >= next_bookmark or (final_bookmark is not None and moment >= final_bookmark)):
                    send(bookmark(current))
                    next_bookmark = moment + options.bookmark_seconds
                    if final_bookmark is not None and moment >= final_bookmark:
                        final_bookmark = None
            if cut:
                self.close_connection = True
            else:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- test controls

    def test_control(self, method, path):
        store = self.store
        if method == "GET" and path == "/_test/stats":
            with store.lock:
                return self.send_body(200, {f"{g}/{p}" if g else p: s for (g, p), s in store.stats.items()})
        if method == "GET" and path == "/_test/protocols":
            with store.lock:
                return self.send_body(200, dict(store.protocols))
        if method == "GET" and path == "/_test/admission":
            with store.lock:
                return self.send_body(200, {"calls": list(store.admission)})
        body = self.read_json() or {}
        if path == "/_test/cut-watches":
            with store.lock:
                store.closed_generation += 1
                store.lock.notify_all()
            return self.send_body(200, {})
        if path == "/_test/restart":
            with store.lock:
                # A starting API server writes (its lease, the kubernetes Service's endpoints) before it serves, so
                # its watch cache begins past every version a client had.
                store.bump()
                store.closed_generation += 1
                store.watch_cache_oldest = store.rv
                store.events.clear()
                store.lock.notify_all()
            return self.send_body(200, {"oldest": store.watch_cache_oldest})
        if path == "/_test/compact":
            with store.lock:
                store.compacted = store.rv
            return self.send_body(200, {"compacted": store.compacted})
        if path == "/_test/tokens":
            with store.lock:
                store.review_tokens.update(body)
            return self.send_body(200, {})
        if path == "/_test/users":
            with store.lock:
                store.users.update(body)
            return self.send_body(200, {})
        if path == "/_test/bulk":
            return self.send_body(200, bulk(self.api, body, self.manager()))
        raise not_served()


class H2Bridge:
    """HTTP/2 as a real API server speaks it (recording 90): each stream's request is handed to this server's own
    HTTP/1.1 handler over a socket pair and its answer sent back as HEADERS (lower-case, without Transfer-Encoding)
    and DATA frames, a watch's lines as they come, within the peer's flow-control windows. A watch cut without its
    last chunk (`/_test/cut-watches`, `/_test/restart`) resets its stream, as a connection going away does."""

    HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive"}

    def __init__(self, sock, server):
        import h2.config, h2.connection  # noqa: PLC0415 - only HTTP/2 clients need it
        self.sock = sock
        self.server = server
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.lock = threading.Condition()
        self.requests = {}  # stream id → [headers, body bytes]
        self.pairs = {}  # stream id → our end of the handler's socket pair
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def run(self):
        import h2.events  # noqa: PLC0415
        with self.lock:
            self.conn.initiate_connection()
            self.flush()
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                with self.lock:
                    events = self.conn.receive_data(data)
                    for event in events:
                        if isinstance(event, h2.events.RequestReceived):
                            self.requests[event.stream_id] = [dict(event.headers), b""]
                        elif isinstance(event, h2.events.DataReceived):
                            self.requests[event.stream_id][1] += event.data
                            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                        if isinstance(event, (h2.events.RequestReceived, h2.events.DataReceived)) and event.stream_ended is not None:
                            headers, body = self.requests.pop(event.stream_id)
                            threading.Thread(target=self.serve, args=(event.stream_id, headers, body), daemon=True).start()
                        elif isinstance(event, h2.events.StreamReset):
                            pair = self.pairs.pop(event.stream_id, None)
                            if pair is not None:
                                pair.close()
                        elif isinstance(event, h2.events.ConnectionTerminated):
                            raise ConnectionResetError()
                    self.flush()
                    self.lock.notify_all()
        except (OSError, ssl.SSLError, ConnectionResetError):
            pass
        finally:
            with self.lock:
                self.closed = True
                for pair in self.pairs.values():
                    pair.close()
                self.lock.notify_all()

    def serve(self, stream, headers, body):
        ours, theirs = socket.socketpair()
        with self.lock:
            self.pairs[stream] = ours
        def handle():
            try:
                Handler(theirs, ("127.0.0.1", 0), self.server)
            except OSError:
                pass
            finally:
                # As the server's own loop does after a request: the socket closes, and the bridge sees the end.
                theirs.close()
        threading.Thread(target=handle, daemon=True).start()
        lines = [f"{headers.get(':method', 'GET')} {headers.get(':path', '/')} HTTP/1.1", f"Host: {headers.get(':authority', '')}"]
        lines += [f"{name}: {value}" for name, value in headers.items() if not name.startswith(":") and name != "host"]
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
        try:
            ours.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            reader = ours.makefile("rb")
            status = int(reader.readline().split(b" ")[1])
            response = [(":status", str(status))]
            length, chunked = None, False
            while True:
                line = reader.readline().decode().rstrip("\r\n")
                if not line:
                    break
                name, _, value = line.partition(": ")
                name = name.lower()
                if name == "transfer-encoding":
                    chunked = value == "chunked"
                if name == "content-length":
                    length = int(value)
                if name not in self.HOP_BY_HOP:
                    response.append((name, value))
            with self.lock:
                self.conn.send_headers(stream, response)
                self.flush()
            if chunked:
                while True:
                    size_line = reader.readline()
                    if not size_line:
                        return self.reset(stream)  # cut without the last chunk
                    size = int(size_line.strip(), 16)
                    if size == 0:
                        break
                    self.send(stream, reader.read(size))
                    reader.readline()
                self.send(stream, b"", end=True)
            else:
                self.send(stream, reader.read(length or 0), end=True)
        except (OSError, ValueError, IndexError):
            self.reset(stream)
        finally:
            with self.lock:
                self.pairs.pop(stream, None)
            ours.close()

    def send(self, stream, data, end=False):
        import h2.exceptions  # noqa: PLC0415
        view = memoryview(data)
        with self.lock:
            while True:
                if self.closed:
                    raise OSError("connection closed")
                try:
                    window = min(self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size)
                except h2.exceptions.StreamClosedError:
                    raise OSError("stream closed")
                if len(view) == 0 or window > 0:
                    chunk = view[:window]
                    self.conn.send_data(stream, bytes(chunk), end_stream=end and len(chunk) == len(view))
                    self.flush()
                    view = view[len(chunk):]
                    if len(view) == 0:
                        return
                else:
                    self.lock.wait(1)

    def reset(self, stream):
        import h2.errors  # noqa: PLC0415
        with self.lock:
            try:
                self.conn.reset_stream(stream, error_code=h2.errors.ErrorCodes.INTERNAL_ERROR)
                self.flush()
            except Exception:  # noqa: BLE001 - the stream or the connection is gone already
                pass


def bulk(api, body, manager="kubectl"):
    """Writes each object as a client would (create, or replace what exists; then the status subresource when the
    object carries a status) and deletes each reference. Returns each write's HTTP status and error."""
    admin = User("kubernetes-admin", ["system:masters", "system:authenticated"])
    results, errors = [], []
    for obj in body.get("objects", []):
        try:
            kind = api.store.kind_named(obj.get("kind"), obj.get("apiVersion"))
            if kind is None:
                raise APIError(404, status(404, "NotFound", f'the server could not find the requested resource (kind {obj.get("kind")})'))
            meta = obj.get("metadata") or {}
            namespace = meta.get("namespace", "default") if kind.namespaced else None
            with api.store.lock:
                existing = api.store.get(kind, namespace, meta.get("name")) if meta.get("name") else None
            writes = []
            if existing is None:
                code, stored = api.create(admin, kind, namespace, obj, {}, manager, writes)
            else:
                body_obj = copy.deepcopy(obj)
                body_obj.setdefault("metadata", {}).pop("resourceVersion", None)
                code, stored = api.update(admin, kind, namespace, meta["name"], body_obj, {}, manager, writes)
            if kind.status and "status" in obj and stored.get("status") != obj["status"]:
                status_body = copy.deepcopy(stored)
                status_body["status"] = obj["status"]
                status_body["metadata"].pop("resourceVersion", None)
                api.update(admin, kind, namespace, stored["metadata"]["name"], status_body, {}, manager, writes, "status")
            results.append(code)
            errors.append(None)
        except APIError as error:
            results.append(error.code)
            errors.append(error.body if isinstance(error.body, str) else error.body.get("message"))
    for ref in body.get("delete", []):
        try:
            kind = api.store.kind_named(ref["kind"], ref.get("apiVersion"))
            namespace = ref.get("namespace", "default") if kind.namespaced else None
            options = {"gracePeriodSeconds": ref["gracePeriodSeconds"]} if "gracePeriodSeconds" in ref else {}
            code, _ = api.delete(admin, kind, namespace, ref["name"], options)
            results.append(code)
            errors.append(None)
        except APIError as error:
            results.append(error.code)
            errors.append(error.body if isinstance(error.body, str) else error.body.get("message"))
    return {"results": results, "errors": errors}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def load_gateway_api(channel):
    import yaml  # noqa: PLC0415 - only needed to install CRDs
    crds = []
    for resource in ("httproutes", "grpcroutes"):
        with gzip.open(os.path.join(HERE, "gateway-api", f"v1.2.1-{channel}-{resource}.yaml.gz"), "rt") as f:
            crds.append(yaml.safe_load(f))
    if channel == "experimental":
        with gzip.open(os.path.join(HERE, "gateway-api", "v1.3.0-experimental-xbackendtrafficpolicies.yaml.gz"), "rt") as f:
            crds.append(yaml.safe_load(f))
    for crd in crds:
        crd["metadata"].pop("creationTimestamp", None)
    return crds


def make_server(options):
    store = Store(options.history)
    api = API(store, options)
    server = Server((options.host, options.port), Handler)
    server.options, server.store, server.api = options, store, api
    admin = User("system:apiserver", ["system:masters", "system:authenticated"])
    with store.lock:
        if options.restore:
            with open(options.restore) as f:
                saved = json.load(f)
            for obj in sorted(saved["objects"], key=lambda o: o["kind"] != "CustomResourceDefinition"):
                kind = store.kind_named(obj["kind"], obj.get("apiVersion"))
                stored = order_object(kind, obj)
                store.table(kind)[(obj["metadata"].get("namespace") if kind.namespaced else None, obj["metadata"]["name"])] = stored
                if kind.kind == "CustomResourceDefinition":
                    store.refresh_custom()
                if kind.kind == "Service" and (obj.get("spec") or {}).get("clusterIP"):
                    store.ips.used.add(obj["spec"]["clusterIP"])
            store.rv = store.watch_cache_oldest = int(saved["resourceVersion"])
            return server
    for obj in BOOTSTRAP_RBAC:
        api.create(admin, BUILTIN_BY_KIND[obj["kind"]], None, obj, {}, "kube-apiserver", [])
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        api.create(admin, BUILTIN_BY_KIND["Namespace"], None, {"metadata": {"name": name}}, {}, "kube-apiserver", [])
    for obj in BOOTSTRAP_KUBE_SYSTEM:
        api.create(admin, BUILTIN_BY_KIND[obj["kind"]], "kube-system", obj, {}, "kube-apiserver", [])
    if options.requestheader_client_ca_file:
        api.create(admin, BUILTIN_BY_KIND["ConfigMap"], "kube-system", extension_authentication(options), {}, "kube-apiserver", [])
    if options.gateway_api != "none":
        for crd in load_gateway_api(options.gateway_api):
            api.create(admin, BUILTIN_BY_KIND["CustomResourceDefinition"], None, crd, {}, "kubectl", [])
    if options.load:
        with open(options.load) as f:
            result = bulk(api, {"objects": json.load(f)}, "kubectl")
        failed = [e for e in result["errors"] if e]
        if failed:
            raise SystemExit(f"--load: {failed[0]}")
    with store.lock:
        store.watch_cache_oldest = store.rv
    return server


def options_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--token")
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--bookmark-seconds", type=float, default=60.0, help="how often an idle watch gets a bookmark (a real server: about a minute)")
    parser.add_argument("--kubelet-seconds", type=float, default=0.1, help="how long the simulated kubelet takes to end a gracefully deleted pod; 0: never")
    parser.add_argument("--gateway-api", choices=["standard", "experimental", "none"], default="standard")
    parser.add_argument("--load", help="a JSON file of objects to create before serving")
    parser.add_argument("--restore", help="a JSON file {resourceVersion, objects} to serve as they are (no bootstrap)")
    parser.add_argument("--version", default="1.31.4", help="the Kubernetes version /version reports")
    # The aggregation layer, as kube-apiserver's flags of the same names configure it.
    parser.add_argument("--requestheader-client-ca-file", help="the CA aggregated API servers trust the front proxy's certificate by")
    parser.add_argument("--requestheader-allowed-names", default="front-proxy-client")
    parser.add_argument("--proxy-client-cert-file", help="the certificate the API server presents to aggregated API servers")
    parser.add_argument("--proxy-client-key-file")
    return parser


def main():
    options = options_parser().parse_args()
    server = make_server(options)
    threading.Thread(target=server.store.run_controllers, daemon=True).start()
    if options.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(options.tls_cert, options.tls_key)
        context.set_alpn_protocols(["h2", "http/1.1"])
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    print(f"listening {options.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
