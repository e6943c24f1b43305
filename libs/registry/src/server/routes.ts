/**
 * The distribution-spec v1.1 routes over node:http. Paths are matched on the raw request
 * target (never URL-normalised, so `..` segments reach the name check and are refused) and
 * every name and digest is validated before it touches storage.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { BlobMismatchError, type ContentStore } from '@paas/content';
import { type Descriptor, type Digest, MediaType, digestAlgorithm, digestOf } from '@paas/oci';
import type { Authorizer } from '../auth/authorizer';
import type { Access } from '../auth/scopes';
import { RegistryError } from '../errors';
import { checkDigest, checkName, parseManifestReference } from '../names';
import {
  API_VERSION_HEADER,
  contentLength,
  hasBody,
  paginate,
  parseRange,
  readBody,
  sendEmpty,
  sendJson,
} from './http';
import { parseManifest } from './manifests';
import type { UpstreamProxy } from './proxy';
import type { RepositoryIndex, RepositoryStore } from './repositories';
import type { UploadSession, UploadStore } from './uploads';

export interface RouteOptions {
  readonly auth: Authorizer;
  /** Concurrent upload sessions above this answer 429 TOO_MANY_REQUESTS. */
  readonly maxUploads: number;
  /** DELETE of manifests and blobs (405 UNSUPPORTED when off, as registry:2 by default). */
  readonly deletes: boolean;
  /** Pull-through cache of an upstream for namespaced repositories (proxy.ts). */
  readonly proxy?: UpstreamProxy;
}

