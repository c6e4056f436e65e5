// One instance: summary, actions, connection strings and certificate, read replicas, and the
// panels (timeline, metrics, logs, users and databases).

import { ApiError, del, download, get, post } from "./api.js";
import { badge, confirmByName, gb, h, isTransient, replace, toast, when } from "./dom.js";
import { endpointText } from "./list.js";
import { poller } from "./poll.js";
import { backupsPanel, objectsPanel } from "./objects.js";
import { logsPanel, metricsPanel, timeline } from "./panels.js";

const CERT_FILE = "ssl_certificate.pem";

export function connectionStrings(instance, endpoint, user) {
  const host = endpoint.hostname || endpoint.ip;
  if (instance.engine.toLowerCase().startsWith("postgres")) {
    return [["psql", `psql "host=${host} port=${endpoint.port} user=${user} dbname=rdb sslmode=verify-full sslrootcert=${CERT_FILE}"`]];
  }
  return [["mysql", `mysql --host=${host} --port=${endpoint.port} --user=${user} --password --ssl-ca=${CERT_FILE} --ssl-verify-server-cert rdb`]];
}

function copyButton(target) {
  return h("button", { type: "button", class: "small", onclick: async () => {
    try { await navigator.clipboard.writeText(target.textContent); toast("Copied"); }
    catch { const r = document.createRange(); r.selectNodeContents(target); getSelection().removeAllRanges(); getSelection().addRange(r); toast("Selected: press Ctrl+C"); }
  } }, "Copy");
}

async function act(label, fn, after) {
  try { await fn(); toast(label); after?.(); }
  catch (err) { toast(err instanceof ApiError ? err.text : err.message); }
}

