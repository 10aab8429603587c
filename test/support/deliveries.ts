/** What tests send a webhook: Asana's task events, and request bodies posted byte for byte. */
import axios from 'axios';
import type { AsanaEvent } from '../../emulators/asana';

/** A task event as Asana delivers it, stamped now, with no user or parent; `over` sets any part of it. */
export function taskEvent(gid: string, over: Partial<AsanaEvent> = {}): AsanaEvent {
  return {
    user: null,
    created_at: new Date().toISOString(),
    action: 'added',
    resource: { gid, resource_type: 'task', resource_subtype: 'default_task' },
    parent: null,
    ...over,
  };
}

/** POSTs a body to a webhook URL unchanged (no JSON re-encoding, any size), whatever the answer. */
export function postBody(target: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return axios.post(target, body, {
    headers: { 'content-type': 'application/json', ...headers },
    validateStatus: () => true,
    maxBodyLength: Infinity,
    transformRequest: (d: unknown) => d,
  });
}
