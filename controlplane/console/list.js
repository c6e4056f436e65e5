// Instances of the chosen project: live status, filters by name and tag.

import { get, query, session } from "./api.js";
import { badge, gb, h, isTransient, replace } from "./dom.js";
import { poller } from "./poll.js";

export function endpointText(endpoints) {
  return (endpoints || []).map((e) => `${e.hostname || e.ip}:${e.port}`).join(", ");
}

export function listPage(main) {
  const name = h("input", { id: "filter-name", type: "search", placeholder: "name contains" });
  const tag = h("input", { id: "filter-tag", type: "search", placeholder: "tag" });
  const body = h("tbody");
  const count = h("p", { class: "muted", "aria-live": "polite" });
  let timer;
  let shown = "";
  const refilter = () => { clearTimeout(timer); timer = setTimeout(() => poll.now(), 300); };
  name.addEventListener("input", refilter);
  tag.addEventListener("input", refilter);

  replace(main,
    h("div", { class: "heading" }, h("h1", null, "Instances"), h("a", { class: "button primary", href: "#/create" }, "Create an instance")),
    h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); poll.now(); } },
      h("label", { for: "filter-name" }, "Filter by name"), name,
      h("label", { for: "filter-tag" }, "Filter by tag"), tag),
    count,
    h("div", { class: "scroll" }, h("table", { id: "instances" },
      h("thead", null, h("tr", null, ["Name", "Status", "Engine", "Node type", "HA", "Volume", "Endpoint", "Tags"].map((c) => h("th", { scope: "col" }, c)))),
      body)));

  const poll = poller(async () => {
    const page = await get(`/instances${query({
      project_id: session.project, name: name.value.trim(), tags: tag.value.trim(), order_by: "created_at_desc", page_size: 100,
    })}`);
    const seen = JSON.stringify(page);
    if (seen === shown) return page.instances.some((i) => isTransient(i.status));
    shown = seen; // re-rendered only when something changed (keeps the keyboard focus)
    replace(body, page.instances.map((i) => h("tr", { "data-id": i.id, "data-name": i.name },
      h("td", null, h("a", { href: `#/instances/${i.id}` }, i.name)),
      h("td", null, badge(i.status)),
      h("td", null, i.engine),
      h("td", null, i.node_type),
      h("td", null, i.is_ha_cluster ? "yes" : "no"),
      h("td", null, `${i.volume.type} ${gb(i.volume.size)}`),
      h("td", { class: "mono" }, endpointText(i.endpoints)),
      h("td", null, i.tags.map((t) => h("span", { class: "tag" }, t))))));
    if (!page.instances.length) replace(body, h("tr", null, h("td", { colspan: 8, class: "muted" }, "No instance matches.")));
    count.textContent = `${page.total_count} instance${page.total_count === 1 ? "" : "s"}`;
    return page.instances.some((i) => isTransient(i.status));
  });
  return poll;
}
