/**
 * Bridge networks for processes that are not containers of the store: a build's RUN step
 * runs under the OCI runtime's foreground `run`, with no container record, yet gets the
 * network `paas run` gives (Docker's default for `docker build`): its own namespace on the
 * bridge with NAT out, behind the bridge's walls (rules.ts), cut off from the other
 * containers when `isolated` (a platform build, as an app's instance). The lease is
 * transient: it lives while the process that took it lives, so what a killed build leaves
 * is reclaimed by the next attach on the bridge; a finished step's caller detaches it.
 */
import type { BridgeNetwork } from './bridge-network';
import { ownHosts, readContainerResolvConf } from './hosts';

/** What a sandboxed process joins and sees. */
export interface Sandbox {
  /** The network namespace to join (the OCI spec's network namespace path). */
  readonly namespacePath: string;
  /** /etc/hosts: localhost and the sandbox's own name (not the bridge's shared file). */
  readonly hosts: string;
  /** /etc/resolv.conf: the host's nameservers a container can reach, or Docker's fallbacks. */
  readonly resolvConf: string;
}

export class BridgeSandboxes {
  constructor(private readonly network: BridgeNetwork) {}

  async attach(id: string, options: { hostname: string; isolated: boolean }): Promise<Sandbox> {
    const lease = await this.network.attach({
      id,
      name: options.hostname,
      hostname: options.hostname,
      ports: [],
      isolated: options.isolated,
      transient: true,
    });
    try {
      return {
        namespacePath: this.network.namespacePath(id),
        hosts: ownHosts([options.hostname], lease.ip),
        resolvConf: await readContainerResolvConf(),
      };
    } catch (err) {
      await this.network.detach(id);
      throw err;
    }
  }

  detach(id: string): Promise<void> {
    return this.network.detach(id);
  }
}
