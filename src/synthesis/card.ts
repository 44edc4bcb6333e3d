import sharp from 'sharp';

export interface CardContent {
  title: string;
  instructions: string[];
  width?: number;
  height?: number;
}

/** Characters XML 1.0 cannot hold even escaped (an ESC, a BEL, half a surrogate pair): a space in the card, where the SVG parser would refuse the whole card. */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const escapeXml = (text: string) => text.replace(NOT_XML, ' ').replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);

function wrap(text: string, maxCharacters: number, maxLines: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if ((line + ' ' + word).trim().length > maxCharacters) {
      lines.push(line.trim());
      line = word;
      if (lines.length === maxLines) break;
    } else {
      line = `${line} ${word}`;
    }
  }
  if (lines.length < maxLines && line.trim()) lines.push(line.trim());
  if (lines.length === maxLines && text.length > lines.join(' ').length) lines[maxLines - 1] = `${lines[maxLines - 1]!.slice(0, maxCharacters - 1)}…`;
  return lines;
}

/**
 * The offline stand-in for a generated scenario image: a card that states what was asked for
 * and says plainly that no model drew it. The EXIF description says so too.
 */
export async function renderOfflineCard(content: CardContent): Promise<Buffer> {
  const width = content.width ?? 1024;
  const height = content.height ?? 576;
  const titleLines = wrap(content.title || 'Untitled scenario', 34, 2);
  const bodyLines = wrap(content.instructions.join(' ') || 'No instructions were given.', 62, 7);
  const text = [
    ...titleLines.map((line, index) => `<text x="64" y="${120 + index * 56}" font-size="46" font-weight="700" fill="#1f2937">${escapeXml(line)}</text>`),
    ...bodyLines.map((line, index) => `<text x="64" y="${140 + titleLines.length * 56 + index * 34}" font-size="24" fill="#374151">${escapeXml(line)}</text>`),
  ].join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#fef3c7"/><stop offset="1" stop-color="#dbeafe"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#sky)"/>
    <rect x="32" y="32" width="${width - 64}" height="${height - 64}" rx="24" fill="#ffffff" fill-opacity="0.85" stroke="#94a3b8" stroke-width="2"/>
    ${text}
    <text x="64" y="${height - 64}" font-size="20" fill="#b91c1c">Offline placeholder: no image model was configured, so Glow drew this card.</text>
  </svg>`;
  return sharp(Buffer.from(svg))
    .png()
    .withExif({ IFD0: { ImageDescription: 'Glow offline placeholder (no image model configured)', Software: 'Glow offline generator' } })
    .toBuffer();
}
