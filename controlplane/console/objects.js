// Users, databases, ACL rules and backups of an instance: listed, created and deleted through
// the API (deletions ask for the instance's name).

import { ApiError, del, get, post, query } from "./api.js";
import { badge, confirmByName, h, isTransient, replace, toast, when } from "./dom.js";

const enc = encodeURIComponent;

function failed(err) {
  toast(err instanceof ApiError ? err.text : err.message);
}

// A small inline form: the inputs, a submit button; resolves the submit through `send`.
function inlineForm(id, legend, inputs, button, send) {
  const form = h("form", { class: "inline", id, "aria-label": legend, onsubmit: async (event) => {
    event.preventDefault();
    try { await send(); form.reset(); } catch (err) { failed(err); }
  } }, inputs, h("button", { type: "submit" }, button));
  return form;
}

function labelled(id, text, input) {
  input.id = id;
  return h("span", { class: "pair" }, h("label", { for: id }, text), input);
}

export function objectsPanel(section, id, instanceName) {
  const users = h("ul", { class: "plain", id: "users" });
  const databases = h("ul", { class: "plain", id: "databases" });
  const acls = h("ul", { class: "plain" });
  const userName = h("input", { autocomplete: "off", required: true });
  const userPassword = h("input", { type: "password", autocomplete: "new-password", required: true });
  const userAdmin = h("input", { type: "checkbox" });
  const dbName = h("input", { autocomplete: "off", required: true });

  const listUsers = () => get(`/instances/${id}/users`).then((r) => replace(users, r.users.map((u) =>
    h("li", { "data-name": u.name }, u.name, u.is_admin ? " (admin)" : "", " ",
      h("button", { type: "button", class: "small", "aria-label": `Delete user ${u.name}`, onclick: async () => {
        if (!(await confirmByName(instanceName(), `Delete user ${u.name}`))) return;
        await del(`/instances/${id}/users/${enc(u.name)}`).then(listUsers).catch(failed);
      } }, "Delete"))))).catch(() => replace(users, h("li", { class: "muted" }, "not available now")));
  const listDatabases = () => get(`/instances/${id}/databases`).then((r) => replace(databases, r.databases.map((d) =>
    h("li", { "data-name": d.name }, d.name, h("span", { class: "muted" }, ` owner ${d.owner}`), " ",
      !d.managed ? null : h("button", { type: "button", class: "small", "aria-label": `Delete database ${d.name}`, onclick: async () => {
        if (!(await confirmByName(instanceName(), `Delete database ${d.name}`))) return;
        await del(`/instances/${id}/databases/${enc(d.name)}`).then(listDatabases).catch(failed);
      } }, "Delete"))))).catch(() => replace(databases, h("li", { class: "muted" }, "not available now")));
  const listAcls = () => get(`/instances/${id}/acls`).then((r) => replace(acls, r.rules.length
    ? r.rules.map((x) => h("li", null, `${x.ip} ${x.protocol || ""} ${x.action || ""} ${x.description || ""}`))
    : h("li", { class: "muted" }, "none"))).catch(() => replace(acls, h("li", { class: "muted" }, "not available now")));

  replace(section, h("h2", { id: "objects-title" }, "Users and databases"),
    h("h3", null, "Users"), users,
    inlineForm("add-user", "Add a user", [labelled("new-user-name", "Name", userName),
      labelled("new-user-password", "Password", userPassword),
      h("span", { class: "pair check" }, userAdmin, h("label", { for: "new-user-admin" }, "admin"))], "Add user",
    async () => {
      await post(`/instances/${id}/users`, { name: userName.value.trim(), password: userPassword.value, is_admin: userAdmin.checked });
      toast(`User ${userName.value} added`);
      await listUsers();
    }),
    h("h3", null, "Databases"), databases,
    inlineForm("add-database", "Add a database", [labelled("new-database-name", "Name", dbName)], "Add database",
      async () => {
        await post(`/instances/${id}/databases`, { name: dbName.value.trim() });
        toast(`Database ${dbName.value} added`);
        await listDatabases();
      }),
    h("h3", null, "Allowed networks (ACL)"), acls);
  userAdmin.id = "new-user-admin";
  listUsers();
  listDatabases();
  listAcls();
}

export function backupsPanel(section, id, instanceName) {
  const list = h("ul", { class: "plain", id: "backups" });
  const database = h("input", { autocomplete: "off", value: "rdb", required: true });
  const load = async (tries = 0) => {
    const { database_backups: backups } = await get(`/backups${query({ instance_id: id, order_by: "created_at_desc", page_size: 20 })}`);
    replace(list, backups.length ? backups.map((b) => h("li", { "data-id": b.id },
      badge(b.status), ` ${b.name} (${b.database_name}) `, h("span", { class: "muted" }, when(b.created_at)), " ",
      h("button", { type: "button", class: "small", "aria-label": `Delete backup ${b.name}`, onclick: async () => {
        if (!(await confirmByName(instanceName(), `Delete backup ${b.name}`))) return;
        await del(`/backups/${b.id}`).then(() => load()).catch(failed);
      } }, "Delete"))) : h("li", { class: "muted" }, "No backup."));
    if (backups.some((b) => isTransient(b.status)) && tries < 150 && section.isConnected) {
      setTimeout(() => load(tries + 1).catch(() => {}), 2000);
    }
  };
  replace(section, h("h2", { id: "backups-title" }, "Backups"), list,
    inlineForm("add-backup", "Back up a database", [labelled("backup-database", "Database", database)], "Back up now",
      async () => {
        await post("/backups", { instance_id: id, database_name: database.value.trim() });
        toast("Backup started");
        await load();
      }));
  load().catch(() => replace(list, h("li", { class: "muted" }, "not available now")));
}
