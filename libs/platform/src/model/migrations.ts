/**
 * Schema migrations, oldest first. Written with TypeORM's dialect-neutral Table API so the same
 * migration makes the same tables on SQLite and PostgreSQL; timestamp columns take the
 * driver's own type and default (datetime / timestamp).
 *
 * Never edit a migration that has shipped: add a new one.
 */
import {
  type MigrationInterface,
  type QueryRunner,
  Table,
  TableColumn,
  type TableColumnOptions,
  TableIndex,
} from 'typeorm';

function id(name = 'id'): TableColumnOptions {
  return { name, type: 'varchar', length: '36', isPrimary: true };
}

function ref(name: string, nullable = false): TableColumnOptions {
  return { name, type: 'varchar', length: '36', isNullable: nullable };
}

function str(name: string, length: number, extra: Partial<TableColumnOptions> = {}): TableColumnOptions {
  return { name, type: 'varchar', length: String(length), ...extra };
}

function timestamps(qr: QueryRunner, which: ('createdAt' | 'updatedAt')[]): TableColumnOptions[] {
  const types = qr.connection.driver.mappedDataTypes;
  return which.map((name) =>
    name === 'createdAt'
      ? { name, type: String(types.createDate), default: types.createDateDefault, precision: types.createDatePrecision }
      : {
          name,
          type: String(types.updateDate),
          default: types.updateDateDefault,
          precision: types.updateDatePrecision,
        },
  );
}

