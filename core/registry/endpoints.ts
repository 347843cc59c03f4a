import { isIP } from 'node:net';

/** Docker Hub's registry host; references name it `docker.io`. */
const DOCKER_HUB_DOMAIN = 'docker.io';
const DOCKER_HUB_HOST = 'registry-1.docker.io';

export interface RegistryEndpoint {
  /** The registry as references name it (`docker.io`, `localhost:5000`): for messages and credentials. */
  domain: string;
  /** Base URL of the API, without `/v2/`: `https://registry-1.docker.io`. */
  baseUrl: string;
}

/**
 * Where to reach a registry. As Docker does: plain http for loopback addresses and for the
 * configured insecure registries, https otherwise; Docker Hub is served by registry-1.docker.io.
 */
export function registryEndpoint(domain: string, insecure: readonly string[] = []): RegistryEndpoint {
  const host = domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_HOST : domain;
  const plain = isLoopback(hostname(host)) || insecure.includes(domain) || insecure.includes(hostname(host));
  return { domain, baseUrl: `${plain ? 'http' : 'https'}://${host}` };
}

/** The host part of `host[:port]` or `[ipv6][:port]`. */
function hostname(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  const colon = domain.lastIndexOf(':');
  return colon === -1 ? domain : domain.slice(0, colon);
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}
