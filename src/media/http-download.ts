import contentDisposition from 'content-disposition';
import parseRange from 'range-parser';
import type { ByteRange } from './blob-store.ts';

/** What a download answers, decided from the stored size and ETag and the request's conditional headers. */
export type DownloadPlan =
  | { status: 304 }
  | { status: 200 }
  | { status: 206; range: ByteRange }
  | { status: 416 };

export interface ConditionalHeaders {
  range?: string;
  ifNoneMatch?: string;
  ifRange?: string;
}

/** A strong ETag from the content hash: the same bytes always carry the same tag. */
export function etagFor(sha256: string): string {
  return `"${sha256}"`;
}

function listedTags(header: string): string[] {
  return header.split(',').map((tag) => tag.trim().replace(/^W\//, '')).filter((tag) => tag.length > 0);
}

/**
 * RFC 9110 sections 13.1.2, 13.1.5 and 14.2: If-None-Match (weak comparison) wins over Range; a
 * Range is used only when If-Range is absent or names the current ETag (strong comparison; a
 * date never matches as there is no Last-Modified). A malformed Range is ignored; several ranges
 * get the whole body (no multipart/byteranges); an end past the file clamps to its last byte, and
 * so does a suffix longer than the file (the whole file); the unit is case-insensitive and any
 * other unit is ignored.
 */
export function planDownload(size: number, etag: string, headers: ConditionalHeaders): DownloadPlan {
  if (headers.ifNoneMatch !== undefined) {
    const tags = listedTags(headers.ifNoneMatch);
    if (tags.includes('*') || tags.includes(etag)) return { status: 304 };
  }
  if (headers.range === undefined) return { status: 200 };
  if (headers.ifRange !== undefined && headers.ifRange.trim() !== etag) return { status: 200 };
  const normalized = normalizeRange(size, headers.range);
  if (normalized === undefined) return { status: 200 };
  const ranges = parseRange(size, normalized);
  if (ranges === -1) return endsBeforeStart(headers.range) ? { status: 200 } : { status: 416 };
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return { status: 200 };
  return { status: 206, range: { start: ranges[0]!.start, end: ranges[0]!.end } };
}

/**
 * Readies a Range header for range-parser, which compares the unit case-sensitively and drops a
 * suffix longer than the file as unsatisfiable. RFC 9110 14.1: the unit is case-insensitive
 * (`BYTES=0-9` is a range); 14.1.2: a suffix longer than the file means the whole file, so it is
 * clamped to the size. `bytes=-0` stays unsatisfiable, and so does any range of an empty file.
 * Undefined when the unit is not bytes: 14.2 says such a header is ignored (200), never 416.
 */
function normalizeRange(size: number, header: string): string | undefined {
  const equals = header.indexOf('=');
  if (equals === -1 || header.slice(0, equals).toLowerCase() !== 'bytes') return undefined;
  const specs = header
    .slice(equals + 1)
    .split(',')
    .map((spec) => {
      const suffix = /^\s*-\s*(\d+)\s*$/.exec(spec);
      return suffix !== null && Number(suffix[1]) > size ? `-${size}` : spec;
    });
  return `bytes=${specs.join(',')}`;
}

/**
 * range-parser drops a spec whose last byte comes before its first together with unsatisfiable
 * ones; RFC 9110 14.1.1 calls the former invalid, so the header is ignored (200), not 416.
 */
function endsBeforeStart(header: string): boolean {
  const specs = header.replace(/^\s*bytes\s*=/i, '').split(',');
  return specs.some((spec) => {
    const bounds = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(spec);
    return bounds !== null && Number(bounds[2]) < Number(bounds[1]);
  });
}

/** `café ñ.pdf` → `cafe n.pdf`: accents dropped, anything else outside printable ASCII becomes `_`. */
export function asciiFallback(filename: string): string {
  return filename
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    // Per character, not per UTF-16 unit: an emoji is one underscore, not two.
    .replace(/[^\x20-\x7e]/gu, '_');
}

/** RFC 8187 value-chars: attr-char stays, everything else is percent-encoded UTF-8. */
function encodeExtendedValue(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `inline; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded>`, both forms always present. */
export function inlineDisposition(filename: string): string {
  const header = contentDisposition(filename, { type: 'inline', fallback: asciiFallback(filename) });
  return header.includes('filename*=') ? header : `${header}; filename*=UTF-8''${encodeExtendedValue(filename)}`;
}