export class Initial1764200000000 implements MigrationInterface {
  name = 'Initial1764200000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'apps',
        columns: [id(), str('name', 63, { isUnique: true }), ...timestamps(qr, ['createdAt', 'updatedAt'])],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'config_vars',
        columns: [id('appId'), str('key', 255, { isPrimary: true }), { name: 'value', type: 'text' }],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'builds',
        columns: [
          id(),
          ref('appId'),
          { name: 'number', type: 'integer' },
          str('status', 16),
          str('commit', 64),
          str('ref', 255),
          str('stack', 32, { isNullable: true }),
          str('imageRef', 255, { isNullable: true }),
          str('imageDigest', 80, { isNullable: true }),
          { name: 'processTypes', type: 'text', isNullable: true },
          { name: 'healthchecks', type: 'text', isNullable: true },
          { name: 'output', type: 'text', default: "''" },
          { name: 'error', type: 'text', isNullable: true },
          { name: 'attempts', type: 'integer', default: 0 },
          ref('releaseId', true),
          ...timestamps(qr, ['createdAt', 'updatedAt']),
        ],
        indices: [new TableIndex({ columnNames: ['appId', 'createdAt'] })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'releases',
        columns: [
          id(),
          ref('appId'),
          { name: 'version', type: 'integer' },
          str('status', 16),
          { name: 'description', type: 'text' },
          str('imageRef', 255, { isNullable: true }),
          str('imageDigest', 80, { isNullable: true }),
          { name: 'config', type: 'text' },
          { name: 'processTypes', type: 'text' },
          { name: 'healthchecks', type: 'text', isNullable: true },
          ref('buildId', true),
          str('idempotencyKey', 120, { isNullable: true, isUnique: true }),
          str('createdBy', 255, { isNullable: true }),
          ...timestamps(qr, ['createdAt']),
        ],
        uniques: [{ columnNames: ['appId', 'version'] }],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'formations',
        columns: [
          id('appId'),
          str('type', 30, { isPrimary: true }),
          { name: 'quantity', type: 'integer' },
          { name: 'memory', type: 'integer', default: 512 },
          { name: 'cpu', type: 'integer', default: 1000 },
          ...timestamps(qr, ['updatedAt']),
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'instances',
        columns: [
          id(),
          ref('appId'),
          ref('releaseId'),
          str('type', 30),
          { name: 'number', type: 'integer' },
          ref('nodeId', true),
          str('containerId', 64, { isNullable: true }),
          str('state', 16),
          str('address', 64, { isNullable: true }),
          { name: 'memoryBytes', type: 'integer', isNullable: true },
          ...timestamps(qr, ['createdAt', 'updatedAt']),
        ],
        indices: [new TableIndex({ columnNames: ['appId'] })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'nodes',
        columns: [
          id(),
          str('name', 63, { isUnique: true }),
          str('address', 255),
          { name: 'memory', type: 'integer' },
          { name: 'cpus', type: 'integer' },
          str('state', 16),
          str('lastHeartbeatAt', 32, { isNullable: true }),
          ...timestamps(qr, ['createdAt']),
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'domains',
        columns: [id(), ref('appId'), str('hostname', 253, { isUnique: true }), ...timestamps(qr, ['createdAt'])],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'api_tokens',
        columns: [
          id(),
          str('name', 100),
          str('hash', 64, { isUnique: true }),
          str('prefix', 16),
          { name: 'apps', type: 'text', isNullable: true },
          { name: 'admin', type: 'boolean' },
          ...timestamps(qr, ['createdAt']),
          str('lastUsedAt', 32, { isNullable: true }),
        ],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const table of [
      'api_tokens',
      'domains',
      'nodes',
      'instances',
      'formations',
      'releases',
      'builds',
      'config_vars',
      'apps',
    ]) {
      await qr.dropTable(table);
    }
  }
}

/**
 * The scheduler's bookkeeping: what each instance should do and holds, what its
 * agent last said about it, and when a release went live (the router switched to it).
 */
export class Scheduler1764300000000 implements MigrationInterface {
  name = 'Scheduler1764300000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumns('instances', [
      new TableColumn(str('desired', 16, { default: "'run'" })),
      new TableColumn({ name: 'memory', type: 'integer', default: 512 }),
      new TableColumn({ name: 'cpu', type: 'integer', default: 1000 }),
      new TableColumn({ name: 'pid', type: 'integer', isNullable: true }),
      new TableColumn({ name: 'restartCount', type: 'integer', default: 0 }),
      new TableColumn({ name: 'error', type: 'text', isNullable: true }),
    ]);
    await qr.createIndex('instances', new TableIndex({ columnNames: ['nodeId'] }));
    await qr.addColumns('releases', [
      new TableColumn(str('liveAt', 32, { isNullable: true })),
      new TableColumn({ name: 'deployError', type: 'text', isNullable: true }),
    ]);
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const column of ['deployError', 'liveAt']) await qr.dropColumn('releases', column);
    const table = await qr.getTable('instances');
    const index = table?.indices.find((i) => i.columnNames.length === 1 && i.columnNames[0] === 'nodeId');
    if (index) await qr.dropIndex('instances', index);
    for (const column of ['error', 'restartCount', 'pid', 'cpu', 'memory', 'desired']) {
      await qr.dropColumn('instances', column);
    }
  }
}

/** Node tokens: agents authenticate with a kind of token of their own, not an admin's. */
export class NodeTokens1764400000000 implements MigrationInterface {
  name = 'NodeTokens1764400000000';

