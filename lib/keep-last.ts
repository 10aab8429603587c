/** Sets `key` as the newest entry of `map` (a Map keeps insertion order), dropping the oldest past `max` entries. */
export function keepLast<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}
