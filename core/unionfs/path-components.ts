/** Stands for a trailing `/` or `/.` while walking a path: the name before it must be a directory. */
export const DIR_MARK = '';

/**
 * Pushes a path's names onto a stack that pops them in order (so that a symlink's target is
 * pushed in front of the rest, and a long path costs linear time); a trailing `/` or `/.`
 * pushes DIR_MARK first.
 */
export function pushComponents(stack: string[], path: string): void {
  if (/(^|\/)\.?$/.test(path)) stack.push(DIR_MARK);
  const names = path.split('/');
  for (let i = names.length - 1; i >= 0; i--) {
    const name = names[i]!;
    if (name !== '' && name !== '.') stack.push(name);
  }
}