  async up(qr: QueryRunner): Promise<void> {
    // the default as each driver writes `false` (SQLite keeps booleans as 0/1)
    const no = qr.connection.driver.options.type === 'postgres' ? 'false' : '0';
    await qr.addColumn('api_tokens', new TableColumn({ name: 'node', type: 'boolean', default: no }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('api_tokens', 'node');
  }
}

/**
 * The release lifecycle (release-lifecycle.ts): `pending | succeeded | failed` plus
 * `liveAt` become one state. Per app, the newest succeeded release that went live is `live`,
 * a newer succeeded one is `deploying` (`live` without an image: it has nothing to start), the
 * other succeeded ones `superseded`; `pending` is `building`.
 */
export class ReleaseLifecycle1764500000000 implements MigrationInterface {
  name = 'ReleaseLifecycle1764500000000';

  async up(qr: QueryRunner): Promise<void> {
    const newest = (states: string) =>
      `SELECT MAX(r2."version") FROM "releases" r2 WHERE r2."appId" = "releases"."appId" AND r2."status" IN (${states})`;
    await qr.query(`UPDATE "releases" SET "status" = 'building' WHERE "status" = 'pending'`);
    await qr.query(
      `UPDATE "releases" SET "status" = 'live' WHERE "status" = 'succeeded' AND "liveAt" IS NOT NULL AND "version" = (${newest(`'succeeded'`)} AND r2."liveAt" IS NOT NULL)`,
    );
    await qr.query(
      `UPDATE "releases" SET "status" = CASE WHEN "imageRef" IS NULL THEN 'live' ELSE 'deploying' END WHERE "status" = 'succeeded' AND "version" = (${newest(`'succeeded', 'live'`)})`,
    );
    await qr.query(`UPDATE "releases" SET "status" = 'superseded' WHERE "status" = 'succeeded'`);
    // an imageless newest release beside an older live one: the newer is the one in effect
    await qr.query(
      `UPDATE "releases" SET "status" = 'superseded' WHERE "status" = 'live' AND "version" < (${newest(`'live'`)})`,
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.query(`UPDATE "releases" SET "status" = 'pending' WHERE "status" = 'building'`);
    await qr.query(
      `UPDATE "releases" SET "status" = 'succeeded' WHERE "status" IN ('deploying', 'live', 'superseded')`,
    );
  }
}

/** What holds a deploying release back: the scheduler's "waiting for capacity". */
export class ReleaseDeployNote1764600000000 implements MigrationInterface {
  name = 'ReleaseDeployNote1764600000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumn('releases', new TableColumn({ name: 'deployNote', type: 'text', isNullable: true }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('releases', 'deployNote');
  }
}

/**
 * Honest capacity (sizes.ts): instances share CPU by weight instead of reserving it, have a
 * named size, can wait as `pending` rows, and can be asked to be replaced; nodes have a memory
 * overcommit ratio. The old per-instance `cpu` was a reservation, not a limit: it goes, and
 * every existing row gets the size of its memory (a named one when one has that memory), the
 * weight of that memory and no hard limit.
 */
export class Capacity1764700000000 implements MigrationInterface {
  name = 'Capacity1764700000000';

  async up(qr: QueryRunner): Promise<void> {
    const no = qr.connection.driver.options.type === 'postgres' ? 'false' : '0';
    for (const table of ['formations', 'instances']) {
      await qr.addColumns(table, [
        new TableColumn(str('size', 32, { default: "'basic'" })),
        new TableColumn({ name: 'cpuShares', type: 'integer', default: 512 }),
        new TableColumn({ name: 'cpuQuota', type: 'integer', isNullable: true }),
      ]);
      // the named sizes without a quota (sizes.ts SIZES), else `<MiB>M`
      await qr.query(
        `UPDATE "${table}" SET "size" = CASE "memory" WHEN 256 THEN 'basic' WHEN 512 THEN 'standard-1x' WHEN 1024 THEN 'standard-2x' WHEN 2560 THEN 'performance-m' WHEN 14336 THEN 'performance-l' ELSE CAST("memory" AS varchar(16)) || 'M' END, "cpuShares" = CASE WHEN "memory" * 2 > 262144 THEN 262144 ELSE "memory" * 2 END`,
      );
      await qr.dropColumn(table, 'cpu');
      await qr.changeColumn(table, 'memory', new TableColumn({ name: 'memory', type: 'integer', default: 256 }));
    }
    await qr.addColumns('formations', [
      new TableColumn({ name: 'waiting', type: 'integer', default: 0 }),
      new TableColumn({ name: 'waitingReason', type: 'text', isNullable: true }),
    ]);
    await qr.addColumn('instances', new TableColumn({ name: 'replace', type: 'boolean', default: no }));
    await qr.addColumn('nodes', new TableColumn({ name: 'overcommit', type: 'integer', default: 100 }));
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropColumn('nodes', 'overcommit');
    await qr.dropColumn('instances', 'replace');
    for (const column of ['waitingReason', 'waiting']) await qr.dropColumn('formations', column);
    for (const table of ['formations', 'instances']) {
      await qr.addColumn(table, new TableColumn({ name: 'cpu', type: 'integer', default: 1000 }));
      await qr.changeColumn(table, 'memory', new TableColumn({ name: 'memory', type: 'integer', default: 512 }));
      for (const column of ['cpuQuota', 'cpuShares', 'size']) await qr.dropColumn(table, column);
    }
  }
}

/**
 * The control plane's leaders (apps/api scheduler/leader.ts): one row per role, made here, whose
 * `epoch` the process taking office increments; every write of its term checks it (fencing).
 */
export class Leaders1764800000000 implements MigrationInterface {
  name = 'Leaders1764800000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'leaders',
        columns: [
          str('role', 32, { isPrimary: true }),
          { name: 'epoch', type: 'integer', default: 0 },
          str('holder', 255, { isNullable: true }),
          str('address', 255, { isNullable: true }),
          str('since', 32, { isNullable: true }),
        ],
      }),
    );
    await qr.query(`INSERT INTO "leaders" ("role", "epoch") VALUES ('scheduler', 0)`);
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('leaders');
  }
}

