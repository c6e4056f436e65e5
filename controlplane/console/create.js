// The create form, fed by the catalog; the API's validation errors land next to their fields.

import { ApiError, get, post, session } from "./api.js";
import { gb, h, replace, toast } from "./dom.js";

function field(id, label, input, hint) {
  input.id = id;
  input.setAttribute("aria-describedby", `${id}-error${hint ? ` ${id}-hint` : ""}`);
  return h("div", { class: "field" },
    h("label", { for: id }, label), input,
    hint && h("p", { id: `${id}-hint`, class: "hint" }, hint),
    h("p", { id: `${id}-error`, class: "field-error", "data-argument": id }));
}

export function createPage(main) {
  replace(main, h("h1", null, "Create an instance"), h("p", { class: "muted" }, "Loading the catalog…"));
  load(main).catch((err) => replace(main, h("p", { role: "alert" }, `Cannot load the catalog: ${err.message}`)));
  return { stop() {} };
}

async function load(main) {
  const [engines, nodeTypes] = await Promise.all([get("/database-engines"), get("/node-types")]);
  const engine = h("select", null, engines.engines.flatMap((e) => e.versions.filter((v) => !v.disabled)
    .map((v) => h("option", { value: v.name }, `${e.name} ${v.version}`))));
  const nodeType = h("select", null, nodeTypes.node_types.map((n) => h("option",
    { value: n.name, disabled: n.stock_status === "out_of_stock" },
    `${n.name} — ${n.description} — ${n.stock_status.replaceAll("_", " ")}`)));
  const ha = h("input", { type: "checkbox" });
  const volumeType = h("select");
  const volumeSize = h("input", { type: "number", min: 0, step: 5, inputmode: "numeric" });
  const name = h("input", { required: true, autocomplete: "off", value: "" });
  const userName = h("input", { autocomplete: "off", value: "admin_user" });
  const password = h("input", { type: "password", autocomplete: "new-password" });
  const tags = h("input", { autocomplete: "off", placeholder: "team-a, staging" });
  const backups = h("input", { type: "checkbox", checked: true });
  const formError = h("p", { class: "field-error", role: "alert", id: "form-error" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create");

  const chosenNodeType = () => nodeTypes.node_types.find((n) => n.name === nodeType.value);
  const refreshVolumes = () => {
    const types = chosenNodeType()?.available_volume_types || [];
    const keep = volumeType.value;
    replace(volumeType, types.map((v) => h("option", { value: v.type, selected: v.type === keep }, `${v.type} — ${v.description}`)));
    refreshSize();
  };
  const refreshSize = () => {
    const v = (chosenNodeType()?.available_volume_types || []).find((t) => t.type === volumeType.value);
    if (!v) return;
    volumeSize.min = v.min_size / 1e9;
    volumeSize.max = v.max_size / 1e9;
    volumeSize.step = v.chunk_size / 1e9;
    volumeSize.disabled = v.min_size === v.max_size; // fixed by the node type
    if (volumeSize.disabled || !volumeSize.value) volumeSize.value = v.min_size / 1e9;
    document.getElementById("volume_size-hint").textContent = volumeSize.disabled
      ? `fixed at ${gb(v.min_size)} by the node type` : `${gb(v.min_size)} to ${gb(v.max_size)}, by ${gb(v.chunk_size)}`;
    const n = chosenNodeType();
    ha.checked = ha.checked || Boolean(n?.is_ha_required);
  };
  nodeType.addEventListener("change", refreshVolumes);
  volumeType.addEventListener("change", refreshSize);

  const form = h("form", { class: "card", id: "create-form", novalidate: true },
    h("h1", null, "Create an instance"),
    field("name", "Name", name),
    field("engine", "Engine and version", engine),
    field("node_type", "Node type", nodeType, "Stock is the free memory of this host."),
    h("div", { class: "field check" }, ha, h("label", { for: "is_ha_cluster" }, "High availability (a synchronous standby node)"),
      h("p", { id: "is_ha_cluster-error", class: "field-error", "data-argument": "is_ha_cluster" })),
    field("volume_type", "Volume type", volumeType),
    field("volume_size", "Volume size (GB)", volumeSize, " "),
    field("user_name", "Admin user name", userName),
    field("password", "Admin password", password, "At least 8 characters, with upper and lower case, a digit and a symbol."),
    field("tags", "Tags (comma separated)", tags),
    h("div", { class: "field check" }, backups, h("label", { for: "backups" }, "Automatic daily backups")),
    formError,
    h("div", { class: "row" }, h("a", { class: "button", href: "#/instances" }, "Cancel"), submit));
  ha.id = "is_ha_cluster";
  backups.id = "backups";
  replace(main, form);
  refreshVolumes();
  name.focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const body = {
      project_id: session.project,
      name: name.value.trim(),
      engine: engine.value,
      node_type: nodeType.value,
      is_ha_cluster: ha.checked,
      volume_type: volumeType.value,
      volume_size: Math.round(Number(volumeSize.value || 0) * 1e9),
      user_name: userName.value.trim(),
      password: password.value,
      tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
      disable_backup: !backups.checked,
    };
    submit.disabled = true;
    try {
      const created = await post("/instances", body);
      toast(`Creating ${created.name}…`);
      location.hash = "#/instances";
    } catch (err) {
      showErrors(form, formError, err);
    } finally {
      submit.disabled = false;
    }
  });
}

function showErrors(form, formError, err) {
  if (!(err instanceof ApiError)) { formError.textContent = err.message; return; }
  const fields = err.fields;
  const unplaced = [];
  let first = null;
  for (const [argument, help] of Object.entries(fields)) {
    const base = argument.split(/[.[]/)[0]; // "volume.size", "tags[0]" go to their field
    const slot = form.querySelector(`[data-argument="${CSS.escape(base)}"]`);
    if (!slot) { unplaced.push(`${argument}: ${help}`); continue; }
    slot.textContent = help;
    const input = document.getElementById(base);
    input?.setAttribute("aria-invalid", "true");
    first = first || input;
  }
  formError.textContent = Object.keys(fields).length
    ? (unplaced.length ? unplaced.join(" — ") : "Please correct the fields marked above.")
    : err.text;
  (first || formError).focus?.();
}
