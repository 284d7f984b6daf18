#!/usr/bin/env python3
"""A Kubernetes API server for tests: no real cluster runs here, so this one follows the real API's semantics
wherever the mesh relies on them.

  kube_apiserver.py --port P [--tls-cert F --tls-key F] [--token T] [--history N] [--bookmark-seconds S]

What it keeps of the real API:
- one resourceVersion counter for every object; each write bumps it and records an event;
- list (`GET` a collection) with labelSelector (=, ==, !=, in, notin, exists, !key), fieldSelector
  (metadata.name, metadata.namespace, status.phase, spec.nodeName, spec.serviceAccountName; = and !=),
  limit/continue served from one consistent snapshot, and the list's resourceVersion;
- watch (`?watch=true`) from a resourceVersion: the events after it, as JSON lines over a chunked response; without
  one (or "0") the current objects as ADDED first; a version older than the history kept gets an ERROR event with a
  410 `Status` (reason Expired), as a real API server's watch cache sends; bookmarks (`allowWatchBookmarks`) every
  `--bookmark-seconds`; `timeoutSeconds`; label and field selectors (an object leaving a watch's selector is DELETED
  for it);
- create (POST, 409 if it exists), replace (PUT), merge-patch (PATCH), delete (DELETE, 404 if missing), namespaced
  and cluster-scoped, for the built-in kinds the mesh reads and for any custom resource;
- `POST /apis/authentication.k8s.io/v1/tokenreviews` against the tokens registered (`/_test/tokens`), with
  audiences; `POST .../selfsubjectaccessreviews` (allowed unless denied with `/_test/deny`); `GET /version`;
- bearer-token authentication when `--token` is given (401 otherwise);
- mutating admission: a pod created (POST, or a bulk write of a new pod) is sent as an AdmissionReview v1 to each
  MutatingWebhookConfiguration webhook whose rules, namespaceSelector (namespaces carry the automatic
  `kubernetes.io/metadata.name` label) and objectSelector match; webhooks are dialled by `clientConfig.url` (a
  `service` reference has no cluster DNS here) over TLS checked against `caBundle`; the answer's JSONPatch is applied,
  `allowed: false` refuses the write, and an unreachable webhook refuses it only under `failurePolicy: Fail`.

Test controls, outside the real API's paths:
- `POST /_test/cut-watches`: ends every open watch (as an API server restart or a load balancer does);
- `POST /_test/compact`: moves the version on with a write nobody follows, forgets the history up to it, and ends
  the open watches: each comes back from a version now too old and gets 410;
- `GET /_test/stats`: how many lists and watches each resource was asked for (and watches without a version);
- `POST /_test/tokens` {token: {"username": ..., "audiences": [...]}}: tokens TokenReview accepts;
- `POST /_test/deny` {"verbs": [[verb, group, resource], ...]}: what SelfSubjectAccessReview refuses;
- `POST /_test/bulk` {"objects": [...], "delete": [...]}: many writes in one request (each its own event);
- `GET /_test/admission`: every webhook call so far, in order.
"""
import argparse, base64, collections, copy, json, ssl, sys, threading, time, uuid
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

