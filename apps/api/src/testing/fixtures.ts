/**
 * Rows the api only reads (builds, instances, nodes) or that a build makes (releases with
 * images), written straight into a spec's database, since their writers are other components.
 */
import { App, Build, type BuildStatus, Instance, Node, type Release, createRelease } from '@paas/platform';
import { randomUUID } from 'node:crypto';
import type { TestApi } from './harness';

export async function appNamed(api: TestApi, name: string): Promise<App> {
  return api.dataSource.manager.findOneByOrFail(App, { name });
}

export async function createApp(api: TestApi, name: string): Promise<App> {
  const res = await api.request('POST', '/api/apps', { body: { name } });
  if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${res.text}`);
  return appNamed(api, name);
}

/** A release as a successful build makes it. */
export function deployRelease(
  api: TestApi,
  app: App,
  options: { image?: string | null; processTypes?: Record<string, string>; description?: string } = {},
): Promise<Release> {
  return createRelease(api.dataSource, {
    appId: app.id,
    description: options.description ?? 'Deploy 0123abc',
    imageRef: options.image === undefined ? `127.0.0.1:5000/${app.name}:v1` : options.image,
    imageDigest: options.image === null ? null : `sha256:${'ab'.repeat(32)}`,
    processTypes: options.processTypes ?? { web: 'npm start' },
    createdBy: 'build',
  });
}

export async function insertBuild(
  api: TestApi,
  app: App,
  number: number,
  fields: Partial<Build> & { status: BuildStatus },
): Promise<Build> {
  const build = api.dataSource.manager.create(Build, {
    id: randomUUID(),
    appId: app.id,
    number,
    commit: `${number}`.padStart(40, 'a'),
    ref: 'refs/heads/main',
    stack: 'node',
    imageRef: null,
    imageDigest: null,
    processTypes: null,
    healthchecks: null,
    output: '',
    error: null,
    attempts: 1,
    releaseId: null,
    ...fields,
  });
  await api.dataSource.manager.insert(Build, build);
  return build;
}

export async function insertNode(api: TestApi, name: string): Promise<Node> {
  const node = api.dataSource.manager.create(Node, {
    id: randomUUID(),
    name,
    address: '127.0.0.1:7100',
    memory: 4096,
    cpus: 2000,
    state: 'up',
    lastHeartbeatAt: new Date().toISOString(),
  });
  await api.dataSource.manager.insert(Node, node);
  return node;
}

export async function insertInstance(
  api: TestApi,
  app: App,
  release: Release,
  type: string,
  number: number,
  node: Node | null,
): Promise<Instance> {
  const instance = api.dataSource.manager.create(Instance, {
    id: randomUUID(),
    appId: app.id,
    releaseId: release.id,
    type,
    number,
    nodeId: node?.id ?? null,
    containerId: null,
    state: 'up',
    address: '10.88.0.5:5000',
    memoryBytes: 1234,
  });
  await api.dataSource.manager.insert(Instance, instance);
  return instance;
}
