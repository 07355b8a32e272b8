import { expect, test } from "bun:test";
import { ConfigSchema, loadConfig } from "./index.ts";
import { GROUPS } from "./groups.ts";

const OPTIONS = Object.keys(ConfigSchema.properties);
const grouped = Object.values(GROUPS).flat() as string[];

test("every option is some part's, every group names options, and no group hides an option", () => {
  expect(OPTIONS.filter((key) => !grouped.includes(key))).toEqual([]);
  expect(grouped.filter((key) => !OPTIONS.includes(key))).toEqual([]);
  expect(Object.keys(GROUPS).filter((group) => OPTIONS.includes(group))).toEqual([]);
});

test("a group is a view of the options: the same values, now", () => {
  const { config } = loadConfig({ argv: ["--dev", "--port", "9000", "--no-sync-roles", "--sync-lock-wait-ms", "7"], env: {} });
  expect(config.server.port).toBe(9000);
  expect(config.front.port).toBe(9000);
  expect(config.sync).toMatchObject({ syncRoles: false, syncLockWaitMs: 7, controlPlane: "control_plane" });
  expect(config.tenancy.syncLockWaitMs).toBe(7);
  expect(Object.keys(config.proxy).sort()).toEqual(["accessControl", "managementPaths", "maxBodyBytes", "protection"]);
  expect(Object.keys(config.bodies).sort()).toEqual(["bodyBufferBytes", "bodyBufferTotalBytes", "bodyTempDir"]);
  config.port = 9001;
  expect(config.server.port).toBe(9001);
});

test("the groups are not enumerable: spreading or printing the config shows the options alone", () => {
  const { config } = loadConfig({ argv: ["--dev"], env: {} });
  expect(Object.keys(config).sort()).toEqual([...OPTIONS].sort());
  expect(Object.keys(JSON.parse(JSON.stringify(config))).sort()).toEqual([...OPTIONS].sort());
});