/**
 * Byte counts as bigint: an instance using more than 2 GiB overflowed `instances.memoryBytes`
 * (an integer on PostgreSQL), and its node's heartbeat failed. It is the only byte count; the
 * other sizes are MiB. PostgreSQL converts the column in place (TypeORM's changeColumn would
 * drop and re-add it, losing the samples); SQLite's integers are 64-bit already, and only the
 * declared type changes (changeColumn copies the table).
 */
export class ByteCounts1764900000000 implements MigrationInterface {
  name = 'ByteCounts1764900000000';

  async up(qr: QueryRunner): Promise<void> {
    if (qr.connection.driver.options.type === 'postgres') {
      await qr.query(`ALTER TABLE "instances" ALTER COLUMN "memoryBytes" TYPE bigint`);
    } else {
      await qr.changeColumn(
        'instances',
        'memoryBytes',
        new TableColumn({ name: 'memoryBytes', type: 'bigint', isNullable: true }),
      );
    }
  }

  async down(qr: QueryRunner): Promise<void> {
    if (qr.connection.driver.options.type === 'postgres') {
      // a sample over 2 GiB does not fit: forgotten, the next heartbeat reports it again
      await qr.query(
        `ALTER TABLE "instances" ALTER COLUMN "memoryBytes" TYPE integer USING CASE WHEN "memoryBytes" > 2147483647 THEN NULL ELSE "memoryBytes" END`,
      );
    } else {
      await qr.changeColumn(
        'instances',
        'memoryBytes',
        new TableColumn({ name: 'memoryBytes', type: 'integer', isNullable: true }),
      );
    }
  }
}

/**
 * A node's desired generation: a counter the database itself moves whenever the node's
 * desired set (nodes.service.ts: its `desired = 'run'` instance rows, the columns the agent
 * runs them by, and their apps' names) may have changed, so a heartbeat learns whether its
 * agent is current from the node row it reads anyway instead of reading every instance row.
 * Triggers, not the writers, move it: every writer (the pass's committer, a rename, a
 * deletion, another api replica) is covered, in the transaction of the change.
 *
 * SQLite drops a table's triggers with the table, and TypeORM's SQLite changeColumn copies
 * the table: a later migration changing `instances` or `apps` that way must create these
 * triggers again (database.spec.ts checks that they exist after every migration).
 */
export const DESIRED_SET_COLUMNS = [
  'nodeId',
  'desired',
  'appId',
  'releaseId',
  'type',
  'number',
  'size',
  'memory',
  'cpuShares',
  'cpuQuota',
] as const;

