/**
 * The parts of the OCI runtime-spec (1.x) config.json the engine writes.
 * Field names follow the JSON exactly.
 */
export interface RuntimeSpec {
  ociVersion: string;
  process: SpecProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: SpecMount[];
  linux: SpecLinux;
  annotations?: Record<string, string>;
}

export interface SpecProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[]; umask?: number };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: {
    bounding: string[];
    effective: string[];
    permitted: string[];
    inheritable?: string[];
    ambient?: string[];
  };
  rlimits?: Array<{ type: string; hard: number; soft: number }>;
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface SpecMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface SpecLinux {
  namespaces: Array<{ type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup'; path?: string }>;
  resources?: {
    memory?: { limit?: number; swap?: number; reservation?: number };
    cpu?: { shares?: number; quota?: number; period?: number; cpus?: string };
    pids?: { limit: number };
    /** The device cgroup, in order; the runtime adds the default devices after these. */
    devices?: Array<{ allow: boolean; type?: 'a' | 'b' | 'c'; major?: number; minor?: number; access?: string }>;
  };
  /** With a `user` namespace: ids inside (containerID..) and the host's (hostID..). */
  uidMappings?: IdMap[];
  gidMappings?: IdMap[];
  cgroupsPath?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: SeccompProfile;
  sysctl?: Record<string, string>;
}

export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  syscalls: Array<{
    names: string[];
    action: string;
    errnoRet?: number;
    args?: Array<{ index: number; value: number; valueTwo?: number; op: string }>;
  }>;
}
