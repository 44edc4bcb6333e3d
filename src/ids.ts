import { z } from 'zod';

/**
 * A UUID, read in lower case. UUIDs are case-insensitive and PostgreSQL compares them so, but the
 * server also compares ids as strings (a watcher waiting for a client_run_id, a run's hub), where
 * `D01A…` and `d01a…` would be two ids: every id is made lower case as it is read.
 */
export const uuid = () => z.uuid().toLowerCase();

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` has the form of a UUID (any version, either case): for ids that are not parsed by a schema. */
export const isUuid = (text: string): boolean => UUID_TEXT.test(text);
