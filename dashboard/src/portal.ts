/**
 * The product name the dashboard shows (page titles, the top bar, the sign-in screen). Harepost
 * writes it into index.html as <meta name="harepost-portal-title"> when HAREPOST_PORTAL_TITLE is
 * set; the accent colour arrives the same way, as CSS custom properties in a <style>.
 */
const DEFAULT_TITLE = 'Harepost';

function readTitle(): string {
  const meta = document.querySelector('meta[name="harepost-portal-title"]');
  const title = meta?.getAttribute('content')?.trim() ?? '';
  return title === '' ? DEFAULT_TITLE : title;
}

export const PORTAL_TITLE = readTitle();

/** True when the operator named the portal: its customers are not the ones who run Harepost's commands. */
export const PORTAL_BRANDED = PORTAL_TITLE !== DEFAULT_TITLE;
