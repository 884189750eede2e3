/**
 * How a dialect's store is made of its areas without forwarding each method by hand. Each area is
 * an object implementing its area interface (`<area>/sqlite.ts`, `<area>/postgres.ts`); each
 * area's `types.ts` lists the interface's method names once (checked complete by the compiler);
 * the store copies exactly those methods onto itself, bound to their area:
 *
 * ```ts
 * export interface SqliteStore extends AreaStores {}  // the methods the areas give it
 * export class SqliteStore implements Store {
 *   constructor(…) {
 *     const accounts = methodsOf<AccountsStore>(new SqliteAccounts(…), ACCOUNTS_STORE_METHODS);
 *     …
 *     const allAreas: AreaStores = { ...accounts, ...domains, … }; // an area left out does not compile
 *     assignAreas(this, accounts, domains, …);          // a name given twice throws
 *   }
 * }
 * ```
 *
 * Only the listed methods are copied: an area's own helpers stay its own, and two areas cannot
 * shadow each other's (a name listed twice throws when the store is built).
 */

/** `areaMethods<XStore>()([...names])`: the names, refused by the compiler unless all are there. */
export function areaMethods<T>() {
  return <const L extends readonly (keyof T & string)[]>(
    names: L & ([Exclude<keyof T, L[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, L[number]> }),
  ): L => names;
}

/**
 * The listed methods of an area object, each bound to it, in a plain object that can be spread.
 * Typed as the listed members (`Pick`): spreading a class instance's type would drop its methods.
 */
export function methodsOf<T extends object, K extends keyof T & string = keyof T & string>(area: T, names: readonly K[]): Pick<T, K> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const value = (area as Record<string, unknown>)[name];
    if (value === undefined) continue; // an optional method this dialect does not have
    if (typeof value !== 'function') throw new Error(`store area: ${name} is not a method`);
    out[name] = (value as (...a: unknown[]) => unknown).bind(area);
  }
  return out as Pick<T, K>;
}

/** Copies the areas' methods onto the store; a name given by two areas, or by the store itself, throws. */
export function assignAreas(store: object, ...areas: object[]): void {
  const seen = new Set<string>();
  for (const area of areas) {
    for (const name of Object.keys(area)) {
      if (seen.has(name) || name in store) throw new Error(`store area: ${name} is given twice`);
      seen.add(name);
    }
  }
  Object.assign(store, ...areas);
}
