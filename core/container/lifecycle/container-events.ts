import type { EventLog } from '../../events/event-log.ts';
import type { ContainerRecord } from '../container-record.ts';

/** Docker's events of a container's lifecycle, on the engine's event log (an in-memory engine has none). */
export class ContainerEvents {
  constructor(private readonly log: EventLog | undefined) {}

  /** Docker's container event attributes: the container's labels, its image and name. */
  async emit(action: string, record: ContainerRecord, extra: Record<string, string> = {}): Promise<void> {
    await this.log?.emit('container', action, record.Id, { ...record.Config.Labels, image: record.Config.Image, name: record.Name.slice(1), ...extra });
  }

  /** Docker's volume mount / unmount events for each volume of the container, as it starts and stops. */
  async volumes(action: 'mount' | 'unmount', record: ContainerRecord): Promise<void> {
    for (const m of record.Mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      const attributes: Record<string, string> =
        action === 'mount'
          ? { driver: m.Driver ?? 'local', container: record.Id, destination: m.Destination, 'read/write': String(m.RW), propagation: m.Propagation }
          : { driver: m.Driver ?? 'local', container: record.Id };
      await this.log?.emit('volume', action, m.Name, attributes);
    }
  }
}
