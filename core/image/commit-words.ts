import { InvalidArgumentError } from '../errors.ts';

/**
 * The words of a Dockerfile instruction's arguments as Docker's shell lexer makes them
 * (moby/buildkit's shell.Lex, ProcessWords): separated by unquoted whitespace; single quotes
 * literal; in double quotes only `\"`, `\\` and `\$` are escapes; outside quotes a backslash
 * escapes any character; `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`
 * and `${NAME+word}` expand from `env` (unset names to nothing). Used for `docker commit
 * --change` instructions that take variables (ENV, LABEL, EXPOSE, USER, WORKDIR, VOLUME,
 * STOPSIGNAL).
 */
export function shellWords(text: string, env: ReadonlyMap<string, string>): string[] {
  return new Lexer(text, env).words(true);
}

/** One word: the whole text, whitespace kept (`ENV name value with spaces`). */
export function shellWord(text: string, env: ReadonlyMap<string, string>): string {
  return new Lexer(text, env).words(false).join('');
}

class Lexer {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly env: ReadonlyMap<string, string>,
  ) {}

  words(split: boolean): string[] {
    const words: string[] = [];
    let word = '';
    // A word that is only quotes ("") is still a word.
    let started = false;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (split && /\s/.test(c)) {
        this.pos++;
        if (started) words.push(word);
        word = '';
        started = false;
        continue;
      }
      started = true;
      if (c === "'") word += this.singleQuoted();
      else if (c === '"') word += this.doubleQuoted();
      else if (c === '\\') {
        this.pos++;
        word += this.text[this.pos++] ?? '';
      } else if (c === '$') word += this.variable();
      else {
        word += c;
        this.pos++;
      }
    }
    if (started) words.push(word);
    return words;
  }

  private singleQuoted(): string {
    const end = this.text.indexOf("'", this.pos + 1);
    if (end < 0) throw new InvalidArgumentError(`unexpected end of statement while looking for matching single-quote: ${this.text}`);
    const value = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    return value;
  }

  private doubleQuoted(): string {
    this.pos++;
    let value = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === '"') {
        this.pos++;
        return value;
      }
      if (c === '\\' && '"\\$'.includes(this.text[this.pos + 1] ?? '')) {
        value += this.text[this.pos + 1];
        this.pos += 2;
      } else if (c === '$') value += this.variable();
      else {
        value += c;
        this.pos++;
      }
    }
    throw new InvalidArgumentError(`unexpected end of statement while looking for matching double-quote: ${this.text}`);
  }

  private variable(): string {
    this.pos++;
    if (this.text[this.pos] === '{') {
      const close = this.text.indexOf('}', this.pos);
      if (close < 0) throw new InvalidArgumentError(`missing '}' in ${this.text}`);
      const inner = this.text.slice(this.pos + 1, close);
      this.pos = close + 1;
      const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?$/s.exec(inner);
      if (!match) throw new InvalidArgumentError(`bad substitution: \${${inner}}`);
      const [, name, operator, word = ''] = match;
      const value = this.env.get(name!);
      const alternative = () => new Lexer(word, this.env).words(false).join('');
      switch (operator) {
        case ':-':
          return value ? value : alternative();
        case '-':
          return value !== undefined ? value : alternative();
        case ':+':
          return value ? alternative() : '';
        case '+':
          return value !== undefined ? alternative() : '';
        default:
          return value ?? '';
      }
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos))?.[0];
    if (!name) return '$';
    this.pos += name.length;
    return this.env.get(name) ?? '';
  }
}
