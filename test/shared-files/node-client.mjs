// A foreign SQLite client on Node.js with better-sqlite3 (as AuthHero may run): opens a tenant file,
// reads, writes one tenant-owned role, checkpoints now and then, closes; again and again over the files listed in argv[2].
// Prints one JSON line per committed row, so the test knows exactly what must survive.
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";

const [listFile, iterations, tag] = process.argv.slice(2);
const files = readFileSync(listFile, "utf8").split("\n").filter(Boolean);
const stamp = new Date().toISOString();
for (let n = 0; n < Number(iterations); n++) {
  const path = files[(n * 13 + 5) % files.length];
  const tenant = path.replace(/^.*\//, "").replace(/\.sqlite$/, "");
  const row = { id: `own_${tag}_${n}`, tenant_id: tenant, name: `own ${tag} ${n}`, description: null, is_system: 0, metadata: null, created_at: stamp, updated_at: stamp };
  try {
    const db = new Database(path, { fileMustExist: true, timeout: 5000 });
    try {
      db.prepare("SELECT count(*) AS n FROM roles").get();
      db.prepare("SELECT cursor FROM tenantgate_sync WHERE id = 1").get();
      // As AuthHero's own writes and an operator's maintenance do now and then: fold the WAL in.
      if (n % 7 === 0) db.pragma("wal_checkpoint(PASSIVE)");
      db.prepare("INSERT INTO roles (id, tenant_id, name, description, is_system, metadata, created_at, updated_at) VALUES (@id, @tenant_id, @name, @description, @is_system, @metadata, @created_at, @updated_at)").run(row);
    } finally {
      db.close();
    }
    process.stdout.write(`${JSON.stringify(row)}\n`);
  } catch (err) {
    process.stderr.write(`${tenant}: ${err.message}\n`);
  }
}
