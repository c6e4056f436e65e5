// The instance page's panels: operations timeline, metrics, logs.

import { get, post, query } from "./api.js";
import { badge, duration, h, replace, when } from "./dom.js";
import { lineChart } from "./chart.js";

const KINDS = {
  provision_instance: "Provisioning", delete_instance: "Deletion", failover: "Failover",
  degrade: "Degraded", heal_instance: "Heal", install_tls: "Certificate",
  upgrade_node_type: "Node type upgrade", restart_instance: "Restart", clone_instance: "Clone",
  provision_replica: "Read replica creation", delete_replica: "Read replica deletion",
  promote_replica: "Read replica promotion", reset_replica: "Read replica reset",
  create_backup: "Backup", create_snapshot: "Snapshot", create_endpoint: "Endpoint creation",
  delete_endpoint: "Endpoint deletion", prepare_logs: "Log files",
};
const label = (kind) => KINDS[kind] || kind.replaceAll("_", " ");

// A detail's value as text; an operation's steps as "network 0.03 s, n1 copied 1.8 s, ...".
const detail = (key, value) =>
  key === "steps" && value && typeof value === "object"
    ? Object.entries(value).map(([step, seconds]) => `${step} ${seconds} s`).join(", ")
    : typeof value === "object" ? JSON.stringify(value) : value;

// Renders the timeline; true while an operation is pending or running.
export async function timeline(section, id) {
  const { operations } = await get(`/instances/${id}/operations`);
  const now = Date.now();
  replace(section,
    h("h2", { id: "timeline-title" }, "Operations"),
    operations.length ? h("ol", { class: "timeline", id: "timeline" }, operations.slice(0, 50).map((op) => {
      const live = op.status === "pending" || op.status === "running";
      const took = ((op.finished_at ? Date.parse(op.finished_at) : now) - Date.parse(op.created_at)) / 1000;
      const details = Object.entries(op.details || {}).map(([k, v]) => `${k.replaceAll("_", " ")}: ${detail(k, v)}`);
      return h("li", { "data-kind": op.kind, "data-status": op.status, class: live ? "live" : "" },
        h("div", { class: "row wrap" }, h("strong", null, label(op.kind)), badge(op.status),
          h("span", { class: "muted" }, when(op.created_at), " · ", live ? `${duration(took)} so far` : `took ${duration(took)}`),
          op.attempts > 1 && h("span", { class: "muted" }, `attempt ${op.attempts}`),
          op.resource_type !== "instance" && h("span", { class: "muted" }, `${op.resource_type} ${op.resource_id.slice(0, 8)}`)),
        live && h("progress", { "aria-label": `${label(op.kind)} in progress` }),
        details.length > 0 && h("p", { class: "muted small" }, details.join(" · ")),
        op.error && h("p", { class: "field-error" }, op.error));
    })) : h("p", { class: "muted" }, "Nothing yet."));
  return operations.some((op) => op.status === "pending" || op.status === "running");
}

const PERIODS = [["1 hour", 3600], ["6 hours", 21600], ["24 hours", 86400], ["7 days", 604800]];

function periodSelect(id, onchange) {
  return h("select", { id, onchange }, PERIODS.map(([text, seconds]) => h("option", { value: seconds }, text)));
}

function range(select) {
  const to = Date.now();
  return [to - Number(select.value) * 1000, to];
}

export function metricsPanel(section, id) {
  const charts = h("div", { class: "charts", "aria-live": "polite" });
  const load = async () => {
    const [from, to] = range(period);
    try {
      const data = await get(`/instances/${id}/metrics${query({ start_date: new Date(from).toISOString(), end_date: new Date(to).toISOString() })}`);
      const byName = new Map();
      for (const s of data.timeseries) {
        if (!byName.has(s.name)) byName.set(s.name, []);
        byName.get(s.name).push({ label: `${s.metadata.node} (${s.metadata.role})`, points: s.points });
      }
      replace(charts, byName.size ? [...byName].map(([name, series]) => lineChart(name.replaceAll("_", " "), series, from, to))
        : h("p", { class: "muted" }, "No samples in this period."));
    } catch (err) {
      replace(charts, h("p", { class: "field-error" }, err.message));
    }
  };
  const period = periodSelect("metrics-period", load);
  replace(section, h("h2", { id: "metrics-title" }, "Metrics"),
    h("div", { class: "row wrap" }, h("label", { for: "metrics-period" }, "Period"), period,
      h("button", { type: "button", onclick: load }, "Refresh")),
    charts);
  const again = () => { if (section.isConnected) load().finally(() => setTimeout(again, 30000)); };
  again(); // new samples every 30 s while the page is on screen
}

export function logsPanel(section, id) {
  const list = h("div", { "aria-live": "polite" });
  const load = async (tries = 0) => {
    const { instance_logs: logs } = await get(`/instances/${id}/logs`);
    replace(list, logs.length ? h("ul", { class: "plain", id: "logs" }, logs.map((l) => h("li", null,
      badge(l.status), " ", l.node_name, " ", h("span", { class: "muted" }, when(l.created_at)), " ",
      l.download_url && l.status === "ready" ? h("a", { href: l.download_url, download: "" }, "Download") : null)))
      : h("p", { class: "muted" }, "No prepared log file."));
    if (logs.some((l) => l.status === "creating") && tries < 30 && section.isConnected) {
      setTimeout(() => load(tries + 1), 2000);
    }
  };
  const period = periodSelect("logs-period");
  const prepare = async () => {
    const [from, to] = range(period);
    try {
      await post(`/instances/${id}/prepare-logs`, { start_date: new Date(from).toISOString(), end_date: new Date(to).toISOString() });
    } catch (err) { replace(list, h("p", { class: "field-error" }, err.message)); return; }
    load();
  };
  replace(section, h("h2", { id: "logs-title" }, "Logs"),
    h("div", { class: "row wrap" }, h("label", { for: "logs-period" }, "Period"), period,
      h("button", { type: "button", onclick: prepare }, "Prepare log files")),
    list);
  load().catch(() => {});
}