const MANIFEST_LIMIT = 4 * 1024 * 1024;
const REPO_ROUTE =
  /^\/v2\/(.+)\/(?:(tags\/list)|manifests\/([^/]+)|blobs\/uploads\/?([^/]*)|blobs\/([^/]+)|referrers\/([^/]+))$/;

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function registryRoutes(
  content: ContentStore,
  repos: RepositoryStore,
  uploads: UploadStore,
  options: RouteOptions,
): Handler {
  const proxy = options.proxy;
  const pull = (name: string): Access => ({ type: 'repository', name, actions: ['pull'] });
  const push = (name: string): Access => ({ type: 'repository', name, actions: ['pull', 'push'] });
  // Docker's `delete` action, apart from push: a pusher may add images but not remove them
  const remove = (name: string): Access => ({ type: 'repository', name, actions: ['delete'] });
  const needs = (method: string, name: string, isUpload: boolean): Access => {
    if (method === 'GET' || method === 'HEAD') return pull(name);
    return method === 'DELETE' && !isUpload ? remove(name) : push(name);
  };

  const repoOrUnknown = async (name: string): Promise<RepositoryIndex> => {
    const index = await repos.read(name);
    if (!index) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
    return index;
  };
  const unsupported = (): RegistryError => new RegistryError('UNSUPPORTED', 'the operation is unsupported');
  const checkDeletes = (): void => {
    if (!options.deletes) throw unsupported();
  };

  // --- blobs -------------------------------------------------------------------------

  const linkBlob = (name: string, digest: Digest, size: number): Promise<void> =>
    repos.update(name, (index) => {
      index.blobs[digest] = size;
    });

  const blob = async (req: IncomingMessage, res: ServerResponse, name: string, rawDigest: string): Promise<void> => {
    const digest = checkDigest(rawDigest);
    const unknown = new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
    if (req.method === 'DELETE') {
      checkDeletes();
      const removed = await repos.update(name, (index) => {
        const had = index.blobs[digest] !== undefined;
        Reflect.deleteProperty(index.blobs, digest);
        return had;
      });
      if (!removed) throw unknown;
      sendEmpty(res, 202, { 'Docker-Content-Digest': digest });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw unsupported();
    if (proxy?.proxies(name)) await proxy.blob(name, digest);
    const index = await repos.read(name);
    const info = index?.blobs[digest] !== undefined ? await content.info(digest) : undefined;
    if (!info) throw unknown;
    const headers = {
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
      'Accept-Ranges': 'bytes',
      ETag: `"${digest}"`,
      'Cache-Control': 'max-age=31536000',
    };
    const range = parseRange(req.headers.range, info.size);
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'Content-Length': info.size });
      res.end();
      return;
    }
    const stream = await content.createReadStream(digest, range ?? {});
    if (range) {
      res.writeHead(206, {
        ...headers,
        'Content-Length': range.end - range.start + 1,
        'Content-Range': `bytes ${range.start}-${range.end}/${info.size}`,
      });
    } else res.writeHead(200, { ...headers, 'Content-Length': info.size });
    await pipeline(stream, res);
  };

  const uploadHeaders = (session: UploadSession): Record<string, string> => ({
    Location: `/v2/${session.name}/blobs/uploads/${session.uuid}`,
    Range: `0-${Math.max(0, session.offset - 1)}`,
    'Docker-Upload-UUID': session.uuid,
  });

  const blobCreated = (res: ServerResponse, name: string, digest: Digest): void =>
    sendEmpty(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });

  const startUpload = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    query: URLSearchParams,
  ): Promise<void> => {
    const mount = query.get('mount');
    if (mount !== null) {
      const digest = checkDigest(mount);
      const from = query.get('from');
      if (from !== null) {
        checkName(from);
        options.auth.check(req, [pull(from)]);
        const size = (await repos.read(from))?.blobs[digest];
        if (size !== undefined && (await content.has(digest))) {
          await linkBlob(name, digest, size);
          blobCreated(res, name, digest);
          return;
        }
      }
      // not mountable: fall back to a new upload session, as the spec says
    }
    const single = query.get('digest');
    if (single !== null) {
      const digest = checkDigest(single);
      const length = contentLength(req);
      try {
        const info = await content.write(req, { digest, ...(length !== undefined ? { size: length } : {}) });
        await linkBlob(name, digest, info.size);
      } catch (err) {
        throw mismatch(err);
      }
      blobCreated(res, name, digest);
      return;
    }
    if ((await uploads.count()) >= options.maxUploads) {
      throw new RegistryError('TOO_MANY_REQUESTS', 'too many upload sessions in progress; try again later');
    }
    const session = await uploads.create(name);
    sendEmpty(res, 202, uploadHeaders(session));
  };

  const upload = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    uuid: string,
    query: URLSearchParams,
  ): Promise<void> => {
    let session = await uploads.get(name, uuid);
    switch (req.method) {
      case 'GET':
        sendEmpty(res, 204, uploadHeaders(session));
        return;
      case 'DELETE':
        await uploads.cancel(uuid);
        sendEmpty(res, 204);
        return;
      case 'PATCH':
        session = await uploads.append(session, req, chunkOptions(req));
        sendEmpty(res, 202, uploadHeaders(session));
        return;
      case 'PUT': {
        const digest = checkDigest(query.get('digest'));
        if (hasBody(req)) session = await uploads.append(session, req, chunkOptions(req));
        const size = await uploads.commit(session, digest, content);
        await linkBlob(name, digest, size);
        blobCreated(res, name, digest);
        return;
      }
      default:
        throw unsupported();
    }
  };

  // --- manifests -----------------------------------------------------------------------

  const manifest = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    reference: string,
  ): Promise<void> => {
    const ref = parseManifestReference(reference);
    if (req.method === 'PUT') return putManifest(req, res, name, ref);
    if (req.method === 'DELETE') {
      checkDeletes();
      const found = await repos.update(name, (index) => {
        if ('tag' in ref) {
          const had = index.tags[ref.tag] !== undefined;
          Reflect.deleteProperty(index.tags, ref.tag);
          return had;
        }
        if (!index.manifests[ref.digest]) return false;
        Reflect.deleteProperty(index.manifests, ref.digest);
        for (const [tag, digest] of Object.entries(index.tags))
          if (digest === ref.digest) Reflect.deleteProperty(index.tags, tag);
        return true;
      });
      if (!found) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', reference);
      sendEmpty(res, 202);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw unsupported();
    if (proxy?.proxies(name)) await proxy.manifest(name, ref);
    const index = await repoOrUnknown(name);
    const digest = 'tag' in ref ? index.tags[ref.tag] : ref.digest;
    const record = digest ? index.manifests[digest] : undefined;
    if (!digest || !record) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { reference });
    const bytes = await content.readBytes(digest);
    res.writeHead(200, {
      'Content-Type': record.mediaType,
      'Content-Length': bytes.length,
      'Docker-Content-Digest': digest,
      ETag: `"${digest}"`,
    });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };

  const putManifest = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    ref: { tag: string } | { digest: Digest },
  ): Promise<void> => {
    const bytes = await readBody(req, MANIFEST_LIMIT);
    const parsed = parseManifest(bytes, req.headers['content-type']);
    const digest = digestOf(bytes, 'digest' in ref ? digestAlgorithm(ref.digest) : 'sha256');
    if ('digest' in ref && ref.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
        expected: ref.digest,
        actual: digest,
      });
    }
    const missing = (await repos.read(name)) ?? { blobs: {}, manifests: {} };
    const check = (index: Pick<RepositoryIndex, 'blobs' | 'manifests'>): void => {
      for (const b of parsed.blobs) {
        if (index.blobs[b] === undefined) {
          throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest: b });
        }
      }
      for (const m of parsed.children) {
        if (!index.manifests[m]) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest unknown', { digest: m });
      }
    };
    check(missing);
    for (const b of parsed.blobs) {
      if (!(await content.has(b))) {
        throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest: b });
      }
    }
    await content.writeBytes(bytes, { digest });
    await repos.update(name, (index) => {
      check(index); // again under the lock: a concurrent DELETE may have unlinked something
      index.manifests[digest] = {
        mediaType: parsed.mediaType,
        size: bytes.length,
        ...(parsed.subject ? { subject: parsed.subject } : {}),
        ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
        ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
      };
      if ('tag' in ref) index.tags[ref.tag] = digest;
    });
    sendEmpty(res, 201, {
      Location: `/v2/${name}/manifests/${digest}`,
      'Docker-Content-Digest': digest,
      ...(parsed.subject ? { 'OCI-Subject': parsed.subject } : {}),
    });
  };

  // --- discovery -----------------------------------------------------------------------

  const tags = async (res: ServerResponse, name: string, query: URLSearchParams): Promise<void> => {
    const index = await repoOrUnknown(name);
    const page = paginate(Object.keys(index.tags).sort(), query, `/v2/${name}/tags/list`);
    sendJson(res, 200, { name, tags: page.items }, page.link ? { Link: page.link } : {});
  };

  const catalog = async (res: ServerResponse, query: URLSearchParams): Promise<void> => {
    const page = paginate(await repos.names(), query, '/v2/_catalog');
    sendJson(res, 200, { repositories: page.items }, page.link ? { Link: page.link } : {});
  };

  const referrers = async (res: ServerResponse, name: string, raw: string, query: URLSearchParams): Promise<void> => {
    const subject = checkDigest(raw);
    const index = await repos.read(name);
    const filter = query.get('artifactType');
    const manifests: Descriptor[] = [];
    for (const [digest, record] of Object.entries(index?.manifests ?? {})) {
      if (record.subject !== subject) continue;
      if (filter !== null && record.artifactType !== filter) continue;
      manifests.push({
        mediaType: record.mediaType,
        digest: digest as Digest,
        size: record.size,
        ...(record.artifactType ? { artifactType: record.artifactType } : {}),
        ...(record.annotations ? { annotations: record.annotations } : {}),
      });
    }
    sendJson(
      res,
      200,
      { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests },
      {
        'Content-Type': MediaType.ociIndex,
        ...(filter !== null ? { 'OCI-Filters-Applied': 'artifactType' } : {}),
      },
    );
  };

  // --- dispatch ------------------------------------------------------------------------

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q >= 0 ? target.slice(0, q) : target;
    const query = new URLSearchParams(q >= 0 ? target.slice(q + 1) : '');
    const method = req.method ?? 'GET';

    if (path === '/token' && options.auth.token && method === 'GET') return options.auth.token(req, res);
    if (path === '/v2/' || path === '/v2') {
      options.auth.check(req, []);
      return sendJson(res, 200, {});
    }
    if (path === '/v2/_catalog') {
      options.auth.check(req, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      return catalog(res, query);
    }
    const m = REPO_ROUTE.exec(path);
    if (!m) {
      if (/\/\.\.?(\/|$)|%|\/\//.test(path)) throw new RegistryError('NAME_INVALID', 'invalid repository name');
      throw new RegistryError('NAME_UNKNOWN', 'no such route or repository', { path });
    }
    const name = checkName(m[1] ?? '');
    options.auth.check(req, [needs(method, name, m[4] !== undefined)]);
    if (proxy?.proxies(name) && method !== 'GET' && method !== 'HEAD') throw proxy.readOnly(name);
    if (m[2]) {
      if (method !== 'GET' && method !== 'HEAD') throw unsupported();
      return tags(res, name, query);
    }
    if (m[3] !== undefined) return manifest(req, res, name, m[3]);
    if (m[4] !== undefined) {
      if (m[4] === '') {
        if (method !== 'POST') throw unsupported();
        return startUpload(req, res, name, query);
      }
      return upload(req, res, name, m[4], query);
    }
    if (m[5] !== undefined) return blob(req, res, name, m[5]);
    if (m[6] !== undefined) {
      if (method !== 'GET') throw unsupported();
      return referrers(res, name, m[6], query);
    }
    throw unsupported();
  };

  return async (req, res) => {
    for (const [k, v] of Object.entries(API_VERSION_HEADER)) res.setHeader(k, v);
    try {
      await route(req, res);
    } catch (err) {
      fail(res, err);
    }
  };
}

