/**
 * How the dashboard presents itself as a customer's portal: which sites may show it in an iframe
 * (HAREPOST_PORTAL_FRAME_ANCESTORS), and its name and accent colour (HAREPOST_PORTAL_TITLE,
 * HAREPOST_PORTAL_ACCENT). The settings arrive validated by src/config.ts: origins as
 * scheme://host[:port], the colour as #rrggbb.
 */
import type { FastifyHelmetOptions } from '@fastify/helmet';

export interface PortalSettings {
  /** Origins allowed to frame the dashboard; empty → no site may (the default). */
  frameAncestors: readonly string[];
  /** The product name on every page (titles, top bar, sign-in page). */
  title: string;
  /** The accent colour, #rrggbb; null → Harepost's own. */
  accent: string | null;
}

export const DEFAULT_PORTAL: PortalSettings = { frameAncestors: [], title: 'Harepost', accent: null };

/** True when some site may embed the dashboard: its session cookie must then work inside a cross-site iframe. */
export function isEmbeddable(portal: PortalSettings): boolean {
  return portal.frameAncestors.length > 0;
}

const DEFAULT_ORIGINS = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'";

/**
 * The Content-Security-Policy of every dashboard answer: only Harepost's own scripts, styles and
 * images (inline styles for the front-end's framework and the accent colour, data: images);
 * framing only by the configured origins, else by none.
 *
 * Written here rather than by @fastify/helmet's `contentSecurityPolicy`: helmet joins directives
 * with a bare ";" (`default-src 'self';img-src …`), and the header keeps its exact "; " form.
 */
export function contentSecurityPolicy(portal: PortalSettings): string {
  return `${DEFAULT_ORIGINS}; frame-ancestors ${isEmbeddable(portal) ? portal.frameAncestors.join(' ') : "'none'"}`;
}

/**
 * @fastify/helmet's options for every dashboard answer: no Referer (the login URL carries its
 * token), nosniff, and X-Frame-Options: DENY for browsers without CSP frame-ancestors when no
 * site may frame the dashboard. Every other helmet header stays off: the dashboard sends exactly
 * these (and the CSP above).
 */
export function helmetOptions(portal: PortalSettings): FastifyHelmetOptions {
  return {
    global: true,
    contentSecurityPolicy: false,
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    originAgentCluster: false,
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
    xContentTypeOptions: true,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: isEmbeddable(portal) ? false : { action: 'deny' },
    xPermittedCrossDomainPolicies: false,
    xPoweredBy: false,
    xXssProtection: false,
  };
}

/** Text made safe for HTML content and for a double- or single-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The CSS custom properties that carry the accent: the colour, a darker one for hover, a readable
 * text colour on it, and the top bar's underline.
 */
export function accentProperties(accent: string): string {
  const rgb = [1, 3, 5].map((i) => Number.parseInt(accent.slice(i, i + 2), 16));
  const dark = `#${rgb.map((c) => Math.round(c * 0.78).toString(16).padStart(2, '0')).join('')}`;
  // WCAG relative luminance: dark text on a light accent, white on a dark one
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const on = (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) ? '#111111' : '#ffffff';
  return `--accent:${accent};--accent-dark:${dark};--on-accent:${on};--brand-edge:${accent}`;
}

/** The meta element the front-end reads its product name from. */
export const TITLE_META = 'harepost-portal-title';

/**
 * The built index.html, branded: its <title> and a <meta name="harepost-portal-title"> carry the
 * product name (escaped), and a <style> sets the accent (a validated #rrggbb, so nothing else can
 * reach the CSS). Unbranded, the file is served as built.
 */
export function brandIndexHtml(html: string, portal: PortalSettings): string {
  if (portal.title === DEFAULT_PORTAL.title && portal.accent === null) return html;
  const title = escapeHtml(portal.title);
  // html:root outranks the stylesheet's :root, and the style comes last in the head besides
  let head = `<meta name="${TITLE_META}" content="${title}">`;
  if (portal.accent !== null) head += `<style id="harepost-portal-accent">html:root{${accentProperties(portal.accent)}}</style>`;
  const TITLE = /<title>[^<]*<\/title>/i;
  const titled = TITLE.test(html) ? html.replace(TITLE, () => `<title>${title}</title>`) : null;
  if (titled !== null && titled.includes('</head>')) return titled.replace('</head>', () => `${head}</head>`);
  if (titled !== null) return titled.replace(TITLE, (t) => t + head);
  const first = `<title>${title}</title>${head}`;
  return html.includes('</head>') ? html.replace('</head>', () => `${first}</head>`) : first + html;
}
