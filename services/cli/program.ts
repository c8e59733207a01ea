import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';

/**
 * One `anomstack` command: what `--help` shows and what runs. Adding a command is one entry in
 * COMMANDS (services/cli/commands.ts); the parser, `--help`, `--version` and the exit codes
 * (usage errors 2, help 0) come from here.
 */
export interface CliCommand {
  name: string;
  /** Commander argument syntax, e.g. `<batch> <jobs...>` or `[services...]`. */
  args?: string;
  summary: string;
  /** Extra lines of help: what the arguments are. */
  details?: string;
  example: string;
  /** Declares the options, e.g. `(c) => c.option('--json', 'print JSON')`. */
  options?: (command: Command) => Command;
  /**
   * Runs the command once its arguments parse; never called for `--help` or `--version`.
   * `argv` is everything after the command name, untouched, for commands that parse their own.
   */
  run: (input: { args: string[]; options: Record<string, unknown>; argv: string[] }) => Promise<number>;
}

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Commander's error codes that mean "the user asked for this": help and version. */
const ASKED = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** Parses argv (without node and the script) and runs one command; resolves with the exit code. */
export async function runProgram(commands: readonly CliCommand[], argv: string[], intro: string): Promise<number> {
  let code = 0;
  const program = new Command('anomstack')
    .description(intro)
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  for (const entry of commands) {
    const command = program
      .command(entry.args ? `${entry.name} ${entry.args}` : entry.name)
      .summary(entry.summary)
      .description(entry.details ? `${entry.summary}\n\n${entry.details}` : entry.summary)
      .version(VERSION, '-V, --version', 'print the version')
      .addHelpText('after', `\nexample:\n  ${entry.example}\n`);
    (entry.options?.(command) ?? command).action(async (...received: unknown[]) => {
      // Commander passes the declared arguments, then the options, then the command.
      const self = received.at(-1) as Command;
      const args = received.slice(0, -2).flatMap((a) => (Array.isArray(a) ? (a as string[]) : a === undefined ? [] : [String(a)]));
      const at = argv.indexOf(entry.name);
      code = await entry.run({ args, options: self.opts(), argv: argv.slice(at + 1) });
    });
  }
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return ASKED.has(error.code) ? 0 : 2;
    }
    throw error;
  }
  return code;
}
