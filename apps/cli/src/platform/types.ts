/**
 * The JSON shapes of the platform's REST API, as docs/api.md defines them. The CLI keeps its
 * own copy of the wire format (not the api's entities) so that it bundles nothing server-side.
 */

export interface ReleaseRef {
  readonly id: string;
  readonly version: number;
}

export interface App {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly gitUrl: string;
  readonly webUrl: string;
  readonly release: ReleaseRef | null;
}

export type BuildStatus = 'pending' | 'building' | 'succeeded' | 'failed';

export interface Build {
  readonly id: string;
  readonly number: number;
  readonly status: BuildStatus;
  readonly commit: string | null;
  readonly ref: string | null;
  readonly stack: string | null;
  readonly imageRef: string | null;
  readonly imageDigest: string | null;
  readonly processTypes: Record<string, string> | null;
  readonly error: string | null;
  readonly release: ReleaseRef | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly output?: string;
}

export interface Release {
  readonly id: string;
  readonly version: number;
  readonly status: 'pending' | 'succeeded' | 'failed';
  readonly description: string;
  readonly imageRef: string | null;
  readonly imageDigest: string | null;
  readonly config: Record<string, string>;
  readonly processTypes: Record<string, string> | null;
  readonly buildId: string | null;
  readonly current: boolean;
  readonly createdBy: string | null;
  readonly createdAt: string;
}

export interface Formation {
  readonly type: string;
  readonly quantity: number;
  readonly memory: number | null;
  readonly cpu: number | null;
  readonly command: string | null;
  readonly updatedAt: string;
}

export interface FormationUpdate {
  type: string;
  quantity: number;
  memory?: number;
}

export interface Instance {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly number: number;
  readonly state: string;
  readonly release: ReleaseRef | null;
  readonly node: string | null;
  readonly address: string | null;
  readonly containerId: string | null;
  readonly memoryBytes: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface Domain {
  readonly id: string;
  readonly hostname: string;
  readonly createdAt: string;
}

export interface Node {
  readonly id: string;
  readonly name: string;
  readonly address: string | null;
  readonly memory: number | null;
  readonly cpus: number | null;
  readonly state: string;
  readonly lastHeartbeatAt: string | null;
  readonly createdAt: string;
}

export interface Token {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly apps: string[] | null;
  readonly admin: boolean;
  /** An agent's token: it may register its node and send heartbeats, nothing else. */
  readonly node: boolean;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export interface LogLine {
  readonly t: string;
  readonly source: string;
  readonly line: string;
}

/** Every error the api answers: `{"code","message","details"?}`. */
export interface ApiErrorBody {
  readonly code: string;
  readonly message?: string;
  readonly details?: unknown[];
}
