/** A volume as berth persists it (volumes.json), in Docker's field names. */
export interface VolumeRecord {
  Name: string;
  Driver: string;
  /** null when the creator gave none (a volume `-v` created), `{}` when it gave an empty set (the CLI's `volume create`), as Docker keeps them. */
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  /** ISO 8601. */
  CreatedAt: string;
}

/** `docker volume inspect` (Docker's Volume object), field for field and in its order. */
export interface VolumeInspect {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
}

/** Go's time.Format(time.RFC3339) in the local time zone, as Docker prints a volume's CreatedAt: whole seconds, `Z` for UTC. */
export function rfc3339(iso: string): string {
  const date = new Date(iso);
  const offset = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 19);
  if (offset === 0) return `${local}Z`;
  const abs = Math.abs(offset);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${local}${offset > 0 ? '+' : '-'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export function volumeInspect(record: VolumeRecord, mountpoint: string): VolumeInspect {
  return {
    CreatedAt: rfc3339(record.CreatedAt),
    Driver: record.Driver,
    Labels: record.Labels,
    Mountpoint: mountpoint,
    Name: record.Name,
    Options: record.Options,
    Scope: 'local',
  };
}
