import type { ArtifactType, MediaKind } from '../artifacts/types.ts';

/** What a download route serves: a stored upload of one kind, or a generation call's JSON record. */
export type DownloadKind = MediaKind | 'call';
export const DOWNLOAD_KINDS: readonly DownloadKind[] = ['audio', 'image', 'video', 'file', 'text', 'call'];

interface HostedMedia {
  downloads: readonly DownloadKind[];
  uploads: readonly MediaKind[];
  preview: boolean;
}

const CROSS_CUTTING: HostedMedia = { downloads: ['file', 'text', 'call'], uploads: [], preview: false };

/**
 * The seed's per-artifact matrix. Every combination not listed is not routed, so it answers 404.
 * Columns audio, image, video, file, text, call, preview:
 *   system   D  D    D    D  D  D  P
 *   attempt  DU D    D    D  D  D  P
 *   scenario .  DU   DU   D  D  D  P
 *   document .  .    .    DU DU D  P
 *   others   .  .    .    D  D  D  .
 */
const HOSTED: Partial<Record<ArtifactType, HostedMedia>> = {
  system: { downloads: DOWNLOAD_KINDS, uploads: [], preview: true },
  attempt: { downloads: DOWNLOAD_KINDS, uploads: ['audio'], preview: true },
  scenario: { downloads: ['image', 'video', 'file', 'text', 'call'], uploads: ['image', 'video'], preview: true },
  document: { downloads: ['file', 'text', 'call'], uploads: ['file', 'text'], preview: true },
};

export function hostedMedia(artifact: ArtifactType): HostedMedia {
  return HOSTED[artifact] ?? CROSS_CUTTING;
}

/** `audio/webm;codecs=opus` → `audio/webm`: parameters dropped, lower case, trimmed. */
export function bareMimeType(declared: string | undefined): string {
  return (declared ?? '').split(';')[0]!.trim().toLowerCase();
}

const AUDIO_TYPES = new Set(['mpeg', 'mp3', 'wav', 'ogg', 'webm', 'flac', 'aac', 'x-m4a', 'mp4', 'x-wav'].map((sub) => `audio/${sub}`));
const IMAGE_TYPES = new Set(['png', 'jpeg', 'gif', 'svg+xml', 'webp', 'bmp', 'tiff'].map((sub) => `image/${sub}`));
const TEXT_TYPES = new Set(['text/plain', 'text/html', 'text/csv', 'text/markdown', 'text/xml', 'application/json', 'application/xml']);
const MIME_SHAPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

/** The seed's allowlists, checked against the bare type. */
export function isAllowed(kind: MediaKind, mimeType: string): boolean {
  if (!MIME_SHAPE.test(mimeType)) return false;
  switch (kind) {
    case 'audio':
      return AUDIO_TYPES.has(mimeType);
    case 'image':
      return IMAGE_TYPES.has(mimeType);
    case 'video':
      return mimeType.startsWith('video/');
    case 'text':
      return TEXT_TYPES.has(mimeType);
    case 'file':
      return true;
  }
}

export function allowlistDescription(kind: MediaKind): string {
  switch (kind) {
    case 'audio':
      return [...AUDIO_TYPES].join(', ');
    case 'image':
      return [...IMAGE_TYPES].join(', ');
    case 'video':
      return 'video/*';
    case 'text':
      return [...TEXT_TYPES].join(', ');
    case 'file':
      return 'any type';
  }
}

/**
 * Families of types that share a byte signature: a declared type and a sniffed type match when
 * they fall in the same family. Containers are grouped (an audio-only WebM sniffs as video/webm,
 * an iPhone .mov declared video/mp4 sniffs as video/quicktime).
 */