function chunkOptions(req: IncomingMessage): { start?: number; length?: number } {
  const length = contentLength(req);
  const header = req.headers['content-range'];
  if (header === undefined) return length !== undefined ? { length } : {};
  const m = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(header.trim());
  if (!m) throw new RegistryError('BLOB_UPLOAD_INVALID', 'invalid Content-Range', { range: header }, 416);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('BLOB_UPLOAD_INVALID', 'invalid Content-Range', { range: header }, 416);
  if (length !== undefined && end - start + 1 !== length) {
    throw new RegistryError('SIZE_INVALID', 'Content-Range does not match Content-Length', { range: header, length });
  }
  return { start, length: end - start + 1 };
}

function mismatch(err: unknown): unknown {
  if (err instanceof BlobMismatchError) {
    const sizeWrong = err.expected.size !== undefined && err.expected.size !== err.actual.size;
    return new RegistryError(
      sizeWrong ? 'SIZE_INVALID' : 'DIGEST_INVALID',
      sizeWrong ? 'provided length did not match content length' : 'provided digest did not match uploaded content',
      { expected: err.expected, actual: err.actual },
    );
  }
  return err;
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof RegistryError) {
    sendJson(res, err.status, err.toBody(), err.headers);
    return;
  }
  const aborted = (err as NodeJS.ErrnoException).code === 'ECONNRESET' || res.req.destroyed;
  if (aborted) {
    res.destroy();
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message, detail: null }] });
}
