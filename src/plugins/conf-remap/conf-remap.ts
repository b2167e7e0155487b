/**
 * conf_remap.so: per-rule overrides of process settings, as ATS's conf_remap plugin does for records.yaml.
 *
 * Accepted forms (both ATS's):
 *   @pparam=proxy.config.url_remap.pristine_host_hdr=1
 *   @pparam=conf_remap.config     (a file of `CONFIG name TYPE value` lines, `#` comments)
 *
 * Only the settings remapd implements are accepted; any other name is an error rather than silently ignored,
 * so a config that relies on a setting never loads without it.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { PluginArgumentError } from '../../errors.js';
import type { PluginFactory, Transaction } from '../api.js';

interface Overrides {
  pristineHostHdr?: boolean;
}

type RecordType = 'INT' | 'STRING' | 'FLOAT';

interface Setting {
  /** The record's type in ATS; a file line must declare the same one. */
  type: RecordType;
  set(o: Overrides, value: string): void;
}

function parseBool(name: string, value: string): boolean {
  if (value === '1') return true;
  if (value === '0') return false;
  throw new PluginArgumentError(`${name} must be 0 or 1, not "${value}"`);
}

const SUPPORTED: Record<string, Setting> = {
  'proxy.config.url_remap.pristine_host_hdr': {
    type: 'INT',
    set(o, v) {
      o.pristineHostHdr = parseBool('proxy.config.url_remap.pristine_host_hdr', v);
    },
  },
};

/** `declared` is the TYPE of a file line (the inline form has none). */
function apply(o: Overrides, name: string, value: string, where: string, declared?: RecordType): void {
  const setting = SUPPORTED[name];
  if (!setting) {
    throw new PluginArgumentError(`${where}${name} is not a setting remapd can override (supported: ${Object.keys(SUPPORTED).join(', ')})`);
  }
  // ATS refuses a line whose TYPE differs from the record's ("mismatch between provide data type, and expected
  // type"); accepting it here would load a file ATS does not apply.
  if (declared !== undefined && declared !== setting.type) {
    throw new PluginArgumentError(`${where}${name} is of type ${setting.type}, not ${declared}`);
  }
  try {
    setting.set(o, value);
  } catch (err) {
    // The value checks do not know where the value came from; a bad value in a file must still name its line.
    throw new PluginArgumentError(`${where}${(err as Error).message}`, { cause: err });
  }
}

function readFile(path: string, o: Overrides): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PluginArgumentError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^CONFIG\s+(\S+)\s+(INT|STRING|FLOAT)\s+(.*)$/.exec(line);
    if (!m) throw new PluginArgumentError(`${path}:${i + 1}: expected "CONFIG name TYPE value", got "${line}"`);
    apply(o, m[1]!, m[3]!.trim(), `${path}:${i + 1}: `, m[2] as RecordType);
  }
}

export const confRemapPlugin: PluginFactory = (argv, context) => {
  const params = argv.slice(2);
  if (params.length === 0) throw new PluginArgumentError('conf_remap.so needs at least one name=value or a config file');
  const o: Overrides = {};
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq > 0 && p.startsWith('proxy.config.')) {
      apply(o, p.slice(0, eq), p.slice(eq + 1), '');
    } else {
      const file = isAbsolute(p) ? p : resolve(context.configDir, p);
      context.dependsOn(file);
      readFile(file, o);
    }
  }
  const pristine = o.pristineHostHdr;
  return {
    remap(txn: Transaction) {
      if (pristine === undefined) return;
      const req = txn.originRequest;
      const clientHost = txn.client.headers.get('host');
      if (pristine && clientHost !== undefined) {
        req.headers.set('host', clientHost);
      } else if (!pristine) {
        const h = req.host.includes(':') ? `[${req.host}]` : req.host;
        const dflt = req.scheme === 'https' ? 443 : 80;
        req.headers.set('host', req.port === dflt ? h : `${h}:${req.port}`);
      }
    },
  };
};
