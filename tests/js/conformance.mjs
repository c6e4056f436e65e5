// Drives the official Scaleway JavaScript SDK (@scaleway/sdk, pinned in package.json) through
// every RDB v1 operation our API routes, against one real standalone PostgreSQL instance, and
// prints one JSON report on stdout: each call's label, operation id, and either the object the
// SDK made of the answer (dates as ISO strings) or the error it raised (class, status, resource).
// tests/e2e/test_js_sdk.py runs it and checks the report field by field; it decides nothing here.
//
// Environment: SCW_API_URL, SCW_ACCESS_KEY, SCW_SECRET_KEY, SCW_DEFAULT_PROJECT_ID,
// SCW_DEFAULT_ORGANIZATION_ID, SCW_DEFAULT_REGION; DBAAS_JS_OPERATIONS (comma-separated
// operation ids the API routes: calls of other operations are recorded as skipped);
// DBAAS_JS_NAME (instance name prefix). Progress goes to stderr.

import { readFileSync } from "node:fs";
import { Rdb, createClient } from "@scaleway/sdk";

// Their package.json files are not exported: read them where npm ci put them.
const versionOf = (pkg) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url))).version;
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const NAME = env("DBAAS_JS_NAME");
const ROUTED = new Set(env("DBAAS_JS_OPERATIONS").split(",").filter(Boolean));
const WAIT = { timeout: 240, minDelay: 1, maxDelay: 2 };
const ADMIN = "js_admin";
const PASSWORD = "Js-Adm1n!pass";
const APP_USER = "js_app";
const APP_PASSWORD = "Js-App1!pass";
const APP_PASSWORD_2 = "Js-App2!pass";
const DATABASE = "js-db";
const UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead";

const client = createClient({
  accessKey: env("SCW_ACCESS_KEY"),
  secretKey: env("SCW_SECRET_KEY"),
  apiURL: env("SCW_API_URL"),
  defaultProjectId: env("SCW_DEFAULT_PROJECT_ID"),
  defaultOrganizationId: env("SCW_DEFAULT_ORGANIZATION_ID"),
  defaultRegion: env("SCW_DEFAULT_REGION"),
});
const api = new Rdb.v1.API(client);

const report = {
  sdk: {
    "@scaleway/sdk": versionOf("@scaleway/sdk"),
    "@scaleway/sdk-rdb": versionOf("@scaleway/sdk-rdb"),
    "@scaleway/sdk-client": versionOf("@scaleway/sdk-client"),
  },
  routed: [...ROUTED].sort(),
  // The SDK's RDB methods (class fields), to check the operation table's JS names against.
  methods: Object.entries(api)
    .filter(([, value]) => typeof value === "function")
    .map(([key]) => key)
    .sort(),
  calls: {},
  fatal: null,
};

