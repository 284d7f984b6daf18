/// The dashboard's pages: plain HTML, CSS and JavaScript served by the controller — no build step, no library, a few
/// kilobytes in all. The script reads the JSON API (`DashboardAPI`) and redraws every five seconds without reloading;
/// `data-refreshes` on the body counts its redraws.
enum DashboardAssets {
    struct Asset {
        let type: String
        let body: String
    }

    static func asset(_ path: String) -> Asset? {
        switch path {
        case "/", "/index.html": Asset(type: "text/html; charset=utf-8", body: Self.page)
        case "/app.js": Asset(type: "text/javascript; charset=utf-8", body: Self.script)
        case "/app.css": Asset(type: "text/css; charset=utf-8", body: Self.style)
        default: nil
        }
    }

    /// Every asset's bytes: the page's weight.
    static var weight: Int { [Self.page, Self.script, Self.style].reduce(0) { $0 + $1.utf8.count } }

    static let page = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Swiftlet</title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="/app.css">
        <script src="/app.js" defer></script>
        </head>
        <body data-refreshes="0">
        <header>
          <h1><a href="#/">Swiftlet</a></h1>
          <a href="#/tap">Tap</a>
          <label>Namespace <select id="namespace"><option value="">all</option></select></label>
          <label>Window <select id="window">
            <option>30s</option><option selected>1m</option><option>5m</option><option>15m</option>
          </select></label>
          <span id="status" role="status"></span>
        </header>
        <main>
          <section id="overview">
            <h2>Topology</h2>
            <p class="legend">
              <span class="key secured">mTLS</span> <span class="key plain">not secured</span>
              <span class="key failing">failing (&lt; 95 %)</span> — arrows: requests/s · success · p99, over the window
            </p>
            <svg id="graph" role="img" aria-label="The mesh: workloads and the requests between them"></svg>
            <h2>Workloads</h2>
            <table id="workloads">
              <thead><tr>
                <th>Namespace</th><th>Deployment</th><th>Meshed</th><th>Success</th><th>RPS</th><th>P99</th>
              </tr></thead>
              <tbody></tbody>
            </table>
          </section>
          <section id="workload" hidden>
            <h2 id="workload-title"></h2>
            <table id="golden">
              <thead><tr><th>Meshed</th><th>Success</th><th>RPS</th><th>P50</th><th>P95</th><th>P99</th><th>TCP</th></tr></thead>
              <tbody></tbody>
            </table>
            <h3>Inbound servers and routes</h3>
            <table id="inbound">
              <thead><tr><th>Server</th><th>Route</th><th>Success</th><th>RPS</th><th>P50</th><th>P95</th><th>P99</th></tr></thead>
              <tbody></tbody>
            </table>
            <h3>Outbound routes and backends</h3>
            <table id="routes">
              <thead><tr>
                <th>Service</th><th>Route</th><th>Backend</th><th>Success</th><th>RPS</th>
                <th>P50</th><th>P95</th><th>P99</th><th>Timeouts</th><th>Retries</th>
              </tr></thead>
              <tbody></tbody>
            </table>
            <h3>Live calls <small id="live-state"></small></h3>
            <table id="live">
              <thead><tr><th>Direction</th><th>Peer</th><th>Method</th><th>Path</th><th>Count</th><th>Best</th><th>Worst</th><th>Last</th>
                <th>Success</th></tr></thead>
              <tbody></tbody>
            </table>
            <h3>Inbound from / outbound to</h3>
            <table id="neighbours">
              <thead><tr><th>Direction</th><th>Workload</th><th>Secured</th><th>RPS</th><th>Success</th><th>P99</th></tr></thead>
              <tbody></tbody>
            </table>
          </section>
          <section id="tap" hidden>
            <h2>Tap</h2>
            <form id="tap-form">
              <label>Kind <select name="kind"><option>deployment</option><option>pod</option>
                <option>statefulset</option><option>daemonset</option><option>namespace</option></select></label>
              <label>Name <input name="name" required></label>
              <label>Namespace <input name="namespace" value="default" required></label>
              <label>To <input name="to" placeholder="svc/voting"></label>
              <label>Method <input name="method" size="6"></label>
              <label>Path prefix <input name="path"></label>
              <label>Max RPS <input name="max_rps" value="20" size="4"></label>
              <button type="submit">Start</button> <button type="button" id="tap-stop">Stop</button>
            </form>
            <p id="tap-state"></p>
            <table id="tap-events">
              <thead><tr><th>Event</th><th>Direction</th><th>Source</th><th>Destination</th><th>Method / status</th><th>Path</th>
                <th>Latency</th><th>TLS</th></tr></thead>
              <tbody></tbody>
            </table>
          </section>
        </main>
        </body>
        </html>
        """#

    static let style = #"""
        :root {
          --fg: #1d2430; --muted: #667085; --line: #d0d5dd; --ok: #1f7a4d; --bad: #c0362c; --bg: #f7f8fa;
          font-family: system-ui, sans-serif;
        }
        body { margin: 0; color: var(--fg); background: var(--bg); }
        header {
          display: flex; gap: 1.5rem; align-items: center; padding: 0.6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line);
        }
        header h1 { font-size: 1.2rem; margin: 0 1rem 0 0; }
        header h1 a { color: inherit; text-decoration: none; }
        #status { color: var(--muted); font-size: 0.85rem; margin-left: auto; }
        #status.error { color: var(--bad); }
        main { padding: 0 1.2rem 2rem; }
        h2 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
        h3 { font-size: 0.95rem; margin: 1rem 0 0.3rem; }
        .legend { color: var(--muted); font-size: 0.8rem; margin: 0 0 0.4rem; }
        .key::before {
          content: ""; display: inline-block; width: 1.6rem; height: 0; margin-right: 0.3rem; vertical-align: middle;
          border-top: 2px solid var(--ok);
        }
        .key.plain::before { border-top: 2px dashed var(--muted); }
        .key.failing::before { border-top-color: var(--bad); }
        #graph { width: 100%; min-height: 240px; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
        .node rect { fill: #fff; stroke: #98a2b3; rx: 6; }
        .node.unmeshed rect { stroke-dasharray: 4 3; fill: #f2f4f7; }
        .node.failing rect { stroke: var(--bad); stroke-width: 2; }
        .node text { font-size: 12px; fill: var(--fg); }
        .node text.figures { fill: var(--muted); font-size: 11px; }
        .node { cursor: pointer; }
        .edge path { fill: none; stroke: var(--ok); stroke-width: 1.6; }
        .edge.plain path { stroke: var(--muted); stroke-dasharray: 6 4; }
        .edge.failing path { stroke: var(--bad); stroke-width: 2.4; }
        .edge text { font-size: 11px; fill: var(--fg); paint-order: stroke; stroke: #fff; stroke-width: 3px; }
        .edge.failing text { fill: var(--bad); }
        table { border-collapse: collapse; background: #fff; font-size: 0.85rem; min-width: 40rem; }
        th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid var(--line); text-align: right; }
        th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
        #routes td:nth-child(3) { text-align: left; white-space: pre; }
        td.failing { color: var(--bad); font-weight: 600; }
        a { color: #175cd3; }
        """#

    static let script = #"""
        // Swiftlet's dashboard: reads the JSON API (/api/v1/…) every few seconds and redraws without reloading.
        "use strict";
        const REFRESH_MS = 5000;
        const $ = (selector) => document.querySelector(selector);
        const SVG = "http://www.w3.org/2000/svg";

        function pct(value) { return value == null ? "-" : (value * 100).toFixed(2) + "%"; }
        function rps(value) { return value == null ? "-" : value.toFixed(1) + "rps"; }
        function ms(value) { return value == null ? "-" : (value >= 10 ? Math.round(value) : value.toFixed(1)) + "ms"; }
        function failing(success) { return success != null && success < 0.95; }

        async function api(path, params) {
          const query = new URLSearchParams(Object.assign({ window: $("#window").value }, params));
          const response = await fetch(`/api/v1/${path}?${query}`);
          const body = await response.json();
          if (!response.ok) { throw new Error(body.error || response.statusText); }
          return body;
        }

        function cell(row, text, className) {
          const td = document.createElement("td");
          td.textContent = text;
          if (className) { td.className = className; }
          row.appendChild(td);
          return td;
        }

        function element(name, attributes, parent) {
          const node = document.createElementNS(SVG, name);
          for (const [key, value] of Object.entries(attributes)) { node.setAttribute(key, value); }
          if (parent) { parent.appendChild(node); }
          return node;
        }

        // Columns by depth: a workload that nothing calls first, each callee one column right of its deepest caller.
        function layout(nodes, edges) {
          const depth = new Map(nodes.map((node) => [node.id, 0]));
          for (let pass = 0; pass < nodes.length; pass++) {
            let moved = false;
            for (const edge of edges) {
              if (edge.source === edge.destination) { continue; }
              const next = (depth.get(edge.source) || 0) + 1;
              if (next > (depth.get(edge.destination) || 0) && next < nodes.length) { depth.set(edge.destination, next); moved = true; }
            }
            if (!moved) { break; }
          }
          const columns = new Map();
          const positions = new Map();
          for (const node of nodes) {
            const column = depth.get(node.id) || 0;
            const row = columns.get(column) || 0;
            columns.set(column, row + 1);
            positions.set(node.id, { x: 30 + column * 420, y: 30 + row * 100 });
          }
          return positions;
        }

        function drawTopology(topology) {
          const svg = $("#graph");
          svg.replaceChildren();
          const defs = element("defs", {}, svg);
          for (const [id, color] of [["arrow", "#1f7a4d"], ["arrow-plain", "#667085"], ["arrow-failing", "#c0362c"]]) {
            const marker = element("marker", {
              id, viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto",
            }, defs);
            element("path", { d: "M0,0 L10,5 L0,10 z", fill: color }, marker);
          }
          const positions = layout(topology.nodes, topology.edges);
          const width = 220, height = 56;
          let maxX = 0, maxY = 0;
          for (const position of positions.values()) {
            maxX = Math.max(maxX, position.x + width);
            maxY = Math.max(maxY, position.y + height);
          }
          svg.setAttribute("viewBox", `0 0 ${maxX + 30} ${maxY + 30}`);
          svg.style.height = `${maxY + 30}px`;
          for (const edge of topology.edges) {
            const from = positions.get(edge.source), to = positions.get(edge.destination);
            if (!from || !to) { continue; }
            const kind = failing(edge.success) ? "failing" : edge.secured ? "secured" : "plain";
            const group = element("g", {
              class: `edge ${kind}`, "data-source": edge.source, "data-destination": edge.destination,
            }, svg);
            const x1 = from.x + width, y1 = from.y + height / 2, x2 = to.x, y2 = to.y + height / 2;
            const bend = Math.max(40, (x2 - x1) / 2);
            element("path", {
              d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
              "marker-end": `url(#${kind === "secured" ? "arrow" : kind === "plain" ? "arrow-plain" : "arrow-failing"})`,
            }, group);
            // Two lines over the arrow's middle: the rate and success, then the p99 (and a plaintext edge says so).
            const label = element("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 18, "text-anchor": "middle" }, group);
            const first = element("tspan", { x: (x1 + x2) / 2, dy: "0" }, label);
            first.textContent = `${rps(edge.rps)} · ${pct(edge.success)}`;
            const second = element("tspan", { x: (x1 + x2) / 2, dy: "13" }, label);
            second.textContent = `p99 ${ms(edge.latency_ms_p99)}` + (edge.secured ? "" : " · not mTLS");
            const title = element("title", {}, group);
            title.textContent = `${edge.source} → ${edge.destination}`;
          }
          for (const node of topology.nodes) {
            const position = positions.get(node.id);
            const unmeshed = node.meshed.startsWith("0/");
            const group = element("g", {
              class: `node${unmeshed ? " unmeshed" : ""}${failing(node.success) ? " failing" : ""}`,
              transform: `translate(${position.x},${position.y})`, "data-id": node.id,
            }, svg);
            element("rect", { width, height }, group);
            const name = element("text", { x: 10, y: 20 }, group);
            name.textContent = `${node.name}`;
            const figures = element("text", { x: 10, y: 38, class: "figures" }, group);
            figures.textContent = `${node.meshed} meshed · ${rps(node.rps)} · ${pct(node.success)}`;
            const tooltip = element("title", {}, group);
            tooltip.textContent = `${node.kind}/${node.name} in ${node.namespace}`;
            group.addEventListener("click", () => { location.hash = `#/workload/${node.namespace}/${node.name}`; });
          }
          const body = $("#workloads tbody");
          body.replaceChildren();
          for (const node of topology.nodes) {
            const row = document.createElement("tr");
            cell(row, node.namespace);
            const link = document.createElement("a");
            link.href = `#/workload/${node.namespace}/${node.name}`;
            link.textContent = node.name;
            cell(row, "").appendChild(link);
            cell(row, node.meshed);
            cell(row, pct(node.success), failing(node.success) ? "failing" : "");
            cell(row, rps(node.rps));
            cell(row, ms(node.latency_ms_p99));
            body.appendChild(row);
          }
        }

        async function showWorkload(namespace, name) {
          $("#workload-title").textContent = `deploy/${name} (${namespace})`;
          const [stat, inbound, routes, topology] = await Promise.all([
            api("stat", { kind: "deployment", namespace, name }),
            api("inbound", { kind: "deployment", namespace, name }),
            api("routes", { kind: "deployment", namespace, name }),
            api("topology", { namespace }),
          ]);
          const golden = $("#golden tbody");
          golden.replaceChildren();
          for (const row of stat) {
            const tr = document.createElement("tr");
            const figures = [row.meshed, pct(row.success), rps(row.rps), ms(row.latency_ms_p50), ms(row.latency_ms_p95),
              ms(row.latency_ms_p99), row.tcp_open_connections ?? "-"];
            for (const text of figures) { cell(tr, String(text)); }
            golden.appendChild(tr);
          }
          const servers = $("#inbound tbody");
          servers.replaceChildren();
          for (const server of inbound) {
            const tr = document.createElement("tr");
            cell(tr, server.server);
            cell(tr, server.route + (server.type ? ` (${server.type})` : ""));
            const figures = server.figures;
            cell(tr, pct(figures.success), failing(figures.success) ? "failing" : "");
            const rest = [rps(figures.rps), ms(figures.latency_ms_p50), ms(figures.latency_ms_p95), ms(figures.latency_ms_p99)];
            for (const text of rest) { cell(tr, text); }
            servers.appendChild(tr);
          }
          const body = $("#routes tbody");
          body.replaceChildren();
          for (const route of routes) {
            const tr = document.createElement("tr");
            cell(tr, route.service);
            cell(tr, route.route + (route.type ? ` (${route.type})` : ""));
            cell(tr, "");
            const figures = route.figures;
            cell(tr, pct(figures.success), failing(figures.success) ? "failing" : "");
            const rest = [rps(figures.rps), ms(figures.latency_ms_p50), ms(figures.latency_ms_p95), ms(figures.latency_ms_p99),
              pct(route.timeouts), pct(route.retries)];
            for (const text of rest) { cell(tr, text); }
            body.appendChild(tr);
            route.backends.forEach((backend, index) => {
              const row = document.createElement("tr");
              row.className = "backend";
              cell(row, "");
              cell(row, "");
              cell(row, `${index === route.backends.length - 1 ? "└─►" : "├─►"} ${backend.name}:${backend.port}`);
              cell(row, pct(backend.figures.success), failing(backend.figures.success) ? "failing" : "");
              const figures = backend.figures;
              const rest = [rps(figures.rps), ms(figures.latency_ms_p50), ms(figures.latency_ms_p95), ms(figures.latency_ms_p99),
                "", ""];
              for (const text of rest) { cell(row, text); }
              body.appendChild(row);
            });
          }
          const id = `${namespace}/${name}`;
          const neighbours = $("#neighbours tbody");
          neighbours.replaceChildren();
          for (const edge of topology.edges.filter((edge) => edge.source === id || edge.destination === id)) {
            const tr = document.createElement("tr");
            cell(tr, edge.destination === id ? "inbound from" : "outbound to");
            cell(tr, edge.destination === id ? edge.source : edge.destination);
            cell(tr, edge.secured ? "√" : "×");
            cell(tr, rps(edge.rps));
            cell(tr, pct(edge.success), failing(edge.success) ? "failing" : "");
            cell(tr, ms(edge.latency_ms_p99));
            neighbours.appendChild(tr);
          }
        }

        // A tap event's line (`viz tap -o wide`'s format): its kind, then key=value fields.
        function parseLine(line) {
          const [kind, ...rest] = line.split(" ");
          const fields = { kind };
          for (const token of rest) {
            const at = token.indexOf("=");
            if (at > 0) { fields[token.slice(0, at)] = token.slice(at + 1); }
          }
          return fields;
        }

        function micros(text) { return text ? Number(text.replace("µs", "")) / 1000 : null; }

        // Live calls of a workload, top-like: requests grouped by direction, peer, method and path, updated as they come.
        let live = null;
        function stopLive() { if (live) { live.source.close(); live = null; } }

        function startLive(namespace, name) {
          const key = `${namespace}/${name}`;
          if (live && live.key === key) { return; }
          stopLive();
          const source = new EventSource(`/api/v1/tap?${new URLSearchParams({ kind: "deployment", namespace, name, max_rps: "20" })}`);
          live = { key, source, requests: new Map(), rows: new Map(), dirty: false };
          $("#live-state").textContent = "(tapping…)";
          const state = live;
          source.onmessage = (message) => {
            const event = parseLine(message.data);
            if (event.kind === "req") {
              const peer = event.proxy === "out" ? `→ ${event.dst_res || event.dst}` : `← ${event.src_res || event.src}`;
              const path = (event[":path"] || "").split("?")[0];
              state.requests.set(event.id, { direction: event.proxy, peer, method: event[":method"], path });
            } else if (event.kind === "rsp" || event.kind === "end") {
              const request = state.requests.get(event.id);
              if (!request) { return; }
              if (event.kind === "rsp") { request.latency = micros(event.latency); request.status = Number(event[":status"]); return; }
              state.requests.delete(event.id);
              const rowKey = `${request.direction} ${request.peer} ${request.method} ${request.path}`;
              const row = state.rows.get(rowKey) || { ...request, count: 0, ok: 0, best: null, worst: null, last: null };
              const failed = request.status >= 500 || (event["grpc-status"] && event["grpc-status"] !== "OK") || event["reset-error"];
              row.count += 1;
              if (!failed) { row.ok += 1; }
              if (request.latency != null) {
                row.best = row.best == null ? request.latency : Math.min(row.best, request.latency);
                row.worst = row.worst == null ? request.latency : Math.max(row.worst, request.latency);
                row.last = request.latency;
              }
              state.rows.set(rowKey, row);
              state.dirty = true;
            }
          };
          source.addEventListener("notice", (message) => { $("#live-state").textContent = `(${message.data})`; });
          source.onerror = () => {
            if (live === state) { $("#live-state").textContent = "(tap ended; it starts again on the next refresh)"; stopLive(); }
          };
        }

        function drawLive() {
          if (!live || !live.dirty) { return; }
          live.dirty = false;
          $("#live-state").textContent = "(live)";
          const body = $("#live tbody");
          body.replaceChildren();
          const rows = [...live.rows.values()].sort((a, b) => b.count - a.count).slice(0, 50);
          for (const row of rows) {
            const tr = document.createElement("tr");
            for (const text of [row.direction === "out" ? "outbound" : "inbound", row.peer, row.method, row.path, String(row.count),
              ms(row.best), ms(row.worst), ms(row.last)]) { cell(tr, text); }
            const success = row.ok / row.count;
            cell(tr, pct(success), failing(success) ? "failing" : "");
            body.appendChild(tr);
          }
        }

        // The tap page: a query, and its events as they stream.
        let tapSource = null;
        function stopTap() { if (tapSource) { tapSource.close(); tapSource = null; $("#tap-state").textContent = "stopped"; } }

        function startTap(form) {
          stopTap();
          const params = new URLSearchParams();
          for (const [key, value] of new FormData(form)) { if (value) { params.set(key, value); } }
          const body = $("#tap-events tbody");
          body.replaceChildren();
          tapSource = new EventSource(`/api/v1/tap?${params}`);
          $("#tap-state").textContent = "tapping…";
          tapSource.onmessage = (message) => {
            const event = parseLine(message.data);
            const tr = document.createElement("tr");
            const what = event.kind === "req" ? event[":method"] : event.kind === "rsp" ? event[":status"]
              : event["grpc-status"] || event["reset-error"] || `${event["response-length"] || ""}`;
            for (const text of [event.kind, event.proxy, event.src_res || event.src, event.dst_res || event.dst, what || "",
              event[":path"] || "", ms(micros(event.latency || event.duration)), event.tls]) { cell(tr, text || ""); }
            body.prepend(tr);
            while (body.rows.length > 200) { body.deleteRow(body.rows.length - 1); }
          };
          tapSource.addEventListener("notice", (message) => { $("#tap-state").textContent = message.data; });
          tapSource.onerror = () => { $("#tap-state").textContent = "the tap ended"; tapSource.close(); tapSource = null; };
        }

        async function refresh() {
          const route = location.hash.match(/^#\/workload\/([^/]+)\/([^/]+)$/);
          const tapping = location.hash === "#/tap";
          $("#overview").hidden = Boolean(route) || tapping;
          $("#workload").hidden = !route;
          $("#tap").hidden = !tapping;
          if (route) { startLive(decodeURIComponent(route[1]), decodeURIComponent(route[2])); } else { stopLive(); }
          if (tapping) { return; }
          try {
            if (route) {
              await showWorkload(decodeURIComponent(route[1]), decodeURIComponent(route[2]));
            } else {
              drawTopology(await api("topology", { namespace: $("#namespace").value }));
            }
            $("#status").textContent = `updated ${new Date().toLocaleTimeString()}`;
            $("#status").className = "";
            document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
          } catch (error) {
            $("#status").textContent = `cannot read the mesh: ${error.message}`;
            $("#status").className = "error";
          }
        }

        async function start() {
          for (const control of ["#namespace", "#window"]) { $(control).addEventListener("change", refresh); }
          window.addEventListener("hashchange", refresh);
          $("#tap-form").addEventListener("submit", (event) => { event.preventDefault(); startTap(event.target); });
          $("#tap-stop").addEventListener("click", stopTap);
          document.body.dataset.ready = "true";
          try {
            const select = $("#namespace");
            for (const namespace of await api("namespaces", {})) {
              const option = document.createElement("option");
              option.value = option.textContent = namespace;
              select.appendChild(option);
            }
          } catch (error) {
            $("#status").textContent = `cannot read the mesh: ${error.message}`;
          }
          await refresh();
          setInterval(refresh, REFRESH_MS);
          setInterval(drawLive, 1000);
        }

        start();
        """#
}