# kind → (group, version, plural, namespaced) for the built-in kinds; custom resources are taken by their path.
KINDS = {
    "Namespace": ("", "v1", "namespaces", False),
    "Pod": ("", "v1", "pods", True),
    "Service": ("", "v1", "services", True),
    "ServiceAccount": ("", "v1", "serviceaccounts", True),
    "ConfigMap": ("", "v1", "configmaps", True),
    "Secret": ("", "v1", "secrets", True),
    "EndpointSlice": ("discovery.k8s.io", "v1", "endpointslices", True),
    "Deployment": ("apps", "v1", "deployments", True),
    "ReplicaSet": ("apps", "v1", "replicasets", True),
    "StatefulSet": ("apps", "v1", "statefulsets", True),
    "DaemonSet": ("apps", "v1", "daemonsets", True),
    "Job": ("batch", "v1", "jobs", True),
    "CronJob": ("batch", "v1", "cronjobs", True),
    "ClusterRole": ("rbac.authorization.k8s.io", "v1", "clusterroles", False),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False),
    "Role": ("rbac.authorization.k8s.io", "v1", "roles", True),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings", True),
    "MutatingWebhookConfiguration": ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", False),
    "CustomResourceDefinition": ("apiextensions.k8s.io", "v1", "customresourcedefinitions", False),
    "PodDisruptionBudget": ("policy", "v1", "poddisruptionbudgets", True),
    "HTTPRoute": ("gateway.networking.k8s.io", "v1", "httproutes", True),
    "GRPCRoute": ("gateway.networking.k8s.io", "v1", "grpcroutes", True),
    "FaultInjection": ("policy.swiftlet.io", "v1alpha1", "faultinjections", True),
}
PLURALS = {(g, p): (k, v, n) for k, (g, v, p, n) in KINDS.items()}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


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
    "status.phase": lambda o: o.get("status", {}).get("phase", ""),
    "spec.nodeName": lambda o: o.get("spec", {}).get("nodeName", ""),
    "spec.serviceAccountName": lambda o: o.get("spec", {}).get("serviceAccountName", ""),
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


def pointer_tokens(path):
    return [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]


def apply_json_patch(document, operations):
    """RFC 6902 add, remove and replace (what admission webhooks send)."""
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
            else:
                raise ValueError(f"unsupported op {op}")
        else:
            if op in ("add", "replace"):
                if op == "replace" and last not in parent:
                    raise ValueError(f"replace of a missing member at {operation['path']}")
                parent[last] = operation["value"]
            elif op == "remove":
                del parent[last]
            else:
                raise ValueError(f"unsupported op {op}")
    return document


