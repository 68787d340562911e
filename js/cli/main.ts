/**
 * main.ts — `lightningdb`, the command-line tool of the npm package (bin/
 * lightningdb.js runs it). It owns argument parsing (commander), output
 * formatting and progress bars (cli-progress); everything else is the
 * public API (open(), Database, db.serve(), runLoadTest()).
 *
 * Exit codes (0 to 3 the same as the C tool ldb; EXIT_CODES below is the table
 * `lightningdb --help` prints):
 *   0  success
 *   1  not found (get of an absent key)
 *   2  usage or input error: unknown command or option, a bad argument
 *      (bad hex/base64, bad number), a malformed or truncated dump
 *   3  database error: no database at PATH (missing, not a directory, or a
 *      directory that holds none) for every command that reads one, BUSY,
 *      CORRUPT (check), IO, FULL, ...; the message names the code
 *   130, 143  load stopped by SIGINT / SIGTERM (cmdLoad: it commits the
 *      batch in flight, closes the database and says how to go on)
 * Documented in docs/operations.md.
 */
import { createReadStream, createWriteStream, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { open, version, nativeEngine, Database, LightningDbError, runLoadTest, type ScanOptions, type LoadTestResult, type CheckResult, type Metrics, type OpenOptions } from '../index.js';
import { OPTIONS, type OptionInfo } from '../contract.js';
import { closestKey } from '../options.js';
import { DumpFormatError, endLine, entryLine, headerLine, isUtf8, parseLine } from './dump.js';
import { displayBytes } from './display.js';

export const EXIT = { OK: 0, NOT_FOUND: 1, USAGE: 2, DATABASE: 3 } as const;

/** The exit-code table of `lightningdb --help` (and docs/operations.md). */
export const EXIT_CODES = `Exit codes:
  0  success
  1  not found: get of an absent key
  2  usage or input error: unknown command or option, a bad argument, a
     malformed or truncated dump, dump -o to an existing file, a port that
     cannot be bound
  3  database error: no database at PATH (missing, not a directory, or a
     directory without one), BUSY, CORRUPT, IO, FULL, ...; the message names
     the code
  130, 143  load stopped by SIGINT (Ctrl-C) or SIGTERM: it says how many
     entries it loaded and how to load the rest (lightningdb load --help)`;

/** "1 entry", "2 entries" */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A failure with its exit code. */
class CliError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

type Encoding = 'utf8' | 'hex' | 'base64';

interface Common {
  json?: boolean;
  encoding: Encoding;
  progress?: boolean;
  /** -O name=value engine options, parsed (engineOption) */
  option?: EngineOptions;
}

/** Engine options given with -O, as open() takes them. */
type EngineOptions = Record<string, number | boolean | string>;

/** The engine options -O takes: every option of the core's table
 * (OPTIONS, from core/src/options.def) but the three each command sets
 * itself. */
const CLI_OPTIONS: readonly OptionInfo[] = OPTIONS.filter((o) => !['createIfMissing', 'errorIfExists', 'readOnly'].includes(o.jsName));
const SET_BY_COMMAND = ['createIfMissing', 'errorIfExists', 'readOnly'];

/** The units -O takes after the number of an option in bytes (64MiB):
 * powers of 1024, spelled exactly as here, as option names are (open()
 * takes these options as numbers of bytes; a unit is only the CLI's way of
 * writing that number). Another spelling is a usage error naming the right
 * one (sizeUnitError). */
export const SIZE_UNITS: Readonly<Record<string, number>> = Object.freeze({ KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 });

/** Why `unit` is not one of SIZE_UNITS, naming the one meant: a unit in
 * another case ('gib', 'GIB': "is spelled 'GiB'"), a decimal or one-letter
 * unit ('GB', 'G', 'g': "use 'GiB' (2^30 bytes)"; the CLI does not guess
 * between 10^9 and 2^30), or none close. */
export function sizeUnitError(unit: string): string {
  const units = Object.keys(SIZE_UNITS);
  const same = units.find((u) => u.toLowerCase() === unit.toLowerCase());
  if (same !== undefined) return `unit '${unit}' is spelled '${same}' (units are case-exact, as option names are)`;
  const letter = unit[0]?.toUpperCase();
  const meant = units.find((u) => u[0] === letter);
  if (meant !== undefined && /^[a-zA-Z]b?$/i.test(unit)) {
    return `unit '${unit}' is not taken: sizes are in powers of 1024, use '${meant}' (2^${Math.log2(SIZE_UNITS[meant]!)} bytes)`;
  }
  return `unit '${unit}' is not taken (units: ${units.join(', ')})`;
}

/** The -O lines of `lightningdb --help`, from the core's option table. */
export function engineOptionsHelp(): string {
  const kind = (o: OptionInfo) => (o.type === 'bool' ? 'true|false' : o.type === 'enum' ? o.values.join('|')
    : o.unit === 'bytes' ? 'bytes (or 64MiB, 1GiB)' : o.unit === 'ms' ? 'ms' : 'integer');
  const size = (n: number) => {
    const [name, mult] = Object.entries(SIZE_UNITS).reverse().find(([, m]) => n > 0 && n % m === 0) ?? ['', 1];
    return mult === 1 ? String(n) : `${n / mult}${name}`;
  };
  const def = (o: OptionInfo) => (o.type === 'bool' ? String(o.default === 1) : o.type === 'enum' ? o.values[o.default]
    : o.unit === 'bytes' ? size(o.default) : String(o.default));
  const w = Math.max(...CLI_OPTIONS.map((o) => o.jsName.length));
  return `Engine options (-O NAME=VALUE, repeatable, on every command that opens PATH; the
open() options of the API, spelled as there (case matters), checked against the
engine's option table; an existing database keeps its pageSize):
${CLI_OPTIONS.map((o) => `  ${o.jsName.padEnd(w)}  ${kind(o)}; default ${def(o)}`).join('\n')}
  Sizes (options in bytes): an integer of bytes, or one with a unit after it:
  ${Object.keys(SIZE_UNITS).join(', ')} (powers of 1024), spelled exactly so, as option names are
  (1gib, 1GB and 1G are refused); open() takes the same sizes as numbers.
  e.g. lightningdb check -O cacheSize=1GiB -O mmapSize=0 ./db
       lightningdb load -O compression=zstd -O pageSize=16384 ./new < out.jsonl`;
}

/** Parses one -O NAME=VALUE into `previous` (commander's collector): the
 * name is an option of the core's table spelled as open() takes it
 * (cacheSize; case matters, as in the API), the value of its type. A usage
 * error (exit 2) names what is wrong, and the closest option for an
 * unknown name (cachesize, cache-size, cache_size: did you mean
 * 'cacheSize'?). */
export function engineOption(arg: string, previous: EngineOptions = {}): EngineOptions {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new CliError(EXIT.USAGE, `-O takes NAME=VALUE (e.g. -O cacheSize=256MiB), got '${arg}'`);
  const given = arg.slice(0, eq).trim();
  const text = arg.slice(eq + 1).trim();
  if (SET_BY_COMMAND.includes(given)) {
    throw new CliError(EXIT.USAGE, `-O ${given}: set by each command (put, load and serve --create create; the reading commands open read-only)`);
  }
  const o = CLI_OPTIONS.find((x) => x.jsName === given);
  if (o === undefined) {
    const near = closestKey(given, OPTIONS.map((x) => x.jsName));
    throw new CliError(EXIT.USAGE, `unknown engine option '${given}' ${near ? `(did you mean '${near}'?)` : '(lightningdb --help lists them)'}`);
  }
  let v: number | boolean | string;
  if (o.type === 'bool') {
    if (!['true', 'false', '1', '0'].includes(text)) throw new CliError(EXIT.USAGE, `-O ${o.jsName} takes true or false, got '${text}'`);
    v = text === 'true' || text === '1';
  } else if (o.type === 'enum') {
    if (!o.values.includes(text)) throw new CliError(EXIT.USAGE, `-O ${o.jsName} takes one of ${o.values.join(', ')}, got '${text}'`);
    v = text;
  } else {
    const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(text);
    if (m && m[2] && o.unit === 'bytes' && !Object.hasOwn(SIZE_UNITS, m[2])) {
      throw new CliError(EXIT.USAGE, `-O ${o.jsName}=${text}: ${sizeUnitError(m[2])}`);
    }
    const mult = m && m[2] ? (o.unit === 'bytes' ? SIZE_UNITS[m[2]] : undefined) : 1;
    const n = m && mult !== undefined ? Number(m[1]) * mult : NaN;
    if (!Number.isSafeInteger(n) || n < o.min || n > o.max) {
      throw new CliError(EXIT.USAGE, `-O ${o.jsName} takes an integer in ${o.min}..${o.max}${o.unit ? ` (${o.unit}` : ''}` +
        `${o.unit === 'bytes' ? `; ${Object.keys(SIZE_UNITS).join(', ')} after it multiply` : ''}${o.unit ? ')' : ''}, got '${text}'`);
    }
    v = n;
  }
  return { ...previous, [o.jsName]: v };
}

// ---- helpers --------------------------------------------------------------

function decodeArg(s: string, enc: Encoding, what: string): Buffer {
  if (enc === 'utf8') return Buffer.from(s, 'utf8');
  if (enc === 'hex') {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(s)) throw new CliError(EXIT.USAGE, `${what} '${s}' is not hexadecimal (an even number of 0-9a-f digits)`);
    return Buffer.from(s, 'hex');
  }
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) {
    throw new CliError(EXIT.USAGE, `${what} '${s}' is not padded base64`);
  }
  return Buffer.from(s, 'base64');
}

