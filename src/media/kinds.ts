import { supportedMimeTypes } from 'file-type';
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
  ['image/png'],
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
  ['video/mpeg'],
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

/** Types whose files always start with a signature the sniffer knows (textual ones excepted: plain text proves nothing). */
const SIGNED_TYPES = new Set(
  // ASCII-armoured PGP has a signature, binary PGP has none the sniffer knows.
  [...supportedMimeTypes, ...FAMILY_OF.keys()].filter((type) => !isTextual(type) && !TEXTUAL_SNIFFS.has(type) && type !== 'application/pgp-encrypted'),
);

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Do the first bytes agree with the declared type? `sniffed` is what file-type found (undefined:
 * no known signature). A declared type with a signature (any format the sniffer knows: PNG,
 * PDF, ZIP, gzip, an Office document...) needs that signature; a declared text type must not turn
 * out to be a known binary format; a declared media type must not turn out to be another known
 * format. Generic binary declarations (application/octet-stream, types the sniffer does not know,
 * on file_upload) are taken as declared.
 */
export function checkSignature(declared: string, sniffed: string | undefined): SignatureVerdict {
  if (isTextual(declared)) {
    return sniffed === undefined || TEXTUAL_SNIFFS.has(sniffed) ? { ok: true } : { ok: false, reason: `the bytes are ${sniffed}, not text (${declared})` };
  }
  if (SIGNED_TYPES.has(declared)) {
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

const BYTE_ORDER_MARKS = [Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([0xff, 0xfe]), Buffer.from([0xfe, 0xff])];

/**
 * Text declared as text that opens with a byte order mark (UTF-8, UTF-16 either way round) is
 * text: the sniffer reads UTF-16's FF FE as an MP3 frame header, and refused Notepad's and
 * Excel's "Unicode" files.
 */
export function isMarkedText(declared: string, head: Buffer): boolean {
  return isTextual(declared) && BYTE_ORDER_MARKS.some((mark) => head.subarray(0, mark.length).equals(mark));
}
