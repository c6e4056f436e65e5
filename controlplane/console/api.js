// The only way the console talks to the service: the public REST API, with the user's key.

const store = window.sessionStorage; // the key lives as long as the tab, never on disk

export const session = {
  get key() { return store.getItem("dbaas.key"); },
  get region() { return store.getItem("dbaas.region") || "fr-par"; },
  get project() { return store.getItem("dbaas.project"); },
  signIn(key, region) { store.setItem("dbaas.key", key); store.setItem("dbaas.region", region); },
  useProject(id) { store.setItem("dbaas.project", id); },
  signOut() { store.clear(); },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.help_message || body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }

  // invalid_arguments: {argument_name: help_message}
  get fields() {
    const out = {};
    for (const d of this.body.details || []) {
      if (d.argument_name) out[d.argument_name] = d.help_message || d.reason || "invalid";
    }
    return out;
  }

  get text() {
    const details = (this.body.details || []).map((d) =>
      d.argument_name ? `${d.argument_name}: ${d.help_message || d.reason}` : d.help_message || "");
    return [this.message, ...details].filter(Boolean).join(" — ");
  }
}

export async function call(method, path, body) {
  const headers = { "X-Auth-Token": session.key || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) window.dispatchEvent(new CustomEvent("dbaas:unauthorized"));
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const rdb = (path) => `/rdb/v1/regions/${encodeURIComponent(session.region)}${path}`;
export const get = (path) => call("GET", rdb(path));
export const post = (path, body) => call("POST", rdb(path), body ?? {});
export const del = (path) => call("DELETE", rdb(path));

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// A file the API answers with (needs the key header, so no plain link): saved by the browser.
export async function download(path, filename) {
  const res = await fetch(rdb(path), { headers: { "X-Auth-Token": session.key || "" } });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