const SIGNATURE_FAMILIES: readonly (readonly string[])[] = [
  ['image/png', 'image/apng'],
  ['image/jpeg', 'image/jpg', 'image/pjpeg'],
  ['image/gif'],
  ['image/webp'],
  ['image/bmp', 'image/x-ms-bmp'],
  ['image/tiff'],
  ['application/pdf'],
  ['audio/mpeg', 'audio/mp3'],
  ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'],
  ['audio/ogg', 'audio/opus', 'video/ogg', 'application/ogg'],
  ['audio/webm', 'video/webm', 'video/matroska', 'video/x-matroska'],
  ['audio/flac', 'audio/x-flac'],
  ['audio/aac', 'audio/x-aac'],
  ['audio/mp4', 'audio/x-m4a', 'video/mp4', 'video/quicktime', 'video/x-m4v', 'video/3gpp', 'video/3gpp2'],
  ['video/mpeg', 'video/mp1s', 'video/mp2p'],
  ['video/vnd.avi', 'video/x-msvideo', 'video/avi'],
  ['video/x-flv'],
  ['video/mp2t'],
  ['video/x-ms-asf', 'video/x-ms-wmv', 'audio/x-ms-asf', 'audio/x-ms-wma'],
];

const FAMILY_OF = new Map<string, number>(SIGNATURE_FAMILIES.flatMap((family, index) => family.map((type) => [type, index] as const)));
/** Types whose content is text: no binary signature may be found in them. */
const TEXTUAL_TYPES = new Set([...TEXT_TYPES, 'image/svg+xml', 'text/javascript', 'text/css']);
/** Text-based formats the sniffer may recognise inside a textual declaration without that being a lie. */
const TEXTUAL_SNIFFS = new Set(['application/xml', 'text/xml', 'image/svg+xml', 'text/html', 'application/json']);

/** Formats stored inside a ZIP archive: their bytes may sniff as the archive (application/zip). */
const ZIP_CONTAINED = /^application\/(?:zip|x-zip-compressed|epub\+zip|java-archive|vnd\.android\.package-archive|x-xpinstall|vnd\.openxmlformats-officedocument\..+|vnd\.oasis\.opendocument\..+|vnd\.ms-[a-z]+\.[a-z.]*macroenabled\.12)$|^model\/3mf$/;
/** Formats stored in an OLE compound file: their bytes may sniff as the container (application/x-cfb). */
const CFB_CONTAINED = /^application\/(?:x-cfb|msword|vnd\.ms-(?:excel|powerpoint|outlook)|vnd\.visio|x-msi)$/;

function sameFormat(declared: string, sniffed: string): boolean {
  if (declared === sniffed) return true;
  const family = FAMILY_OF.get(declared);
  if (family !== undefined && family === FAMILY_OF.get(sniffed)) return true;
  return (ZIP_CONTAINED.test(declared) && ZIP_CONTAINED.test(sniffed)) || (CFB_CONTAINED.test(declared) && CFB_CONTAINED.test(sniffed));
}

/** Whether files of this type are text (so no binary signature proves or disproves them). */
export function isTextual(declared: string): boolean {
  return TEXTUAL_TYPES.has(declared) || declared.startsWith('text/');
}

/**
 * Formats whose every file starts with a signature the sniffer knows, beyond the families above:
 * archives, web fonts, WebAssembly, SQLite, ELF. Not every type the sniffer can name: some of
 * its detections are heuristics or catch one variant only (binary STL, EPS/PostScript, OTF with
 * TrueType outlines, HEIC branded mif1, DMG, camera RAW files), and a genuine file of those
 * types must not be refused.
 */
const MANDATORY_SIGNATURES = new Set([
  'application/gzip', 'application/x-gzip', 'application/x-7z-compressed', 'application/x-rar-compressed', 'application/vnd.rar',
  'application/x-bzip2', 'application/x-xz', 'application/zstd', 'application/wasm', 'font/woff', 'font/woff2',
  'application/x-sqlite3', 'application/vnd.sqlite3', 'application/x-elf',
]);

function isSigned(declared: string): boolean {
  return FAMILY_OF.has(declared) || MANDATORY_SIGNATURES.has(declared) || ZIP_CONTAINED.test(declared);
}

