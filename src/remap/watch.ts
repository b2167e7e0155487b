/**
 * Noticing that configuration files changed, so that remapd reloads without a SIGHUP.
 *
 * Each file is watched, and so is its folder: editors (vim, sed -i, Ansible) and Kubernetes' ConfigMap writer
 * replace a file by renaming a new one over it, which a watch on the old file (an inotify watch on its inode)
 * never reports. Events are debounced, because one save is several events and a half-written file must not be
 * loaded. Whether anything really changed is decided by content (`contentFingerprint`), not by events.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../observability/logger.js';

export const WATCH_DEBOUNCE_MS = 250;

export interface FileWatcherOptions {
  /** Called once per burst of events, `debounceMs` after the last one. */
  onChange: () => void;
  logger: Logger;
  debounceMs?: number;
}

export class FileWatcher {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly debounceMs: number;

  constructor(private readonly options: FileWatcherOptions) {
    this.debounceMs = options.debounceMs ?? WATCH_DEBOUNCE_MS;
  }

  /** Watches exactly `files` (and their folders) from now on, replacing what was watched before. */
  watch(files: readonly string[]): void {
    this.unwatch();
    if (this.closed) return;
    const byDir = new Map<string, Set<string>>();
    for (const f of new Set(files)) {
      const names = byDir.get(dirname(f)) ?? new Set<string>();
      names.add(basename(f));
      byDir.set(dirname(f), names);
      this.add(f, () => this.changed());
    }
    for (const [dir, names] of byDir) {
      this.add(dir, (_event, name) => {
        // `..data` and friends: Kubernetes swaps a ConfigMap's files by renaming a `..`-prefixed symlink.
        if (name === null || names.has(name) || name.startsWith('..')) this.changed();
      });
    }
  }

  private add(path: string, listener: (event: string, name: string | null) => void): void {
    try {
      const w = watch(path, { persistent: false }, listener);
      // A watched file that disappears may report an error; its folder's watch still sees the replacement.
      w.on('error', (err) => this.options.logger.debug('file watch error', { path, error: err.message }));
      this.watchers.push(w);
    } catch (err) {
      // A missing file: its folder is watched, and a reload re-arms once it exists.
      this.options.logger.debug('cannot watch', { path, error: (err as Error).message });
    }
  }

  private changed(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.options.onChange();
    }, this.debounceMs);
    this.timer.unref();
  }

  private unwatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  close(): void {
    this.closed = true;
    this.unwatch();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * A short hash of the files' names and contents (a missing file counts as such): equal fingerprints mean nothing
 * a reload would read has changed. Also the configuration version shown in logs and metrics.
 */
export function contentFingerprint(files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f).update('\0');
    try {
      h.update(readFileSync(f));
    } catch (err) {
      h.update(`\0missing:${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    h.update('\0');
  }
  return h.digest('hex').slice(0, 12);
}
