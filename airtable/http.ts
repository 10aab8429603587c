/**
 * airtable.js (0.12.2) with bounds on what Airtable answers. airtable.js sends every request
 * through its Base's runAction, on node-fetch with no limit on an answer's size and a timeout it
 * clears once the headers are in, so a body that trickles in is waited for without end. The Base
 * made here sends the same requests through a bounded client (http-bounds.ts), and ends a listing
 * whose pages do not.
 */
import Airtable from 'airtable';
import type Base from 'airtable/lib/base';
import objectToQueryParamString from 'airtable/lib/object_to_query_param_string';
import { AnswerOutOfBounds, ApiError } from '../lib/api-error';
import { boundBroken, boundedAxios, parsedOrUndefined } from '../lib/http-bounds';

/** The most pages of one listing: the largest bases Airtable offers hold that many pages of 100 records. */
export const MAX_LISTING_PAGES = 5_000;

/**
 * A Base of `airtable` whose tables send bounded requests (airtable.js's own, otherwise: the same
 * paths, queries and headers, and its errors for what Airtable refuses), within its requestTimeout.
 */
export function boundedBase(airtable: Airtable, baseId: string): Base {
  const base = new Airtable.Base(airtable, baseId);
  const http = boundedAxios({
    baseURL: `${airtable._endpointUrl}/v${airtable._apiVersionMajor}/${baseId}`,
    timeout: airtable._requestTimeout,
    headers: {
      authorization: `Bearer ${airtable._apiKey}`,
      'x-api-version': airtable._apiVersion,
      'x-airtable-application-id': baseId,
      'content-type': 'application/json',
    },
    responseType: 'text',
    validateStatus: () => true, // airtable.js's own check names what Airtable refused
  });
  // eachPage asks for every page of a listing with one query object, its offset updated: the object names the listing.
  const pagesSeen = new WeakMap<object, Set<string>>();
  const nextPageProblem = (listing: object, path: string, body: { offset?: unknown }): ApiError | null => {
    if (typeof body.offset !== 'string') return null;
    const offsets = pagesSeen.get(listing) ?? pagesSeen.set(listing, new Set()).get(listing)!;
    if (offsets.has(body.offset)) return new AnswerOutOfBounds('Airtable', `the listing of ${path} names a page it named before`);
    if (offsets.size + 1 >= MAX_LISTING_PAGES)
      return new AnswerOutOfBounds('Airtable', `the listing of ${path} goes on past ${MAX_LISTING_PAGES} pages`);
    offsets.add(body.offset);
    return null;
  };
  base.runAction = (method, path, queryParams, bodyData, callback) => {
    const verb = method.toUpperCase();
    const request = { method: verb, url: `${path}?${objectToQueryParamString(queryParams)}` };
    const failed = (err: unknown) => callback(boundBroken('Airtable', err) ?? err);
    http
      .request<string>({ ...request, data: verb === 'GET' || verb === 'HEAD' ? undefined : bodyData })
      .then(({ status, data }) => {
        const body = parsedOrUndefined(data);
        const notAnObject = typeof body !== 'object' || body === null || Array.isArray(body);
        const problem = notAnObject
          ? new ApiError('Airtable', undefined, `the answer (HTTP ${status}) is not a JSON object`)
          : nextPageProblem(queryParams, path, body);
        callback(base._checkStatusForError(status, body) ?? problem, undefined, body);
      }, failed)
      .catch(failed); // airtable.js's callback threw on the answer: it hears of that as a failure, as its own runAction does
  };
  return base;
}
