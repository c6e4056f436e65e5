// Tiny DOM helpers: the console builds its pages with h(), no framework, no build step.

const SVG_NS = "http://www.w3.org/2000/svg";

function set(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.setAttribute("class", value);
    else if (key === "value" || key === "checked") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  set(el, props);
  append(el, children);
  return el;
}

export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  set(el, props);
  append(el, children);
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("shown"), 4000);
}

const STABLE = new Set(["ready", "error", "locked", "stopped", "disk_full", "unknown"]);

export const isTransient = (status) => !STABLE.has(status);

export function badge(status) {
  const kind = status === "ready" || status === "succeeded" ? "ok"
    : status === "error" || status === "failed" || status === "locked" ? "bad"
    : isTransient(status) ? "busy" : "neutral";
  return h("span", { class: `badge ${kind}`, "data-status": status }, status);
}

export const gb = (bytes) => `${Math.round(bytes / 1e9)} GB`;

export function when(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }) : "";
}

export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

// Asks for a name to be typed before a destructive action; resolves true when confirmed.
export function confirmByName(name, action) {
  return new Promise((resolve) => {
    const input = h("input", { id: "confirm-name", autocomplete: "off", spellcheck: "false" });
    const go = h("button", { type: "submit", class: "danger", disabled: true }, action);
    input.addEventListener("input", () => { go.disabled = input.value !== name; });
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "confirm-title" }, action),
        h("p", null, "This cannot be undone. Type ", h("strong", null, name), " to confirm."),
        h("label", { for: "confirm-name" }, "Instance name"), input,
        h("div", { class: "row" },
          h("button", { type: "button", onclick: () => dialog.close("cancel") }, "Cancel"), go)));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue !== "cancel" && input.value === name);
    });
    go.addEventListener("click", () => { dialog.returnValue = "ok"; });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}