export function instancePage(main, id) {
  const summary = h("section", { "aria-labelledby": "summary-title" });
  const connect = h("section", { class: "card", "aria-labelledby": "connect-title" });
  const replicas = h("section", { class: "card", "aria-labelledby": "replicas-title" });
  const ops = h("section", { class: "card", "aria-labelledby": "timeline-title" });
  const metrics = h("section", { class: "card", "aria-labelledby": "metrics-title" });
  const logs = h("section", { class: "card", "aria-labelledby": "logs-title" });
  const objects = h("section", { class: "card", "aria-labelledby": "objects-title" });
  const backups = h("section", { class: "card", "aria-labelledby": "backups-title" });
  replace(main, summary, h("div", { class: "grid" }, connect, ops, replicas, metrics, objects, backups, logs));
  let instance = null;
  let users = null;
  let nodeTypes = null;
  let shown = "";
  get("/node-types").then((r) => { nodeTypes = r.node_types; }).catch(() => {});

  const poll = poller(async () => {
    try {
      instance = await get(`/instances/${id}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        replace(main, h("h1", null, "Instance not found"), h("p", null, "It was deleted, or it is not in this project. ", h("a", { href: "#/instances" }, "Back to the list")));
        return false;
      }
      throw err;
    }
    if (instance.status === "ready" && users === null) {
      users = await get(`/instances/${id}/users`).then((r) => r.users).catch(() => []);
    }
    const seen = JSON.stringify([instance, users, Boolean(nodeTypes)]);
    if (seen !== shown) { // unchanged: leave the DOM (and the keyboard focus) alone
      shown = seen;
      renderSummary();
      renderConnect();
      renderReplicas();
    }
    const running = await timeline(ops, id);
    return isTransient(instance.status) || instance.read_replicas.some((r) => isTransient(r.status)) || running;
  });
  metricsPanel(metrics, id);
  logsPanel(logs, id);
  const nameOf = () => instance?.name ?? "";
  objectsPanel(objects, id, nameOf);
  backupsPanel(backups, id, nameOf);

  function renderSummary() {
    const i = instance;
    replace(summary,
      h("div", { class: "heading" },
        h("h1", { id: "summary-title" }, i.name, " ", badge(i.status)),
        h("div", { class: "row wrap" },
          h("button", { type: "button", onclick: () => act("Restarting", () => post(`/instances/${id}/restart`), poll.now) }, "Restart"),
          h("button", { type: "button", onclick: () => act("Renewing the certificate", () => post(`/instances/${id}/renew-certificate`), poll.now) }, "Renew certificate"),
          !i.is_ha_cluster && h("button", { type: "button", onclick: () => act("Enabling high availability", () => post(`/instances/${id}/upgrade`, { enable_ha: true }), poll.now) }, "Enable HA"),
          h("button", { type: "button", onclick: clone }, "Clone"),
          h("button", { type: "button", class: "danger", id: "delete-instance", onclick: remove }, "Delete"))),
      h("dl", { class: "facts" },
        fact("Engine", i.engine), fact("Node type", i.node_type),
        fact("High availability", i.is_ha_cluster ? "yes" : "no"),
        fact("Volume", `${i.volume.type} ${gb(i.volume.size)}`),
        fact("Endpoint", endpointText(i.endpoints)),
        fact("Backups", i.backup_schedule.disabled ? "off" : `every ${i.backup_schedule.frequency} h, kept ${i.backup_schedule.retention} days`),
        fact("Tags", i.tags.join(", ") || "none"), fact("Created", when(i.created_at)), fact("Id", i.id)),
      upgradeForm());
  }

  function upgradeForm() {
    const select = h("select", { id: "upgrade-node-type" }, h("option", { value: "" }, "choose…"),
      (nodeTypes || []).filter((n) => n.name !== instance.node_type && n.stock_status !== "out_of_stock")
        .map((n) => h("option", { value: n.name }, `${n.name} — ${n.description}`)));
    return h("form", { class: "inline", "aria-label": "Change the node type", onsubmit: (event) => {
      event.preventDefault();
      if (select.value) act(`Moving to ${select.value}`, () => post(`/instances/${id}/upgrade`, { node_type: select.value }), poll.now);
    } }, h("span", { class: "pair" }, h("label", { for: "upgrade-node-type" }, "Change the node type"), select),
    h("button", { type: "submit" }, "Upgrade"));
  }

  async function clone() {
    const name = window.prompt("Name of the copy", `${instance.name}-copy`);
    if (name) await act(`Cloning into ${name}`, () => post(`/instances/${id}/clone`, { name }), poll.now);
  }

  async function remove() {
    if (!(await confirmByName(instance.name, "Delete instance"))) return;
    await act(`Deleting ${instance.name}`, () => del(`/instances/${id}`), () => { location.hash = "#/instances"; });
  }

  function renderConnect() {
    const names = (users || []).slice().sort((a, b) => b.is_admin - a.is_admin).map((u) => u.name);
    const user = h("select", { id: "connect-user" }, (names.length ? names : ["<user>"]).map((n) => h("option", { value: n }, n)));
    const previous = connect.querySelector("#connect-user")?.value;
    if (previous && names.includes(previous)) user.value = previous;
    const strings = h("div");
    const renderStrings = () => replace(strings, instance.endpoints.map((e) => h("div", { class: "endpoint" },
      h("p", null, h("strong", null, e.load_balancer ? "Load balancer" : e.private_network ? "Private network" : "Direct access"), ` ${e.hostname || e.ip}:${e.port}`),
      connectionStrings(instance, e, user.value).map(([label, text]) => {
        const code = h("code", { class: "conn", "data-kind": label }, text);
        return h("div", { class: "snippet" }, h("span", { class: "muted" }, label), h("pre", null, code), copyButton(code));
      }))));
    user.addEventListener("change", renderStrings);
    renderStrings();
    replace(connect,
      h("h2", { id: "connect-title" }, "Connect"),
      instance.endpoints.length ? [h("label", { for: "connect-user" }, "User"), user, strings]
        : h("p", { class: "muted" }, "No endpoint yet."),
      h("div", { class: "row" },
        h("button", { type: "button", id: "download-certificate", onclick: () => download(`/instances/${id}/certificate?dl=1`, CERT_FILE).catch((e) => toast(e.message)) }, "Download the certificate"),
        h("span", { class: "muted" }, "Save it as ", h("code", null, CERT_FILE), " beside where you run the client.")));
  }

  function renderReplicas() {
    const rows = instance.read_replicas.map((r) => h("tr", { "data-id": r.id },
      h("td", { class: "mono" }, r.id.slice(0, 8)), h("td", null, badge(r.status)),
      h("td", { class: "mono" }, endpointText(r.endpoints)),
      h("td", null, h("div", { class: "row wrap" },
        h("button", { type: "button", class: "small", onclick: async () => {
          if (await confirmByName(instance.name, "Promote the read replica to an instance")) await act("Promoting", () => post(`/read-replicas/${r.id}/promote`), poll.now);
        } }, "Promote"),
        h("button", { type: "button", class: "small", onclick: () => act("Resetting", () => post(`/read-replicas/${r.id}/reset`), poll.now) }, "Reset"),
        h("button", { type: "button", class: "small danger", onclick: async () => {
          if (await confirmByName(instance.name, "Delete the read replica")) await act("Deleting the read replica", () => del(`/read-replicas/${r.id}`), poll.now);
        } }, "Delete")))));
    replace(replicas,
      h("h2", { id: "replicas-title" }, "Read replicas"),
      rows.length ? h("div", { class: "scroll" }, h("table", null,
        h("thead", null, h("tr", null, ["Id", "Status", "Endpoint", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, rows))) : h("p", { class: "muted" }, "None."),
      h("button", { type: "button", onclick: () => act("Creating a read replica", () => post("/read-replicas", { instance_id: id }), poll.now) }, "Add a read replica"));
  }

  return { stop() { poll.stop(); } };
}

function fact(term, value) {
  return h("div", null, h("dt", null, term), h("dd", null, value));
}
