/**
 * What every tenant container gets whatever its size: a ceiling on processes and threads, so
 * that a fork bomb in an instance, a one-off run or a release command stops at its own cgroup
 * rather than at the node's pid_max, where it would starve every other app (Heroku caps dynos
 * the same way, from 256 to 32,768 by size). Builds have their own setting (PAAS_BUILD_PIDS).
 */
export const TENANT_PIDS_LIMIT = 1024;