const BYTE_ORDER_MARKS = [Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([0xff, 0xfe]), Buffer.from([0xfe, 0xff])];

/**
 * Whether a file's first bytes read as text: a byte order mark (UTF-8, UTF-16 either way round),
 * or UTF-8 with no NUL (a multi-byte character cut by the end of the head is fine). Several
 * formats' signatures are two or three printable bytes (`BM`, `MZ`, `ID3`, `%!`), and UTF-16's
 * `FF FE` reads as an MP3 frame: text that starts so is still text.
 */
/** Bytes no text file holds: NUL, without a byte order mark (UTF-16 text is full of them). */
export function holdsBinary(head: Buffer): boolean {
  return !BYTE_ORDER_MARKS.some((mark) => head.subarray(0, mark.length).equals(mark)) && head.includes(0);
}

export function looksLikeText(head: Buffer): boolean {
  if (BYTE_ORDER_MARKS.some((mark) => head.subarray(0, mark.length).equals(mark))) return true;
  if (head.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** file-type reads at most this many bytes to recognise a format. */
export const SNIFF_BYTES = 4100;

const TIFF_HEADERS = [Buffer.from([0x49, 0x49, 0x2a, 0x00]), Buffer.from([0x4d, 0x4d, 0x00, 0x2a])];

/**
 * What the head proves when file-type names nothing. file-type follows a TIFF's first IFD offset,
 * which in real files (a camera's, a scanner's) often lies past the head it is given, and then
 * gives up: the byte-order header alone (`II*\0` or `MM\0*`) is the TIFF signature.
 */
export function fallbackSniff(head: Buffer): string | undefined {
  return TIFF_HEADERS.some((header) => head.subarray(0, header.length).equals(header)) ? 'image/tiff' : undefined;
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Do the first bytes agree with the declared type? `sniffed` is what file-type found (undefined:
 * no known signature), `text` whether they read as text (looksLikeText). A declared type with a
 * mandatory signature (media, PDF, archives, Office documents...) needs it; a declared text type
 * must not turn out to be a binary format (a PDF always counts, a weak signature in what reads as
 * text does not); a declared media type must not turn out to be another known format. Generic
 * binary declarations (application/octet-stream, other types on file_upload) are taken as declared.
 */
export function checkSignature(declared: string, sniffed: string | undefined, text = false): SignatureVerdict {
  if (isTextual(declared)) {
    if (sniffed === undefined || TEXTUAL_SNIFFS.has(sniffed) || (text && sniffed !== 'application/pdf')) return { ok: true };
    return { ok: false, reason: `the bytes are ${sniffed}, not text (${declared})` };
  }
  if (isSigned(declared)) {
    if (sniffed !== undefined && sameFormat(declared, sniffed)) return { ok: true };
    return { ok: false, reason: sniffed ? `the bytes are ${sniffed}, not ${declared}` : `the bytes do not start with the ${declared} signature` };
  }
  if (sniffed === undefined) return { ok: true };
  const declaredTop = declared.split('/')[0];
  if (declaredTop === 'image' || declaredTop === 'audio' || declaredTop === 'video') {
    return sniffed.split('/')[0] === declaredTop ? { ok: true } : { ok: false, reason: `the bytes are ${sniffed}, not ${declared}` };
  }
  return { ok: true };
}

/**
 * The type the bytes prove, for a file sent without a useful type (application/octet-stream, or
 * text/plain on file_upload): a signature in bytes that are not text, a PDF, or (for octet-stream)
 * a text format the sniffer recognises. Undefined: keep the declared type.
 */
export function provenType(declared: string, sniffed: string | undefined, text: boolean): string | undefined {
  if (sniffed === undefined) return undefined;
  if (!text || sniffed === 'application/pdf') return sniffed;
  return declared === 'application/octet-stream' && TEXTUAL_SNIFFS.has(sniffed) ? sniffed : undefined;
}
