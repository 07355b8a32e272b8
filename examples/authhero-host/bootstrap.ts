// The first principals of a control plane host.ts made, each made once; secrets are printed only
// when they are made (run it again and it says what exists). Run after host.ts has started once:
//
//   DATA_DIR=../../data-authhero npm run bootstrap        (ADMIN_EMAIL=you@example.com to choose)
//   TENANTGATE_DATABASE_URL=http://127.0.0.1:8081 npm run bootstrap   (on a libSQL server, as host.ts)
//
// It makes, in the control plane, through AuthHero's own adapters:
//   - the database connection "Username-Password-Authentication" and the e-mail code connection
//     "email" (both synced into every tenant, and offered by each tenant's Default App);
//   - an e-mail provider "console", which every tenant inherits: host.ts prints e-mails instead;
//   - an admin user with a generated password, holding the global role "Control Plane Admin": every
//     scope of the management API, tenantgate's create:tenants … delete:tenants among them;
//   - a machine-to-machine client "Automation", granted every scope of the management API, for
//     scripts (client credentials);
//   - the control-plane client CONTROL_PLANE_CLIENT_ID ("default"), whose callbacks, web origins and
//     logout URLs every tenant's clients inherit at login: the control plane's public URL and every
//     tenant's host under it, so each tenant's Default App can send a browser to /demo/callback.
import createAdapters from "@authhero/kysely-adapter";
import { MANAGEMENT_API_AUDIENCE, MANAGEMENT_API_SCOPES } from "authhero";
import { chooseStore } from "./store.ts";

const dataDir = process.env.DATA_DIR ?? "./data";
const cp = process.env.CONTROL_PLANE ?? "control_plane";
const issuer = new URL(process.env.CONTROL_PLANE_ISSUER ?? "http://localhost:8080/");
const clientId = process.env.CONTROL_PLANE_CLIENT_ID || "default";
const adminEmail = (process.env.ADMIN_EMAIL ?? "admin@example.com").toLowerCase();

const store = chooseStore({ dataDir, controlPlaneTenantId: cp });
if (await store.isNew()) {
  console.error(`no control plane in ${store.where}: start host.ts on it first (it makes it)`);
  process.exit(1);
}
const controlPlane = await store.controlPlane();
const a = createAdapters(controlPlane.db);
const secret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
const said: string[] = [];

// The database connection (strategy "auth0", as AuthHero and Auth0 store it).
const { connections } = await a.connections.list(cp);
let connection = connections.find((c) => c.name === "Username-Password-Authentication");
if (!connection) {
  connection = await a.connections.create(cp, { name: "Username-Password-Authentication", strategy: "auth0", options: {} } as never);
  said.push(`database connection ${connection.id} made`);
}

// Code login by e-mail (AuthHero's passwordless "email" strategy): how a new user signs up on the
// /u login pages, which offer no password sign-up form of their own. Synced into every tenant.
let passwordless = connections.find((c) => c.strategy === "email");
if (!passwordless) {
  passwordless = await a.connections.create(cp, { name: "email", strategy: "email", options: {} } as never);
  said.push(`e-mail code connection ${passwordless.id} made (new users sign up with a code sent to them)`);
}

// An e-mail provider every tenant inherits at login: "console" prints messages on host.ts's console
// (console-email.ts); replace it with a real one (PATCH /api/v2/emails/provider) to send mail.
if (!(await a.emailProviders.get(cp))) {
  await a.emailProviders.create(cp, { name: "console", enabled: true, default_from_address: `login@${issuer.hostname}`, credentials: {} } as never);
  said.push(`e-mail provider "console" made: e-mails are printed on host.ts's console`);
}

// The control-plane client every tenant's clients inherit URLs from.
const publicUrl = `${issuer.protocol}//${issuer.host}`;
const everyTenant = `${issuer.protocol}//*.${issuer.host}`;
if (!(await a.clients.get(cp, clientId))) {
  await a.clients.create(cp, {
    client_id: clientId,
    name: "Control plane app",
    app_type: "regular_web",
    client_secret: secret(),
    grant_types: ["authorization_code", "refresh_token"],
    callbacks: [`${publicUrl}/demo/callback`, `${everyTenant}/demo/callback`],
    web_origins: [publicUrl, everyTenant],
    allowed_logout_urls: [`${publicUrl}/`, `${everyTenant}/`],
    connections: [connection.id, passwordless.id],
  } as never);
  said.push(`control-plane client "${clientId}" made; its callbacks ${publicUrl}/demo/callback and ${everyTenant}/demo/callback are every tenant's too`);
}

// The admin: a user with a password, holding every management scope as a global role.
const roleName = "Control Plane Admin";
let role = (await a.roles.list(cp, { per_page: 100 } as never)).roles.find((r) => r.name === roleName);
if (!role) {
  role = await a.roles.create(cp, { name: roleName, description: "Every scope of the management API, on the control plane" } as never);
  await a.rolePermissions.assign(cp, role.id, MANAGEMENT_API_SCOPES.map((s) => ({ role_id: role!.id, resource_server_identifier: MANAGEMENT_API_AUDIENCE, permission_name: s.value })) as never);
}
const existing = (await a.users.list(cp, { q: `email:${adminEmail}`, per_page: 1 } as never)).users[0];
if (existing) {
  said.push(`admin ${adminEmail} exists (${existing.user_id}); its password is not shown again`);
} else {
  const password = secret();
  const user_id = `auth0|${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const hash = await Bun.password.hash(password, { algorithm: "bcrypt", cost: 10 });
  await a.users.create(cp, {
    user_id,
    email: adminEmail,
    email_verified: true,
    connection: "Username-Password-Authentication",
    provider: "auth0",
    password: { hash, algorithm: "bcrypt" },
  } as never);
  await a.userRoles.create(cp, user_id, role.id);
  said.push(`admin made: ${adminEmail}  password: ${password}  (${user_id}, role "${roleName}")`);
}

// The automation client: client credentials for the management API, every scope.
const { clients } = await a.clients.list(cp, { per_page: 100 } as never);
if (clients.some((c) => c.name === "Automation")) {
  said.push(`the "Automation" client exists (${clients.find((c) => c.name === "Automation")?.client_id}); its secret is not shown again`);
} else {
  const client_id = `automation_${secret().slice(0, 12)}`;
  const client_secret = secret();
  await a.clients.create(cp, { client_id, client_secret, name: "Automation", app_type: "non_interactive", grant_types: ["client_credentials"] } as never);
  await a.clientGrants.create(cp, { client_id, audience: MANAGEMENT_API_AUDIENCE, scope: MANAGEMENT_API_SCOPES.map((s) => s.value) } as never);
  said.push(`automation client made: client_id ${client_id}  client_secret ${client_secret}`);
  said.push(`  a token: curl -s ${publicUrl}/oauth/token -d grant_type=client_credentials -d client_id=${client_id} -d client_secret=${client_secret} -d audience=${MANAGEMENT_API_AUDIENCE}`);
}

controlPlane.close();
console.log(said.join("\n"));
