// Storage: the control-plane file, tenantgate's own tables and their migrations, and the tenant-file
// layer (files.ts, also a face of its own).
export * from "./files.ts";
export { REQUIRED_COLUMNS } from "./baseline.ts";
export { applyTemplate, readSchemaTemplate, type SchemaTemplate } from "./clone.ts";
export { ControlPlaneCommits, type ControlPlaneChanges, type ControlPlaneNews } from "./control-plane-commits.ts";
export { ControlPlanePoll } from "./control-plane-poll.ts";
export { ControlPlane, ControlPlaneRows, openControlPlaneFile, openControlPlaneNamespace, scopeValues, type DomainRow, type OrganizationRef, type TenantPage, type TenantRow } from "./control-plane.ts";
export { DESCRIPTORS_PER_HANDLE, handleBudget, openFileLimit } from "./descriptors.ts";
export { MIGRATIONS_TABLE } from "./migrate.ts";
export { operations, syncState, type OperationRow } from "./schema.ts";
export { writeProblem } from "./write-access.ts";
export { ormOf, type Orm } from "./orm.ts";
export { FileTenantStore } from "./file-store.ts";
export { NamespaceTenantStore } from "./namespace-store.ts";
export { LibsqlDb, NamespaceMissing, SqldAdmin, type LibsqlServer } from "./libsql.ts";
export { Lease, type LeaseHolder } from "./lease.ts";
