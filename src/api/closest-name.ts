/**
 * "Did you mean …?" for a misspelt field or parameter name: the known name nearest to what was
 * sent, when it is near enough to be a typo (at most 2 edits, case ignored), else null.
 */

/** Levenshtein distance, giving up (returning max + 1) once it must exceed `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(d);
      if (d < best) best = d;
    }
    if (best > max) return max + 1;
    previous = current;
  }
  return previous[b.length]!;
}

export function closestName(sent: string, known: readonly string[]): string | null {
  if (sent.length > 64) return null;
  const wanted = sent.toLowerCase();
  // short names need a closer match: "id" is not a typo of "ab"
  const max = Math.min(2, Math.floor(wanted.length / 3));
  let best: string | null = null;
  let bestDistance = max + 1;
  for (const name of known) {
    const d = distance(wanted, name.toLowerCase(), max);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}