export const DESIRED_GENERATION_TRIGGERS = [
  'instances_desired_insert',
  'instances_desired_update',
  'instances_desired_delete',
  'apps_desired_rename',
] as const;

function bump(nodeId: string): string {
  return `UPDATE "nodes" SET "desiredGeneration" = "desiredGeneration" + 1 WHERE "id" = ${nodeId}`;
}

export class DesiredGeneration1765000000000 implements MigrationInterface {
  name = 'DesiredGeneration1765000000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.addColumn('nodes', new TableColumn({ name: 'desiredGeneration', type: 'integer', default: 0 }));
    const postgres = qr.connection.driver.options.type === 'postgres';
    const differs = (a: string, b: string): string => (postgres ? `${a} IS DISTINCT FROM ${b}` : `${a} IS NOT ${b}`);
    const moved = DESIRED_SET_COLUMNS.map((c) => differs(`OLD."${c}"`, `NEW."${c}"`)).join(' OR ');
    const renamed = differs('OLD."name"', 'NEW."name"');
    const ofApp = `(SELECT "nodeId" FROM "instances" WHERE "appId" = NEW."id" AND "desired" = 'run')`;
    if (postgres) {
      await qr.query(`CREATE FUNCTION "paas_desired_generation"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'apps' THEN
    UPDATE "nodes" SET "desiredGeneration" = "desiredGeneration" + 1 WHERE "id" IN ${ofApp};
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    IF OLD."desired" = 'run' THEN ${bump('OLD."nodeId"')}; END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF NEW."desired" = 'run' THEN ${bump('NEW."nodeId"')}; END IF;
  END IF;
  RETURN NULL;
END $$`);
      const fire = 'FOR EACH ROW EXECUTE FUNCTION "paas_desired_generation"()';
      await qr.query(`CREATE TRIGGER "instances_desired_insert" AFTER INSERT ON "instances" ${fire}`);
      await qr.query(
        `CREATE TRIGGER "instances_desired_update" AFTER UPDATE ON "instances" FOR EACH ROW WHEN (${moved}) EXECUTE FUNCTION "paas_desired_generation"()`,
      );
      await qr.query(`CREATE TRIGGER "instances_desired_delete" AFTER DELETE ON "instances" ${fire}`);
      await qr.query(
        `CREATE TRIGGER "apps_desired_rename" AFTER UPDATE ON "apps" FOR EACH ROW WHEN (${renamed}) EXECUTE FUNCTION "paas_desired_generation"()`,
      );
      return;
    }
    await qr.query(`CREATE TRIGGER "instances_desired_insert" AFTER INSERT ON "instances" WHEN NEW."desired" = 'run'
BEGIN ${bump('NEW."nodeId"')}; END`);
    await qr.query(`CREATE TRIGGER "instances_desired_update" AFTER UPDATE ON "instances" WHEN ${moved}
BEGIN ${bump('OLD."nodeId"')} AND OLD."desired" = 'run'; ${bump('NEW."nodeId"')} AND NEW."desired" = 'run'; END`);
    await qr.query(`CREATE TRIGGER "instances_desired_delete" AFTER DELETE ON "instances" WHEN OLD."desired" = 'run'
BEGIN ${bump('OLD."nodeId"')}; END`);
    await qr.query(`CREATE TRIGGER "apps_desired_rename" AFTER UPDATE ON "apps" WHEN ${renamed}
BEGIN UPDATE "nodes" SET "desiredGeneration" = "desiredGeneration" + 1 WHERE "id" IN ${ofApp}; END`);
  }

  async down(qr: QueryRunner): Promise<void> {
    const postgres = qr.connection.driver.options.type === 'postgres';
    for (const name of DESIRED_GENERATION_TRIGGERS) {
      const table = name.startsWith('apps') ? 'apps' : 'instances';
      await qr.query(postgres ? `DROP TRIGGER IF EXISTS "${name}" ON "${table}"` : `DROP TRIGGER IF EXISTS "${name}"`);
    }
    if (postgres) await qr.query(`DROP FUNCTION IF EXISTS "paas_desired_generation"()`);
    await qr.dropColumn('nodes', 'desiredGeneration');
  }
}