function encodeOut(b: Uint8Array, enc: Encoding): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString(enc);
}

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new CliError(EXIT.USAGE, `${name} must be an integer in ${min}..${max}, got '${v}'`);
    }
    return n;
  };
}

function floatArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new CliError(EXIT.USAGE, `${name} must be a number in ${min}..${max}, got '${v}'`);
    }
    return n;
  };
}

/** Opens PATH; a missing database is an error unless `create`. Every
 * form of "no database here" (PATH missing, a file, or a directory that
 * holds none) is a database error (exit 3) with the same message, for
 * every command: never "not found" (exit 1), which means an absent key. */
function openDb(path: string, opts: { create?: boolean; readOnly?: boolean; engine?: EngineOptions } = {}): Database {
  if (!opts.create && !existsSync(path)) throw new CliError(EXIT.DATABASE, `no database at ${path}`);
  if (existsSync(path) && !statSync(path).isDirectory()) throw new CliError(EXIT.DATABASE, `${path} is not a database directory`);
  try {
    return open(path, { ...opts.engine as OpenOptions, createIfMissing: Boolean(opts.create), readOnly: Boolean(opts.readOnly) });
  } catch (e) {
    if (e instanceof LightningDbError && e.code === 'NOT_FOUND') {
      throw new CliError(EXIT.DATABASE, `no database at ${path} (the directory holds none)`);
    }
    throw e;
  }
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Writes to a stream, waiting when it is full. */
async function write(out: Writable, chunk: string | Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** A progress bar on stderr when it is a terminal (or --progress), never
 * with --json. */
function bar(c: Common, format: string): cliProgress.SingleBar | null {
  const forced = c.progress === true;
  if (c.json || c.progress === false || !(forced || process.stderr.isTTY)) return null;
  return new cliProgress.SingleBar({
    stream: process.stderr, format, hideCursor: true, noTTYOutput: forced, notTTYSchedule: 500, etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
}

function scanOptions(o: Record<string, string | boolean | number | undefined>, enc: Encoding): ScanOptions<Uint8Array> {
  const s: ScanOptions<Uint8Array> = {};
  if (o.gt !== undefined && o.gte !== undefined) throw new CliError(EXIT.USAGE, 'give --gt or --gte, not both');
  if (o.lt !== undefined && o.lte !== undefined) throw new CliError(EXIT.USAGE, 'give --lt or --lte, not both');
  for (const k of ['gt', 'gte', 'lt', 'lte'] as const) {
    if (typeof o[k] === 'string') s[k] = decodeArg(o[k] as string, enc, `--${k}`);
  }
  if (typeof o.prefix === 'string') s.prefix = decodeArg(o.prefix, enc, '--prefix');
  if (o.reverse) s.reverse = true;
  if (typeof o.limit === 'number') s.limit = o.limit;
  return s;
}

function addScanOptions(cmd: Command): Command {
  return cmd
    .option('--prefix <key>', 'only keys starting with this')
    .option('--gt <key>', 'keys greater than')
    .option('--gte <key>', 'keys greater than or equal')
    .option('--lt <key>', 'keys less than')
    .option('--lte <key>', 'keys less than or equal')
    .option('--reverse', 'descending order')
    .option('--limit <n>', 'at most n entries', intArg('--limit', 0, Number.MAX_SAFE_INTEGER));
}

function addCommon(cmd: Command, { progress = false } = {}): Command {
  cmd.option('--json', 'machine-readable JSON output')
    .addOption(new Option('-e, --encoding <enc>', 'how keys and values are given and printed')
      .choices(['utf8', 'hex', 'base64']).default('utf8'));
  if (progress) {
    cmd.option('--progress', 'show the progress bar even when stderr is not a terminal')
      .option('--no-progress', 'never show the progress bar');
  }
  return cmd;
}

/** -O NAME=VALUE: an engine option for the open of PATH (engineOption). */
function addEngineOption(cmd: Command): Command {
  return cmd.option('-O, --option <name=value>', 'engine option for opening PATH, repeatable (the list: lightningdb --help)',
    engineOption);
}

// ---- commands ---------------------------------------------------------------

/** What `stats` reports as the database's own (its files and commits),
 * read from metrics() without a scan, each with what it means; the rest of
 * metrics() describes the command's own fresh open (thisOpen). */
const DATABASE_STATS: ReadonlyArray<[keyof Metrics, string]> = [
  ['dataFileSize', 'bytes: the data file (data.ldb)'],
  ['pageCount', 'pages in the data file'],
  ['freePages', 'of them free, reused by later writes'],
  ['pageSize', 'bytes: stored in the data file (the other engine options are per open, not stored)'],
  ['logFileSize', 'bytes: the write-ahead log, every segment'],
  ['logRetainedBytes', 'bytes of commit records the change feed keeps in the log'],
  ['logRetainedSegments', 'log segments the change feed keeps'],
  ['logRetainedSince', 'the oldest seq a changes() reader may start after'],
  ['lastSeq', 'seq of the last commit (one per commit since the database was created)'],
  ['checkpointSeq', 'commits through this one are in the data file; later ones only in the log (replayed at open)'],
];

/** stats: what describes the database — its files, pages and commits,
 * from the engine's figures without a scan; with --scan also the entries
 * and their bytes, and the space amplification, from a scan of every
 * entry — and its health. The counters of metrics() (puts, cache hits,
 * latencies, ...) are per process, since an open: this command's open has
 * done nothing, so the text leaves them out and --json gives them under
 * thisOpen (--prometheus is the whole exposition, as db.serve() has it). */
async function cmdStats(path: string, o: Common & { prometheus?: boolean; scan?: boolean }): Promise<void> {
  const db = openDb(path, { readOnly: true, engine: o.option });
  try {
    if (o.prometheus) {
      process.stdout.write(db.metricsText());
      return;
    }
    const m = db.metrics();
    const h = db.healthCheck();
    const database: Record<string, number> = {};
    for (const [k] of DATABASE_STATS) database[k] = m[k] as number;
    database.uncheckpointedCommits = m.lastSeq - m.checkpointSeq;
    let scan: { entries: number; keyBytes: number; valueBytes: number; spaceAmplification: number | null } | undefined;
    if (o.scan) {
      let entries = 0;
      let keyBytes = 0;
      let valueBytes = 0;
      for (const [k, v] of db.scan()) {
        entries++;
        keyBytes += (k as Buffer).length;
        valueBytes += (v as Buffer).length;
      }
      const live = keyBytes + valueBytes;
      scan = { entries, keyBytes, valueBytes, spaceAmplification: live > 0 ? (m.dataFileSize + m.logFileSize) / live : null };
    }
    if (o.json) {
      const thisOpen = Object.fromEntries(Object.entries(m).filter(([k]) => !(k in database)));
      print(JSON.stringify({ path, database, ...(scan ? { scan } : {}), health: h, thisOpen }));
      return;
    }
    const rows: Array<[string, string]> = DATABASE_STATS.map(([k, what]) => [k, `${m[k]}  ${what}`]);
    rows.splice(rows.length, 0, ['uncheckpointedCommits', `${database.uncheckpointedCommits}  lastSeq - checkpointSeq`]);
    if (scan) {
      rows.push(['entries', `${scan.entries}  (scan)`]);
      rows.push(['keyBytes', `${scan.keyBytes}  bytes of keys (scan)`]);
      rows.push(['valueBytes', `${scan.valueBytes}  bytes of values (scan)`]);
      rows.push(['spaceAmplification', scan.spaceAmplification === null ? '-  (scan: no entries)'
        : `${scan.spaceAmplification.toFixed(2)}  (dataFileSize + logFileSize) / (keyBytes + valueBytes) (scan)`]);
    }
    rows.push(['healthy', `${h.healthy}${h.issues.length ? ` (${h.issues.join('; ')})` : ''}`]);
    const w = Math.max(...rows.map(([k]) => k.length));
    print(`database ${path}`);
    for (const [k, v] of rows) print(`${k.padEnd(w)}  ${v}`);
    print(`(${o.scan ? '' : 'entries and space amplification: --scan (reads every entry); '}` +
      'counters such as puts, gets and cache hits are per process: see them where the database is used (db.metrics(), ' +
      'lightningdb serve); --json gives this command\'s own under thisOpen)');
  } finally {
    db.close();
  }
}

/** check's note on the free pages no version reaches: damaged ones are
 * harmless (a crash may leave them torn) and do not fail the check. */
function freeNote(r: CheckResult): string {
  if (r.freeSkipped) return '; free pages not verified (a checkpoint ran meanwhile)';
  if (r.freeDamaged === 0) return `; ${plural(r.pages, 'page')}`;
  const more = r.freeDamaged > r.freeDamagedPages.length ? ', ...' : '';
  const which = r.freeDamaged === 1 ? 'page' : 'pages';
  return `; ${plural(r.pages, 'page')}; ${r.freeDamaged} of ${plural(r.freeChecked, 'free page')} damaged, harmless ` +
    `(torn by a crash, never read again): ${which} ${r.freeDamagedPages.join(', ')}${more}`;
}

/** check's second line, the tree's shape (as the C tool ldb prints it):
 * "tree: 12 leaf pages 68.2% full, 1 branch, 3 overflow"; the fill is
 * the leaves' entry bytes over their capacity (pageSize - 16 each). */
export function treeLine(r: Pick<CheckResult, 'leafPages' | 'leafBytes' | 'branchPages' | 'overflowPages'>, pageSize: number): string {
  if (r.leafPages === 0) return 'tree: empty (no leaf pages)';
  const fill = (100 * r.leafBytes) / (r.leafPages * (pageSize - 16));
  return `tree: ${plural(r.leafPages, 'leaf page')} ${fill.toFixed(1)}% full, ${r.branchPages} branch, ${r.overflowPages} overflow`;
}

async function cmdCheck(path: string, o: Common): Promise<void> {
  const db = openDb(path, { readOnly: true, engine: o.option });
  try {
    const m = db.metrics();
    const b = bar(o, 'check |{bar}| {percentage}% | {entries} entries, {phase}');
    const total = Math.max(1, m.dataFileSize + m.logFileSize);
    b?.start(total, 0, { entries: 0, phase: 'pages and log' });
    // every page checksum, tree order and bounds, free list, log records
    const r = db.check();
    // Then read every entry back through the public read path.
    let entries = 0;
    let bytes = 0;
    b?.update(0, { phase: 'reading entries' });
    for (const [k, v] of db.scan()) {
      entries++;
      bytes += (k as Buffer).length + (v as Buffer).length;
      if (b && (entries & 1023) === 0) b.update(Math.min(total - 1, bytes), { entries });
    }
    b?.update(total, { entries, phase: 'done' });
    b?.stop();
    const { ok: _ok, ...pages } = r;
    if (o.json) print(JSON.stringify({ ok: true, entries, ...pages }));
    else {
      print(`ok: ${plural(entries, 'entry', 'entries')}${freeNote(r)}`);
      print(treeLine(r, m.pageSize));
    }
  } finally {
    db.close();
  }
}

async function cmdGet(path: string, key: string, o: Common): Promise<void> {
  const db = openDb(path, { readOnly: true, engine: o.option });
  try {
    const k = decodeArg(key, o.encoding, 'KEY');
    const v = db.get(k) as Buffer | undefined;
    if (v === undefined) {
      if (o.json) print(JSON.stringify({ key, found: false }));
      throw new CliError(EXIT.NOT_FOUND, `not found: ${key}`);
    }
    if (o.json) print(JSON.stringify({ key, found: true, value: encodeOut(v, o.encoding) }));
    else if (o.encoding === 'utf8') { process.stdout.write(v); process.stdout.write('\n'); }
    else print(encodeOut(v, o.encoding));
  } finally {
    db.close();
  }
}

async function cmdPut(path: string, key: string, value: string, o: Common): Promise<void> {
  const k = decodeArg(key, o.encoding, 'KEY');
  const v = decodeArg(value, o.encoding, 'VALUE');
  const db = openDb(path, { create: true, engine: o.option });
  try {
    db.put(k, v);
    db.flush(); // durable before the command reports success
    if (o.json) print(JSON.stringify({ ok: true }));
  } finally {
    db.close();
  }
}

async function cmdDel(path: string, key: string, o: Common): Promise<void> {
  const k = decodeArg(key, o.encoding, 'KEY');
  const db = openDb(path, { engine: o.option });
  try {
    const existed = db.has(k);
    db.delete(k);
    db.flush();
    if (o.json) print(JSON.stringify({ ok: true, existed }));
  } finally {
    db.close();
  }
}

/** One scan entry as text. With an encoding asked for (-e), keys and
 * values in it; by default as text that is safe on a terminal and keeps
 * one entry per line (displayBytes: printable UTF-8 as it is, anything
 * else in double quotes with escapes), and in JSON the dump format's rule:
 * "key"/"value" when the bytes are valid UTF-8, else "key64"/"value64"
 * in base64. */
function scanLine(k: Uint8Array, v: Uint8Array, o: { json?: boolean; encoding: Encoding }, asked: boolean): string {
  if (asked) {
    const ke = encodeOut(k, o.encoding);
    const ve = encodeOut(v, o.encoding);
    return o.json ? `${JSON.stringify({ key: ke, value: ve })}\n` : `${ke}\t${ve}\n`;
  }
  if (!o.json) return `${displayBytes(k)}\t${displayBytes(v)}\n`;
  const f = (name: string, b: Uint8Array) => (isUtf8(b)
    ? `"${name}":${JSON.stringify(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'))}`
    : `"${name}64":"${encodeOut(b, 'base64')}"`);
  return `{${f('key', k)},${f('value', v)}}\n`;
}

async function cmdScan(path: string, o: Common & { raw?: boolean } & Record<string, string | boolean | number | undefined>, cmd: Command): Promise<void> {
  const asked = cmd.getOptionValueSource('encoding') === 'cli';
  if (o.raw && (asked || o.json)) throw new CliError(EXIT.USAGE, `give --raw or ${o.json ? '--json' : '--encoding'}, not both`);
  const s = scanOptions(o, o.encoding);
  const db = openDb(path, { readOnly: true, engine: o.option });
  try {
    if (o.raw) {
      // The exact bytes: KEY<TAB>VALUE<LF>, whatever they hold.
      const parts: Buffer[] = [];
      let size = 0;
      const tab = Buffer.from('\t');
      const lf = Buffer.from('\n');
      for (const [k, v] of db.scan(s)) {
        parts.push(k as Buffer, tab, v as Buffer, lf);
        size += k.length + v.length + 2;
        if (size >= 65536) { await write(process.stdout, Buffer.concat(parts)); parts.length = 0; size = 0; }
      }
      if (parts.length) await write(process.stdout, Buffer.concat(parts));
      return;
    }
    let buf = '';
    for (const [k, v] of db.scan(s)) {
      buf += scanLine(k, v, o, asked);
      if (buf.length >= 65536) { await write(process.stdout, buf); buf = ''; }
    }
    if (buf) await write(process.stdout, buf);
  } finally {
    db.close();
  }
}

async function cmdCount(path: string, o: Common & Record<string, string | boolean | number | undefined>): Promise<void> {
  const s = scanOptions(o, o.encoding);
  const db = openDb(path, { readOnly: true, engine: o.option });
  try {
    let n = 0;
    const it = db.keys(s);
    for (const _ of it) n++;
    print(o.json ? JSON.stringify({ count: n }) : String(n));
  } finally {
    db.close();
  }
}

async function cmdBackup(path: string, dest: string, o: Common): Promise<void> {
  const db = openDb(path, { readOnly: true, engine: o.option });
  try {
    if (existsSync(dest) && !statSync(dest).isDirectory()) throw new CliError(EXIT.USAGE, `${dest} exists and is not a directory`);
    db.backup(dest);
    if (o.json) print(JSON.stringify({ ok: true, path, dest }));
    else print(`backup written to ${dest}`);
  } finally {
    db.close();
  }
}

async function cmdDump(path: string, o: Common & { output?: string }): Promise<void> {
  const db = openDb(path, { readOnly: true, engine: o.option });
  const out: Writable = o.output ? createWriteStream(o.output, { flags: 'wx' }) : process.stdout;
  const failed = new Promise<never>((_, reject) => out.on('error', (e: NodeJS.ErrnoException) => {
    reject(new CliError(e.code === 'EEXIST' ? EXIT.USAGE : EXIT.DATABASE, e.code === 'EEXIST'
      ? `${o.output} already exists (dump never overwrites)` : `writing the dump: ${e.message}`));
  }));
  failed.catch(() => {});
  try {
    const m = db.metrics();
    const total = Math.max(1, m.dataFileSize + m.logFileSize);
    const b = o.output ? bar(o, 'dump  |{bar}| {percentage}% | {entries} entries') : null;
    b?.start(total, 0, { entries: 0 });
    const work = (async () => {
      let buf = headerLine(path);
      let n = 0;
      let bytes = 0;
      for (const [k, v] of db.scan()) {
        buf += entryLine(k, v);
        n++;
        bytes += (k as Buffer).length + (v as Buffer).length;
        if (buf.length >= 1 << 16) {
          await write(out, buf);
          buf = '';
          b?.update(Math.min(total - 1, bytes), { entries: n });
        }
      }
      buf += endLine(n);
      await write(out, buf);
      if (out !== process.stdout) await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
      b?.update(total, { entries: n });
      b?.stop();
      return n;
    })();
    const n = await Promise.race([work, failed]);
    if (o.output && o.json) print(JSON.stringify({ ok: true, entries: n, output: o.output }));
    else if (o.output) process.stderr.write(`dumped ${plural(n, 'entry', 'entries')} to ${o.output}\n`);
  } finally {
    db.close();
  }
}

/** A database load opened, and how to take back what opening it made
 * (undo: null when the database existed before). */
interface LoadTarget {
  db: Database;
  undo: (() => void) | null;
}

/** Opens PATH for load, creating it when it holds no database, and
 * remembers what the creation added: the directories that did not exist
 * (from the outermost one down to PATH), or, in a directory that existed
 * without a database, the entries that were not there before. A database
 * that existed is never in it. */
function openForLoad(path: string, engine?: EngineOptions): LoadTarget {
  if (existsSync(path)) {
    if (!statSync(path).isDirectory()) throw new CliError(EXIT.DATABASE, `${path} is not a database directory`);
    // Listed before the first open: an open that finds no database leaves
    // its lock file behind.
    const before = new Set(readdirSync(path));
    try {
      return { db: open(path, { ...engine as OpenOptions, createIfMissing: false }), undo: null };
    } catch (e) {
      if (!(e instanceof LightningDbError && e.code === 'NOT_FOUND')) throw e;
    }
    const db = openDb(path, { create: true, engine });
    return {
      db,
      undo: () => {
        for (const name of readdirSync(path)) if (!before.has(name)) rmSync(join(path, name), { recursive: true, force: true });
      },
    };
  }
  // The outermost directory of PATH that does not exist yet: open()
  // creates it and everything below it.
  let top = resolve(path);
  while (!existsSync(dirname(top)) && dirname(top) !== top) top = dirname(top);
  const db = openDb(path, { create: true, engine });
  return { db, undo: () => rmSync(top, { recursive: true, force: true }) };
}

/** Exit codes of a load stopped by a signal: 128 + the signal's number,
 * as a shell reports a command the signal killed. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_EXIT;

/** A key as a load's report shows it: in the encoding asked for with -e,
 * else as scan shows it (displayBytes). */
function keyText(k: Uint8Array, o: Common, asked: boolean): string {
  return asked ? encodeOut(k, o.encoding) : displayBytes(k);
}

/** load: reads a dump into PATH in atomic batches. Not atomic as a whole:
 * a load that is stopped (SIGINT, SIGTERM) stops reading, commits the
 * batch in flight (entries already parsed whole), closes the database
 * cleanly and reports how many entries it loaded and the last key, then
 * exits 130 / 143; the same load with --skip N (N: the entries already in
 * the database) loads the rest. */
async function cmdLoad(path: string, o: Common & { input?: string; batch: number; skip: number }, cmd: Command): Promise<void> {
  if (o.input !== undefined && !existsSync(o.input)) throw new CliError(EXIT.USAGE, `no such file: ${o.input}`);
  const input = o.input ? createReadStream(o.input) : process.stdin;
  const inputError = new Promise<never>((_, reject) => input.on('error', (e: Error) => reject(new CliError(EXIT.USAGE, `reading ${o.input ?? 'stdin'}: ${e.message}`))));
  inputError.catch(() => {});
  const size = o.input ? statSync(o.input).size : 0;
  // The database is opened (and created) only once the header is read, so
  // input that is not a dump touches nothing; when load created it and then
  // fails (a malformed or truncated dump, an input or database error), what
  // it created is removed again (target.undo).
  let target: LoadTarget | null = null;
  let db: Database | null = null;
  let loaded = 0;
  let lastKey: Uint8Array | null = null;
  // A signal stops the load between two lines (commits are synchronous, so
  // never inside one): the loop ends, the batch in flight is committed.
  let stopped: StopSignal | null = null;
  let inFlight = 0;
  let rl: ReturnType<typeof createInterface> | null = null;
  const onSignal = (signal: StopSignal) => {
    if (stopped !== null) return;
    stopped = signal;
    rl?.close(); // wakes a loop waiting for input
  };
  // A Ctrl-C reaches every process of the terminal's group: the writer of
  // a pipe (dump | load) dies of it, and its partial last line or its end
  // of input can come before this process's signal is handled. Before such
  // input is called malformed or truncated, a moment's wait lets that
  // signal arrive, so the load reports the stop (keeping what it loaded)
  // instead of a bad dump (removing a new database).
  const signalComing = async (): Promise<boolean> => {
    if (stopped === null) await new Promise((r) => setTimeout(r, 200));
    return stopped !== null;
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const b = size > 0 ? bar(o, 'load  |{bar}| {percentage}% | {entries} entries') : null;
    b?.start(size, 0, { entries: 0 });
    const work = (async () => {
      rl = createInterface({ input, crlfDelay: Infinity });
      let line = 0;
      let ended: number | null = null;
      let batch: Array<[Buffer, Buffer]> = [];
      let batchBytes = 0;
      let read = 0;
      let skipped = 0;
      const flushBatch = () => {
        if (batch.length === 0) return;
        db!.putBatch(batch);
        loaded += batch.length;
        lastKey = batch[batch.length - 1]![0];
        batch = [];
        batchBytes = 0;
      };
      for await (const text of rl) {
        if (stopped !== null) break;
        line++;
        read += Buffer.byteLength(text) + 1;
        if (ended !== null) {
          if (text.trim() === '') continue;
          throw new DumpFormatError(line, 'data after the end line');
        }
        if (line > 1 && text.trim() === '') continue;
        let r: ReturnType<typeof parseLine>;
        try {
          r = parseLine(text, line);
        } catch (e) {
          // the writer's last, partial line
          if (e instanceof DumpFormatError && line > 1 && await signalComing()) break;
          throw e;
        }
        if (r.kind === 'header') {
          target = openForLoad(path, o.option);
          db = target.db;
          continue;
        }
        if (r.kind === 'end') {
          ended = r.entries;
          continue;
        }
        if (r.kind !== 'entry') continue;
        if (skipped < o.skip) {
          skipped++;
          continue;
        }
        batch.push([r.key, r.value]);
        batchBytes += r.key.length + r.value.length;
        if (batch.length >= o.batch || batchBytes >= 4 << 20) {
          flushBatch();
          b?.update(Math.min(size, read), { entries: loaded });
        }
      }
      if (stopped !== null) {
        inFlight = batch.length;
        flushBatch();
        db?.flush();
        b?.stop();
        return;
      }
      if (line === 0) throw new DumpFormatError(1, 'the input is empty (expected a dump header)');
      flushBatch();
      if (ended === null) {
        if (await signalComing()) {
          db?.flush();
          b?.stop();
          return;
        }
        throw new DumpFormatError(line, `the dump is truncated (no end line)`);
      }
      if (skipped < o.skip) throw new CliError(EXIT.USAGE, `--skip ${o.skip} is more than the dump's ${plural(ended, 'entry', 'entries')}`);
      if (ended !== skipped + loaded) {
        throw new DumpFormatError(line, `the end line says ${ended} entries, the dump holds ${skipped + loaded}`);
      }
      db!.flush();
      b?.update(size, { entries: loaded });
      b?.stop();
    })();
    await Promise.race([work, inputError]);
    if (stopped === null) {
      if (o.json) print(JSON.stringify({ ok: true, entries: loaded }));
      else if (process.stderr.isTTY || o.progress) process.stderr.write(`loaded ${plural(loaded, 'entry', 'entries')} into ${path}\n`);
    }
  } catch (e) {
    // A dump that ends early once a signal came (a writer such as
    // `lightningdb dump | ...` got the same Ctrl-C) is the stop, not an error.
    if (!(stopped !== null && e instanceof DumpFormatError)) {
      const undo = (target as LoadTarget | null)?.undo;
      if (undo) {
        // Closed first: the files are removed whole, lock included.
        (db as Database | null)?.close();
        db = null;
        undo();
      }
      const note = undo ? `the new database at ${path} was removed`
        : `${plural(loaded, 'entry was', 'entries were')} loaded before it`;
      if (e instanceof DumpFormatError) throw new CliError(EXIT.USAGE, `${e.message} (${note})`);
      if (undo && e instanceof CliError) throw new CliError(e.exitCode, `${e.message} (${note})`);
      if (undo && e instanceof LightningDbError) throw new LightningDbError(e.code, `${e.message} (${note})`);
      throw e;
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    if (input !== process.stdin || stopped !== null) input.destroy();
    (db as Database | null)?.close();
  }
  if (stopped !== null) throw loadStopped(path, o, cmd, { signal: stopped, loaded, inFlight, lastKey, opened: db !== null || target !== null });
}

/** The report of a load a signal stopped (the database already closed):
 * one line on stderr, a JSON object on stdout with --json, exit 130/143. */
function loadStopped(path: string, o: Common & { skip: number }, cmd: Command, r: {
  signal: StopSignal; loaded: number; inFlight: number; lastKey: Uint8Array | null; opened: boolean;
}): CliError {
  const asked = cmd.getOptionValueSource('encoding') === 'cli';
  const next = o.skip + r.loaded;
  if (o.json) {
    const key = r.lastKey === null ? {} : asked ? { lastKey: encodeOut(r.lastKey, o.encoding) }
      : isUtf8(r.lastKey) ? { lastKey: Buffer.from(r.lastKey).toString('utf8') } : { lastKey64: encodeOut(r.lastKey, 'base64') };
    print(JSON.stringify({ ok: false, stopped: r.signal, entries: r.loaded, skipped: o.skip, ...key, batchInFlight: r.inFlight, resume: { skip: next } }));
  }
  const what = r.loaded === 0 ? `no entries loaded${r.opened ? ` into ${path}` : ' (the database was not opened)'}`
    : `${plural(r.loaded, 'entry', 'entries')} loaded into ${path}${o.skip ? ` after the ${o.skip} skipped` : ''} ` +
      `(${r.inFlight ? `the batch in flight, ${plural(r.inFlight, 'entry', 'entries')}, was committed` : 'no batch was in flight'}; ` +
      `the database was closed cleanly); last key loaded: ${keyText(r.lastKey!, o, asked)}`;
  const rest = r.opened ? `; a load is not atomic: to load the rest, run the same load again with --skip ${next}` : '';
  return new CliError(SIGNAL_EXIT[r.signal], `load stopped by ${r.signal}: ${what}${rest}`);
}

async function cmdServe(path: string, o: Common & { host: string; port: number; create?: boolean; loadTest: boolean }): Promise<void> {
  const db = openDb(path, { create: o.create, engine: o.option });
  let server;
  try {
    server = await db.serve({ host: o.host, port: o.port, loadTest: o.loadTest });
  } catch (e) {
    db.close();
    // A port in use (BUSY) or a host:port not usable here
    // (INVALID_ARGUMENT) is a usage error; the message names host:port.
    if (e instanceof LightningDbError && (e.code === 'BUSY' || e.code === 'INVALID_ARGUMENT')) {
      throw new CliError(EXIT.USAGE, `${e.message} (${e.code})`);
    }
    throw e;
  }
  if (o.json) print(JSON.stringify({ url: server.url, host: server.host, port: server.port }));
  else print(`serving ${path} on ${server.url} (metrics: ${server.url}metrics, health: ${server.url}health); Ctrl-C stops`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  db.close();
}

/** replicate publish|follow: runs a replication Publisher or Follower
 * (lightningdb/replication, docs/replication.md) until SIGINT/SIGTERM,
 * printing its state every --interval seconds. The NATS client is loaded
 * only here. */
async function cmdReplicate(role: 'publish' | 'follow', path: string, o: Common & {
  servers: string; stream: string; subject?: string; replicas: number; create?: boolean; interval: number;
}): Promise<void> {
  let repl: typeof import('../replication/index.js');
  try {
    repl = await import('../replication/index.js');
  } catch (e) {
    throw new CliError(EXIT.USAGE, `replication needs the NATS client: npm install @nats-io/transport-node @nats-io/jetstream (${(e as Error).message})`);
  }
  const db = openDb(path, { create: role === 'follow' && o.create, engine: o.option });
  const servers = o.servers.split(',').filter(Boolean);
  const onError = (e: Error) => process.stderr.write(`replicate ${role}: ${e.message}\n`);
  const target = { servers, stream: o.stream, subject: o.subject, onError };
  let runner: { stats(): import('../replication/index.js').ReplicationStats; close(): Promise<void>; failure: Error | null };
  try {
    runner = role === 'publish' ? await repl.publish(db, { ...target, replicas: o.replicas }) : await repl.follow(db, target);
  } catch (e) {
    db.close();
    const err = e as LightningDbError;
    throw new CliError(err.code === 'COMPACTED' ? EXIT.DATABASE : EXIT.USAGE, `replicate ${role}: ${err.message}`);
  }
  const report = () => {
    const s = runner.stats();
    if (o.json) print(JSON.stringify(s));
    else print(`${s.role} seq ${s.seq} primary ${s.primarySeq} lag ${s.lagCommits} commits ${s.lagMs} ms${s.connected ? '' : ' (disconnected)'}`);
  };
  report();
  const timer = setInterval(report, Math.max(0.1, o.interval) * 1000);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // a permanent failure (COMPACTED: the replica needs a backup) ends it
    const poll = setInterval(() => { if (runner.failure) { clearInterval(poll); resolve(); } }, 200);
    poll.unref();
  });
  clearInterval(timer);
  await runner.close();
  db.close();
  if (runner.failure) throw new CliError(EXIT.DATABASE, `replicate ${role}: ${runner.failure.message}`);
}

async function cmdBench(o: Common & {
  dir?: string; duration: number; readRatio: number; keys: number; valueSize: number; syncMode: 'full' | 'normal' | 'off';
}): Promise<void> {
  const b = bar(o, 'bench |{bar}| {percentage}% | {phase} {ops}');
  let phase = '';
  const durationMs = Math.round(o.duration * 1000);
  let result: LoadTestResult;
  try {
    result = await runLoadTest(nativeEngine(), {
      durationMs, readRatio: o.readRatio, keys: o.keys, valueSize: o.valueSize, syncMode: o.syncMode, dir: o.dir,
    }, (p) => {
      if (!b) return;
      if (p.phase === 'preload') {
        if (phase !== 'preload') { phase = 'preload'; b.start(p.total, 0, { phase: 'writing keys', ops: '' }); }
        b.update(p.done);
      } else {
        if (phase !== 'run') { phase = 'run'; b.setTotal(p.durationMs); b.update(0, { phase: 'mix', ops: '' }); }
        b.update(Math.round(p.elapsedMs), { ops: `${p.point.opsPerSec} ops/s` });
      }
    });
  } finally {
    b?.stop();
  }
  if (o.json) {
    print(JSON.stringify(result));
    return;
  }
  const us = (x: number | null) => (x === null ? '-' : `${x} µs`);
  print(`keys ${result.options.keys}, values ${result.options.valueSize} B, ${Math.round(result.options.readRatio * 100)}% reads, sync ${result.options.syncMode}`);
  print(`preload   ${result.preloadMs} ms`);
  print(`mix       ${result.opsPerSec} ops/s over ${(result.durationMs / 1000).toFixed(1)} s (${result.gets} gets, ${result.puts} puts)`);
  print(`get       p50 ${us(result.getP50)}, p99 ${us(result.getP99)}`);
  print(`put       p50 ${us(result.putP50)}, p99 ${us(result.putP99)}`);
}

// ---- program ----------------------------------------------------------------

/** The commander program (exported for tests and help text). */
export function program(): Command {
  const p = new Command('lightningdb')
    .description('LightningDB command-line tool: inspect, check, dump/load, back up, serve and benchmark a database')
    .version(version(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // an unknown option or command names the closest one ("Did you mean
    // --limit?"); subcommands inherit it from here
    .showSuggestionAfterError(true)
    .addHelpText('after', `\n${engineOptionsHelp()}\n\n${EXIT_CODES}\n`)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const cmd = (name: string, desc: string, progress = false, opensPath = true) => {
    const c = addCommon(p.command(name).description(desc), { progress });
    if (opensPath) addEngineOption(c);
    c.exitOverride();
    return c;
  };

  cmd('stats', "what the database holds (files, pages, commits; no scan) and its health; --scan adds entries and space amplification")
    .argument('<path>', 'database directory')
    .option('--scan', 'also read every entry: entries, key and value bytes, space amplification')
    .option('--prometheus', "the Prometheus text exposition (every metric of this command's own open)")
    .action((path, o) => cmdStats(path, o));
  cmd('check', 'verify every page, the log and every entry (exit 3 when corrupt)', true)
    .argument('<path>', 'database directory')
    .action((path, o) => cmdCheck(path, o));
  cmd('get', 'print the value of KEY (exit 1 when absent)')
    .argument('<path>', 'database directory').argument('<key>')
    .action((path, key, o) => cmdGet(path, key, o));
  cmd('put', 'store VALUE under KEY, durably (creates the database when missing)')
    .argument('<path>', 'database directory').argument('<key>').argument('<value>')
    .action((path, key, value, o) => cmdPut(path, key, value, o));
  cmd('del', 'delete KEY, durably')
    .argument('<path>', 'database directory').argument('<key>')
    .action((path, key, o) => cmdDel(path, key, o));
  addScanOptions(cmd('scan', 'print entries in key order: KEY<TAB>VALUE lines (JSON Lines with --json); '
    + 'keys and values that are not printable text are shown in double quotes with escapes (\\xNN) unless -e or --raw'))
    .argument('<path>', 'database directory')
    .option('--raw', 'print keys and values as their exact bytes (binary output; not with --json or -e)')
    .action((path, o, c) => cmdScan(path, o, c));
  addScanOptions(cmd('count', 'number of entries (within the bounds)'))
    .argument('<path>', 'database directory')
    .action((path, o) => cmdCount(path, o));
  cmd('backup', 'write a consistent, compact copy into DEST (a new directory)')
    .argument('<path>', 'database directory').argument('<dest>', 'directory for the copy')
    .action((path, dest, o) => cmdBackup(path, dest, o));
  cmd('dump', 'write every entry as JSON Lines (the dump format in docs/operations.md)', true)
    .argument('<path>', 'database directory')
    .option('-o, --output <file>', 'write to a new file instead of stdout')
    .action((path, o) => cmdDump(path, o));
  cmd('load', 'read a dump (JSON Lines) into the database, creating it when missing', true)
    .argument('<path>', 'database directory')
    .option('-i, --input <file>', 'read this file instead of stdin')
    .option('--batch <n>', 'entries per atomic batch', intArg('--batch', 1, 1_000_000), 1000)
    .option('--skip <n>', 'skip the first n entries of the dump (to continue a load that was stopped: it says n)',
      intArg('--skip', 0, Number.MAX_SAFE_INTEGER), 0)
    .addHelpText('after', `
A load is not atomic: it commits batches of --batch entries as it reads. Ctrl-C
(SIGINT) or SIGTERM stops it between two lines: it commits the batch in flight,
closes the database cleanly, prints how many entries it loaded and the last key
loaded, and exits 130 (SIGINT) or 143 (SIGTERM). The database then holds the
dump's entries up to that key (a dump is in key order), besides what it held
before. The same load with
--skip N, N the number it printed (the entries skipped before plus those
loaded), loads the rest.`)
    .action((path, o, c) => cmdLoad(path, o, c));
  cmd('serve', 'serve /metrics, /health and the diagnostics page until Ctrl-C')
    .argument('<path>', 'database directory')
    .option('--host <host>', 'interface to bind (other machines only when you say so)', '127.0.0.1')
    .option('--port <port>', 'TCP port (0: any free port)', intArg('--port', 0, 65535), 9470)
    .option('--create', 'create the database when missing')
    .option('--no-load-test', 'refuse load tests from the page')
    .action((path, o) => cmdServe(path, o));
  cmd('bench', 'a bounded read/write mix on a scratch database (never an existing one)', true, false)
    .option('--dir <dir>', 'directory of the scratch database (must not hold one; default: a temporary directory, removed)')
    .option('--duration <s>', 'seconds of mixed load', floatArg('--duration', 0.1, 60), 5)
    .option('--read-ratio <r>', 'share of gets, 0..1', floatArg('--read-ratio', 0, 1), 0.8)
    .option('--keys <n>', 'distinct keys, written first', intArg('--keys', 1, 1_000_000), 100000)
    .option('--value-size <bytes>', 'bytes per value', intArg('--value-size', 0, 65536), 100)
    .addOption(new Option('--sync-mode <mode>', 'durability of the scratch database').choices(['full', 'normal', 'off']).default('normal'))
    .action((o) => cmdBench(o));
  const repl = p.command('replicate').description('read replicas over NATS JetStream (docs/replication.md)');
  const replCmd = (name: 'publish' | 'follow', desc: string) => {
    const c = addEngineOption(addCommon(repl.command(name).description(desc)))
      .argument('<path>', 'database directory')
      .requiredOption('--servers <urls>', 'NATS server URLs, comma-separated (nats://127.0.0.1:4222,...)')
      .requiredOption('--stream <name>', 'the JetStream stream (one per primary)')
      .option('--subject <subject>', 'the stream subject (default lightningdb.<stream>)')
      .option('--interval <s>', 'seconds between status lines', floatArg('--interval', 0.1, 3600), 5);
    c.exitOverride();
    return c;
  };
  replCmd('publish', 'append every commit of the primary at PATH to the stream, until Ctrl-C')
    .option('--replicas <n>', 'stream replicas when it is created', intArg('--replicas', 1, 5), 1)
    .action((path, o) => cmdReplicate('publish', path, o));
  replCmd('follow', 'apply the stream to the replica at PATH (empty or a backup of the primary), until Ctrl-C')
    .option('--create', 'create an empty replica when PATH does not exist')
    .action((path, o) => cmdReplicate('follow', path, o));
  return p;
}

function describeError(e: unknown): { code: number; message: string } {
  if (e instanceof CliError) return { code: e.exitCode, message: e.message };
  if (e instanceof LightningDbError) {
    const code = e.code === 'NOT_FOUND' ? EXIT.NOT_FOUND : e.code === 'INVALID_ARGUMENT' ? EXIT.USAGE : EXIT.DATABASE;
    return { code, message: `${e.message} (${e.code})` };
  }
  if (e instanceof TypeError) return { code: EXIT.USAGE, message: e.message };
  return { code: EXIT.DATABASE, message: e instanceof Error ? e.message : String(e) };
}

/** Runs the tool with argv (process.argv form) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.OK); // the reader went away (| head)
  });
  const p = program();
  if (argv.length <= 2) {
    p.outputHelp({ error: true });
    return EXIT.USAGE;
  }
  try {
    await p.parseAsync(argv);
    return EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.OK;
      return EXIT.USAGE; // commander printed the message
    }
    const { code, message } = describeError(e);
    process.stderr.write(`lightningdb: ${message}\n`);
    return code;
  }
}
