// A small Dockerfile reader: enough of the syntax (comments, line
// continuations, global ARGs, named stages, JSON and shell forms) to check the
// image layout in CI, where there is no container engine to build it.

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  /** The image reference as written, e.g. `node:${NODE_VERSION}-bookworm-slim`. */
  base: string;
  /** `AS name`, if given. */
  name?: string;
  /** `FROM --platform=...` as written (e.g. `$BUILDPLATFORM`), if given. */
  platform?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM. */
  globalArgs: Instruction[];
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let current: { parts: string[]; line: number } | undefined;
  for (const [index, raw] of lines.entries()) {
    const trimmed = raw.trim();
    // Comment lines are dropped everywhere, also inside a continued instruction.
    if (trimmed.startsWith('#')) continue;
    if (trimmed === '' && !current) continue;
    const continues = trimmed.endsWith('\\');
    const body = continues ? trimmed.slice(0, -1).trim() : trimmed;
    if (current) current.parts.push(body);
    else current = { parts: [body], line: index + 1 };
    if (!continues) {
      const joined = current.parts.filter((p) => p !== '').join(' ');
      const match = /^(\S+)\s*(.*)$/.exec(joined);
      if (!match) throw new Error(`Dockerfile line ${current.line}: cannot read instruction`);
      instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2] ?? '', line: current.line });
      current = undefined;
    }
  }
  if (current) throw new Error(`Dockerfile line ${current.line}: line continuation at end of file`);

  const result: Dockerfile = { globalArgs: [], stages: [] };
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const all = instruction.args.split(/\s+/);
      const platform = all.find((w) => w.startsWith('--platform='))?.slice('--platform='.length);
      const words = all.filter((w) => !w.startsWith('--'));
      const [base, as, name] = words;
      if (!base) throw new Error(`Dockerfile line ${instruction.line}: FROM without an image`);
      if (as !== undefined && (as.toUpperCase() !== 'AS' || !name)) {
        throw new Error(`Dockerfile line ${instruction.line}: expected FROM IMAGE [AS NAME]`);
      }
      result.stages.push({ base, ...(name ? { name } : {}), ...(platform ? { platform } : {}), instructions: [] });
    } else if (result.stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before the first FROM`);
      result.globalArgs.push(instruction);
    } else {
      result.stages[result.stages.length - 1]!.instructions.push(instruction);
    }
  }
  return result;
}

/** The argv of an exec-form (JSON array) ENTRYPOINT/CMD/RUN; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trimStart().startsWith('[')) return undefined;
  const value: unknown = JSON.parse(args);
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw new Error(`not a JSON array of strings: ${args}`);
  }
  return value;
}

export interface CopyInstruction {
  /** `--from=` stage or image, if any. */
  from?: string;
  sources: string[];
  destination: string;
}

export function parseCopy(instruction: Instruction): CopyInstruction {
  const words = execForm(instruction.args) ?? instruction.args.split(/\s+/).filter((w) => w !== '');
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  if (paths.length < 2) throw new Error(`Dockerfile line ${instruction.line}: COPY needs a source and a destination`);
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  const copy: CopyInstruction = { sources: paths.slice(0, -1), destination: paths[paths.length - 1]! };
  if (from !== undefined) copy.from = from;
  return copy;
}