// What the SDK returned, as JSON: Dates as ISO strings (an unparsable one cannot reach here:
// the SDK makes it undefined), Blobs as their type, size and text, undefined (204) as null.
async function plain(value) {
  if (value instanceof Blob) {
    return { blob: true, type: value.type, size: value.size, text: await value.text() };
  }
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

function describe(err) {
  return {
    name: err?.name ?? String(err),
    message: err?.message ?? String(err),
    status: err?.status ?? null,
    type: err?.body?.type ?? null,
    resource: err?.resource ?? null,
    resourceId: err?.resourceId ?? null,
    body: typeof err?.body === "object" ? err.body : null,
  };
}

// One SDK call under a unique label. Not routed -> skipped. Returns the value, or undefined.
async function call(label, op, fn) {
  if (label in report.calls) throw new Error(`duplicate label ${label}`);
  if (!ROUTED.has(op)) {
    report.calls[label] = { op, skipped: true };
    return undefined;
  }
  const started = Date.now();
  process.stderr.write(`[js] ${label} ...\n`);
  try {
    const value = await fn();
    report.calls[label] = { op, ok: true, ms: Date.now() - started, value: await plain(value) };
    return value;
  } catch (err) {
    report.calls[label] = { op, ok: false, ms: Date.now() - started, error: describe(err) };
    process.stderr.write(`[js] ${label} failed: ${err?.stack ?? err}\n`);
    return undefined;
  }
}

// The SDK's waiter: until the instance leaves its transient statuses (after a delete, until it
// raises ResourceNotFoundError).
const ready = (label, instanceId) =>
  call(`waitForInstance.${label}`, "GetInstance", () =>
    api.waitForInstance({ instanceId }, WAIT),
  );

async function catalog() {
  await call("listDatabaseEngines", "ListDatabaseEngines", () => api.listDatabaseEngines());
  await call("listDatabaseEngines.name", "ListDatabaseEngines", () =>
    api.listDatabaseEngines({ name: "PostgreSQL", version: "15" }),
  );
  await call("listNodeTypes", "ListNodeTypes", () =>
    api.listNodeTypes({ includeDisabledTypes: false }),
  );
  // .all() pages by total_count: with one item a page it must fetch every page.
  await call("listNodeTypes.all", "ListNodeTypes", () =>
    api.listNodeTypes({ includeDisabledTypes: false, pageSize: 1 }).all(),
  );
}

async function createInstance() {
  await call("createInstance.invalid", "CreateInstance", () =>
    api.createInstance({
      engine: "PostgreSQL-15",
      userName: ADMIN,
      password: "short",
      nodeType: "db-dev-s",
      isHaCluster: false,
      disableBackup: true,
      volumeSize: 0,
      backupSameRegion: false,
      name: `${NAME}-invalid`,
    }),
  );
  const created = await call("createInstance", "CreateInstance", () =>
    api.createInstance({
      engine: "PostgreSQL-15",
      userName: ADMIN,
      password: PASSWORD,
      nodeType: "DB-DEV-S", // as the docs spell it: accepted case-insensitively
      isHaCluster: false,
      disableBackup: true,
      volumeType: "lssd",
      volumeSize: 0,
      backupSameRegion: false,
      name: NAME,
      tags: ["js", "conformance"],
      initSettings: [{ name: "timezone", value: "UTC" }],
      initEndpoints: [{ loadBalancer: {} }],
      encryption: { enabled: false },
    }),
  );
  return created?.id;
}

async function instances(id) {
  await call("getInstance", "GetInstance", () => api.getInstance({ instanceId: id }));
  await call("getInstance.unknown", "GetInstance", () =>
    api.getInstance({ instanceId: UNKNOWN_ID }),
  );
  await call("listInstances", "ListInstances", () =>
    api.listInstances({ name: NAME, tags: ["js"], orderBy: "name_desc", pageSize: 1 }),
  );
  await call("listInstances.all", "ListInstances", () =>
    api.listInstances({ name: NAME, pageSize: 1 }).all(),
  );
  await call("updateInstance", "UpdateInstance", () =>
    api.updateInstance({ instanceId: id, name: `${NAME}-renamed`, tags: ["js", "renamed"] }),
  );
  await call("getInstanceCertificate", "GetInstanceCertificate", () =>
    api.getInstanceCertificate({ instanceId: id }),
  );
  await call("cloneInstance.unknown", "CloneInstance", () =>
    api.cloneInstance({ instanceId: UNKNOWN_ID, name: `${NAME}-clone` }),
  );
  await call("applyInstanceMaintenance.none", "ApplyInstanceMaintenance", () =>
    api.applyInstanceMaintenance({ instanceId: id }),
  );
}

async function acls(id) {
  await call("listInstanceACLRules", "ListInstanceACLRules", () =>
    api.listInstanceACLRules({ instanceId: id }),
  );
  await call("addInstanceACLRules", "AddInstanceACLRules", () =>
    api.addInstanceACLRules({
      instanceId: id,
      rules: [{ ip: "192.0.2.0/24", description: "js documentation net" }],
    }),
  );
  await ready("acl-add", id);
  // The whole set is replaced; 0.0.0.0/0 stays so that nothing later is refused.
  await call("setInstanceACLRules", "SetInstanceACLRules", () =>
    api.setInstanceACLRules({
      instanceId: id,
      rules: [
        { ip: "0.0.0.0/0", description: "Allow All" },
        { ip: "198.51.100.7/32", description: "js one host" },
      ],
    }),
  );
  await ready("acl-set", id);
  await call("deleteInstanceACLRules", "DeleteInstanceACLRules", () =>
    api.deleteInstanceACLRules({ instanceId: id, aclRuleIps: ["198.51.100.7/32", "203.0.113.9/32"] }),
  );
  await ready("acl-delete", id);
  await call("listInstanceACLRules.after", "ListInstanceACLRules", () =>
    api.listInstanceACLRules({ instanceId: id }).all(),
  );
}

async function databasesUsersPrivileges(id) {
  await call("listUsers.initial", "ListUsers", () => api.listUsers({ instanceId: id }));
  await call("listDatabases.initial", "ListDatabases", () =>
    api.listDatabases({ instanceId: id }),
  );
  await call("listPrivileges.initial", "ListPrivileges", () =>
    api.listPrivileges({ instanceId: id, databaseName: "rdb" }),
  );
  await call("createDatabase", "CreateDatabase", () =>
    api.createDatabase({ instanceId: id, name: DATABASE }),
  );
  await call("createUser", "CreateUser", () =>
    api.createUser({ instanceId: id, name: APP_USER, password: APP_PASSWORD, isAdmin: false }),
  );
  await call("createUser.duplicate", "CreateUser", () =>
    api.createUser({ instanceId: id, name: APP_USER, password: APP_PASSWORD, isAdmin: false }),
  );
  await call("listUsers.name", "ListUsers", () =>
    api.listUsers({ instanceId: id, name: APP_USER, orderBy: "name_asc" }),
  );
  await call("listUsers.all", "ListUsers", () =>
    api.listUsers({ instanceId: id, pageSize: 1, orderBy: "name_desc" }).all(),
  );
  await call("updateUser", "UpdateUser", () =>
    api.updateUser({ instanceId: id, name: APP_USER, password: APP_PASSWORD_2, isAdmin: false }),
  );
  await call("updateUser.unknown", "UpdateUser", () =>
    api.updateUser({ instanceId: id, name: "js_nobody", password: APP_PASSWORD_2 }),
  );
  await call("listDatabases.name", "ListDatabases", () =>
    api.listDatabases({ instanceId: id, name: DATABASE }),
  );
  await call("listDatabases.skipSize", "ListDatabases", () =>
    api.listDatabases({ instanceId: id, skipSizeRetrieval: true, orderBy: "name_desc" }).all(),
  );
  await call("setPrivilege", "SetPrivilege", () =>
    api.setPrivilege({
      instanceId: id,
      databaseName: DATABASE,
      userName: APP_USER,
      permission: "readwrite",
    }),
  );
  await call("listPrivileges.user", "ListPrivileges", () =>
    api.listPrivileges({ instanceId: id, databaseName: DATABASE, userName: APP_USER }),
  );
  await call("setPrivilege.none", "SetPrivilege", () =>
    api.setPrivilege({
      instanceId: id,
      databaseName: DATABASE,
      userName: APP_USER,
      permission: "none",
    }),
  );
  await call("deleteUser", "DeleteUser", () => api.deleteUser({ instanceId: id, name: APP_USER }));
  await call("deleteDatabase", "DeleteDatabase", () =>
    api.deleteDatabase({ instanceId: id, name: DATABASE }),
  );
  await call("listUsers.afterDelete", "ListUsers", () =>
    api.listUsers({ instanceId: id, name: APP_USER }),
  );
  await call("listDatabases.afterDelete", "ListDatabases", () =>
    api.listDatabases({ instanceId: id, name: DATABASE }),
  );
}

async function settings(id) {
  await call("addInstanceSettings", "AddInstanceSettings", () =>
    api.addInstanceSettings({ instanceId: id, settings: [{ name: "work_mem", value: "8" }] }),
  );
  await ready("settings-add", id);
  // As Terraform sends it: the whole set.
  await call("setInstanceSettings", "SetInstanceSettings", () =>
    api.setInstanceSettings({
      instanceId: id,
      settings: [
        { name: "work_mem", value: "16" },
        { name: "maintenance_work_mem", value: "200" },
      ],
    }),
  );
  await ready("settings-set", id);
  await call("addInstanceSettings.invalid", "AddInstanceSettings", () =>
    api.addInstanceSettings({ instanceId: id, settings: [{ name: "work_mem", value: "lots" }] }),
  );
  await call("deleteInstanceSettings", "DeleteInstanceSettings", () =>
    api.deleteInstanceSettings({ instanceId: id, settingNames: ["maintenance_work_mem"] }),
  );
  await ready("settings-delete", id);
}

async function endpoints(id) {
  const instance = await call("getInstance.endpoints", "GetInstance", () =>
    api.getInstance({ instanceId: id }),
  );
  const lb = instance?.endpoints?.find((e) => e.loadBalancer);
  if (lb) {
    await call("getEndpoint", "GetEndpoint", () => api.getEndpoint({ endpointId: lb.id }));
    await call("deleteEndpoint", "DeleteEndpoint", () => api.deleteEndpoint({ endpointId: lb.id }));
    await ready("endpoint-delete", id);
  }
  await call("getEndpoint.unknown", "GetEndpoint", () =>
    api.getEndpoint({ endpointId: UNKNOWN_ID }),
  );
  await call("createEndpoint.privateNetwork", "CreateEndpoint", () =>
    api.createEndpoint({
      instanceId: id,
      endpointSpec: { privateNetwork: { privateNetworkId: UNKNOWN_ID, ipamConfig: {} } },
    }),
  );
  await call("createEndpoint", "CreateEndpoint", () =>
    api.createEndpoint({ instanceId: id, endpointSpec: { loadBalancer: {} } }),
  );
  await ready("endpoint-create", id);
  await call("migrateEndpoint.unknownInstance", "MigrateEndpoint", async () => {
    const current = await api.getInstance({ instanceId: id });
    const endpoint = current.endpoints.find((e) => e.loadBalancer);
    return api.migrateEndpoint({ endpointId: endpoint?.id ?? UNKNOWN_ID, instanceId: UNKNOWN_ID });
  });
}

async function readReplicas(id) {
  const replica = await call("createReadReplica", "CreateReadReplica", () =>
    api.createReadReplica({ instanceId: id, endpointSpec: [{ directAccess: {} }] }),
  );
  if (!replica) return;
  const readyReplica = await call("waitForReadReplica", "GetReadReplica", () =>
    api.waitForReadReplica({ readReplicaId: replica.id }, WAIT),
  );
  await call("getReadReplica", "GetReadReplica", () =>
    api.getReadReplica({ readReplicaId: replica.id }),
  );
  await call("getInstance.withReplica", "GetInstance", () => api.getInstance({ instanceId: id }));
  // A replica has at most one direct access: a second one is refused...
  await call("createReadReplicaEndpoint.second", "CreateReadReplicaEndpoint", () =>
    api.createReadReplicaEndpoint({ readReplicaId: replica.id, endpointSpec: [{ directAccess: {} }] }),
  );
  // ... until its endpoint is deleted (DeleteEndpoint takes replica endpoints too).
  const direct = readyReplica?.endpoints?.find((e) => e.directAccess);
  if (direct && ROUTED.has("DeleteEndpoint")) {
    await call("deleteEndpoint.replica", "DeleteEndpoint", () =>
      api.deleteEndpoint({ endpointId: direct.id }),
    );
    // The instance reconfigures its proxies meanwhile.
    await ready("replica-endpoint-delete", id);
    await call("waitForReadReplica.endpoint-delete", "GetReadReplica", () =>
      api.waitForReadReplica({ readReplicaId: replica.id }, WAIT),
    );
    await call("createReadReplicaEndpoint", "CreateReadReplicaEndpoint", () =>
      api.createReadReplicaEndpoint({
        readReplicaId: replica.id,
        endpointSpec: [{ directAccess: {} }],
      }),
    );
    await call("waitForReadReplica.endpoint-create", "GetReadReplica", () =>
      api.waitForReadReplica({ readReplicaId: replica.id }, WAIT),
    );
    await ready("replica-endpoint-create", id);
  }
  await call("resetReadReplica", "ResetReadReplica", () =>
    api.resetReadReplica({ readReplicaId: replica.id }),
  );
  await call("waitForReadReplica.reset", "GetReadReplica", () =>
    api.waitForReadReplica({ readReplicaId: replica.id }, WAIT),
  );
  await call("promoteReadReplica.unknown", "PromoteReadReplica", () =>
    api.promoteReadReplica({ readReplicaId: UNKNOWN_ID }),
  );
  await call("deleteReadReplica", "DeleteReadReplica", () =>
    api.deleteReadReplica({ readReplicaId: replica.id }),
  );
  await call("waitForReadReplica.gone", "GetReadReplica", () =>
    api.waitForReadReplica({ readReplicaId: replica.id }, WAIT),
  );
  await ready("replica-gone", id);
}

async function logs(id) {
  const prepared = await call("prepareInstanceLogs", "PrepareInstanceLogs", () =>
    api.prepareInstanceLogs({ instanceId: id }),
  );
  const first = prepared?.instanceLogs?.[0];
  if (first) {
    await call("waitForInstanceLog", "GetInstanceLog", () =>
      api.waitForInstanceLog({ instanceLogId: first.id }, WAIT),
    );
    await call("getInstanceLog", "GetInstanceLog", () =>
      api.getInstanceLog({ instanceLogId: first.id }),
    );
  }
  await call("listInstanceLogs", "ListInstanceLogs", () =>
    api.listInstanceLogs({ instanceId: id, orderBy: "created_at_desc" }),
  );
  await call("listInstanceLogsDetails", "ListInstanceLogsDetails", () =>
    api.listInstanceLogsDetails({ instanceId: id }),
  );
  await call("purgeInstanceLogs", "PurgeInstanceLogs", () =>
    api.purgeInstanceLogs({ instanceId: id }),
  );
}

async function lifecycle(id) {
  await call("renewInstanceCertificate", "RenewInstanceCertificate", () =>
    api.renewInstanceCertificate({ instanceId: id }),
  );
  await ready("renew", id);
  await call("restartInstance", "RestartInstance", () => api.restartInstance({ instanceId: id }));
  // While it restarts (seconds), a change is refused as transient_state: a typed SDK error.
  await call("updateInstance.transient", "UpdateInstance", () =>
    api.updateInstance({ instanceId: id, name: `${NAME}-during-restart` }),
  );
  await ready("restart", id);
  await call("upgradeInstance", "UpgradeInstance", () =>
    api.upgradeInstance({ instanceId: id, nodeType: "db-dev-m" }),
  );
  await ready("upgrade", id);
  // Last: by now the sampler has points for every node (the series are [time, value] arrays).
  await call("getInstanceMetrics", "GetInstanceMetrics", () =>
    api.getInstanceMetrics({ instanceId: id }),
  );
}

async function main() {
  await catalog();
  const id = await createInstance();
  if (!id) return;
  let deleted = false;
  try {
    await ready("created", id);
    await instances(id);
    await acls(id);
    await databasesUsersPrivileges(id);
    await settings(id);
    await endpoints(id);
    await readReplicas(id);
    await logs(id);
    await lifecycle(id);
    await call("getInstance.final", "GetInstance", () => api.getInstance({ instanceId: id }));
    await call("deleteInstance", "DeleteInstance", () => api.deleteInstance({ instanceId: id }));
    await ready("deleted", id);
    deleted = true;
  } finally {
    if (!deleted) {
      // Whatever failed above, the instance goes (the test also sweeps by name).
      await api.deleteInstance({ instanceId: id }).catch(() => undefined);
    }
  }
}

const watchdog = setTimeout(() => {
  report.fatal = "watchdog: the run took longer than 12 minutes";
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(3);
}, 12 * 60 * 1000);

try {
  await main();
} catch (err) {
  report.fatal = err?.stack ?? String(err);
}
clearTimeout(watchdog);
process.stdout.write(`${JSON.stringify(report)}\n`);