/**
 * Joining nodes (apps/api nodes/join.service.ts): single-use join tokens, node tokens bound to
 * the node name they were issued for, and node credentials revoked by `nodes:remove` kept as
 * such (so the node is told why it is refused).
 */
export class JoinTokens1765100000000 implements MigrationInterface {
  name = 'JoinTokens1765100000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'join_tokens',
        columns: [
          id(),
          str('hash', 64, { isUnique: true }),
          str('prefix', 16),
          str('expiresAt', 32),
          str('usedAt', 32, { isNullable: true }),
          str('nodeName', 63, { isNullable: true }),
          ...timestamps(qr, ['createdAt']),
        ],
      }),
    );
    await qr.addColumns('api_tokens', [
      new TableColumn(str('nodeName', 63, { isNullable: true })),
      new TableColumn(str('revokedAt', 32, { isNullable: true })),
    ]);
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const column of ['revokedAt', 'nodeName']) await qr.dropColumn('api_tokens', column);
    await qr.dropTable('join_tokens');
  }
}

/**
 * TLS (#21): apps' certificates, their keys sealed (entities.ts Certificate), and each app's
 * HTTPS redirect and HSTS settings, off by default.
 */
export class Certificates1765200000000 implements MigrationInterface {
  name = 'Certificates1765200000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'certificates',
        columns: [
          id(),
          ref('appId'),
          { name: 'names', type: 'text' },
          { name: 'chain', type: 'text' },
          { name: 'key', type: 'text' },
          str('source', 16),
          str('issuer', 1024),
          str('notBefore', 32),
          str('notAfter', 32),
          str('fingerprint', 95),
          ...timestamps(qr, ['createdAt']),
        ],
        indices: [new TableIndex({ columnNames: ['appId'] })],
      }),
    );
    // ALTER TABLE, not addColumns: on SQLite TypeORM copies the table to add a column, and the
    // copy loses the apps_desired_rename trigger (DesiredGeneration1765000000000)
    const postgres = qr.connection.driver.options.type === 'postgres';
    await qr.query(
      `ALTER TABLE "apps" ADD COLUMN "httpsRedirect" boolean NOT NULL DEFAULT ${postgres ? 'false' : '(0)'}`,
    );
    await qr.query(`ALTER TABLE "apps" ADD COLUMN "hstsMaxAge" integer`);
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const column of ['hstsMaxAge', 'httpsRedirect']) await qr.query(`ALTER TABLE "apps" DROP COLUMN "${column}"`);
    await qr.dropTable('certificates');
  }
}

/**
 * Automatic certificates (#21): apps' `certsAuto` (off), each domain's ACME state (entities.ts
 * Domain), and the sealed ACME account keys, one per directory.
 */
export class AcmeState1765300000000 implements MigrationInterface {
  name = 'AcmeState1765300000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'acme_accounts',
        columns: [
          str('id', 64, { isPrimary: true }),
          { name: 'directoryUrl', type: 'text' },
          { name: 'key', type: 'text' },
          ...timestamps(qr, ['createdAt']),
        ],
      }),
    );
    // ALTER TABLE as Certificates1765200000000 does: SQLite keeps the apps_desired_rename trigger
    const postgres = qr.connection.driver.options.type === 'postgres';
    await qr.query(`ALTER TABLE "apps" ADD COLUMN "certsAuto" boolean NOT NULL DEFAULT ${postgres ? 'false' : '(0)'}`);
    for (const column of ACME_DOMAIN_COLUMNS) await qr.query(`ALTER TABLE "domains" ADD COLUMN ${column}`);
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const column of [...ACME_DOMAIN_COLUMNS].reverse())
      await qr.query(`ALTER TABLE "domains" DROP COLUMN ${column.split(' ')[0]}`);
    await qr.query(`ALTER TABLE "apps" DROP COLUMN "certsAuto"`);
    await qr.dropTable('acme_accounts');
  }
}

