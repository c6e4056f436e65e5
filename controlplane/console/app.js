// The console's shell: sign-in, the top bar with the project switcher, hash routing.

import { ApiError, call, session } from "./api.js";
import { h, replace } from "./dom.js";
import { createPage } from "./create.js";
import { instancePage } from "./instance.js";
import { listPage } from "./list.js";

const main = document.getElementById("main");
const top = document.getElementById("top");
let current = null; // the page on screen: {stop()} ends its polling

async function signInPage() {
  top.replaceChildren();
  const config = await fetch("/console/config.json").then((r) => r.json()).catch(() => ({ regions: ["fr-par"] }));
  const key = h("input", { id: "secret-key", type: "password", required: true, autocomplete: "off", "aria-describedby": "signin-error" });
  const region = h("select", { id: "region" }, config.regions.map((r) => h("option", { value: r }, r)));
  const error = h("p", { id: "signin-error", class: "field-error", role: "alert" });
  const form = h("form", { class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    session.signIn(key.value.trim(), region.value);
    try {
      await loadProjects();
      go("#/instances");
    } catch (err) {
      session.signOut();
      error.textContent = err instanceof ApiError && err.status === 401
        ? "This key is not accepted." : `Cannot sign in: ${err.message}`;
    }
  } },
  h("h1", null, "Sign in"),
  h("p", { class: "muted" }, "Use an API secret key. It is kept only for this browser tab."),
  h("label", { for: "secret-key" }, "Secret key"), key,
  h("label", { for: "region" }, "Region"), region,
  error,
  h("button", { type: "submit", class: "primary" }, "Sign in"));
  replace(main, form);
  key.focus();
}

let projects = [];

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash; // routed by the hashchange listener
}

async function loadProjects() {
  const page = await call("GET", "/account/v3/projects?page_size=100&order_by=created_at_asc");
  projects = page.projects;
  if (!projects.some((p) => p.id === session.project) && projects.length) session.useProject(projects[0].id);
}

function topBar() {
  const switcher = projects.length > 1
    ? h("span", { class: "project" }, h("label", { for: "project" }, "Project"),
      h("select", { id: "project", onchange: (e) => { session.useProject(e.target.value); go("#/instances"); } },
        projects.map((p) => h("option", { value: p.id, selected: p.id === session.project }, p.name))))
    : h("span", { class: "project muted" }, `Project: ${projects[0]?.name || "none"}`);
  replace(top,
    h("a", { class: "brand", href: "#/instances" }, "dbaas"),
    h("nav", { "aria-label": "Main" },
      h("a", { href: "#/instances" }, "Instances"),
      h("a", { href: "#/create" }, "Create")),
    switcher,
    h("span", { class: "muted" }, session.region),
    h("button", { type: "button", onclick: () => { session.signOut(); projects = []; go("#/"); } }, "Sign out"));
}

async function route() {
  current?.stop?.();
  current = null;
  if (!session.key) return signInPage();
  if (!projects.length) {
    try { await loadProjects(); } catch { session.signOut(); return signInPage(); }
  }
  topBar();
  const path = location.hash.replace(/^#/, "") || "/instances";
  const match = path.match(/^\/instances\/([\w-]+)$/);
  if (match) current = instancePage(main, match[1]);
  else if (path === "/create") current = createPage(main);
  else current = listPage(main);
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
// A key revoked while in use: back to sign-in (while signing in, the form says it itself).
window.addEventListener("dbaas:unauthorized", () => {
  if (!projects.length) return;
  session.signOut();
  projects = [];
  route();
});
route();