def admit(store, group, version, plural, namespace, obj):
    """Runs the mutating webhooks for a pod being created. Returns (None, object) or (http status, Status)."""
    if (group, plural) != ("", "pods"):
        return None, obj
    with store.lock:
        configurations = [copy.deepcopy(o) for o in store.objects.get(("admissionregistration.k8s.io", "mutatingwebhookconfigurations"), {}).values()]
        ns_object = store.objects.get(("", "namespaces"), {}).get((None, namespace))
        ns_labels = dict((ns_object or {}).get("metadata", {}).get("labels") or {})
    ns_labels["kubernetes.io/metadata.name"] = namespace
    for configuration in sorted(configurations, key=lambda c: c["metadata"]["name"]):
        for webhook in configuration.get("webhooks") or []:
            rules = webhook.get("rules") or []
            if not any(("CREATE" in r.get("operations", []) or "*" in r.get("operations", []))
                       and ("" in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
                       and ("pods" in r.get("resources", []) or "*" in r.get("resources", [])) for r in rules):
                continue
            if not selector_matches(webhook.get("namespaceSelector"), ns_labels):
                continue
            if not selector_matches(webhook.get("objectSelector"), obj.get("metadata", {}).get("labels") or {}):
                continue
            client = webhook.get("clientConfig", {})
            failure = webhook.get("failurePolicy", "Fail")
            review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
                "requestResource": {"group": "", "version": "v1", "resource": "pods"},
                "name": obj.get("metadata", {}).get("name", ""), "namespace": namespace, "operation": "CREATE",
                "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
                "object": obj, "oldObject": None, "dryRun": False,
                "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}}}
            try:
                if "url" not in client:
                    raise ValueError("clientConfig.service cannot be dialled here; give clientConfig.url")
                context = ssl.create_default_context(cadata=base64.b64decode(client.get("caBundle", "")).decode())
                request = urllib.request.Request(client["url"], data=json.dumps(review).encode(), method="POST",
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, context=context, timeout=webhook.get("timeoutSeconds", 10)) as answer:
                    response = json.loads(answer.read()).get("response") or {}
                if response.get("uid") != review["request"]["uid"]:
                    raise ValueError("the answer's uid is not the request's")
            except Exception as error:  # noqa: BLE001 - any failure to call is the webhook's failure
                with store.lock:
                    store.admission.append({"webhook": webhook["name"], "error": str(error)})
                if failure == "Ignore":
                    continue
                return 500, status(500, "InternalError", f'Internal error occurred: failed calling webhook "{webhook["name"]}": {error}')
            with store.lock:
                store.admission.append({"webhook": webhook["name"], "allowed": response.get("allowed"),
                                        "patched": "patch" in response, "warnings": response.get("warnings", [])})
            if not response.get("allowed"):
                message = (response.get("status") or {}).get("message", "denied")
                return 400, status(400, "BadRequest", f'admission webhook "{webhook["name"]}" denied the request: {message}')
            if "patch" in response:
                if response.get("patchType") != "JSONPatch":
                    return 500, status(500, "InternalError", "the webhook's patchType is not JSONPatch")
                try:
                    obj = apply_json_patch(obj, json.loads(base64.b64decode(response["patch"])))
                except Exception as error:  # noqa: BLE001
                    return 500, status(500, "InternalError", f'the patch of webhook "{webhook["name"]}" does not apply: {error}')
    return None, obj


class Store:
    def __init__(self, history):
        self.lock = threading.Condition()
        self.rv = 1000
        self.objects = {}  # (group, plural) → {(ns, name): object}
        self.admission = []  # each webhook call: {"webhook", "allowed", "patched", "warnings"} or {"webhook", "error"}
        self.events = collections.deque()  # (rv, group, plural, type, object, previous)
        self.history = history
        self.oldest = self.rv  # a watch from a version below this gets 410
        self.closed_generation = 0  # bumped to end every open watch
        self.stats = collections.defaultdict(lambda: {"list": 0, "watch": 0, "watch_without_version": 0})
        self.tokens = {}
        self.denied = set()
        self.continues = {}

    def record(self, group, plural, kind, obj, previous):
        self.events.append((self.rv, group, plural, kind, obj, previous))
        while len(self.events) > self.history:
            dropped = self.events.popleft()
            self.oldest = dropped[0]
        self.lock.notify_all()

    def write(self, group, version, plural, namespace, obj, mode, name=None):
        """mode: create | replace | patch | apply (create or replace). Returns (http status, object or Status)."""
        with self.lock:
            table = self.objects.setdefault((group, plural), {})
            meta = obj.setdefault("metadata", {})
            if namespace is not None:
                meta.setdefault("namespace", namespace)
                if meta["namespace"] != namespace:
                    return 400, status(400, "BadRequest", "the namespace of the object does not match the path")
            if name is not None and meta.get("name", name) != name:
                return 400, status(400, "BadRequest", "the name of the object does not match the path")
            if name is not None:
                meta["name"] = name
            if not meta.get("name"):
                if meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                else:
                    return 422, status(422, "Invalid", "metadata.name: Required value")
            key = (meta.get("namespace"), meta["name"])
            existing = table.get(key)
            if mode == "create" and existing is not None:
                return 409, status(409, "AlreadyExists", f'{plural} "{meta["name"]}" already exists')
            if mode in ("replace", "patch") and existing is None:
                return 404, status(404, "NotFound", f'{plural} "{meta["name"]}" not found')
            if mode == "patch":
                obj = merge_patch(copy.deepcopy(existing), obj)
                meta = obj["metadata"]
            if mode == "replace" and meta.get("resourceVersion") and meta["resourceVersion"] != existing["metadata"]["resourceVersion"]:
                return 409, status(409, "Conflict", "the object has been modified; please apply your changes to the latest version")
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            if existing is None:
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                meta["generation"] = 1
            else:
                meta["uid"] = existing["metadata"]["uid"]
                meta["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
                meta["generation"] = existing["metadata"].get("generation", 1) + (1 if obj.get("spec") != existing.get("spec") else 0)
            obj.setdefault("apiVersion", f"{group}/{version}" if group else version)
            table[key] = obj
            self.record(group, plural, "ADDED" if existing is None else "MODIFIED", obj, existing)
            return (201 if existing is None else 200), obj

    def delete(self, group, plural, namespace, name):
        with self.lock:
            table = self.objects.setdefault((group, plural), {})
            existing = table.pop((namespace, name), None)
            if existing is None:
                return 404, status(404, "NotFound", f'{plural} "{name}" not found')
            self.rv += 1
            gone = copy.deepcopy(existing)
            gone["metadata"]["resourceVersion"] = str(self.rv)
            self.record(group, plural, "DELETED", gone, existing)
            return 200, gone


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


def route(path):
    """(group, version, plural, namespace, name, subresource) for an API path, or None."""
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
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if namespace is None and plural == "namespaces" and name is None:
        pass
    return group, version, plural, namespace, name, sub


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "test-apiserver"

    def log_message(self, *args):
        pass

    # -- plumbing

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        return json.loads(raw)

    def authorized(self):
        token = self.server.options.token
        if token is None:
            return True
        if self.headers.get("Authorization") == f"Bearer {token}":
            return True
        self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        return False

    # -- verbs

    def do_GET(self):
        if not self.authorized():
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        store = self.server.store
        if url.path == "/version":
            major, minor = self.server.options.version.split(".")[:2]
            return self.send_json(200, {"major": major, "minor": minor, "gitVersion": f"v{self.server.options.version}", "platform": "linux/amd64"})
        if url.path == "/_test/stats":
            with store.lock:
                return self.send_json(200, {f"{g}/{p}" if g else p: s for (g, p), s in store.stats.items()})
        if url.path == "/_test/admission":
            with store.lock:
                return self.send_json(200, {"calls": list(store.admission)})
        if url.path in ("/api", "/apis"):
            return self.send_json(200, {"kind": "APIGroupList", "groups": []})
        target = route(url.path)
        if target is None:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        group, version, plural, namespace, name, _ = target
        try:
            labels = parse_label_selector(query.get("labelSelector", ""))
            fields = parse_field_selector(query.get("fieldSelector", ""))
        except ValueError as error:
            return self.send_json(400, status(400, "BadRequest", f"unable to parse requirement: {error}"))
        if name is not None:
            with store.lock:
                obj = store.objects.get((group, plural), {}).get((namespace, name))
            if obj is None:
                return self.send_json(404, status(404, "NotFound", f'{plural} "{name}" not found'))
            return self.send_json(200, obj)
        if query.get("watch") in ("1", "true"):
            return self.watch(group, version, plural, namespace, labels, fields, query)
        return self.list(group, version, plural, namespace, labels, fields, query)

    def list(self, group, version, plural, namespace, labels, fields, query):
        store = self.server.store
        limit = int(query.get("limit") or 0)
        token = query.get("continue")
        with store.lock:
            if token:
                saved = store.continues.pop(token, None)
                if saved is None:
                    return self.send_json(410, status(410, "Expired", "the provided continue parameter is too old"))
                rv, items = saved
            else:
                store.stats[(group, plural)]["list"] += 1
                rv = store.rv
                items = [copy.deepcopy(o) for (ns, _), o in sorted(store.objects.get((group, plural), {}).items(),
                                                                     key=lambda e: (e[0][0] or "", e[0][1]))
                         if (namespace is None or ns == namespace)
                         and labels_match(labels, o["metadata"].get("labels", {})) and fields_match(fields, o)]
            page, rest = (items[:limit], items[limit:]) if limit else (items, [])
            meta = {"resourceVersion": str(rv)}
            if rest:
                next_token = uuid.uuid4().hex
                store.continues[next_token] = (rv, rest)
                meta["continue"] = next_token
                meta["remainingItemCount"] = len(rest)
        kind = PLURALS.get((group, plural), (plural.capitalize().rstrip("s"),))[0]
        self.send_json(200, {"kind": f"{kind}List", "apiVersion": f"{group}/{version}" if group else version,
                             "metadata": meta, "items": page})

    def watch(self, group, version, plural, namespace, labels, fields, query):
        store = self.server.store
        options = self.server.options
        since = query.get("resourceVersion") or "0"
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        kind = PLURALS.get((group, plural), (plural,))[0]
        api_version = f"{group}/{version}" if group else version

        def visible(obj):
            if obj is None:
                return False
            if namespace is not None and obj["metadata"].get("namespace") != namespace:
                return False
            return labels_match(labels, obj["metadata"].get("labels", {})) and fields_match(fields, obj)

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(events):
            data = b"".join(json.dumps(e).encode() + b"\n" for e in events)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            with store.lock:
                store.stats[(group, plural)]["watch"] += 1
                if since == "0":
                    store.stats[(group, plural)]["watch_without_version"] += 1
                    position = store.rv
                    initial = [{"type": "ADDED", "object": copy.deepcopy(o)}
                               for o in store.objects.get((group, plural), {}).values() if visible(o)]
                else:
                    position = int(since)
                    initial = []
                    if position < store.oldest:
                        initial = None
                generation = store.closed_generation
            if initial is None:
                send([{"type": "ERROR", "object": status(410, "Expired", f"too old resource version: {since} ({store.oldest})")}])
                self.wfile.write(b"0\r\n\r\n")
                return
            if initial:
                send(initial)
            last_bookmark = time.monotonic()
            cut = False
            while True:
                with store.lock:
                    if store.closed_generation != generation:
                        cut = True  # cut: nothing more goes out on this watch, not even what was written meanwhile
                        break
                    out = []
                    for rv, g, p, kind_of_event, obj, previous in store.events:
                        if rv <= position or (g, p) != (group, plural):
                            continue
                        now, before = visible(obj), visible(previous)
                        if kind_of_event == "DELETED":
                            if before:
                                out.append({"type": "DELETED", "object": obj})
                        elif now and before:
                            out.append({"type": "MODIFIED", "object": obj})
                        elif now:
                            out.append({"type": "ADDED", "object": obj})
                        elif before:
                            out.append({"type": "DELETED", "object": obj})
                    position = store.rv
                    if not out:
                        remaining = deadline - time.monotonic()
                        wait = min(remaining, options.bookmark_seconds - (time.monotonic() - last_bookmark)) if bookmarks else remaining
                        if store.closed_generation == generation and wait > 0:
                            store.lock.wait(wait)
                    cut = store.closed_generation != generation
                    current = store.rv
                if out:
                    send(out)
                if cut or time.monotonic() >= deadline:
                    break
                if bookmarks and time.monotonic() - last_bookmark >= options.bookmark_seconds:
                    send([{"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version,
                                                          "metadata": {"resourceVersion": str(current)}}}])
                    last_bookmark = time.monotonic()
            if not cut:
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self):
        if not self.authorized():
            return
        url = urlsplit(self.path)
        store = self.server.store
        try:
            body = self.read_body()
        except ValueError:
            return self.send_json(400, status(400, "BadRequest", "the body is not JSON"))
        if url.path == "/_test/cut-watches":
            with store.lock:
                store.closed_generation += 1
                store.lock.notify_all()
            return self.send_json(200, {})
        if url.path == "/_test/compact":
            # A write nobody follows moves the version on, the history up to it is forgotten, and the open watches
            # end: every watcher comes back with a version that is now too old, gets 410, and must list again.
            with store.lock:
                store.rv += 1
                store.events.clear()
                store.oldest = store.rv
                store.closed_generation += 1
                store.lock.notify_all()
            return self.send_json(200, {"oldest": store.oldest})
        if url.path == "/_test/tokens":
            with store.lock:
                store.tokens.update(body or {})
            return self.send_json(200, {})
        if url.path == "/_test/deny":
            with store.lock:
                store.denied = {tuple(v) for v in (body or {}).get("verbs", [])}
            return self.send_json(200, {})
        if url.path == "/_test/bulk":
            results = []
            for obj in (body or {}).get("objects", []):
                results.append(self.write_object(obj, "apply")[0])
            for ref in (body or {}).get("delete", []):
                group, version, plural, namespaced = KINDS[ref["kind"]]
                results.append(store.delete(group, plural, ref.get("namespace") if namespaced else None, ref["name"])[0])
            return self.send_json(200, {"results": results})
        if url.path == "/apis/authentication.k8s.io/v1/tokenreviews":
            return self.token_review(body)
        if url.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            attributes = (body or {}).get("spec", {}).get("resourceAttributes", {})
            key = (attributes.get("verb", ""), attributes.get("group", ""), attributes.get("resource", ""))
            with store.lock:
                allowed = key not in store.denied
            body["status"] = {"allowed": allowed}
            return self.send_json(201, body)
        target = route(url.path)
        if target is None or target[4] is not None or not isinstance(body, dict):
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        group, version, plural, namespace, _, _ = target
        refused, body = admit(store, group, version, plural, namespace, body)
        if refused is not None:
            return self.send_json(refused, body)
        code, result = store.write(group, version, plural, namespace, body, "create")
        self.send_json(code, result)

    def write_object(self, obj, mode):
        kind = obj.get("kind")
        if kind not in KINDS:
            return 400, status(400, "BadRequest", f"unknown kind {kind}")
        group, version, plural, namespaced = KINDS[kind]
        namespace = obj.get("metadata", {}).get("namespace", "default") if namespaced else None
        store = self.server.store
        with store.lock:
            exists = (namespace, obj.get("metadata", {}).get("name")) in store.objects.get((group, plural), {})
        if not exists:
            refused, obj = admit(store, group, version, plural, namespace, obj)
            if refused is not None:
                return refused, obj
        return store.write(group, version, plural, namespace, obj, mode)

    def token_review(self, body):
        store = self.server.store
        spec = (body or {}).get("spec", {})
        with store.lock:
            entry = store.tokens.get(spec.get("token", ""))
        wanted = spec.get("audiences") or []
        result = {"authenticated": False, "error": "invalid bearer token"}
        if entry is not None:
            audiences = entry.get("audiences", [])
            if wanted and not set(wanted) & set(audiences):
                result = {"authenticated": False, "error": "token audiences do not match"}
            else:
                result = {"authenticated": True, "user": {"username": entry["username"], "uid": str(uuid.uuid4()),
                                                          "groups": ["system:serviceaccounts", "system:authenticated"]},
                          "audiences": [a for a in audiences if not wanted or a in wanted]}
        body["status"] = result
        self.send_json(201, body)

    def do_PUT(self):
        self.write_named("replace")

    def do_PATCH(self):
        self.write_named("patch")  # a JSON merge patch

    def write_named(self, mode):
        if not self.authorized():
            return
        target = route(urlsplit(self.path).path)
        body = self.read_body()
        if target is None or target[4] is None or not isinstance(body, dict):
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        group, version, plural, namespace, name, _ = target
        code, result = self.server.store.write(group, version, plural, namespace, body, mode, name=name)
        self.send_json(code, result)

    def do_DELETE(self):
        if not self.authorized():
            return
        target = route(urlsplit(self.path).path)
        if target is None or target[4] is None:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        group, _, plural, namespace, name, _ = target
        code, result = self.server.store.delete(group, plural, namespace, name)
        self.send_json(code, result)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--token")
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--bookmark-seconds", type=float, default=1.0)
    parser.add_argument("--load", help="a JSON file of objects to create before serving")
    parser.add_argument("--version", default="1.31.4", help="the Kubernetes version /version reports")
    options = parser.parse_args()
    server = Server((options.host, options.port), Handler)
    server.options = options
    server.store = Store(options.history)
    if options.load:
        with open(options.load) as f:
            handler = Handler.__new__(Handler)
            handler.server = server
            for obj in json.load(f):
                handler.write_object(obj, "apply")
    if options.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(options.tls_cert, options.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening {options.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
