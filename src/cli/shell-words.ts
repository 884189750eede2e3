/** Command lines to print for pasting into a POSIX shell (sh, bash, zsh). */

/** One argument as the shell must see it: bare when it holds only safe characters, else single-quoted. */
export function shellWord(arg: string): string {
  if (/^[A-Za-z0-9_./:@%+=,-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A whole command line from its arguments. */
export function shellLine(args: readonly string[]): string {
  return args.map(shellWord).join(' ');
}
