import { InvalidArgumentError } from '../errors.ts';
import type { Descriptor, Platform } from './models.ts';

/**
 * Platform matching as containerd's `platforms` package does it: names are normalised
 * (x86_64 -> amd64, aarch64 -> arm64, ...) and WASI's two spellings, `wasi/wasm` (Docker+Wasm)
 * and `wasip1/wasm32` (Go, wasmtime), are one platform.
 */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH_ALIASES: Readonly<Record<string, { architecture: string; variant?: string }>> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  i386: { architecture: '386' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  wasm32: { architecture: 'wasm' },
};
const OS_ALIASES: Readonly<Record<string, string>> = { macos: 'darwin', wasip1: 'wasi' };

export function normalizePlatform(p: PlatformSpec): PlatformSpec {
  const os = p.os.toLowerCase();
  const alias = ARCH_ALIASES[p.architecture.toLowerCase()];
  const architecture = alias?.architecture ?? p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || alias?.variant;
  // arm64's only variant is v8 and arm's default is v7: treat them as if unset.
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'arm' && variant && /^\d$/.test(variant)) variant = `v${variant}`;
  return { os: OS_ALIASES[os] ?? os, architecture, ...(variant ? { variant } : {}) };
}

/** Parses `os/arch[/variant]` (Docker's --platform syntax). */
export function parsePlatform(spec: string): PlatformSpec {
  const parts = spec.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new InvalidArgumentError(`invalid platform "${spec}": expected os/arch[/variant], e.g. linux/amd64`);
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

export function formatPlatform(p: PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** The platform this Node process runs native containers for. */
export function hostPlatform(): PlatformSpec {
  const arch = ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as const)[
    process.arch as 'x64'
  ];
  return normalizePlatform({ os: process.platform === 'win32' ? 'windows' : process.platform, architecture: arch ?? process.arch });
}

export const WASI_PLATFORM: PlatformSpec = { os: 'wasi', architecture: 'wasm' };

/** Older arm variants a newer arm CPU also runs (containerd: arm v7 runs v6 and v5 images). */
function armVariantRank(variant: string | undefined): number {
  return variant ? Number.parseInt(variant.slice(1), 10) || 0 : 7;
}

/**
 * Whether an image for `have` runs on `want`. A lower rank is a better match (an exact
 * variant beats a compatible older one); undefined means no match.
 */
export function matchRank(want: PlatformSpec, have: PlatformSpec): number | undefined {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return undefined;
  if (w.variant === h.variant) return 0;
  if (w.architecture === 'arm') {
    const wr = armVariantRank(w.variant);
    const hr = armVariantRank(h.variant);
    return hr <= wr ? wr - hr : undefined;
  }
  // No variant asked for: any variant will do, the unqualified one first.
  return w.variant === undefined ? 1 : undefined;
}

export function platformOf(p: Platform | PlatformSpec): PlatformSpec {
  return { os: p.os, architecture: p.architecture, variant: p.variant };
}

/**
 * Picks the best manifest of an index for a list of acceptable platforms in order of
 * preference. Entries without a platform are skipped (attestations and the like).
 */
export function selectManifest(manifests: readonly Descriptor[], preferences: readonly PlatformSpec[]): Descriptor | undefined {
  let best: { descriptor: Descriptor; score: number } | undefined;
  for (const descriptor of manifests) {
    if (!descriptor.platform) continue;
    for (const [i, want] of preferences.entries()) {
      const rank = matchRank(want, platformOf(descriptor.platform));
      if (rank === undefined) continue;
      const score = i * 100 + rank;
      if (!best || score < best.score) best = { descriptor, score };
      break;
    }
  }
  return best?.descriptor;
}