const ACME_DOMAIN_COLUMNS = [
  `"acmeState" varchar(16)`,
  `"acmeProblem" text`,
  `"acmeAttempts" integer NOT NULL DEFAULT 0`,
  `"acmeLastAttemptAt" varchar(32)`,
  `"acmeNextAttemptAt" varchar(32)`,
];

/**
 * Add-ons (#22): the add-ons, their attachments to apps, their backups, and where each node's
 * add-ons are reached (nodes' `serviceAddress`).
 */
export class Addons1765400000000 implements MigrationInterface {
  name = 'Addons1765400000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'addons',
        columns: [
          id(),
          str('name', 63, { isUnique: true }),
          str('type', 16),
          ref('appId', true),
          str('size', 32, { default: "'basic'" }),
          { name: 'memory', type: 'integer', default: 256 },
          { name: 'cpuShares', type: 'integer', default: 512 },
          ref('nodeId', true),
          str('volume', 128),
          { name: 'port', type: 'integer', isUnique: true },
          str('password', 64),
          str('state', 16),
          str('containerId', 64, { isNullable: true }),
          { name: 'restartCount', type: 'integer', default: 0 },
          { name: 'error', type: 'text', isNullable: true },
          str('readyAt', 32, { isNullable: true }),
          { name: 'backupHour', type: 'integer', isNullable: true },
          ...timestamps(qr, ['createdAt', 'updatedAt']),
        ],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'addon_attachments',
        columns: [id(), ref('addonId'), ref('appId'), str('name', 63), ...timestamps(qr, ['createdAt'])],
        uniques: [{ columnNames: ['appId', 'name'] }],
        indices: [new TableIndex({ columnNames: ['addonId'] })],
      }),
    );
    await qr.createTable(
      new Table({
        name: 'addon_backups',
        columns: [
          id(),
          ref('addonId'),
          str('addonName', 63),
          str('addonType', 16),
          { name: 'number', type: 'integer' },
          str('state', 16),
          str('digest', 71, { isNullable: true }),
          { name: 'size', type: 'bigint', isNullable: true },
          str('trigger', 16),
          { name: 'error', type: 'text', isNullable: true },
          ...timestamps(qr, ['createdAt']),
          str('finishedAt', 32, { isNullable: true }),
        ],
        indices: [new TableIndex({ columnNames: ['addonId'] })],
      }),
    );
    // ALTER TABLE as Certificates1765200000000 does, not TypeORM's table copy on SQLite
    await qr.query(`ALTER TABLE "nodes" ADD COLUMN "serviceAddress" varchar(255)`);
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.query(`ALTER TABLE "nodes" DROP COLUMN "serviceAddress"`);
    for (const table of ['addon_backups', 'addon_attachments', 'addons']) await qr.dropTable(table);
  }
}

/** Maintenance mode (#25): apps' `maintenance`, off. */
export class Maintenance1765500000000 implements MigrationInterface {
  name = 'Maintenance1765500000000';

  async up(qr: QueryRunner): Promise<void> {
    // ALTER TABLE as Certificates1765200000000 does: SQLite keeps the apps_desired_rename trigger
    const postgres = qr.connection.driver.options.type === 'postgres';
    await qr.query(
      `ALTER TABLE "apps" ADD COLUMN "maintenance" boolean NOT NULL DEFAULT ${postgres ? 'false' : '(0)'}`,
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.query(`ALTER TABLE "apps" DROP COLUMN "maintenance"`);
  }
}

/** Log drains (#25): where each app's log lines are forwarded (entities.ts Drain). */
export class Drains1765550000000 implements MigrationInterface {
  name = 'Drains1765550000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createTable(
      new Table({
        name: 'drains',
        columns: [id(), ref('appId'), str('url', 1024), ...timestamps(qr, ['createdAt'])],
        uniques: [{ columnNames: ['appId', 'url'] }],
      }),
    );
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.dropTable('drains');
  }
}

