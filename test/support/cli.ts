/**
 * Runs the command line as a user does: a real `node dist/src/cli.js` process, bounded in time.
 */
import { spawn } from 'node:child_process';
import { recordTranscript, registerConfigFolder, registerConfigSecrets } from './secrets.js';

export const CLI = new URL('../../src/cli.js', import.meta.url).pathname;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the child's standard input, which is then closed. */
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function runCli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      cwd: options.cwd,
      env: options.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`remapd ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      registerConfigSecrets(args.join(' '));
      registerConfigFolder(args, options.cwd);
      recordTranscript(`the standard error of remapd ${args[0] ?? ''}`, stderr);
      // `sign` and `signing-key` print a signature or a key because they were asked to (secrets.ts).
      if (args[0] !== 'sign' && args[0] !== 'signing-key') recordTranscript(`the output of remapd ${args[0] ?? ''}`, stdout);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}
