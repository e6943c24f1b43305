/**
 * Procfile: `TYPE: COMMAND` per line, as Heroku reads it. Blank lines and `#` comments are
 * skipped; anything else that is not a process declaration is an error with its line number,
 * because a silently dropped line is a process that never runs.
 */
import { PROCESS_TYPE, PROCESS_TYPE_RULE } from '../names';
import { AppBuildError } from './errors';

export class ProcfileError extends AppBuildError {
  constructor(line: number, reason: string) {
    super(`Procfile line ${line}: ${reason}`);
  }
}

/** Process type -> command, in the order the file declares them. */
export function parseProcfile(text: string): Record<string, string> {
  const types: Record<string, string> = {};
  const declaredOn = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, index) => {
    const number = index + 1;
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^([^:\s]+)\s*:(.*)$/.exec(line);
    if (!match) throw new ProcfileError(number, `expected "TYPE: COMMAND", got ${JSON.stringify(line)}`);
    const type = match[1] ?? '';
    const command = (match[2] ?? '').trim();
    if (!PROCESS_TYPE.test(type)) {
      throw new ProcfileError(number, `${JSON.stringify(type)} is not a valid process type: ${PROCESS_TYPE_RULE}`);
    }
    if (command === '') throw new ProcfileError(number, `process type ${type} has no command`);
    const first = declaredOn.get(type);
    if (first !== undefined)
      throw new ProcfileError(number, `process type ${type} is declared again (first on line ${first})`);
    declaredOn.set(type, number);
    types[type] = command;
  });
  return types;
}