/** Autoscale and scale to zero (#24): a formation's settings, null when off (entities.ts Formation). */
export class Autoscale1765600000000 implements MigrationInterface {
  name = 'Autoscale1765600000000';

  async up(qr: QueryRunner): Promise<void> {
    for (const column of AUTOSCALE_COLUMNS)
      await qr.query(`ALTER TABLE "formations" ADD COLUMN "${column}" integer NULL`);
  }

  async down(qr: QueryRunner): Promise<void> {
    for (const column of AUTOSCALE_COLUMNS) await qr.query(`ALTER TABLE "formations" DROP COLUMN "${column}"`);
  }
}

const AUTOSCALE_COLUMNS = ['autoscaleMin', 'autoscaleMax', 'autoscaleConcurrency', 'autoscaleIdleMs'] as const;

/** Review apps (#25): an app's parent and branch, null but for review apps. */
export class ReviewApps1765700000000 implements MigrationInterface {
  name = 'ReviewApps1765700000000';

  async up(qr: QueryRunner): Promise<void> {
    // ALTER TABLE as Maintenance1765500000000 does: SQLite keeps the apps_desired_rename trigger
    await qr.query(`ALTER TABLE "apps" ADD COLUMN "parentId" varchar(36)`);
    await qr.query(`ALTER TABLE "apps" ADD COLUMN "branch" varchar(255)`);
    await qr.createIndex('apps', new TableIndex({ columnNames: ['parentId'] }));
  }

  async down(qr: QueryRunner): Promise<void> {
    const table = await qr.getTable('apps');
    const index = table?.indices.find((i) => i.columnNames.join() === 'parentId');
    if (index) await qr.dropIndex('apps', index);
    await qr.query(`ALTER TABLE "apps" DROP COLUMN "branch"`);
    await qr.query(`ALTER TABLE "apps" DROP COLUMN "parentId"`);
  }
}

/** One review app per branch of a parent (#25 review): two racing first pushes cannot make two. */
export class ReviewAppBranches1765800000000 implements MigrationInterface {
  name = 'ReviewAppBranches1765800000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.createIndex('apps', new TableIndex({ columnNames: ['parentId', 'branch'], isUnique: true }));
  }

  async down(qr: QueryRunner): Promise<void> {
    const table = await qr.getTable('apps');
    const index = table?.indices.find((i) => i.columnNames.join() === 'parentId,branch');
    if (index) await qr.dropIndex('apps', index);
  }
}

/** The hard limit of autoscale (#24, Fly's hard_limit): null when none (entities.ts Formation). */
export class AutoscaleHardLimit1765900000000 implements MigrationInterface {
  name = 'AutoscaleHardLimit1765900000000';

  async up(qr: QueryRunner): Promise<void> {
    await qr.query(`ALTER TABLE "formations" ADD COLUMN "autoscaleHardLimit" integer NULL`);
  }

  async down(qr: QueryRunner): Promise<void> {
    await qr.query(`ALTER TABLE "formations" DROP COLUMN "autoscaleHardLimit"`);
  }
}

export const MIGRATIONS = [
  Initial1764200000000,
  Scheduler1764300000000,
  NodeTokens1764400000000,
  ReleaseLifecycle1764500000000,
  ReleaseDeployNote1764600000000,
  Capacity1764700000000,
  Leaders1764800000000,
  ByteCounts1764900000000,
  DesiredGeneration1765000000000,
  JoinTokens1765100000000,
  Certificates1765200000000,
  AcmeState1765300000000,
  Addons1765400000000,
  Maintenance1765500000000,
  Drains1765550000000,
  Autoscale1765600000000,
  ReviewApps1765700000000,
  ReviewAppBranches1765800000000,
  AutoscaleHardLimit1765900000000,
];
